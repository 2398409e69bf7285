/**
 * What a channel declares about the messages its service accepts (`Channel.limits`): `checkChannel`
 * (pino-alerts/testing) renders hostile digests and holds every message to them. Every limit is
 * optional; a channel declares the ones its service has and that its `render` keeps.
 *
 * Sizes are measured on a message's *wire text* (`wireText`):
 *  - a message that is a string: the string itself;
 *  - an object with a string `body` (`{ body: string, … }`: the request body the channel sends as it
 *    is, e.g. webhook, otlp, teams): that `body`;
 *  - anything else: `JSON.stringify(message)` (what a channel that posts its message as JSON sends).
 */
export interface ChannelLimits<M = unknown> {
  /** The largest wire text, in UTF-8 bytes (a lone surrogate counts 3, as Buffer.byteLength has it). */
  maxMessageBytes?: number
  /** The largest wire text, in UTF-16 code units (`string.length`; an emoji counts 2). */
  maxMessageLength?: number
  /**
   * The service's own structure limits that a size cannot express (Slack's 50 blocks, Discord's
   * 6000 characters over all embeds, Telegram's 4096 characters after entity parsing, …): what in
   * `message` breaks one of them, in a short sentence, or `undefined` when it keeps them all.
   * Must not throw.
   */
  check? (message: M): string | undefined
}

/** The text `maxMessageBytes` and `maxMessageLength` measure (see `ChannelLimits`). */
export function wireText (message: unknown): string {
  if (typeof message === 'string') return message
  if (message !== null && typeof message === 'object' && typeof (message as { body?: unknown }).body === 'string') return (message as { body: string }).body
  return JSON.stringify(message) ?? ''
}

/** `name` is at most `max` long (`len` measures), else a sentence saying by how much it is not. */
export function within (name: string, value: string | readonly unknown[] | undefined, max: number, len: (v: string) => number = (v) => v.length): string | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'string' ? len(value) : value.length
  return n > max ? `${name} is ${n} long (at most ${max})` : undefined
}

/** The first problem of several checks, or undefined. */
export function firstProblem (...problems: Array<string | undefined>): string | undefined {
  return problems.find((p) => p !== undefined)
}

/** Length in Unicode code points (how services written in Python count: Discord). */
export function codePoints (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}
