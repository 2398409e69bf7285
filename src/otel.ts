/**
 * pino-alerts/otel: `AlertLogRecordExporter`, an OpenTelemetry `LogRecordExporter` (SPEC §17). It plugs
 * into any `@opentelemetry/sdk-logs` LoggerProvider (a Simple or Batch processor), including the
 * pipeline `@opentelemetry/instrumentation-pino` feeds from pino, and turns the log records tagged as
 * alerts into AlertEvents for the same engine as the transport, the CLI and `createAlerter`.
 *
 *   import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs'
 *   import { AlertLogRecordExporter } from 'pino-alerts/otel'
 *   const provider = new LoggerProvider({
 *     processors: [new BatchLogRecordProcessor(new AlertLogRecordExporter({ channels: { slack: { webhookUrl } } }))]
 *   })
 *
 * No OpenTelemetry package is imported, at run time or for types: the exporter implements the
 * interface structurally (the types below are the parts of `ReadableLogRecord` it reads), and
 * `ExportResultCode`'s two values are stable (SUCCESS 0, FAILED 1). It works with the sdk-logs 0.2xx
 * line (Node 20) and the 3.x line (Node 22+) alike.
 *
 * The mapping is the transport's: each OTel record becomes the pino-like record the transport would
 * have read (level, time, message, the alert attribute, the other attributes, trace_id/span_id) and
 * goes through the same `fromRecord` with the same RecordContext (`recordContext`).
 */
import { createAlerter } from './alerter.js'
import type { Alerter, AlerterDeps } from './alerter.js'
import { InvalidAlertError } from './errors.js'
import { fromRecord, RESERVED, type AlertEvent, type RecordContext } from './event.js'
import { recordContext } from './levels.js'
import { resolveOptions, type AlertsOptions } from './options.js'

/** `ExportResultCode` of `@opentelemetry/core`: the two values every release has kept. */
export const ExportResultCode = { SUCCESS: 0, FAILED: 1 } as const

/** `ExportResult` of `@opentelemetry/core`. */
export interface ExportResult {
  code: typeof ExportResultCode.SUCCESS | typeof ExportResultCode.FAILED
  error?: Error
}

/** An attribute or body value of an OpenTelemetry log record (`AnyValue`). */
type AnyValue = string | number | boolean | Uint8Array | AnyValue[] | { [key: string]: AnyValue } | null | undefined

/**
 * The parts of sdk-logs' `ReadableLogRecord` the exporter reads. Every field is optional but
 * `hrTime`: a record from any sdk-logs release (or a hand-made one in a test) fits.
 */
export interface AlertLogRecord {
  /** `[seconds, nanoseconds]` since the epoch. */
  readonly hrTime: readonly [number, number]
  readonly severityNumber?: number
  readonly severityText?: string
  readonly body?: AnyValue
  readonly attributes?: Readonly<Record<string, AnyValue>>
  readonly resource?: { readonly attributes?: Readonly<Record<string, unknown>> }
  readonly instrumentationScope?: { readonly name?: string }
  readonly spanContext?: { readonly traceId?: string, readonly spanId?: string }
}

/** pino's level for an OpenTelemetry severityNumber: each band of four is one level (1–4 trace … 21–24 fatal). */
function levelOfSeverityNumber (n: number): number {
  return Math.min(6, Math.max(1, Math.ceil(n / 4))) * 10
}

const ZEROS = /^0+$/
const TRACE_ID = /^[0-9a-f]{32}$/i
const SPAN_ID = /^[0-9a-f]{16}$/i

/** `body` as the message: a string as it is, nothing as '', anything else as JSON. */
function messageOf (body: AnyValue): string {
  if (typeof body === 'string') return body
  if (body === undefined || body === null) return ''
  try {
    return JSON.stringify(body, (_k, v: AnyValue) => plain(v)) ?? String(body)
  } catch {
    return String(body)
  }
}

/** Bytes as base64 (as OTLP/JSON writes them); everything else as it is. */
function plain (v: AnyValue): unknown {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : v
}

/**
 * The pino-like record the transport would have read for this OTel record: `level` from the
 * severityNumber (else the severityText as a level name), `time` from `hrTime`, the message from the
 * body, the alert attribute and the other attributes as fields, `trace_id`/`span_id` from a valid span
 * context, and `name` as the fallback source (the resource's `service.name` unless it is the SDK's
 * `unknown_service…` default, else the instrumentation scope's name).
 *
 * `clashes`: attributes named as fields `fromRecord` reads itself or leaves out (`level`, `time`,
 * `name`, the message key…), which go to metadata under their own names (fromRecord's `more`).
 */
