/**
 * otlp: hand-off to an OpenTelemetry Collector (or any OTLP/HTTP logs endpoint). Every message is one
 * `POST {url}/v1/logs` of an `ExportLogsServiceRequest` in OTLP's JSON encoding, one log record per
 * alert; a digest is one request of many records (split past 1000 records or `maxBodyBytes`, default
 * 1 MiB, of uncompressed JSON). One record larger than that on its own is cut, not dropped: its body,
 * then its title (down to a quarter of the cap each), then its metadata, exception and labels, then
 * body and title further (then, as a last resort, the other texts) give way; a cut text ends with
 * "… [truncated]" and the record carries `alert.truncated: true`.
 *
 * The JSON follows the OTLP JSON Protobuf Encoding (opentelemetry-proto docs/specification.md):
 * lowerCamelCase field names, 64-bit integers (`timeUnixNano`) as decimal strings, enums
 * (`severityNumber`) as integers, `traceId`/`spanId` as lowercase hex — not base64 as the plain proto3
 * JSON mapping would have them.
 *
 * Answers (OTLP/HTTP "Failures"): 2xx is delivered unless its `partialSuccess` says log records were
 * rejected (the collector will not take them on a retry either: permanent). 429, 502, 503, 504 are
 * retried (`Retry-After`, else a `RetryInfo.retryDelay` in the error body); 400 and 413 are permanent,
 * and so is any other error an OTLP server answers with its `Status` body, as the spec says ("all
 * other 4xx or 5xx response status codes MUST NOT be retried"; a Collector answers 500 for a
 * permanent pipeline error). An error page that is no OTLP `Status` (a proxy's or a load balancer's
 * 500, a 408) comes from something in front of the collector and is mapped like any HTTP answer.
 */
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent, Severity } from '../event.js'
import { wellFormed } from '../format/escape.js'
import { bySeverity, SEVERITY_WORD, stripControl } from '../format/text.js'
import { byteLength, truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import { DEFAULT_MAX_BODY_BYTES, packRuns, proseFloor, shrinkText, tooSmall } from './pack.js'

const gzip = promisify(gzipCallback)

/** Log records per request at most: a digest larger than this is split. */
export const OTLP_MAX_RECORDS = 1000
/**
 * Uncompressed request body size at most (UTF-8 bytes) unless `maxBodyBytes` says otherwise. The spec
 * recommends that servers accept 20 MiB; vendors' OTLP endpoints accept less (some 1 MB), so requests
 * stay at 1 MiB.
 */
export const OTLP_MAX_REQUEST_BYTES = DEFAULT_MAX_BODY_BYTES

/** `severityNumber`: INFO, WARN, FATAL (SeverityNumber enum of the logs data model). */
export const OTLP_SEVERITY_NUMBER: Readonly<Record<Severity, number>> = { info: 9, warn: 13, critical: 21 }

/**
 * Field limits in UTF-16 units (OTLP has none of its own; backends do). They bound one record to about
 * 300 KB, so any record fits a request.
 */
export const OTLP_LIMITS = {
  source: 256,
  title: 1024,
  body: 16_384,
  id: 256,
  labelKey: 128,
  labelValue: 512,
  /** Labels beyond this count are left out and counted in `droppedAttributesCount`. */
  labels: 64,
  metadata: 8192,
  exception: 8192
} as const

export const OTLP_SCOPE_NAME = 'pino-alerts'

// ---------------------------------------------------------------------------------------------------
// OTLP JSON shapes (only what is sent)

export type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { doubleValue: number }
export interface KeyValue { key: string, value: AnyValue }

export interface OtlpLogRecord {
  timeUnixNano: string
  observedTimeUnixNano: string
  severityNumber: number
  severityText: string
  body: { stringValue: string }
  attributes: KeyValue[]
  droppedAttributesCount?: number
  traceId?: string
  spanId?: string
}

export interface ExportLogsServiceRequest {
  resourceLogs: Array<{
    resource: { attributes: KeyValue[] }
    scopeLogs: Array<{ scope: { name: string, version?: string }, logRecords: OtlpLogRecord[] }>
  }>
}

/** One request: the JSON body (uncompressed) and how many log records it carries. */
export interface OtlpMessage { body: string, records: number }

// ---------------------------------------------------------------------------------------------------
// Rendering

/** Valid Unicode (lone surrogates → U+FFFD), `\n` line ends, no control characters (ANSI escapes). */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n'))
}

