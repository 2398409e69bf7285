/**
 * A local fake of an OpenTelemetry Collector's OTLP/HTTP receiver, logs signal (`POST /v1/logs`),
 * built on the generic webhook server.
 *
 * What it imitates (opentelemetry-proto docs/specification.md, the Collector's otlpreceiver):
 * - the route: another path is `404 page not found` (text/plain), another method `405 method not
 *   allowed, supported: [POST]`, another content type `415 unsupported media type, supported:
 *   [application/json, application/x-protobuf]` (text/plain, as the Collector writes them);
 * - `Content-Encoding: gzip` bodies are decompressed (a broken stream or another encoding is a 400);
 *   bodies over 20 MiB, before or after decompression, are `413`;
 * - errors as a JSON `google.rpc.Status`: `{ "code": 3, "message": "…" }` with `application/json`;
 * - success: `200` with an `ExportLogsServiceResponse` (`{"partialSuccess":{}}`, as the Collector's
 *   JSON marshaller writes an empty one), or with `partialSuccess.rejectedLogRecords` (an int64, so a
 *   decimal string) and `errorMessage` in the partial-success mode;
 * - throttling: `429`/`503` with `Retry-After` (seconds), or a `RetryInfo` detail in the Status body;
 *   outages (`502`/`503`/`504`), a Collector's permanent pipeline error (`500`, Status code 13) and a
 *   hung receiver (`{ hold: true }`).
 *
 * Stricter than a real Collector on purpose, so that a test sees what a receiver would silently drop
 * or a backend would mangle:
 * - an unknown field name (a snake_case name, a typo) is a 400 — the spec has receivers *ignore* unknown
 *   fields, which is exactly how a misspelt `severity_number` would lose the severity unnoticed;
 * - 64-bit integers (`timeUnixNano`, `observedTimeUnixNano`, `intValue`) must be decimal strings (the
 *   proto3 JSON mapping also lets receivers take numbers); `severityNumber` an integer 1–24 (enum names
 *   are forbidden by OTLP JSON; 0, unspecified, is refused here); `traceId`/`spanId` hex of 32/16
 *   characters, not all zero (the Collector refuses a wrong length with 400 too; base64 ids fail here);
 * - every attribute value an AnyValue object with exactly one value field; attribute keys unique;
 *   every string valid Unicode (no lone surrogate); no empty `resourceLogs`/`scopeLogs`/`logRecords`.
 */
import { gunzipSync } from 'node:zlib'
import type { FakeAnswers } from '../channels/suite.js'
import { startWebhookServer, type RecordedRequest, type Responder, type ScriptedResponse, type WebhookServer } from './webhook-server.js'

/** The request body limit the spec recommends servers use (also after decompression). */
export const OTLP_SERVER_LIMIT_BYTES = 20 * 1024 * 1024

// ---------------------------------------------------------------------------------------------------
// Answers

/** A JSON `google.rpc.Status` error, as an OTLP/HTTP server sends it for JSON requests. */
export function otlpStatus (status: number, code: number, message: string, extra: { headers?: Record<string, string>, details?: unknown[] } = {}): ScriptedResponse {
  const body: Record<string, unknown> = { code, message }
  if (extra.details !== undefined) body.details = extra.details
  return { status, headers: { 'content-type': 'application/json', ...(extra.headers ?? {}) }, body: JSON.stringify(body) }
}

/** gRPC codes the Collector's Status bodies carry. */
export const GRPC = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const

export const otlpOk = (): ScriptedResponse => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"partialSuccess":{}}' })
export const otlpBadRequest = (message: string): ScriptedResponse => otlpStatus(400, GRPC.INVALID_ARGUMENT, message)
/** Throttled: 429 (or 503) with `Retry-After: seconds`. */
export const otlpThrottled = (seconds: number, status = 429): ScriptedResponse =>
  otlpStatus(status, status === 429 ? GRPC.RESOURCE_EXHAUSTED : GRPC.UNAVAILABLE, 'data refused due to high memory usage', { headers: { 'retry-after': String(seconds) } })
