/** Length limits of the services, applied without breaking surrogate pairs or escapes. */

export const ELLIPSIS = '…'

/**
 * Cuts `s` to at most `max` UTF-16 code units, ending with `marker` when it was cut. Never splits a
 * surrogate pair.
 */
export function truncate (s: string, max: number, marker = ELLIPSIS): string {
  if (s.length <= max) return s
  if (max <= marker.length) return marker.slice(0, max)
  let end = max - marker.length
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end--
  return s.slice(0, end) + marker
}

/** UTF-8 byte length (Teams' 28 KB limit is on the request body). */
export function byteLength (s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

/** JS `\s` (WhiteSpace and LineTerminator): what `\s`, `trim()` and the folding helpers treat as space. */
export function isSpaceUnit (c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d)
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
}

/** Whitespace that no cleaning turns into something else (`\v` and `\f` become U+FFFD in `stripControl`). */
function runUnit (c: number): boolean {
  return c !== 0x0b && c !== 0x0c && isSpaceUnit(c)
}

/**
 * What a renderer needs of untrusted text that it cleans, folds or trims whitespace in, escapes, and
 * then cuts to `max` units: `s` up to just after its (max + 1)th unit other than whitespace, with long
 * whitespace runs shortened. A run keeps its first units while fewer than 2 · max + 2 units that render as
 * themselves whatever the folding (units other than whitespace, runs without line break or tab) follow
 * the first non-space unit (2 · max + 2 for a leading run, which a trim may drop), at least one, plus a
 * `\n` when it held one (or a `\r`) and a `\t` when it held one. Whatever a run folds into (one space; one space
 * when it holds a line break or tab, else itself; nothing when trimmed), the shortened run folds into
 * the same, or it stays as it is and what was kept before the cut already renders to more than `max`
 * units: cleaning keeps every other unit (`wellFormed`, `stripControl`: one for one; `\r\n` → `\n`
 * at most halves a run) and escaping only lengthens. So cleaning, folding, escaping and then cutting to
 * `max` give the same text on the result as on the whole of `s`, at a cost bounded by the limit instead
 * of the log line (a 1 MiB run of spaces is one scan, not several regular-expression passes and
 * copies). Never ends inside a surrogate pair.
 */
export function headFor (s: string, max: number): string {
  const keep = 2 * max + 2
  if (s.length <= keep + 2) return s
  const parts: string[] = []
  let from = 0
  let seen = 0
  let kept = 0
  let started = false
  let i = 0
  while (i < s.length) {
    const c = s.charCodeAt(i)
    if (!runUnit(c)) {
      i++
      kept++
      started = true
      if (c === 0x0b || c === 0x0c || ++seen <= max) continue
      const low = s.charCodeAt(i)
      if (c >= 0xd800 && c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) i++
      parts.push(s.slice(from, i))
      return parts.join('')
    }
    let j = i
    let nl = false
    let tab = false
    while (j < s.length) {
      const u = s.charCodeAt(j)
      if (!runUnit(u)) break
      if (u === 0x0a || u === 0x0d) nl = true // cleaning makes a lone `\r` a line break
      else if (u === 0x09) tab = true
      j++
    }
    const room = started ? Math.max(1, keep - kept) : keep
    if (j - i > room + 2) {
      parts.push(s.slice(from, i + room))
      if (nl) parts.push('\n')
      if (tab) parts.push('\t')
      from = j
    }
    // Only a run without line break or tab counts: the others may fold into one space (or nothing).
    if (started && !nl && !tab) kept += j - i > room + 2 ? room : j - i
    i = j
  }
  parts.push(s.slice(from))
  return parts.join('')
}

/**
 * The first `n` UTF-16 units of `s` (all of it when shorter), one more when the cut would split a
 * surrogate pair: for renderings that map every unit to at least one unit (escaping, cleaning) and
 * then cut to fewer than `n`.
 */
export function headUnits (s: string, n: number): string {
  if (s.length <= n) return s
  const c = s.charCodeAt(n - 1)
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n + 1 : n)
}
