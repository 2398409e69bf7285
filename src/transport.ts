/**
 * The pino transport: pino's worker writes raw chunks into an AlertStream, in two stages.
 *
 * 1. The pre-filter (this Writable). Measured here, pino-abstract-transport's split2 stream on every
 *    line costs the app 1.6× the wall time of `pino/file` on 1M lines, whether or not each line is
 *    parsed. This stream `indexOf`s the alert key in each chunk and cuts out only the lines that carry
 *    it (0.98×): lines that cannot be alerts are skipped before any per-line work. Lines longer than
 *    `maxLineLength` are dropped (and reported) here, so what follows never buffers one.
 * 2. The line stream: a pino-abstract-transport `build()` stream (split2 inside) that receives only
 *    those candidate lines, one write per line (see `line`; a large chunk's lines are copied out first
 *    and written on the next turn, see SPILL_AT). Its `parseLine` classifies
 *    each line (an event, a bad line and why, or nothing to do) and a synchronous 'data' listener posts
 *    the events: no promise per line, which matters in a flood where every line is an alert. Its
 *    `close` closes the alerter.
 *
 * pino's config handshake (custom levels, messageKey) is build()'s `expectPinoConfig` too; see
 * `pinoConfig` for why it is a build() of its own and not the line stream's.
 *
 * The write path never awaits a delivery: `post` is fire-and-forget and tracked by the alerter.
 * `_final` (pino ends the stream at exit, `process.exit` and uncaught throws included) ends the line
 * stream, whose close awaits every delivery in flight, bounded by `shutdownTimeoutMs`; pino gives a
 * worker 10 s.
 */
import { Writable, type Transform } from 'node:stream'
import { workerData } from 'node:worker_threads'
import build from 'pino-abstract-transport'
import sonicBoom from 'sonic-boom'
import { createAlerter, type Alerter } from './alerter.js'
import { InvalidAlertError, type PinoAlertsError } from './errors.js'
import { fromRecord, type AlertEvent, type RecordContext } from './event.js'
import { recordContext, type PinoLevels } from './levels.js'
import { resolveOptions, type AlertsOptions, type ResolvedOptions } from './options.js'
import type { Reporter } from './report.js'

// sonic-boom is CommonJS: its class is the default export at run time.
const SonicBoom = sonicBoom as unknown as typeof import('sonic-boom').SonicBoom
type SonicBoom = InstanceType<typeof SonicBoom>

/** After the destination failed, the first retry comes after this long, doubling up to DEST_RETRY_MAX_MS. */
const DEST_RETRY_MS = 1000
const DEST_RETRY_MAX_MS = 30_000

/**
 * The `destination` option: every chunk written there unchanged, with pino/file's back-pressure while
 * it works. A failing destination (a full disk: ENOSPC; a directory that cannot be made: ENOTDIR,
 * EACCES; a closed pipe: EPIPE) must not stop alerting, and it did: sonic-boom's 'error' had no
 * listener, so it ended the worker and, re-emitted by thread-stream, the app ("Unhandled 'error'
 * event"); and with a listener alone, a write waiting for 'drain' would wait for ever.
 *
 * So, on an error:
 * - it is reported once on stderr (through the Reporter) with what happens next; alerting goes on;
 * - from then on the lines meant for it are dropped (not buffered: a full disk can last for hours)
 *   and counted; back-pressure from it ends;
 * - it is retried after 1 s, then at doubling intervals up to 30 s: what sonic-boom was writing when it
 *   failed (kept, at most a chunk and its 16 KiB buffer) is written again (a file that was opened), or
 *   the file is opened anew (one that could not be); when that works, one line on stderr says so and
 *   how many lines were dropped meanwhile;
 * - at close, one last try; if it still fails, one line says how many lines were dropped (what
 *   sonic-boom kept is lost with them, uncounted: it holds bytes, not lines).
 */
class Destination {
  private sonic: SonicBoom
  /** `broken`: lines are dropped; `probing`: a retry is under way (lines are dropped until it works). */
  private state: 'ok' | 'broken' | 'probing' = 'ok'
  /** The current sonic-boom could not open its file: never written to again (its fd is -1). */
  private dead = false
  /** Chunks given to a sonic-boom still opening its file: lost, and counted, if the open fails. */
  private opening: string[] | undefined = []
  /** Callbacks waiting for 'drain' (back-pressure); also released when the destination fails. */
  private waiters: Array<() => void> = []
  private retryMs = DEST_RETRY_MS
  private retryTimer: NodeJS.Timeout | undefined
  private closing = false
  /** The current outage: since when, why, and what was dropped. */
  private since = 0
  private cause = ''
  private droppedLines = 0
  private droppedBytes = 0
  private readonly name: string

  constructor (private readonly dest: string | number, private readonly reporter: Reporter) {
    this.name = typeof dest === 'number' ? `fd ${dest}` : dest
    this.sonic = this.open()
  }

