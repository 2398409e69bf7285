/**
 * Reports on stderr, written with `fs.writeSync(2, …)`: in a pino worker `process.stderr` is relayed
 * through the app's thread and is lost when the app exits, fd 2 is not.
 *
 * Bad lines are aggregated: the first one starts a 1 s window (so a burst is one report), after which
 * reports come at most once a minute; whatever is pending is reported at close. Other notices
 * (undelivered alerts) print at once, up to 10 a minute, then as a count.
 */
import { writeSync } from 'node:fs'

export type Writer = (text: string) => void
export const stderrWriter: Writer = (text) => {
  try { writeSync(2, text) } catch { /* stderr closed: nothing left to tell */ }
}

const MINUTE = 60_000
/** The longest notice printed, in characters; the rest is cut (a notice may quote a service's answer). */
const NOTICE_MAX = 4000

/**
 * Characters that could drive a terminal or forge a log line, shown as escapes: C0 and C1 controls and
 * DEL (`\n`, `\x1b`, …), the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069:
 * "Trojan Source" reordering) and the Unicode line and paragraph separators. Tabs become spaces.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** `text` with every unsafe character shown as an escape (linear: one pass, one character at a time). */
export function printable (text: string): string {
  return text.replace(UNSAFE, (c) => c === '\n' ? '\\n' : c === '\t' ? ' ' : c === '\r' ? '\\r' : c.charCodeAt(0) < 0x100 ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16)}`)
}

/** One line for stderr: bounded in length, with nothing that can drive the terminal or start a new line. */
function line (text: string): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text
  const cut = body.length > NOTICE_MAX ? body.slice(0, NOTICE_MAX) + `… (${body.length - NOTICE_MAX} more characters)` : body
  return printable(cut) + '\n'
}

export class Reporter {
  private badTotal = 0
  private badPending = 0
  private readonly reasons = new Map<string, number>()
  private lastBadReport = -Infinity
  private badTimer: NodeJS.Timeout | undefined
  private noticeWindowStart = 0
  private noticesInWindow = 0
  private noticesSuppressed = 0

  constructor (private readonly write: Writer = stderrWriter, private readonly now = Date.now) {}

  get badLines (): number { return this.badTotal }

  /** A line that could not be read as an alert; `reason` is short and has no secrets. */
  badLine (reason: string): void {
    this.badTotal++
    this.badPending++
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1)
    if (this.badTimer !== undefined) return
    const wait = Math.max(1000, this.lastBadReport + MINUTE - this.now())
    this.badTimer = setTimeout(() => { this.badTimer = undefined; this.flushBad() }, wait)
    this.badTimer.unref()
  }

  /** A one-line notice (undelivered alert, start-up warning). */
  notice (text: string): void {
    const t = this.now()
    if (t - this.noticeWindowStart >= MINUTE) {
      if (this.noticesSuppressed > 0) this.write(`pino-alerts: ${this.noticesSuppressed} more notices suppressed in the last minute\n`)
      this.noticeWindowStart = t
      this.noticesInWindow = 0
      this.noticesSuppressed = 0
    }
    if (++this.noticesInWindow > 10) {
      this.noticesSuppressed++
      return
    }
    this.write(line(text))
  }

  /** The periodic self-metrics line: its own cadence (the alerter's interval), never suppressed. */
  summary (text: string): void {
    this.write(line(text))
  }

  /** Prints what is pending; called at close. */
  flush (): void {
    if (this.badTimer !== undefined) { clearTimeout(this.badTimer); this.badTimer = undefined }
    this.flushBad()
    if (this.noticesSuppressed > 0) {
      this.write(`pino-alerts: ${this.noticesSuppressed} more notices suppressed\n`)
      this.noticesSuppressed = 0
    }
  }

  private flushBad (): void {
    if (this.badPending === 0) return
    const parts = [...this.reasons].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([r, n]) => `${n}× ${r}`)
    const more = this.reasons.size > 12 ? `, and ${this.reasons.size - 12} other reasons` : ''
    this.write(line(`pino-alerts: skipped ${this.badPending} bad line${this.badPending === 1 ? '' : 's'} (${this.badTotal} since start): ${parts.join('; ')}${more}`))
    this.badPending = 0
    this.reasons.clear()
    this.lastBadReport = this.now()
  }
}