/** Throttled the gRPC way: no header, a `RetryInfo` detail with `retryDelay` in the Status body. */
export const otlpRetryInfo = (seconds: number, status = 503): ScriptedResponse =>
  otlpStatus(status, GRPC.UNAVAILABLE, 'server is unavailable', { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` }] })
export const otlpUnavailable = (status = 503): ScriptedResponse => otlpStatus(status, GRPC.UNAVAILABLE, status === 503 ? 'service unavailable: pipeline is shutting down' : 'upstream unavailable')
/** What a Collector answers for a permanent pipeline error: 500, code INTERNAL. */
export const otlpInternal = (message = 'Permanent error: exporter refused the data'): ScriptedResponse => otlpStatus(500, GRPC.INTERNAL, message)

const plain = (status: number, text: string): ScriptedResponse => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text })

// ---------------------------------------------------------------------------------------------------
// Validation of an ExportLogsServiceRequest in OTLP JSON

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const UINT64 = /^(0|[1-9]\d{0,19})$/
const INT64 = /^-?(0|[1-9]\d{0,18})$/

type Check = (v: unknown, path: string) => string | undefined

const string: Check = (v, path) => {
  if (typeof v !== 'string') return `${path}: expected a string, got ${typeof v}`
  if (LONE_SURROGATE.test(v)) return `${path}: invalid UTF-8 (lone surrogate)`
  return undefined
}
const uint32: Check = (v, path) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? undefined : `${path}: expected a uint32 number`)
/** fixed64 as OTLP JSON writes it: a decimal string. */
const fixed64: Check = (v, path) => (typeof v === 'string' && UINT64.test(v) && BigInt(v) < 2n ** 64n ? undefined : `${path}: expected a decimal string of an unsigned 64-bit integer, got ${JSON.stringify(v)}`)
const hexId = (len: number): Check => (v, path) => {
  if (typeof v !== 'string' || v.length !== len || !/^[0-9a-fA-F]+$/.test(v)) return `${path}: invalid length for ID (expected ${len} hex characters, got ${JSON.stringify(v)})`
  if (/^0+$/.test(v)) return `${path}: all-zero ID is invalid`
  return undefined
}

/** Fields of a message: name → check; `required` names must be present. */
function message (fields: Record<string, Check>, required: string[] = [], nonEmpty: string[] = []): Check {
  return (v, path) => {
    if (!isObject(v)) return `${path}: expected an object`
    for (const k of Object.keys(v)) {
      if (!(k in fields)) return `${path}: unknown field "${k}"`
    }
    for (const k of required) if (v[k] === undefined) return `${path}.${k}: required`
    for (const [k, check] of Object.entries(fields)) {
      if (v[k] === undefined) continue
      if (v[k] === null) return `${path}.${k}: null is not a value`
      const err = check(v[k], `${path}.${k}`)
      if (err !== undefined) return err
      if (nonEmpty.includes(k) && Array.isArray(v[k]) && (v[k] as unknown[]).length === 0) return `${path}.${k}: empty (senders should not send empty envelopes)`
    }
    return undefined
  }
}

function list (item: Check): Check {
  return (v, path) => {
    if (!Array.isArray(v)) return `${path}: expected an array`
    for (let i = 0; i < v.length; i++) {
      const err = item(v[i], `${path}[${i}]`)
      if (err !== undefined) return err
    }
    return undefined
  }
}

/** Attributes: KeyValue list with unique keys. */
const attributes: Check = (v, path) => {
  const err = list(keyValue)(v, path)
  if (err !== undefined) return err
  const seen = new Set<string>()
  for (const kv of v as Array<{ key: string }>) {
    if (seen.has(kv.key)) return `${path}: duplicate attribute key ${JSON.stringify(kv.key)}`
    seen.add(kv.key)
  }
  return undefined
}

const anyValue: Check = (v, path) => {
  if (!isObject(v)) return `${path}: expected an AnyValue object (e.g. { "stringValue": "…" }), got ${JSON.stringify(v)}`
  const keys = Object.keys(v)
  if (keys.length !== 1) return `${path}: an AnyValue holds exactly one of stringValue, boolValue, intValue, doubleValue, arrayValue, kvlistValue, bytesValue (got ${keys.join(', ') || 'none'})`
  const [k] = keys as [string]
  const x = v[k]
  switch (k) {
    case 'stringValue': return string(x, `${path}.stringValue`)
    case 'boolValue': return typeof x === 'boolean' ? undefined : `${path}.boolValue: expected a boolean`
    case 'intValue': return typeof x === 'string' && INT64.test(x) ? undefined : `${path}.intValue: expected a decimal string of a 64-bit integer, got ${JSON.stringify(x)}`
    case 'doubleValue': return typeof x === 'number' && Number.isFinite(x) ? undefined : `${path}.doubleValue: expected a number`
    case 'bytesValue': return typeof x === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(x) ? undefined : `${path}.bytesValue: expected base64`
    case 'arrayValue': return message({ values: list(anyValue) })(x, `${path}.arrayValue`)
    case 'kvlistValue': return message({ values: attributes })(x, `${path}.kvlistValue`)
    default: return `${path}: unknown field "${k}"`
  }
}

const keyValue: Check = message({ key: string, value: anyValue }, ['key', 'value'])

const severityNumber: Check = (v, path) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 24 ? undefined : `${path}: expected a SeverityNumber integer 1–24 (enum names are not allowed in OTLP JSON), got ${JSON.stringify(v)}`

export const logRecordCheck: Check = message({
  timeUnixNano: fixed64,
  observedTimeUnixNano: fixed64,
  severityNumber,
  severityText: string,
  body: anyValue,
  attributes,
  droppedAttributesCount: uint32,
  flags: uint32,
  traceId: hexId(32),
  spanId: hexId(16),
  eventName: string
}, ['timeUnixNano', 'severityNumber', 'body'])

const scope = message({ name: string, version: string, attributes, droppedAttributesCount: uint32 })
const resource = message({ attributes, droppedAttributesCount: uint32 })
const scopeLogs = message({ scope, logRecords: list(logRecordCheck), schemaUrl: string }, ['logRecords'], ['logRecords'])
const resourceLogs = message({ resource, scopeLogs: list(scopeLogs), schemaUrl: string }, ['scopeLogs'], ['scopeLogs'])
const exportRequest = message({ resourceLogs: list(resourceLogs) }, ['resourceLogs'], ['resourceLogs'])

/** Why this parsed body is no valid OTLP JSON `ExportLogsServiceRequest` (a path and a reason), or undefined. */
export function exportProblem (payload: unknown): string | undefined {
  return exportRequest(payload, 'ExportLogsServiceRequest')
}

// ---------------------------------------------------------------------------------------------------
// Reading requests

export interface AnyValueJson { stringValue?: string, intValue?: string, boolValue?: boolean, doubleValue?: number }
export interface KeyValueJson { key: string, value: AnyValueJson }
export interface LogRecordJson {
  timeUnixNano: string
  observedTimeUnixNano?: string
  severityNumber: number
  severityText?: string
  body: AnyValueJson
  attributes?: KeyValueJson[]
  droppedAttributesCount?: number
  traceId?: string
  spanId?: string
}
export interface ExportJson {
  resourceLogs: Array<{
    resource?: { attributes?: KeyValueJson[] }
    scopeLogs: Array<{ scope?: { name?: string, version?: string }, logRecords: LogRecordJson[] }>
  }>
}

/** The request body as the receiver reads it: gunzipped when so declared (throws on a bad stream or one over the limit). */
export function decodedBody (req: RecordedRequest, limit = OTLP_SERVER_LIMIT_BYTES): Buffer {
  const enc = (req.header('content-encoding') ?? '').trim().toLowerCase()
  if (enc === '' || enc === 'identity') return req.body
  if (enc === 'gzip') return gunzipSync(req.body, { maxOutputLength: limit })
  throw new Error(`unsupported Content-Encoding ${JSON.stringify(enc)}`)
}

export function exportOf (req: RecordedRequest): ExportJson {
  return JSON.parse(decodedBody(req).toString('utf8')) as ExportJson
}

/** Every log record of a request, in order. */
export function recordsOf (req: RecordedRequest): LogRecordJson[] {
  return exportOf(req).resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords))
}

/** A record's attributes as a plain object (`stringValue`, `intValue`… unwrapped). */
export function attributesOf (record: { attributes?: KeyValueJson[] }): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {}
  for (const { key, value } of record.attributes ?? []) {
    const v = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue
    if (v !== undefined) out[key] = v
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// The receiver

/**
 * What the receiver answers a request: an error for a wrong route, encoding, size or payload, else
 * `accept(req)` (default: 200 with an empty partial success). `limit`: the largest body taken, before
 * and after decompression (413 above it).
 */
export function otlpAnswer (req: RecordedRequest, logsPath = '/v1/logs', accept: (req: RecordedRequest) => ScriptedResponse = otlpOk, limit = OTLP_SERVER_LIMIT_BYTES): ScriptedResponse {
  if (req.path !== logsPath) return plain(404, '404 page not found\n')
  if (req.method !== 'POST') return plain(405, '405 method not allowed, supported: [POST]')
  const ct = (req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (ct !== 'application/json') return plain(415, '415 unsupported media type, supported: [application/json, application/x-protobuf]')
  let raw: Buffer
  try {
    raw = decodedBody(req, limit)
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return otlpStatus(413, GRPC.INVALID_ARGUMENT, 'request body too large')
    return otlpBadRequest((err as Error).message)
  }
  if (raw.length > limit) return otlpStatus(413, GRPC.INVALID_ARGUMENT, 'request body too large')
  const text = raw.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(raw)) return otlpBadRequest('request body is not valid UTF-8')
  let payload: unknown
  try {
    payload = JSON.parse(text)
  } catch (err) {
    return otlpBadRequest(`ReadObjectCB: ${(err as Error).message}`)
  }
  const problem = exportProblem(payload)
  if (problem !== undefined) return otlpBadRequest(problem)
  return accept(req)
}

/** A valid request is answered 200 with `partialSuccess` rejecting `rejected` records (an invalid one 400). */
export function otlpPartialSuccess (rejected: number | string, errorMessage: string, logsPath = '/v1/logs'): Responder {
  return (req) => otlpAnswer(req, logsPath, () => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ partialSuccess: { rejectedLogRecords: rejected, errorMessage } })
  }))
}

export interface OtlpCollector extends WebhookServer {
  /** What to configure as the channel's `url`: origin plus the base path (without `/v1/logs`). */
  readonly baseUrl: string
  /** The path it takes logs at: base path + `/v1/logs`. */
  readonly logsPath: string
  /** The answer of this receiver to a request (validation, then 200). */
  answer: (req: RecordedRequest) => ScriptedResponse
}

/**
 * Starts the receiver on 127.0.0.1 (port 0). `basePath` puts it behind a prefix, as vendor gateways and
 * reverse proxies do (`/otlp` → `POST /otlp/v1/logs`). `maxBodyBytes` (default 20 MiB, the spec's
 * recommendation): bodies larger than this, as sent or decompressed, are answered 413 (a vendor
 * endpoint or a proxy in front of the collector that takes less).
 */
export async function startOtlpCollector (opts: { basePath?: string, port?: number, maxBodyBytes?: number } = {}): Promise<OtlpCollector> {
  const base = (opts.basePath ?? '').replace(/\/+$/, '')
  const logsPath = `${base}/v1/logs`
  const limit = opts.maxBodyBytes ?? OTLP_SERVER_LIMIT_BYTES
  const answer = (req: RecordedRequest): ScriptedResponse => otlpAnswer(req, logsPath, otlpOk, limit)
  const server = await startWebhookServer({ defaultResponse: answer, maxBodyBytes: limit, ...(opts.port === undefined ? {} : { port: opts.port }) })
  return Object.assign(server, { baseUrl: server.origin + base, logsPath, answer })
}

/** The suite's answers, the Collector's way; "accepted" validates the request first. */
export function otlpAnswers (logsPath = '/v1/logs'): Partial<FakeAnswers> {
  return {
    accept: (req) => otlpAnswer(req, logsPath),
    unavailable: () => otlpUnavailable(503),
    rateLimited: (seconds) => otlpThrottled(seconds, 429),
    rejected: () => otlpBadRequest('ReadObjectCB: expect { or n, but found x')
  }
}
