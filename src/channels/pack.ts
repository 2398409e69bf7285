/**
 * Request bodies within a byte cap (`maxBodyBytes` of webhook, otlp, alertmanager): a digest is packed
 * into several requests, and one alert too large on its own is cut rather than dropped: its body, then
 * its title, down to a quarter of the room each (`proseFloor`); then its details (metadata, labels);
 * then body and title further; then, as a last resort, its naming texts.
 *
 * Linear in the input: each alert's JSON is written and measured once, then packed by its size; a body
 * is the alerts' JSON texts joined, never serialised again. Sizes are exact, counted as
 * `JSON.stringify` writes a string (escapes included) and in UTF-8, as the body is sent.
 */

/** A body cap's default: what nginx (in front of most receivers) takes by default. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/** Ends a text that was cut to fit a body cap (besides each channel's own flag). */
export const TRUNCATION_MARKER = '… [truncated]'

/** Bytes one UTF-16 unit at `i` takes inside a JSON string, and how many units it spans (a surrogate pair: 2). */
function unitBytes (s: string, i: number): [bytes: number, units: number] {
  const c = s.charCodeAt(i)
  if (c < 0x20) return [c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6, 1]
  if (c === 0x22 || c === 0x5c) return [2, 1]
  if (c < 0x80) return [1, 1]
  if (c < 0x800) return [2, 1]
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = s.charCodeAt(i + 1)
    // A pair is 4 bytes of UTF-8; a lone surrogate is written as a `\udXXX` escape.
    return d >= 0xdc00 && d <= 0xdfff ? [4, 2] : [6, 1]
  }
  if (c >= 0xdc00 && c <= 0xdfff) return [6, 1]
  return [3, 1]
}

/** UTF-8 bytes of `s` as a JSON string, quotes left out: `byteLength(JSON.stringify(s)) - 2`, without the copy. */
export function jsonStringBytes (s: string): number {
  let n = 0
  for (let i = 0; i < s.length;) {
    const [b, u] = unitBytes(s, i)
    n += b
    i += u
  }
  return n
}

/**
 * `s` cut so that as a JSON string it takes at most `max` bytes (quotes left out), ending with `marker`
 * when it was cut (just '' when not even the marker fits). Never splits a surrogate pair.
 */
export function cutJsonString (s: string, max: number, marker = TRUNCATION_MARKER): string {
  if (jsonStringBytes(s) <= max) return s
  const budget = max - jsonStringBytes(marker)
  if (budget < 0) return ''
  let n = 0
  let end = 0
  while (end < s.length) {
    const [b, u] = unitBytes(s, end)
    if (n + b > budget) break
    n += b
    end += u
  }
  return s.slice(0, end) + marker
}

/**
 * `s` made `over` bytes shorter as a JSON string if it can be, but not below `floor` bytes, and never
 * below the marker alone (so that the cut stays visible). `saved` is what it gave (0 when cutting
 * would not make it shorter: a text within the floor or no longer than the marker).
 */
export function shrinkText (s: string, over: number, floor = 0, marker = TRUNCATION_MARKER): { text: string, saved: number } {
  if (over <= 0) return { text: s, saved: 0 }
  const bytes = jsonStringBytes(s)
  const text = cutJsonString(s, Math.max(floor, jsonStringBytes(marker), bytes - over), marker)
  const saved = bytes - jsonStringBytes(text)
  return saved > 0 ? { text, saved } : { text: s, saved: 0 }
}

/**
 * How much of its prose (body, title) a cut alert keeps before its details (metadata, labels, an
 * exception) give way: a quarter of the room each. Past that, the prose is cut further too.
 */
export function proseFloor (room: number): number {
  return Math.floor(room / 4)
}

/**
 * Consecutive runs `[start, end)` of items, in their order, whose sizes joined by `sep` bytes fit within
 * `room` (and at most `maxItems` items). An item larger than `room` on its own makes a run of one: the
 * caller cuts it (or, when it fits without an envelope, sends it alone).
 */
export function packRuns (sizes: readonly number[], room: number, opts: { sep?: number, maxItems?: number } = {}): Array<[number, number]> {
  const sep = opts.sep ?? 1
  const maxItems = opts.maxItems ?? Infinity
  const runs: Array<[number, number]> = []
  let start = 0
  let used = 0
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i] as number
    const count = i - start
    if (count > 0 && (count >= maxItems || used + sep + size > room)) {
      runs.push([start, i])
      start = i
      used = 0
    }
    used += (i === start ? 0 : sep) + size
  }
  if (sizes.length > 0) runs.push([start, sizes.length])
  return runs
}

/** What a cut could not bring under the cap: the message names the option to raise. */
export function tooSmall (what: string, maxBodyBytes: number, bytes: number): Error {
  return new Error(`maxBodyBytes ${maxBodyBytes} is too small for one ${what} (${bytes} bytes after cutting every field it can); raise it`)
}