function pinoRecordOf (r: AlertLogRecord, ctx: RecordContext): { record: Record<string, unknown>, clashes: Record<string, unknown> | undefined } {
  const record: Record<string, unknown> = {}
  let clashes: Record<string, unknown> | undefined
  const attributes = r.attributes ?? {}
  for (const k of Object.keys(attributes)) {
    const v = plain(attributes[k])
    if (k !== ctx.alertKey && (RESERVED.has(k) || k === ctx.messageKey)) (clashes ??= {})[k] = v
    else record[k] = v
  }
  const n = r.severityNumber
  record.level = typeof n === 'number' && n >= 1 ? levelOfSeverityNumber(n) : typeof r.severityText === 'string' ? r.severityText.toLowerCase() : 30
  record.time = r.hrTime[0] * 1000 + r.hrTime[1] / 1e6
  record[ctx.messageKey] = messageOf(r.body)
  const service = r.resource?.attributes?.['service.name']
  const scope = r.instrumentationScope?.name
  // The SDK's default `unknown_service:node` says that no service name was given: the scope names more.
  const source = typeof service === 'string' && service !== '' && !service.startsWith('unknown_service') ? service : scope
  if (source !== undefined && source !== '') record.name = source
  const traceId = r.spanContext?.traceId
  const spanId = r.spanContext?.spanId
  if (traceId !== undefined && spanId !== undefined && TRACE_ID.test(traceId) && SPAN_ID.test(spanId) && !ZEROS.test(traceId) && !ZEROS.test(spanId)) {
    record.trace_id = traceId
    record.span_id = spanId
  }
  return { record, clashes }
}

/**
 * An OpenTelemetry `LogRecordExporter` that alerts. `new AlertLogRecordExporter(options, deps?)` takes
 * the options of `createAlerter` (and its `AlerterDeps`).
 *
 * - `export(records, resultCallback)`: every record tagged as an alert is admitted (silence, inhibit,
 *   dedupe, route, the outbox written when a store is configured) and delivered in the background;
 *   SUCCESS is called back once the batch is admitted, never waiting for a chat service. A record
 *   whose alert attribute has wrong types is counted and reported as a bad line (`stats().badLines`),
 *   not a failure of the batch. FAILED only after `shutdown`.
 * - `forceFlush()`: waits for the deliveries in flight (`alerter.flush()`, bounded by `shutdownTimeoutMs`).
 * - `shutdown()`: closes the alerter (`alerter.close()`: flushes, then closes channels and the store).
 */
export class AlertLogRecordExporter {
  /** The engine behind the exporter: `stats()`, `history()`, `silence()`, `ack()`… */
  readonly alerter: Alerter
  private readonly context: RecordContext
  private started = false
  private closed = false
  /** Exports waiting for the alerter to start (so that their alerts are admitted before SUCCESS). */
  private readonly waiting = new Set<Promise<void>>()

  constructor (options: AlertsOptions = {}, deps: AlerterDeps = {}) {
    const opts = resolveOptions(options, deps.env ?? process.env)
    // Validates match.minLevel (a ConfigError) before anything starts.
    this.context = recordContext(opts)
    this.alerter = createAlerter(opts, deps)
    const start = (): void => { this.started = true }
    this.alerter.ready.then(start, start)
  }

  export (records: readonly AlertLogRecord[], resultCallback: (result: ExportResult) => void): void {
    if (this.closed) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('AlertLogRecordExporter is shut down') })
      return
    }
    const events = this.read(records)
    if (this.started) {
      this.post(events)
      resultCallback({ code: ExportResultCode.SUCCESS })
      return
    }
    // Before the channels and the store are up: admitted as soon as they are (an alert that cannot
    // start a channel is still admitted to the others), then SUCCESS.
    const done: Promise<void> = this.alerter.ready.catch(() => {}).then(() => {
      this.waiting.delete(done)
      this.post(events)
      resultCallback({ code: ExportResultCode.SUCCESS })
    })
    this.waiting.add(done)
  }

  async forceFlush (): Promise<void> {
    await Promise.all(this.waiting)
    await this.alerter.flush()
  }

  async shutdown (): Promise<void> {
    this.closed = true
    await Promise.all(this.waiting)
    await this.alerter.close()
  }

  /** The batch's alerts; a record that is no alert is left out, one with a bad alert attribute reported. */
  private read (records: readonly AlertLogRecord[]): AlertEvent[] {
    const events: AlertEvent[] = []
    for (const r of records) {
      try {
        const { record, clashes } = pinoRecordOf(r, this.context)
        const event = fromRecord(record, this.context, clashes)
        if (event !== null) events.push(event)
      } catch (err) {
        this.alerter.reporter.badLine(err instanceof InvalidAlertError
          ? `log record with a wrong type for ${err.field}: ${err.message.replace(/^invalid alert: [^:]+: /, '').replace(/, got .*$/, '')}`
          : `unreadable log record: ${(err as Error).message}`)
      }
    }
    return events
  }

  private post (events: AlertEvent[]): void {
    for (const e of events) this.alerter.post(e)
  }
}
