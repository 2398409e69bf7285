/**
 * The pino transport: a Writable that pino's worker writes raw chunks into.
 *
 * Why not pino-abstract-transport's split2 object stream: measured here, its per-line machinery costs
 * the app 1.6× the wall time of `pino/file` on 1M lines, whether or not each line is parsed. This
 * stream `indexOf`s the alert key in each chunk and cuts out only the lines that carry it (0.98×):
 * lines that cannot be alerts are skipped before any per-line work.
 *
 * The write path never awaits a delivery: `dispatch` is fire-and-forget here and tracked by the
 * alerter. `_final` (pino ends the stream at exit, `process.exit` and uncaught throws included)
 * awaits every delivery in flight, bounded by `shutdownTimeoutMs`; pino gives a worker 10 s.
 */
import { Writable } from 'node:stream'
import sonicBoom from 'sonic-boom'

// sonic-boom is CommonJS: its class is the default export at run time.
const SonicBoom = sonicBoom as unknown as typeof import('sonic-boom').SonicBoom
type SonicBoom = InstanceType<typeof SonicBoom>
import { parentPort, workerData } from 'node:worker_threads'
import { createAlerter, type Alerter } from './alerter.js'
import { InvalidAlertError, type PinoAlertsError } from './errors.js'
import { fromRecord, type RecordContext } from './event.js'
import { recordContext, type PinoLevels } from './levels.js'
import { resolveOptions, type AlertsOptions, type ResolvedOptions } from './options.js'
import type { Reporter } from './report.js'

interface PinoConfig { levels?: PinoLevels, messageKey?: string, errorKey?: string }

/**
 * The same handshake as pino-abstract-transport's `expectPinoConfig`: when pino will send its config
 * (levels, messageKey) it posts `PINO_CONFIG` to the worker. Only then do we wait, and at most
 * `waitMs`: a transport whose logger is never created must not hold alerts back for ever.
 */
function pinoWillSendConfig (): boolean {
  return (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | null)?.workerData?.pinoWillSendConfig === true
}

function onPinoConfig (cb: (config: PinoConfig) => void): void {
  if (parentPort === null) return
  const port = parentPort
  const handler = (message: { code?: string, config?: PinoConfig }): void => {
    if (message?.code !== 'PINO_CONFIG') return
    port.off('message', handler)
    cb(message.config ?? {})
  }
  port.on('message', handler)
}

export interface AlertStreamOptions {
  alerter: Alerter
  context: RecordContext
  maxLineLength: number
  /** Every chunk is also written here, unchanged (option `destination`). */
  forward?: SonicBoom
}

export class AlertStream extends Writable {
  readonly alerter: Alerter
  context: RecordContext
  private readonly marker: string
  /** The marker without its opening quote (see scan). */
  private readonly needle: string
  private readonly maxLine: number
  private readonly reporter: Reporter
  private readonly forward: SonicBoom | undefined
  private pending = ''
  private oversized = false
  private oversizedHasMarker = false

  constructor (o: AlertStreamOptions) {
    super({ decodeStrings: false, autoDestroy: true })
    this.alerter = o.alerter
    this.context = o.context
    this.reporter = o.alerter.reporter
    this.marker = `"${o.context.alertKey}"`
    this.needle = `${o.context.alertKey}"`
    this.maxLine = o.maxLineLength
    this.forward = o.forward
  }

  override _write (chunk: string | Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    if (this.forward !== undefined && !this.forward.write(text)) {
      // Back-pressure from the destination: wait for it, as pino/file does.
      this.scan(text)
      this.forward.once('drain', () => cb())
      return
    }
    this.scan(text)
    cb()
  }

