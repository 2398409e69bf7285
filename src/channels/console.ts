/** console: one line per alert on stderr; colour only on a TTY and never with NO_COLOR set. */
import { writeSync } from 'node:fs'
import { isatty } from 'node:tty'
import type { AlertEvent } from '../event.js'
import { bySeverity, digestHeadline, foldBreaks, labelsText, stripControl, subject } from '../format/text.js'
import type { ResolvedChannel } from '../options.js'
import type { Channel, Outcome } from './channel.js'
import type { ChannelLimits } from './limits.js'

/**
 * A terminal takes lines of any length: no size limit. What it must not get is a control character
 * that rewrites it (clear screen, move the cursor, set the title): only line feeds, tabs and our own
 * colour sequences (`ESC [ … m`) are written, and the message ends with a line feed.
 */
const CONSOLE_LIMITS: ChannelLimits<string> = {
  check (message: string): string | undefined {
    if (!message.endsWith('\n')) return 'the message does not end with a line feed'
    // eslint-disable-next-line no-control-regex
    const bad = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.exec(message.replace(/\x1b\[[0-9;]*m/g, ''))
    return bad === null ? undefined : `control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} at ${bad.index}`
  }
}

const COLOURS = { critical: '\x1b[1;31m', warn: '\x1b[33m', info: '\x1b[36m', resolved: '\x1b[32m' } as const
const RESET = '\x1b[0m'

export function useColour (setting: unknown, env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  if (setting === true || setting === false) return setting
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true
  return isatty(fd)
}

export function formatLine (e: AlertEvent, colour: boolean): string {
  const labels = labelsText(e.labels)
  // One line per alert: a whitespace run with a newline in the body becomes one space (linear: foldBreaks).
  const body = foldBreaks(e.body)
  const text = stripControl(`${e.timestamp} ${subject(e)}${body !== '' ? ` — ${body}` : ''}${labels !== '' ? ` {${labels}}` : ''}`)
  if (!colour) return text
  const c = e.status === 'resolved' ? COLOURS.resolved : COLOURS[e.severity]
  return `${c}${text}${RESET}`
}

export function create (cfg: ResolvedChannel): Channel<string> {
  const colour = useColour(cfg.config.colors)
  return {
    name: cfg.name,
    type: 'console',
    limits: CONSOLE_LIMITS,
    render (events: readonly AlertEvent[]): string[] {
      if (events.length === 1) return [formatLine(events[0] as AlertEvent, colour) + '\n']
      const lines = bySeverity(events).map((e) => '  ' + formatLine(e, colour))
      return [`pino-alerts digest: ${digestHeadline(events)}\n${lines.join('\n')}\n`]
    },
    async send (message: string): Promise<Outcome> {
      // fd 2 directly: in a pino worker, process.stderr is relayed through the app's thread and is
      // lost when the app exits right after logging.
      try {
        writeSync(2, message)
        return { ok: true }
      } catch (err) {
        return { ok: false, retryable: true, error: `${cfg.name}: ${(err as Error).message}` }
      }
    }
  }
}
