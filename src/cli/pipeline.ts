/**
 * `pino-alerts [-c alerts.json]`: stdin → stdout, byte for byte and in order, while the same chunks
 * go through the transport's AlertStream (the byte pre-filter that parses only lines carrying the
 * alert key). Raw chunks are passed through rather than split lines: no per-line work for the
 * 99.9 % of lines that are not alerts, and invalid UTF-8 or a missing last newline stay as they were.
 *
 * stdout closed downstream (EPIPE): alerts keep being dispatched, nothing more is written.
 * End of input, SIGINT or SIGTERM: deliveries in flight are awaited (shutdownTimeoutMs), exit 0.
 */
import type { Readable, Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { createAlerter, type Alerter } from '../alerter.js'
import { recordContext } from '../levels.js'
import { Reporter, stderrWriter } from '../report.js'
import { AlertStream } from '../transport.js'
import { bool, CliError, type Command } from './command.js'
import { loadConfig } from './config.js'
import { count } from './format.js'
import { Progress } from './progress.js'

/** After SIGINT / SIGTERM, how long to keep reading what the upstream app wrote before it died too. */
const SIGNAL_GRACE_MS = 500

const command: Command = {
  usage: 'pino-alerts [-c alerts.json] [-s alerts.db] [--no-passthrough] [--progress | --no-progress]',
  options: {
    'no-passthrough': { type: 'boolean' },
    progress: { type: 'boolean' },
    'no-progress': { type: 'boolean' }
  },
  positionals: false,
  help: `Reads pino NDJSON on stdin, writes every line to stdout unchanged and in order, and dispatches
the alerts among them through the configured channels. At the end of input, or on SIGINT / SIGTERM,
it waits for deliveries in flight (at most shutdownTimeoutMs) and exits 0. When stdout is closed
downstream, alerts are still dispatched.

Options:
      --no-passthrough  do not copy stdin to stdout (only dispatch alerts)
      --progress        always show the progress line on stderr (default: only when stderr is a TTY)
      --no-progress     never show it

Examples:
  node app.js | pino-alerts -c alerts.json | pino-pretty
  node app.js | pino-alerts -c alerts.json -s alerts.db > app.log
  RISK_ALERTS_SLACK_WEBHOOK=https://hooks.slack.com/services/… node app.js | pino-alerts --no-passthrough`,

  async run (ctx) {
    const opts = loadConfig(ctx.global)
    const context = recordContext(opts)
    let progress: Progress | undefined
    const reporter = new Reporter((text) => { progress?.clear(); stderrWriter(text) })
    const alerter = createAlerter(opts, { reporter })
    try {
      await alerter.ready
    } catch (err) {
      // The alerter has reported why on stderr.
      await alerter.close()
      throw new CliError((err as Error).message, 2, true)
    }
    const stream = new AlertStream({ alerter, context, maxLineLength: opts.maxLineLength })

    let lines = 0
    const showProgress = bool(ctx.values.progress) || (!bool(ctx.values['no-progress']) && process.stderr.isTTY)
    if (showProgress) {
      progress = new Progress(() => progressText(lines, alerter), stderrWriter, 200, bool(ctx.values.progress) ? 0 : 1000)
      progress.start()
    }
    if (process.stdin.isTTY && process.stderr.isTTY) {
      stderrWriter('pino-alerts: reading log lines from stdin (pipe an app into it: node app.js | pino-alerts -c alerts.json); Ctrl-D ends\n')
    }
    const countLines = showProgress
      ? (chunk: Buffer): void => { for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++ }
      : undefined
    await pump(process.stdin, bool(ctx.values['no-passthrough']) ? undefined : process.stdout, stream, reporter, countLines)
    progress?.done()
    return 0
  }
}
export default command

function progressText (lines: number, alerter: Alerter): string {
  const s = alerter.stats()
  return `pino-alerts: ${count(lines)} lines, ${count(s.alerts)} alerts, ${count(s.delivered)} delivered, ${count(s.failed)} failed${s.badLines > 0 ? `, ${count(s.badLines)} bad lines` : ''}`
}

/** Copies `input` to `output` and into `stream` until the input ends (or a signal says so); resolves once the alerts are flushed. */
async function pump (input: Readable, output: Writable | undefined, stream: AlertStream, reporter: Reporter, onChunk?: (chunk: Buffer) => void): Promise<void> {
  const decoder = new StringDecoder('utf8')
  let out = output
  let ended = false

  const end = (): void => {
    if (ended) return
    ended = true
    input.off('data', onData)
    const rest = decoder.end()
    if (rest !== '') stream.write(rest)
    stream.end()
  }
  const onData = (chunk: Buffer): void => {
    onChunk?.(chunk)
    if (out !== undefined && !out.write(chunk)) {
      // Back-pressure from downstream (pino-pretty, a file on a slow disk): read on once it drained.
      input.pause()
      out.once('drain', () => input.resume())
    }
    const text = decoder.write(chunk)
    if (text !== '') stream.write(text)
  }

  output?.on('error', (err: NodeJS.ErrnoException) => {
    if (out === undefined) return
    out = undefined
    // EPIPE: the reader went away (`| head`, pino-pretty quit). Alerts still matter; lines have nowhere to go.
    if (err.code !== 'EPIPE') reporter.notice(`pino-alerts: stdout: ${err.message}; no longer passing lines through`)
    input.resume()
  })
  input.on('data', onData)
  input.once('end', end)
  input.once('error', (err) => {
    reporter.notice(`pino-alerts: stdin: ${err.message}`)
    end()
  })

  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(signal === 'SIGINT' ? 130 : 143)
    signalled = true
    // Ctrl-C reaches the whole pipeline: the app's last lines (its fatal alert) are still in the pipe.
    setTimeout(() => {
      input.destroy()
      end()
    }, SIGNAL_GRACE_MS).unref()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve)
      stream.once('error', reject)
    })
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