function text (s: string, max: number): string {
  return truncate(clean(s), max)
}

const str = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } })

/** Nanoseconds since the epoch, as the decimal string OTLP JSON wants for a fixed64. */
export function unixNano (ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString()
}

const TRACE_ID = /^[0-9a-f]{32}$/i
const SPAN_ID = /^[0-9a-f]{16}$/i
/** W3C ids: hex of the right length and not all zero (collectors refuse the whole request otherwise). */
export function validTrace (trace: AlertEvent['trace']): { traceId: string, spanId: string } | undefined {
  if (trace === undefined) return undefined
  const { traceId, spanId } = trace
  if (!TRACE_ID.test(traceId) || !SPAN_ID.test(spanId) || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId: traceId.toLowerCase(), spanId: spanId.toLowerCase() }
}

function metadataJson (metadata: Record<string, unknown>): string | undefined {
  if (Object.keys(metadata).length === 0) return undefined
  try {
    return JSON.stringify(metadata, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  } catch {
    return '[unserializable metadata]'
  }
}

/** pino's `err` serializer output → the `exception.*` attributes of OpenTelemetry's conventions. */
function exceptionAttributes (err: unknown): KeyValue[] {
  if (err === null || typeof err !== 'object') return []
  const e = err as { type?: unknown, message?: unknown, stack?: unknown }
  const out: KeyValue[] = []
  if (typeof e.type === 'string' && e.type !== '') out.push(str('exception.type', text(e.type, OTLP_LIMITS.id)))
  if (typeof e.message === 'string') out.push(str('exception.message', text(e.message, OTLP_LIMITS.exception)))
  if (typeof e.stack === 'string' && e.stack !== '') out.push(str('exception.stacktrace', text(e.stack, OTLP_LIMITS.exception)))
  // The conventions want a type or a message; a lone stack is left to `alert.metadata`.
  return out.some((a) => a.key !== 'exception.stacktrace') ? out : []
}

/**
 * One alert → one log record. Resolved alerts are sent as INFO (9) whatever their severity, so that a
 * backend rule on "severity >= ERROR" does not fire again on the all-clear; `alert.severity` keeps it.
 */
export function logRecord (e: AlertEvent, observedTimeUnixNano: string): OtlpLogRecord {
  const resolved = e.status === 'resolved'
  const severity: Severity = resolved ? 'info' : e.severity
  const source = text(e.source, OTLP_LIMITS.source)
  const title = text(e.title, OTLP_LIMITS.title)
  const body = text(e.body, OTLP_LIMITS.body)
  // subject(): "[CRITICAL] source: title", "[RESOLVED] …", built from the cut parts.
  const head = `[${resolved ? 'RESOLVED' : SEVERITY_WORD[e.severity]}] ${source}: ${title}`
  const id = text(e.id, OTLP_LIMITS.id)

  const attributes: KeyValue[] = [
    str('alert.id', id),
    str('alert.source', source),
    str('alert.title', title),
    str('alert.severity', e.severity),
    str('alert.status', e.status),
    str('alert.fingerprint', text(e.fingerprint, OTLP_LIMITS.id)),
    { key: 'alert.level', value: Number.isSafeInteger(e.level) ? { intValue: String(e.level) } : { doubleValue: e.level } },
    // OpenTelemetry's unique id of a log record: lets a backend drop a redelivered alert.
    str('log.record.uid', id)
  ]
  let dropped = 0
  const seen = new Set<string>()
  for (const [k, v] of Object.entries(e.labels)) {
    const key = `alert.label.${text(k, OTLP_LIMITS.labelKey)}`
    // Keys must be unique; two labels that differ only past the cut are one too many.
    if (seen.size >= OTLP_LIMITS.labels || seen.has(key)) { dropped++; continue }
    seen.add(key)
    attributes.push(str(key, text(String(v), OTLP_LIMITS.labelValue)))
  }
  const meta = metadataJson(e.metadata)
  if (meta !== undefined) attributes.push(str('alert.metadata', text(meta, OTLP_LIMITS.metadata)))
  attributes.push(...exceptionAttributes(e.metadata.err))

  const record: OtlpLogRecord = {
    timeUnixNano: unixNano(Date.parse(e.timestamp) || Date.now()),
    observedTimeUnixNano,
    severityNumber: OTLP_SEVERITY_NUMBER[severity],
    severityText: SEVERITY_WORD[severity],
    body: { stringValue: body === '' ? head : `${head} — ${body}` },
    attributes
  }
  if (dropped > 0) record.droppedAttributesCount = dropped
  const trace = validTrace(e.trace)
  if (trace !== undefined) {
    record.traceId = trace.traceId
    record.spanId = trace.spanId
  } else if (e.trace !== undefined) {
    // Ids no collector would take: kept as text rather than failing the whole request.
    attributes.push(str('alert.trace_id', text(e.trace.traceId, 64)), str('alert.span_id', text(e.trace.spanId, 64)))
  }
  return record
}

let version: string | undefined | null = null
/** The package version, for the instrumentation scope (read once; absent when unreadable). */
function packageVersion (): string | undefined {
  if (version === null) {
    try {
      const v = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version
      version = typeof v === 'string' ? v : undefined
    } catch {
      version = undefined
    }
  }
  return version
}

export function exportRequest (serviceName: string, records: OtlpLogRecord[]): ExportLogsServiceRequest {
  const v = packageVersion()
  return {
    resourceLogs: [{
      resource: { attributes: [str('service.name', serviceName)] },
      scopeLogs: [{ scope: v === undefined ? { name: OTLP_SCOPE_NAME } : { name: OTLP_SCOPE_NAME, version: v }, logRecords: records }]
    }]
  }
}

/** The flag a cut record carries (OpenTelemetry has none of its own). */
const TRUNCATED_ATTRIBUTE: KeyValue = { key: 'alert.truncated', value: { boolValue: true } }
/** Room kept for the flag and a `droppedAttributesCount` before cutting. */
const CUT_RESERVE = byteLength(',' + JSON.stringify(TRUNCATED_ATTRIBUTE)) + byteLength(',"droppedAttributesCount":4294967295')
/** Texts that give way, in this order, after the record's body: the title, then what describes it at length. */
const CUT_FIRST = ['alert.title']
const CUT_DETAIL = ['alert.metadata', 'exception.stacktrace', 'exception.message']
/** The last resort: identity and naming texts (bounded by OTLP_LIMITS, so only a tiny cap reaches them). */
const CUT_LAST = ['alert.source', 'alert.fingerprint', 'alert.trace_id', 'alert.span_id', 'exception.type', 'alert.id', 'log.record.uid']

/**
 * A record within `room` bytes of JSON: as it is when it fits, else cut (its texts each only as much as
 * still needed, counted, not re-serialised), flagged `alert.truncated`. `envelope`: the bytes a request
 * adds around its records (for the error when not even a cut record fits).
 */
export function fitRecord (record: OtlpLogRecord, json: string, room: number, envelope = 0): string {
  const size = byteLength(json)
  if (size <= room) return json
  let over = size + CUT_RESERVE - room
  const floor = proseFloor(room)
  const attributes = [...record.attributes]
  let body = record.body.stringValue
  const cutBody = (keep: number): void => {
    const r = shrinkText(body, over, keep)
    body = r.text
    over -= r.saved
  }
  const cutAttribute = (key: string, keep = 0): void => {
    if (over <= 0) return
    const i = attributes.findIndex((a) => a.key === key)
    const a = attributes[i]
    if (a === undefined || !('stringValue' in a.value)) return
    const r = shrinkText(a.value.stringValue, over, keep)
    if (r.saved === 0) return
    attributes[i] = str(key, r.text)
    over -= r.saved
  }
  cutBody(floor)
  for (const key of CUT_FIRST) cutAttribute(key, floor)
  for (const key of CUT_DETAIL) cutAttribute(key)
  // Labels are left out from the last, counted in droppedAttributesCount as the field limit's are.
  let dropped = record.droppedAttributesCount ?? 0
  for (let i = attributes.length - 1; i >= 0 && over > 0; i--) {
    const a = attributes[i] as KeyValue
    if (!a.key.startsWith('alert.label.')) continue
    over -= byteLength(JSON.stringify(a)) + 1
    attributes.splice(i, 1)
    dropped++
  }
  cutBody(0)
  for (const key of CUT_FIRST) cutAttribute(key)
  for (const key of CUT_LAST) cutAttribute(key)
  attributes.push(TRUNCATED_ATTRIBUTE)
  const cut: OtlpLogRecord = { ...record, body: { stringValue: body }, attributes }
  if (dropped > 0) cut.droppedAttributesCount = dropped
  const out = JSON.stringify(cut)
  const bytes = byteLength(out)
  if (bytes > room) throw tooSmall('OTLP log record', room + envelope, bytes + envelope)
  return out
}

/**
 * One alert or a digest (most severe first, one record each) → requests of at most `maxRecords` records
 * and `maxBytes` bytes of JSON. Each record is written and measured once; a request's body is the
 * records' texts joined inside the envelope (what JSON.stringify of the whole request would write).
 */
export function renderOtlp (events: readonly AlertEvent[], serviceName: string, limits: { maxRecords?: number, maxBytes?: number } = {}, carried?: WeakMap<OtlpMessage, string[]>): OtlpMessage[] {
  if (events.length === 0) return []
  const maxRecords = limits.maxRecords ?? OTLP_MAX_RECORDS
  const maxBytes = limits.maxBytes ?? OTLP_MAX_REQUEST_BYTES
  const observed = unixNano(Date.now())
  const envelope = JSON.stringify(exportRequest(serviceName, []))
  const at = envelope.indexOf('"logRecords":[]') + '"logRecords":['.length
  const head = envelope.slice(0, at)
  const tail = envelope.slice(at)
  const envelopeBytes = byteLength(envelope)
  const room = maxBytes - envelopeBytes
  const sorted = bySeverity(events)
  const texts = sorted.map((e) => {
    const record = logRecord(e, observed)
    return fitRecord(record, JSON.stringify(record), room, envelopeBytes)
  })
  return packRuns(texts.map(byteLength), room, { maxItems: maxRecords }).map(([start, end]) => {
    const m = { body: head + texts.slice(start, end).join(',') + tail, records: end - start }
    carried?.set(m, sorted.slice(start, end).map((e) => e.id))
    return m
  })
}

// ---------------------------------------------------------------------------------------------------
// Answers

/** `429`, `502`, `503`, `504`: the OTLP/HTTP retryable codes. */
export const OTLP_RETRYABLE = new Set([429, 502, 503, 504])

interface RpcStatus { code?: number, message?: string, details?: unknown[] }

/** The `google.rpc.Status` an OTLP server answers errors with (JSON encoding), if the body is one. */
export function parseStatus (body: string): RpcStatus | undefined {
  try {
    const o = JSON.parse(body) as unknown
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined
    const s = o as Record<string, unknown>
    const hasCode = typeof s.code === 'number' && Number.isInteger(s.code)
    const hasMessage = typeof s.message === 'string'
    if (!hasCode && !hasMessage) return undefined
    const out: RpcStatus = {}
    if (hasCode) out.code = s.code as number
    if (hasMessage) out.message = s.message as string
    if (Array.isArray(s.details)) out.details = s.details
    return out
  } catch {
    return undefined
  }
}

/** `RetryInfo.retryDelay` in a Status' details (JSON Duration, `"5s"`, `"1.500s"`) → ms. */
export function retryDelayMs (status: RpcStatus | undefined): number | undefined {
  for (const d of status?.details ?? []) {
    if (d === null || typeof d !== 'object') continue
    const info = d as { '@type'?: unknown, retryDelay?: unknown }
    if (typeof info['@type'] !== 'string' || !info['@type'].endsWith('google.rpc.RetryInfo')) continue
    const m = typeof info.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(info.retryDelay.trim()) : null
    if (m !== null) return Math.ceil(Number(m[1]) * 1000)
  }
  return undefined
}

/** `rejectedLogRecords` is an int64: a decimal string in OTLP JSON, a number from lenient servers. */
function count (v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v)
  return 0
}

