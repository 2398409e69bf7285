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