  override _final (cb: (err?: Error | null) => void): void {
    if (this.pending !== '' || this.oversized) this.endPending()
    const forwarded = this.forward === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
        const f = this.forward as SonicBoom
        f.once('close', () => resolve())
        f.once('error', () => resolve())
        f.end()
      })
    Promise.all([forwarded, this.alerter.close()]).then(() => cb(), cb)
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    this.alerter.close().then(() => cb(err), () => cb(err))
  }

  /** `logger.flush(cb)` (single target): waits for deliveries in flight. */
  flush (cb?: (err?: Error) => void): void {
    this.alerter.flush().then(() => cb?.(), (err: Error) => cb?.(err))
  }

  /** Finds the lines of `text` that may be alerts; everything else is skipped without being split. */
  private scan (text: string): void {
    let start = 0
    if (this.pending !== '' || this.oversized) {
      const nl = text.indexOf('\n')
      if (nl === -1) {
        this.appendPending(text)
        return
      }
      this.appendPending(text.slice(0, nl))
      this.endPending()
      start = nl + 1
    }
    if (this.context.minLevel !== undefined) {
      this.scanEveryLine(text, start)
      return
    }
    // Search for `alert"` and check the quote before it: `"` is the most common character of JSON, and
    // a needle that starts with it searches 2.7× slower (measured: 44 against 16 ms for 60 MB).
    const { needle } = this
    let i = text.indexOf(needle, start)
    while (i !== -1) {
      if (i === 0 || text.charCodeAt(i - 1) !== 34) { i = text.indexOf(needle, i + 1); continue }
      const at = i - 1
      const ls = text.lastIndexOf('\n', at) + 1
      const le = text.indexOf('\n', at)
      if (le === -1) {
        this.appendPending(text.slice(ls))
        return
      }
      this.line(text.slice(ls, le))
      start = le + 1
      i = text.indexOf(needle, start)
    }
    // An incomplete last line may get its alert key in the next chunk.
    if (start < text.length && text.charCodeAt(text.length - 1) !== 10) {
      const ls = Math.max(start, text.lastIndexOf('\n') + 1)
      this.appendPending(text.slice(ls))
    }
  }

  /** With `match.minLevel`, untagged lines at or above a level are alerts too: read each line's level. */
  private scanEveryLine (text: string, start: number): void {
    const min = this.context.minLevel as number
    let ls = start
    for (;;) {
      const le = text.indexOf('\n', ls)
      if (le === -1) {
        if (ls < text.length) this.appendPending(text.slice(ls))
        return
      }
      if (le > ls) {
        const line = text.slice(ls, le)
        if (line.includes(this.marker) || lineLevel(line) >= min) this.line(line)
      }
      ls = le + 1
    }
  }

  private appendPending (piece: string): void {
    if (this.oversized) {
      if (piece.includes(this.marker)) this.oversizedHasMarker = true
      return
    }
    if (this.pending.length + piece.length > this.maxLine) {
      this.oversized = true
      this.oversizedHasMarker = this.pending.includes(this.marker) || piece.includes(this.marker)
      this.pending = ''
      return
    }
    this.pending += piece
  }

  private endPending (): void {
    if (this.oversized) {
      if (this.oversizedHasMarker || this.context.minLevel !== undefined) this.reporter.badLine(`line longer than maxLineLength (${this.maxLine} characters)`)
      this.oversized = false
      this.oversizedHasMarker = false
      return
    }
    const line = this.pending
    this.pending = ''
    if (line.includes(this.marker) || (this.context.minLevel !== undefined && lineLevel(line) >= this.context.minLevel)) this.line(line)
  }

  /** One candidate line: parsed, turned into an event and dispatched without waiting. */
  private line (line: string): void {
    if (line.length > this.maxLine) {
      this.reporter.badLine(`line longer than maxLineLength (${this.maxLine} characters)`)
      return
    }
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line
    if (trimmed.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(trimmed)
    } catch {
      this.reporter.badLine('not JSON')
      return
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.reporter.badLine(Array.isArray(value) ? 'a JSON array, not an object' : `a JSON ${value === null ? 'null' : typeof value}, not an object`)
      return
    }
    let event
    try {
      event = fromRecord(value as Record<string, unknown>, this.context)
    } catch (err) {
      if (err instanceof InvalidAlertError) {
        this.reporter.badLine(`wrong type for ${err.field}: ${err.message.replace(/^invalid alert: [^:]+: /, '').replace(/, got .*$/, '')}`)
        return
      }
      this.reporter.badLine(`unreadable record: ${(err as PinoAlertsError).message}`)
      return
    }
    if (event === null) return
    this.alerter.post(event)
  }
}

/** The `"level":N` of a pino line, -1 when there is none (pino writes it first, so this is short). */
function lineLevel (line: string): number {
  const i = line.indexOf('"level":')
  if (i === -1) return -1
  let n = 0
  let j = i + 8
  let digits = 0
  while (j < line.length) {
    const c = line.charCodeAt(j)
    if (c < 48 || c > 57) break
    n = n * 10 + (c - 48)
    j++
    digits++
  }
  // A label (formatters.level) instead of a number: let the parser decide.
  return digits === 0 ? Number.MAX_SAFE_INTEGER : n
}

/**
 * The pino transport factory (the package's default export): `target: 'pino-alerts'`.
 * Invalid options fail the start with a ConfigError naming the option path.
 */
export default async function pinoAlertsTransport (options: AlertsOptions & { pinoWillSendConfig?: boolean, $context?: unknown } = {}): Promise<AlertStream> {
  // pino and thread-stream add these keys to a single target's options; they are not ours to validate.
  const { pinoWillSendConfig: _pino, $context: _threadStream, ...userOptions } = options ?? {}
  const opts: ResolvedOptions = resolveOptions(userOptions)
  let config: PinoConfig | undefined
  if (pinoWillSendConfig()) {
    config = await new Promise<PinoConfig | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), 2000)
      onPinoConfig((c) => { clearTimeout(t); resolve(c) })
    })
  }
  // Validate level names (custom ones included) before any channel starts.
  const context = recordContext(opts, config?.levels, config?.messageKey ?? 'msg')
  const alerter = createAlerter(opts)
  const forward = opts.destination === undefined ? undefined : new SonicBoom({ dest: opts.destination, sync: false, mkdir: true })
  const stream = new AlertStream(forward === undefined ? { alerter, context, maxLineLength: opts.maxLineLength } : { alerter, context, maxLineLength: opts.maxLineLength, forward })
  if (config === undefined && pinoWillSendConfig()) {
    // Late config (logger created more than 2 s after the transport): apply it from then on.
    onPinoConfig((c) => {
      try { stream.context = recordContext(opts, c.levels, c.messageKey ?? 'msg') } catch (err) { alerter.reporter.notice(`pino-alerts: ${(err as Error).message}`) }
    })
  }
  try {
    await alerter.ready
  } catch (err) {
    await alerter.close()
    throw err
  }
  return stream
}