/** A 2xx answer: delivered, unless `partialSuccess.rejectedLogRecords` > 0 (never retried). */
function successOutcome (res: HttpResponse, where: string, records: number, secrets: readonly string[]): Outcome {
  let partial: { rejectedLogRecords?: unknown, errorMessage?: unknown } | undefined
  try {
    const o = JSON.parse(res.body) as { partialSuccess?: unknown } | null
    if (o !== null && typeof o === 'object' && o.partialSuccess !== null && typeof o.partialSuccess === 'object') partial = o.partialSuccess
  } catch { /* an empty or non-JSON 2xx body: nothing was rejected that we could know of */ }
  const rejected = count(partial?.rejectedLogRecords)
  // rejected 0 with a message is a warning: the records were taken.
  if (rejected <= 0) return { ok: true }
  const msg = typeof partial?.errorMessage === 'string' ? partial.errorMessage : ''
  const detail = redact(msg.trim().replace(/\s+/g, ' '), secrets).slice(0, 200)
  const of = `${rejected} of ${records} log record${records === 1 ? '' : 's'}`
  return { ok: false, retryable: false, status: res.status, error: `${where}: collector rejected ${of}${detail === '' ? '' : `: ${detail}`}` }
}

/** An OTLP/HTTP answer → outcome (see the module comment). */
export function otlpOutcome (res: HttpResponse, where: string, records: number, secrets: readonly string[] = []): Outcome {
  if (res.status >= 200 && res.status < 300) return successOutcome(res, where, records, secrets)
  const status = parseStatus(res.body)
  const base = outcomeFromResponse({ ...res, body: status?.message ?? res.body }, where, secrets)
  if (base.ok) return base
  if (OTLP_RETRYABLE.has(res.status)) {
    const after = base.retryAfterMs ?? retryDelayMs(status)
    return after === undefined ? { ...base, retryable: true } : { ...base, retryable: true, retryAfterMs: after }
  }
  if (res.status === 400 || res.status === 413 || status !== undefined) {
    return { ok: false, retryable: false, status: res.status, error: base.error }
  }
  return base
}