  private open (): SonicBoom {
    const sonic = new SonicBoom({ dest: this.dest, sync: false, mkdir: true })
    this.dead = false
    this.opening = typeof this.dest === 'number' ? undefined : []
    sonic.on('error', (err: NodeJS.ErrnoException) => { if (sonic === this.sonic) this.failed(err) })
    sonic.on('drain', () => { if (sonic === this.sonic) this.drained() })
    sonic.on('ready', () => {
      if (sonic !== this.sonic) return
      this.opening = undefined
      // A file that could not be opened before opens now: the destination works again.
      if (this.state === 'probing') this.recovered()
    })
    // A successful write during a retry: the destination works again.
    sonic.on('write', () => { if (sonic === this.sonic && this.state === 'probing') this.recovered() })
    return sonic
  }

  /** Writes a chunk; false when the caller should wait for `whenDrained` (as pino/file would). */
  write (text: string): boolean {
    if (this.state === 'ok') {
      this.opening?.push(text)
      return this.sonic.write(text)
    }
    this.drop(text)
    return true
  }

  private drop (text: string): void {
    this.droppedLines += lineCount(text)
    this.droppedBytes += Buffer.byteLength(text)
  }

  /** Calls `cb` once the destination can take more, or at once if it failed (its lines are dropped now). */
  whenDrained (cb: () => void): void {
    if (this.state !== 'ok') cb()
    else this.waiters.push(cb)
  }

  private drained (): void {
    const waiting = this.waiters
    this.waiters = []
    for (const cb of waiting) cb()
  }

  private failed (err: NodeJS.ErrnoException): void {
    // A file that could not be opened (or its directory made) has fd -1: writing to it would throw.
    const opening = err.syscall === 'open' || err.syscall === 'mkdir'
    const lost = opening ? this.opening ?? [] : []
    if (opening) { this.dead = true; this.opening = undefined }
    if (this.state === 'ok') {
      this.since = Date.now()
      this.cause = err.code ?? err.message
      this.droppedLines = 0
      this.droppedBytes = 0
      this.retryMs = DEST_RETRY_MS
      this.reporter.notice(`pino-alerts: destination ${this.name}: cannot ${opening ? 'open' : 'write'} (${err.message}); its lines are dropped and counted, alerting goes on; retried every ${DEST_RETRY_MS / 1000} to ${DEST_RETRY_MAX_MS / 1000} s`)
    } else {
      this.retryMs = Math.min(this.retryMs * 2, DEST_RETRY_MAX_MS)
    }
    for (const text of lost) this.drop(text)
    this.state = 'broken'
    this.drained()
    if (this.closing) return
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.retry() }, this.retryMs)
    this.retryTimer.unref()
  }

  /** One retry: write again what was being written when it failed, or open the file anew. */
  private retry (): void {
    if (this.closing || this.state !== 'broken') return
    this.state = 'probing'
    if (!this.dead) {
      // An empty write makes sonic-boom write out what it holds: 'write' on success, 'error' if not.
      this.sonic.write('')
    } else if (typeof this.dest === 'string') {
      this.sonic = this.open()
    }
  }

  private recovered (): void {
    this.state = 'ok'
    const secs = Math.round((Date.now() - this.since) / 1000)
    this.reporter.notice(`pino-alerts: destination ${this.name}: writable again after ${secs} s; ${this.droppedLines} lines (${this.droppedBytes} bytes) were dropped meanwhile (${this.cause})`)
    this.droppedLines = 0
    this.droppedBytes = 0
  }

  /**
   * Ends the destination: what it holds is written (one last try when it was failing) and the file
   * closed; if it is still failing, one line says what was not written. Never rejects.
   */
  async end (): Promise<void> {
    this.closing = true
    clearTimeout(this.retryTimer)
    let ended = false
    if (!this.dead) {
      const sonic = this.sonic
      ended = await new Promise<boolean>((resolve) => {
        sonic.once('close', () => resolve(true))
        sonic.once('error', () => {
          // It failed (again): close the file without what it holds.
          try { sonic.destroy() } catch { /* already closed */ }
          resolve(false)
        })
        try { sonic.end() } catch { resolve(false) }
      })
    }
    // Failing before, and its last write worked after all (a retry that was under way may have said so already).
    if (ended && this.state !== 'ok') this.recovered()
    else if (!ended && this.state !== 'ok') this.reporter.notice(`pino-alerts: destination ${this.name}: still failing at close (${this.cause}); ${this.droppedLines} lines (${this.droppedBytes} bytes) were dropped`)
  }
}

/** Lines in a chunk (its `\n`s, and an unfinished last line). */
function lineCount (text: string): number {
  let n = 0
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++
  return text.length > 0 && text.charCodeAt(text.length - 1) !== 10 ? n + 1 : n
}

