/**
 * What a Markdown renderer that honours backslash escapes would act on in a TextBlock: unescaped
 * link syntax, emphasis and list markers. Inert text yields [].
 */
export function activeMarkdown (text: string): string[] {
  const found: string[] = []
  // Drop escaped characters first: what is left is what a renderer parses.
  const bare = text.replace(/\\[\s\S]/g, 'x')
  if (/\[[^\]]*\]\([^)]*\)/.test(bare)) found.push('link')
  if (/\*\*[^*]+\*\*|(^|[^\w*])\*[^*\s][^*]*\*/.test(bare)) found.push('emphasis *')
  if (/(^|[^\p{L}\p{N}_])_[^_\s][^_]*_(?![\p{L}\p{N}])/u.test(bare)) found.push('emphasis _')
  if (/`[^`]+`/.test(bare)) found.push('code')
  if (/~~[^~]+~~/.test(bare)) found.push('strike')
  if (/^\s*([-+*]|\d+[.)])\s/m.test(bare)) found.push('list')
  if (/^\s*#{1,6}\s/m.test(bare)) found.push('heading')
  if (/\{\{(DATE|TIME)\(/.test(text)) found.push('date function')
  return found
}