// ---------------------------------------------------------------------------------------------------

/** `{url}/v1/logs`; a URL that already ends in `/v1/logs` is used as it is (a trailing slash dropped). */
export function logsEndpoint (base: string): string {
  const u = new URL(base)
  const path = u.pathname.replace(/\/+$/, '')
  u.pathname = path.endsWith('/v1/logs') ? path : `${path}/v1/logs`
  return u.toString()
}

/** How the endpoint shows in error texts: in full when nothing but `/v1/logs` follows the host. */
function shownEndpoint (endpoint: string): string {
  const u = new URL(endpoint)
  if (u.pathname === '/v1/logs' && u.search === '' && u.username === '' && u.password === '') return `${u.protocol}//${u.host}/v1/logs`
  return safeUrl(endpoint)
}

/**
 * What to mask: the channel's secrets (URL, path + query) — less the bare `/v1/logs` path and the URLs
 * that are nothing else, which hold no credential — and the values of the extra headers (API keys),
 * with the token after an `Authorization` scheme on its own.
 */
function maskList (cfg: ResolvedChannel, headers: Record<string, string>): string[] {
  const plain = (s: string): boolean => {
    if (/^\/v1\/logs\/?$/.test(s)) return true
    try {
      const u = new URL(s)
      return /^\/(v1\/logs\/?)?$/.test(u.pathname) && u.search === '' && u.password === ''
    } catch { return false }
  }
  const out = cfg.secrets.filter((s) => !plain(s))
  // The URL's path without its leading slash, and its token-like segments and query values on their
  // own: gateways echo them so in their messages ("tenant otlp/abc…", "key abc…").
  try {
    const u = new URL(String(cfg.config.url))
    const path = u.pathname.replace(/^\/+|\/+$/g, '').replace(/\/?v1\/logs$/, '')
    const tokens = path.split('/').filter((seg) => /^[\w.~-]{16,}$/.test(seg))
    // (a plain prefix such as "otlp" is no secret, and masking it would mask the channel's name)
    if (tokens.length > 0) out.push(path, ...tokens)
    for (const v of u.searchParams.values()) if (v.length >= 8) out.push(v)
  } catch { /* validated by options.ts */ }
  for (const v of Object.values(headers)) {
    if (v.length >= 8) out.push(v)
    const token = /^\S+\s+(\S{8,})$/.exec(v.trim())?.[1]
    if (token !== undefined) out.push(token)
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length)
}

