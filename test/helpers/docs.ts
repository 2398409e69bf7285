/**
 * A small Markdown reader for test/docs.test.ts: enough of CommonMark/GitHub to find headings (and
 * their anchors), links, fenced code blocks and paragraphs, with line numbers for every finding.
 * Not a renderer: indented (4-space) code blocks are not recognised; fences, tables, lists,
 * headings and HTML comments are.
 */

/**
 * GitHub's heading anchor for one heading's text (github-slugger): lower-case; every character
 * that is not a letter, mark, digit, connector punctuation (`_`), space or `-` removed; each space
 * becomes `-`. `text` is the heading's rendered text (see headingText).
 */
export function slug (text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

/** Anchors of a file's headings in order: the second `Foo` is `foo-1`, the third `foo-2` (as GitHub). */
export function slugsOf (headings: readonly string[]): string[] {
  const occurrences = new Map<string, number>()
  const out: string[] = []
  for (const h of headings) {
    const original = slug(h)
    let result = original
    while (occurrences.has(result)) {
      const n = (occurrences.get(original) ?? 0) + 1
      occurrences.set(original, n)
      result = `${original}-${n}`
    }
    occurrences.set(result, 0)
    out.push(result)
  }
  return out
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' }

/**
 * A heading's source (after the `#`s) as the text GitHub renders: code spans keep their text without
 * backticks, links and images keep their text (images: nothing), emphasis markers, HTML tags and
 * backslash escapes go, entities are decoded.
 */
export function headingText (source: string): string {
  let out = ''
  for (const part of splitCodeSpans(source)) {
    if (part.code) { out += part.text; continue }
    // Escaped punctuation is literal: hide it from the rules below, restore it at the end.
    let t = part.text.replace(/\\([!-/:-@[-`{-~])/g, (_, c: string) => String.fromCharCode(0xE000 + c.charCodeAt(0)))
    t = t.replace(/!\[([^\]]*)\]\([^)]*\)/g, '')
    t = t.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    t = t.replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1')
    t = t.replace(/<\/?[A-Za-z][^>]*>/g, '')
    t = t.replace(/(\*\*|__|~~)(?=\S)([\s\S]*?\S)\1/g, '$2')
    t = t.replace(/\*(?=\S)([^*]*?\S)\*/g, '$1')
    t = t.replace(/(^|[^\p{L}\p{N}_])_(?=\S)([^_]*?\S)_(?![\p{L}\p{N}_])/gu, '$1$2')
    t = t.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
      if (e.startsWith('#x') || e.startsWith('#X')) return String.fromCodePoint(parseInt(e.slice(2), 16))
      if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10))
      return ENTITIES[e.toLowerCase()] ?? m
    })
    t = t.replace(/[\uE000-\uE07F]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xE000))
    out += t
  }
  return out.trim()
}

/** Text split into inline code spans and the rest (a backtick run closes only on a run of the same length). */
export function splitCodeSpans (text: string): Array<{ code: boolean, text: string }> {
  const parts: Array<{ code: boolean, text: string }> = []
  let i = 0
  let plain = ''
  while (i < text.length) {
    if (text[i] === '\\' && i + 1 < text.length) { plain += text.slice(i, i + 2); i += 2; continue }
    if (text[i] !== '`') { plain += text[i]; i++; continue }
    let run = 0
    while (text[i + run] === '`') run++
    const fence = '`'.repeat(run)
    let close = -1
    for (let j = i + run; j < text.length;) {
      const k = text.indexOf(fence, j)
      if (k === -1) break
      if (text[k + run] !== '`') { close = k; break }
      let r = 0
      while (text[k + r] === '`') r++
      j = k + r
    }
    if (close === -1) { plain += fence; i += run; continue }
    if (plain !== '') parts.push({ code: false, text: plain })
    plain = ''
    let inner = text.slice(i + run, close).replace(/\n/g, ' ')
    if (/^ .*[^ ].* $/.test(inner)) inner = inner.slice(1, -1)
    parts.push({ code: true, text: inner })
    i = close + run
  }
  if (plain !== '') parts.push({ code: false, text: plain })
  return parts
}

export interface CodeBlock { info: string, line: number, code: string }
export interface Heading { text: string, line: number }
export interface Link { target: string, line: number, image: boolean }
export interface Paragraph { text: string, startLine: number, endLine: number }

export interface MarkdownDoc {
  lines: string[]
  headings: Heading[]
  /** Anchors in the file: heading slugs, then `id`/`name` attributes of HTML elements. */
  anchors: Set<string>
  links: Link[]
  codeBlocks: CodeBlock[]
  /** Inline code spans outside code blocks, with their line. */
  codeSpans: Array<{ text: string, line: number }>
  paragraphs: Paragraph[]
  /** Fences opened and never closed (line of the opening fence). */
  unclosedFences: number[]
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`]*)$/
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/
const TABLE_DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$|^\s*\|\s*:?-+:?\s*\|\s*$/
const THEMATIC = /^ {0,3}([-*_])(\s*\1){2,}\s*$/
const LIST_ITEM = /^\s*([-+*]|\d+[.)])\s/

/** Reads one Markdown file. Line numbers are 1-based. */
export function parseMarkdown (source: string): MarkdownDoc {
  const lines = source.split(/\r?\n/)
  const kinds: Array<'text' | 'code' | 'fence' | 'table' | 'heading' | 'comment' | 'break' | 'blank'> = []
  const codeBlocks: CodeBlock[] = []
  const headingAt = new Map<number, string>()
  const unclosedFences: number[] = []

  // Pass 1: classify every line.
  let fence: { char: string, len: number, indent: number, info: string, line: number, body: string[] } | undefined
  let inComment = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (fence !== undefined) {
      const m = FENCE.exec(line)
      if (m !== null && m[2]![0] === fence.char && m[2]!.length >= fence.len && m[3]!.trim() === '') {
        codeBlocks.push({ info: fence.info, line: fence.line, code: fence.body.join('\n') })
        fence = undefined
        kinds.push('fence')
      } else {
        fence.body.push(line.replace(new RegExp(`^ {0,${fence.indent}}`), ''))
        kinds.push('code')
      }
      continue
    }
    if (inComment) {
      kinds.push('comment')
      if (line.includes('-->')) inComment = false
      continue
    }
    const f = FENCE.exec(line)
    if (f !== null && !(f[2]![0] === '`' && f[3]!.includes('`'))) {
      fence = { char: f[2]![0]!, len: f[2]!.length, indent: f[1]!.length, info: f[3]!.trim(), line: i + 1, body: [] }
      kinds.push('fence')
      continue
    }
    if (/^\s*<!--/.test(line)) {
      kinds.push('comment')
      if (!line.includes('-->')) inComment = true
      continue
    }
    if (line.trim() === '') { kinds.push('blank'); continue }
    const h = ATX.exec(line)
    if (h !== null) { kinds.push('heading'); headingAt.set(i, h[2] ?? ''); continue }
    if (TABLE_DELIMITER.test(line) && line.includes('|')) {
      // A table: the header line above and every following non-blank line.
      if (i > 0 && kinds[i - 1] === 'text') kinds[i - 1] = 'table'
      kinds.push('table')
      while (i + 1 < lines.length && (lines[i + 1] ?? '').trim() !== '' && !FENCE.test(lines[i + 1] ?? '')) { kinds.push('table'); i++ }
      continue
    }
    const prevPlain = i > 0 && kinds[i - 1] === 'text' && !LIST_ITEM.test(lines[i - 1] ?? '') && !/^\s*>/.test(lines[i - 1] ?? '') &&
      (i < 2 || kinds[i - 2] !== 'text')
    if (/^ {0,3}(=+|-+)\s*$/.test(line) && prevPlain) {
      // Setext heading: the line above is its text (only a one-line paragraph, to stay simple).
      kinds[i - 1] = 'heading'
      headingAt.set(i - 1, lines[i - 1] ?? '')
      kinds.push('break')
      continue
    }
    if (THEMATIC.test(line)) { kinds.push('break'); continue }
    kinds.push('text')
  }
  if (fence !== undefined) unclosedFences.push(fence.line)

  // Headings and anchors.
  const headings: Heading[] = [...headingAt.entries()].sort((a, b) => a[0] - b[0]).map(([i, src]) => ({ text: headingText(src), line: i + 1 }))
  const anchors = new Set(slugsOf(headings.map((h) => h.text)))

  // Links, code spans and HTML anchors: every line that is not code.
  const links: Link[] = []
  const codeSpans: Array<{ text: string, line: number }> = []
  for (let i = 0; i < lines.length; i++) {
    const k = kinds[i]
    if (k === 'code' || k === 'fence' || k === 'comment' || k === 'blank') continue
    const line = lines[i] ?? ''
    let plain = ''
    for (const part of splitCodeSpans(line)) {
      if (part.code) { codeSpans.push({ text: part.text, line: i + 1 }); plain += ' '.repeat(part.text.length + 2) } else plain += part.text
    }
    for (const target of linkTargets(plain)) links.push({ ...target, line: i + 1 })
    for (const m of plain.matchAll(/<[A-Za-z][^>]*?\s(?:id|name)\s*=\s*["']([^"']+)["']/g)) anchors.add(m[1]!)
  }

  // Paragraphs: runs of text lines (lists included, tables and code not).
  const paragraphs: Paragraph[] = []
  let start = -1
  for (let i = 0; i <= lines.length; i++) {
    if (i < lines.length && kinds[i] === 'text') { if (start === -1) start = i; continue }
    if (start !== -1) {
      const text = lines.slice(start, i).join('\n')
      paragraphs.push({ text, startLine: start + 1, endLine: i })
      start = -1
    }
  }

  return { lines, headings, anchors, links, codeBlocks, codeSpans, paragraphs, unclosedFences }
}

/** Paragraphs of a document as splitParagraphs gives them: kept separate to unit-test on its own. */
export function splitParagraphs (source: string): Paragraph[] {
  return parseMarkdown(source).paragraphs
}

/** A paragraph's text for comparison: whitespace collapsed. */
export function normalise (text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

/**
 * Link and image destinations in one line of text (code spans already blanked): `[t](dest)`,
 * `![a](dest "title")`, `[t](<dest with spaces>)`, reference definitions `[ref]: dest`, and
 * `src=`/`href=` of HTML tags.
 */
function linkTargets (text: string): Array<{ target: string, image: boolean }> {
  const out: Array<{ target: string, image: boolean }> = []
  const def = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(text)
  if (def !== null) out.push({ target: def[1]!.replace(/^<|>$/g, ''), image: false })
  for (let i = text.indexOf(']('); i !== -1; i = text.indexOf('](', i + 2)) {
    if (text[i - 1] === '\\') continue
    // Is it an image? Find the matching '[' backwards.
    let depth = 0
    let open = -1
    for (let j = i - 1; j >= 0; j--) {
      if (text[j] === ']' && text[j - 1] !== '\\') depth++
      else if (text[j] === '[' && text[j - 1] !== '\\') { if (depth === 0) { open = j; break } depth-- }
    }
    if (open === -1) continue
    const image = text[open - 1] === '!'
    let j = i + 2
    while (text[j] === ' ') j++
    let dest: string
    if (text[j] === '<') {
      const end = text.indexOf('>', j)
      if (end === -1) continue
      dest = text.slice(j + 1, end)
    } else {
      let paren = 0
      let k = j
      for (; k < text.length; k++) {
        const c = text[k]
        if (c === '\\') { k++; continue }
        if (c === '(') paren++
        else if (c === ')') { if (paren === 0) break; paren-- } else if (c === ' ') break
      }
      dest = text.slice(j, k)
    }
    out.push({ target: dest, image })
  }
  for (const m of text.matchAll(/<(a|img|source)\b[^>]*?\s(href|src|srcset)\s*=\s*["']([^"']*)["']/gi)) {
    out.push({ target: m[3]!, image: m[1]!.toLowerCase() !== 'a' })
  }
  return out
}