/**
 * Chunks of this many characters or more are V8 "large objects". When a chunk is held while its lines
 * are parsed (tens of milliseconds in a flood, with garbage collections meanwhile), it is promoted to
 * the old generation's large-object space, which only a full collection frees: in bench/burst.mjs the
 * worker carried 21–25 MB of dead chunks at its peak. So the candidate lines of a large chunk are
 * copied out (into one reusable buffer) and read on the next turn, after the chunk has been let go;
 * thread-stream reads the next chunk only after we call back, so back-pressure is unchanged.
 */
const SPILL_AT = 128 * 1024

/** A copy of `s` that shares no memory with the chunk it was cut from (a slice keeps its parent alive). */
function detached (s: string): string {
  return JSON.parse(JSON.stringify(s)) as string
}

/** How long the transport waits for pino's config before it starts with pino's default levels. */
const CONFIG_WAIT_MS = 2000

interface PinoConfig { levels?: PinoLevels, messageKey?: string, errorKey?: string }

/** What `parseLine` makes of a candidate line (build() needs a non-null object back). */
type Parsed = { event: AlertEvent } | { bad: string } | { skip: true }
const SKIP: Parsed = { skip: true }

/** True when pino will post PINO_CONFIG to this worker: the same test build() makes for `expectPinoConfig`. */
function pinoWillSendConfig (): boolean {
  return (workerData as { workerData?: { pinoWillSendConfig?: boolean } } | null)?.workerData?.pinoWillSendConfig === true
}

/**
 * pino's config, through build()'s `expectPinoConfig`; undefined when pino will not send it (the CLI,
 * library use, an old pino), where build() would emit an error instead.
 *
 * Why a build() of its own that nothing is written to, and not `expectPinoConfig` on the line stream:
 * build() hands its stream out only once the config has arrived, and the line stream must exist (and
 * deliver alerts) after at most CONFIG_WAIT_MS even if it never does: a transport whose logger is
 * never created, or created late, must not hold alerts back for ever. So the factory races this
 * promise against a timer, and when the config comes late, applies it from then on.
 */
function pinoConfig (): Promise<PinoConfig> | undefined {
  if (!pinoWillSendConfig()) return undefined
  return build(() => {}, { expectPinoConfig: true, metadata: false }).then((handshake) => {
    const { levels, messageKey, errorKey } = handshake as unknown as PinoConfig
    handshake.destroy()
    return { levels, messageKey, errorKey }
  })
}

export interface AlertStreamOptions {
  alerter: Alerter
  context: RecordContext
  maxLineLength: number
  /** Every chunk is also written here, unchanged (option `destination`). */
  forward?: Destination
}