/** Headers the protocol sets; the `headers` option cannot replace them. */
const OWN_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'transfer-encoding', 'host'])

export function create (cfg: ResolvedChannel): Channel<OtlpMessage> {
  const net = netOf(cfg.config)
  const endpoint = logsEndpoint(String(cfg.config.url))
  const serviceName = typeof cfg.config.serviceName === 'string' ? cfg.config.serviceName : 'pino-alerts'
  const useGzip = cfg.config.gzip === true
  const maxBytes = (cfg.config.maxBodyBytes as number | undefined) ?? OTLP_MAX_REQUEST_BYTES
  // Which alerts each rendered request carries: a 413 on one request fails only its alerts.
  const carried = new WeakMap<OtlpMessage, string[]>()
  const extra = (cfg.config.headers ?? {}) as Record<string, string>
  const where = `${cfg.name} (${shownEndpoint(endpoint)})`
  const secrets = maskList(cfg, extra)
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, secrets) })
  const v = packageVersion()
  const headers: Record<string, string> = { 'user-agent': v === undefined ? 'pino-alerts' : `pino-alerts/${v}` }
  for (const [k, val] of Object.entries(extra)) if (!OWN_HEADERS.has(k.toLowerCase())) headers[k] = val
  headers['content-type'] = 'application/json'
  if (useGzip) headers['content-encoding'] = 'gzip'

  return {
    name: cfg.name,
    type: 'otlp',
    // Every request body (uncompressed JSON) within maxBodyBytes, at most OTLP_MAX_RECORDS records.
    limits: {
      maxMessageBytes: maxBytes,
      check: (m: OtlpMessage) => (m.records > OTLP_MAX_RECORDS ? `${m.records} log records in one request (at most ${OTLP_MAX_RECORDS})` : undefined)
    },
    render: (events) => renderOtlp(events, serviceName, { maxBytes }, carried),
    carries: (message) => carried.get(message) ?? [],
    async send (msg: OtlpMessage, { signal }): Promise<Outcome> {
      let res: HttpResponse
      try {
        const body = useGzip ? await gzip(Buffer.from(msg.body, 'utf8')) : msg.body
        if (signal.aborted) return masked(outcomeFromError(signal.reason, where, signal))
        res = await httpRequest(endpoint, { method: 'POST', headers, body, signal, net })
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
      return masked(otlpOutcome(res, where, msg.records, secrets))
    }
  }
}
