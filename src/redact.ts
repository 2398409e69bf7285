/** Replaces every secret value in a text with `***`. Secrets shorter than 4 characters are ignored. */
export function redact (text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) {
    if (s.length < 4) continue
    out = out.split(s).join('***')
    // URL-encoded forms appear in undici errors and URLs.
    const enc = encodeURIComponent(s)
    if (enc !== s) out = out.split(enc).join('***')
  }
  return out
}

/** An URL shown without what may be a credential: scheme, host and port only. */
export function safeUrl (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === '/' && u.search === '' ? '' : '/***'}`
  } catch {
    return '***'
  }
}