export class AlertStream extends Writable {
  readonly alerter: Alerter
  context: RecordContext
  private readonly marker: string
  /** The marker without its opening quote (see scan). */
  private readonly needle: string
  private readonly maxLine: number
  private readonly reporter: Reporter
  private readonly forward: Destination | undefined
  /** The build() stream the candidate lines go into; its close closes the alerter. */
  private readonly lines: Transform
  /** A write into the line stream returned false: wait for its 'drain' before taking the next chunk. */
  private linesFull = false
  /** Scanning a chunk of at least SPILL_AT characters: candidate lines go into `spill`. */
  private spilling = false
  /** The candidate lines of a large chunk, UTF-8, each with its `\n` (reused from chunk to chunk). */
  private spill = Buffer.allocUnsafe(0)
  /** Where each spilled line ends in `spill`. */
  private readonly spillEnds: number[] = []
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
    this.lines = build((lines) => {
      lines.on('data', (p: Parsed) => {
        if ('event' in p) this.alerter.post(p.event)
        else if ('bad' in p) this.reporter.badLine(p.bad)
      })
    }, {
      parseLine: (line) => this.parse(line),
      metadata: false,
      close: (err, cb) => { this.alerter.close().then(() => cb(err), () => cb(err)) }
    })
    this.lines.on('error', (err) => this.destroy(err))
  }

  override _write (chunk: string | Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    const forwardFull = this.forward !== undefined && !this.forward.write(text)
    if (text.length >= SPILL_AT) {
      this.spilling = true
      this.scan(text)
      this.spilling = false
      if (this.spillEnds.length > 0) {
        // The chunk is let go now; its lines are read from the copy on the next turn (see SPILL_AT).
        if (this.pending !== '') this.pending = detached(this.pending)
        setImmediate(() => {
          if (this.destroyed) { this.spillEnds.length = 0; cb(); return }
          this.unspill()
          this.afterFeed(forwardFull, cb)
        })
        return
      }
    } else {
      this.scan(text)
    }
    this.afterFeed(forwardFull, cb)
  }

  /** Calls back once the destination and the line stream can take more. */
  private afterFeed (forwardFull: boolean, cb: (err?: Error | null) => void): void {
    const linesFull = this.linesFull
    this.linesFull = false
    if (!forwardFull && !linesFull) {
      cb()
      return
    }
    // Back-pressure (from the destination, as pino/file waits for it; or from the line stream): wait.
    let waiting = (forwardFull ? 1 : 0) + (linesFull ? 1 : 0)
    const drained = (): void => { if (--waiting === 0) cb() }
    if (forwardFull) (this.forward as Destination).whenDrained(drained)
    if (linesFull) this.lines.once('drain', drained)
  }

  override _final (cb: (err?: Error | null) => void): void {
    if (this.pending !== '' || this.oversized) this.endPending()
    const forwarded = this.forward === undefined ? Promise.resolve() : this.forward.end()
    // The line stream closes (autoDestroy) once its last line is posted; its close closes the alerter.
    const lines = this.lines.closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => { this.lines.once('close', () => resolve()) })
    this.lines.end()
    Promise.all([forwarded, lines]).then(async () => { await this.alerter.close() }).then(() => cb(), cb)
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    this.lines.destroy()
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

  /**
   * One candidate line (without its `\n`): too long is reported here, anything else is written into the
   * line stream on its own. One write per line rather than per chunk: in a flood every line is a
   * candidate, and a chunk's worth of lines joined into one string is a multi-megabyte copy (V8's large
   * object space) and then a Buffer of the same size; measured in bench/burst.mjs, that put 20 MB more
   * into the worker's peak.
   */
  private line (line: string): void {
    if (line.length > this.maxLine) {
      this.reporter.badLine(`line longer than maxLineLength (${this.maxLine} characters)`)
      return
    }
    if (this.spilling) {
      this.spillLine(line)
      return
    }
    if (!this.lines.write(line + '\n')) this.linesFull = true
  }

  /** Copies a candidate line of a large chunk (with its `\n`) into the reusable spill buffer. */
  private spillLine (line: string): void {
    const end = this.spillEnds.length === 0 ? 0 : this.spillEnds[this.spillEnds.length - 1] as number
    const need = end + line.length * 3 + 1
    if (need > this.spill.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.spill.length * 2))
      this.spill.copy(grown, 0, 0, end)
      this.spill = grown
    }
    let at = end + this.spill.write(line, end, 'utf8')
    this.spill[at++] = 10
    this.spillEnds.push(at)
  }

  /** Writes the spilled lines into the line stream, one write per line, as `line` does. */
  private unspill (): void {
    let start = 0
    for (const end of this.spillEnds) {
      if (!this.lines.write(this.spill.subarray(start, end))) this.linesFull = true
      start = end
    }
    this.spillEnds.length = 0
    // A line stream that buffered a view of the spill buffer must not see it overwritten by the next
    // chunk; it never does today (it splits synchronously), and if it did, we take a fresh buffer.
    if (this.lines.writableLength > 0) this.spill = Buffer.allocUnsafe(this.spill.length)
  }

  /** The line stream's `parseLine`: one candidate line, read as an event (or why not). Never throws. */
  private parse (line: string): Parsed {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line
    if (trimmed.trim() === '') return SKIP
    let value: unknown
    try {
      value = JSON.parse(trimmed)
    } catch {
      return { bad: 'not JSON' }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { bad: Array.isArray(value) ? 'a JSON array, not an object' : `a JSON ${value === null ? 'null' : typeof value}, not an object` }
    }
    let event
    try {
      event = fromRecord(value as Record<string, unknown>, this.context)
    } catch (err) {
      if (err instanceof InvalidAlertError) {
        return { bad: `wrong type for ${err.field}: ${err.message.replace(/^invalid alert: [^:]+: /, '').replace(/, got .*$/, '')}` }
      }
      return { bad: `unreadable record: ${(err as PinoAlertsError).message}` }
    }
    return event === null ? SKIP : { event }
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
  const configured = pinoConfig()
  let config: PinoConfig | undefined
  if (configured !== undefined) {
    let timer: NodeJS.Timeout | undefined
    config = await Promise.race([configured, new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), CONFIG_WAIT_MS) })])
    clearTimeout(timer)
  }
  // Validate level names (custom ones included) before any channel starts.
  const context = recordContext(opts, config?.levels, config?.messageKey ?? 'msg')
  const alerter = createAlerter(opts)
  const forward = opts.destination === undefined ? undefined : new Destination(opts.destination, alerter.reporter)
  const stream = new AlertStream(forward === undefined ? { alerter, context, maxLineLength: opts.maxLineLength } : { alerter, context, maxLineLength: opts.maxLineLength, forward })
  if (configured !== undefined && config === undefined) {
    // Late config (logger created more than CONFIG_WAIT_MS after the transport): apply it from then on.
    void configured.then((c) => {
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
