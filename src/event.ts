import { createHash, hash, randomUUID } from 'node:crypto'
import { InvalidAlertError } from './errors.js'

export type Severity = 'info' | 'warn' | 'critical'
export type AlertStatus = 'firing' | 'resolved'
export const SEVERITIES: readonly Severity[] = ['info', 'warn', 'critical']
/** Higher is more severe; used to sort digests "most severe first". */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warn: 1, critical: 2 }

export interface TraceContext { traceId: string, spanId: string }

/** The plain-object form: what `toJSON()` returns and `fromJSON()` / `dispatch()` accept. */
export interface AlertEventJSON {
  id: string
  source: string
  severity: Severity
  title: string
  body: string
  labels: Record<string, string>
  metadata: Record<string, unknown>
  timestamp: string
  level: number
  fingerprint: string
  status: AlertStatus
  trace?: TraceContext
}

/** What `dispatch()` accepts besides an AlertEvent: `source` and `title` required, the rest defaulted. */
export interface AlertInput {
  source: string
  title: string
  severity?: Severity | 'warning' | string
  body?: string
  labels?: Record<string, unknown>
  metadata?: Record<string, unknown>
  id?: string
  timestamp?: string | number | Date
  level?: number
  fingerprint?: string
  status?: AlertStatus
  trace?: TraceContext
}

/** pino's default levels. */
export const PINO_LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }
const SEVERITY_LEVEL: Readonly<Record<Severity, number>> = { info: 30, warn: 40, critical: 50 }

export class AlertEvent implements AlertEventJSON {
  readonly id: string
  readonly source: string
  readonly severity: Severity
  readonly title: string
  readonly body: string
  readonly labels: Record<string, string>
  readonly metadata: Record<string, unknown>
  readonly timestamp: string
  readonly level: number
  readonly fingerprint: string
  readonly status: AlertStatus
  readonly trace?: TraceContext

  /** Takes already validated fields; use `fromJSON`, `AlertEvent.from` or `fromRecord` for untrusted input. */
  constructor (f: AlertEventJSON) {
    this.id = f.id
    this.source = f.source
    this.severity = f.severity
    this.title = f.title
    this.body = f.body
    this.labels = f.labels
    this.metadata = f.metadata
    this.timestamp = f.timestamp
    this.level = f.level
    this.fingerprint = f.fingerprint
    this.status = f.status
    if (f.trace !== undefined) this.trace = f.trace
  }

  toJSON (): AlertEventJSON {
    const out: AlertEventJSON = {
      id: this.id,
      source: this.source,
      severity: this.severity,
      title: this.title,
      body: this.body,
      labels: { ...this.labels },
      metadata: this.metadata === NO_METADATA ? {} : this.metadata,
      timestamp: this.timestamp,
      level: this.level,
      fingerprint: this.fingerprint,
      status: this.status
    }
    if (this.trace !== undefined) out.trace = { traceId: this.trace.traceId, spanId: this.trace.spanId }
    return out
  }

  /** Strict inverse of `toJSON()`: every field must be present with its type; the error names the field. */
  static fromJSON (value: unknown): AlertEvent {
    if (typeof value === 'string') {
      try { value = JSON.parse(value) } catch { throw new InvalidAlertError('(root)', 'not valid JSON') }
    }
    const o = asObject(value, '(root)')
    const str = (k: keyof AlertEventJSON): string => {
      const v = o[k]
      if (typeof v !== 'string') throw new InvalidAlertError(k, `expected a string, got ${describe(v)}`)
      return v
    }
    const id = str('id')
    if (id === '') throw new InvalidAlertError('id', 'must not be empty')
    const severity = str('severity')
    if (!isSeverity(severity)) throw new InvalidAlertError('severity', `expected "info", "warn" or "critical", got ${JSON.stringify(severity)}`)
    const status = str('status')
    if (status !== 'firing' && status !== 'resolved') throw new InvalidAlertError('status', `expected "firing" or "resolved", got ${JSON.stringify(status)}`)
    const timestamp = str('timestamp')
    if (!isIsoUtc(timestamp)) throw new InvalidAlertError('timestamp', `expected an ISO 8601 UTC string, got ${JSON.stringify(timestamp)}`)
    const level = o.level
    if (typeof level !== 'number' || !Number.isFinite(level)) throw new InvalidAlertError('level', `expected a number, got ${describe(level)}`)
    const labels = asObject(o.labels, 'labels')
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string') throw new InvalidAlertError(`labels.${k}`, `expected a string, got ${describe(v)}`)
    }
    const metadata = asObject(o.metadata, 'metadata')
    const f: AlertEventJSON = {
      id,
      source: str('source'),
      severity,
      title: str('title'),
      body: str('body'),
      labels: labels as Record<string, string>,
      metadata,
      timestamp,
      level,
      fingerprint: str('fingerprint'),
      status
    }
    if (o.trace !== undefined) f.trace = parseTrace(o.trace, 'trace')
    return new AlertEvent(f)
  }

  /** Builds an event from an AlertEvent or a plain object of its fields (`source` and `title` required). */
  static from (input: AlertEvent | AlertInput): AlertEvent {
    if (input instanceof AlertEvent) return input
    const o = asObject(input, '(root)')
    const source = o.source
    if (typeof source !== 'string' || source === '') throw new InvalidAlertError('source', `required, expected a non-empty string, got ${describe(source)}`)
    const title = o.title
    if (typeof title !== 'string') throw new InvalidAlertError('title', `required, expected a string, got ${describe(title)}`)
    const severity = o.severity === undefined ? 'warn' : normalizeSeverity(o.severity)
    if (severity === undefined) throw new InvalidAlertError('severity', `expected "info", "warn" (or "warning") or "critical", got ${describe(o.severity)}`)
    const labels = o.labels === undefined ? {} : stringLabels(asObject(o.labels, 'labels'))
    const body = optString(o, 'body') ?? ''
    const status = o.status === undefined ? 'firing' : o.status
    if (status !== 'firing' && status !== 'resolved') throw new InvalidAlertError('status', `expected "firing" or "resolved", got ${describe(status)}`)
    const level = o.level === undefined ? SEVERITY_LEVEL[severity] : o.level
    if (typeof level !== 'number' || !Number.isFinite(level)) throw new InvalidAlertError('level', `expected a number, got ${describe(level)}`)
    const ided = idAndMetadata(optString(o, 'id'), o.metadata === undefined ? {} : clipMetadata(asObject(o.metadata, 'metadata')))
    const f: AlertEventJSON = {
      id: ided.id,
      source,
      severity,
      title,
      body,
      labels,
      metadata: ided.metadata,
      timestamp: toIso(o.timestamp, 'timestamp'),
      level,
      fingerprint: optString(o, 'fingerprint') || fingerprintOf(source, title, labels),
      status
    }
    if (o.trace !== undefined) f.trace = parseTrace(o.trace, 'trace')
    return new AlertEvent(f)
  }
}

/** Stable hash of source, title and sorted labels: equal alerts share it across processes and restarts. */
export function fingerprintOf (source: string, title: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels).sort().map((k) => [k, labels[k]])
  // The first 16 hex digits of sha256. crypto.hash (one shot) is ~5× faster than createHash; the two
  // 8-digit halves are short enough to be copied, so the joined, flattened result does not keep the
  // 64-digit digest alive for as long as the event (a slice of it would).
  const hex = hash('sha256', JSON.stringify([source, title, sorted]), 'hex')
  const fp = hex.slice(0, 8) + hex.slice(8, 16)
  fp.charCodeAt(0)
  return fp
}

/**
 * A random UUID v4 as a flat string. Node builds `randomUUID()` by concatenating hex pairs: V8 keeps
 * that as a tree of about 20 string pieces (~490 bytes) until something reads a character. Reading one
 * flattens it in place (~67 bytes): it matters when a flood keeps 100 000 alerts waiting.
 */
export function newAlertId (): string {
  const id = randomUUID()
  id.charCodeAt(0)
  return id
}

/**
 * The longest id kept as given. Ids travel as HTTP header values (`webhook-id`) and as keys of
 * services and of the store: UUIDs are 36 characters; 128 leaves room for an app's own order or
 * request ids and stays far below any header or key limit.
 */
const MAX_ID_LENGTH = 128
/** Printable ASCII without leading or trailing space: what any HTTP header value carries unchanged. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/
/** The namespace of the name-based (v5) UUIDs that replace ids which cannot travel (`replacementId`). */
const ID_NAMESPACE = Buffer.from('6f0b7c1e3d2a4e8f9b5c0a1d2e3f4a5b', 'hex')

/**
 * Can this alert id travel in an HTTP header unchanged? Printable ASCII, no leading or trailing space,
 * at most 128 characters. Otherwise it is replaced (see `idAndMetadata`).
 * An id with CR/LF, a control character or a non-ASCII one (`ord-1-€`) makes HTTP clients refuse the
 * request before a byte is sent; left as it is, every channel that sends the id in a header fails.
 */
function headerSafe (id: string): boolean {
  return id.length <= MAX_ID_LENGTH && HEADER_SAFE.test(id)
}

/**
 * The id that replaces one that cannot travel: a name-based UUID (v5, SHA-1) of the original, so the
 * same original id always gives the same new one (a duplicate logged twice is still recognised by
 * receivers and by the store) and two different ones never meet in practice.
 */
function replacementId (original: string): string {
  const h = createHash('sha1').update(ID_NAMESPACE).update(original, 'utf8').digest()
  h[6] = ((h[6] as number) & 0x0f) | 0x50
  h[8] = ((h[8] as number) & 0x3f) | 0x80
  const x = h.toString('hex', 0, 16)
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

/**
 * The id of a new event and its metadata: an id that cannot travel in a header is replaced by
 * `replacementId`, and the original is kept in `metadata.originalId` (nothing is lost; it reaches
 * every channel in the metadata, as JSON, where any character is safe).
 */
function idAndMetadata (id: string | undefined, metadata: Record<string, unknown>): { id: string, metadata: Record<string, unknown> } {
  if (id === undefined || id === '') return { id: newAlertId(), metadata }
  if (headerSafe(id)) return { id, metadata }
  return { id: replacementId(id), metadata: { ...metadata, originalId: id } }
}

export function isSeverity (v: unknown): v is Severity {
  return v === 'info' || v === 'warn' || v === 'critical'
}

/** Case-insensitive; `warning` → `warn`; `undefined` when it is no severity. */
export function normalizeSeverity (v: unknown): Severity | undefined {
  if (typeof v !== 'string') return undefined
  const s = v.toLowerCase()
  if (s === 'warning') return 'warn'
  return isSeverity(s) ? s : undefined
}

// ---------------------------------------------------------------------------------------------------
// Log record → AlertEvent

/** How records are read: everything here is resolved once, at start (and when pino sends its config). */
export interface RecordContext {
  alertKey: string
  messageKey: string
  /** level number → name, pino's defaults plus custom levels learned from pino's config. */
  levelNames: ReadonlyMap<number, string>
  /** level name → number. */
  levelValues: ReadonlyMap<string, number>
  /** from `severityByLevel`, by number and by name. */
  severityByNumber: ReadonlyMap<number, Severity>
  severityByName: ReadonlyMap<string, Severity>
  /** `match.minLevel` as a number; untagged records at or above it are alerts. */
  minLevel: number | undefined
}

/** Fields of a pino record that are not copied into `metadata`. */
export const RESERVED: ReadonlySet<string> = new Set(['level', 'time', 'pid', 'hostname', 'name', 'trace_id', 'span_id', 'trace_flags'])

/** Severity for a record's level: `severityByLevel` (number, then name), else pino's defaults by number. */
export function severityForLevel (level: number, ctx: RecordContext): Severity {
  const byNumber = ctx.severityByNumber.get(level)
  if (byNumber !== undefined) return byNumber
  const name = ctx.levelNames.get(level)
  if (name !== undefined) {
    const byName = ctx.severityByName.get(name)
    if (byName !== undefined) return byName
  }
  if (level >= 50) return 'critical'
  if (level >= 40) return 'warn'
  return 'info'
}

/**
 * A parsed record → an AlertEvent, `null` when the record is no alert, or an InvalidAlertError when
 * its alert field has wrong types (the caller counts and reports it; it is never fatal).
 * `more`: metadata fields the record cannot carry under their own names (an OpenTelemetry record's
 * attributes called `name`, `time`, `level`…: see src/otel.ts); `alert.metadata` still wins over them.
 */
export function fromRecord (record: Record<string, unknown>, ctx: RecordContext, more?: Readonly<Record<string, unknown>>): AlertEvent | null {
  const tag = record[ctx.alertKey]
  let level = record.level
  if (typeof level === 'string') level = ctx.levelValues.get(level) ?? PINO_LEVELS[level]
  const levelNum = typeof level === 'number' && Number.isFinite(level) ? level : 30
  let alert: Record<string, unknown>
  if (tag === true) alert = {}
  else if (tag !== null && typeof tag === 'object' && !Array.isArray(tag)) alert = tag as Record<string, unknown>
  else if (tag === undefined || tag === false || tag === null) {
    if (ctx.minLevel === undefined || levelNum < ctx.minLevel) return null
    alert = {}
  } else {
    throw new InvalidAlertError(ctx.alertKey, `expected an object or true, got ${describe(tag)}`)
  }

  const field = (k: string): string => `${ctx.alertKey}.${k}`
  const aString = (k: string): string | undefined => {
    const v = alert[k]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string') throw new InvalidAlertError(field(k), `expected a string, got ${describe(v)}`)
    return v
  }

  const msg = record[ctx.messageKey]
  const message = typeof msg === 'string' ? msg : msg === undefined || msg === null ? '' : String(msg)
  const name = typeof record.name === 'string' && record.name !== '' ? record.name : undefined
  const source = aString('source') || name || 'app'
  let severity: Severity
  if (alert.severity !== undefined && alert.severity !== null) {
    const s = normalizeSeverity(alert.severity)
    if (s === undefined) throw new InvalidAlertError(field('severity'), `expected "info", "warn" (or "warning") or "critical", got ${describe(alert.severity)}`)
    severity = s
  } else {
    severity = severityForLevel(levelNum, ctx)
  }
  const explicitTitle = aString('title')
  const title = explicitTitle ?? message
  const body = explicitTitle !== undefined ? message : ''
  let labels: Record<string, string> = {}
  if (alert.labels !== undefined && alert.labels !== null) {
    if (typeof alert.labels !== 'object' || Array.isArray(alert.labels)) throw new InvalidAlertError(field('labels'), `expected an object, got ${describe(alert.labels)}`)
    labels = stringLabels(alert.labels as Record<string, unknown>)
  }
  let extra: Record<string, unknown> = {}
  if (alert.metadata !== undefined && alert.metadata !== null) {
    if (typeof alert.metadata !== 'object' || Array.isArray(alert.metadata)) throw new InvalidAlertError(field('metadata'), `expected an object, got ${describe(alert.metadata)}`)
    extra = alert.metadata as Record<string, unknown>
  }
  let metadata: Record<string, unknown> = NO_METADATA
  for (const k of Object.keys(record)) {
    if (RESERVED.has(k) || k === ctx.alertKey || k === ctx.messageKey) continue
    if (metadata === NO_METADATA) metadata = {}
    metadata[k] = record[k]
  }
  if (more !== undefined) {
    for (const k of Object.keys(more)) {
      if (metadata === NO_METADATA) metadata = {}
      metadata[k] = more[k]
    }
  }
  if (Object.keys(extra).length > 0) metadata = Object.assign(metadata === NO_METADATA ? {} : metadata, extra)

  let status: AlertStatus = 'firing'
  if (alert.status !== undefined && alert.status !== null) {
    if (alert.status !== 'firing' && alert.status !== 'resolved') throw new InvalidAlertError(field('status'), `expected "firing" or "resolved", got ${describe(alert.status)}`)
    status = alert.status
  } else if (alert.resolved === true) {
    status = 'resolved'
  }

  const ided = idAndMetadata(aString('id'), clipMetadata(metadata))
  const f: AlertEventJSON = {
    id: ided.id,
    source: intern(source),
    severity,
    title: intern(title),
    body,
    labels,
    metadata: ided.metadata,
    timestamp: recordTime(record.time),
    level: levelNum,
    fingerprint: aString('fingerprint') || fingerprintOf(source, title, labels),
    status
  }
  const traceId = record.trace_id
  const spanId = record.span_id
  if (typeof traceId === 'string' && typeof spanId === 'string') f.trace = { traceId, spanId }
  return new AlertEvent(f)
}

// ---------------------------------------------------------------------------------------------------

// A burst keeps many alerts waiting; most of them share their source and title, and many their
// millisecond. Sharing those strings instead of keeping a copy per alert saves ~100 bytes each.
/** How deep metadata may nest; deeper values become a marker (JSON.stringify recurses: a 100 000-deep record overflows the stack). */
export const MAX_METADATA_DEPTH = 64
/** How many values a metadata walk visits before it stops checking and clips (a shared sub-object referenced many times). */
const MAX_METADATA_VALUES = 1_000_000
const TOO_DEEP = `[nested deeper than ${MAX_METADATA_DEPTH} levels]`

/**
 * Metadata every channel can serialise: values nested deeper than MAX_METADATA_DEPTH (or in a cycle)
 * become the string `[nested deeper than 64 levels]`. The object itself when nothing is that deep
 * (one linear walk, no recursion); otherwise a copy, cut there.
 */
function clipMetadata (metadata: Record<string, unknown>): Record<string, unknown> {
  const stack: Array<[unknown, number]> = [[metadata, 0]]
  let seen = 0
  let deep = false
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (v === null || typeof v !== 'object' || hasToJSON(v)) continue
    if (d >= MAX_METADATA_DEPTH || ++seen > MAX_METADATA_VALUES) { deep = true; break }
    for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], d + 1])
  }
  if (!deep) return metadata
  const budget = { left: MAX_METADATA_VALUES }
  return clipValue(metadata, 0, budget) as Record<string, unknown>
}

/** A copy of `v` cut at MAX_METADATA_DEPTH; recursion is bounded by that depth. */
function clipValue (v: unknown, depth: number, budget: { left: number }): unknown {
  if (v === null || typeof v !== 'object' || hasToJSON(v)) return v
  if (depth >= MAX_METADATA_DEPTH) return TOO_DEEP
  if (--budget.left < 0) return '[truncated]'
  if (Array.isArray(v)) return v.map((x) => clipValue(x, depth + 1, budget))
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) out[k] = clipValue((v as Record<string, unknown>)[k], depth + 1, budget)
  return out
}

/** Dates, Buffers and the like serialise themselves. */
function hasToJSON (v: object): boolean {
  return typeof (v as { toJSON?: unknown }).toJSON === 'function'
}

/** The metadata of an alert without any: one frozen object shared by all of them. */
const NO_METADATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>
const interned = new Map<string, string>()
function intern (s: string): string {
  if (s.length > 200) return s
  const known = interned.get(s)
  if (known !== undefined) return known
  if (interned.size >= 2000) interned.clear()
  interned.set(s, s)
  return s
}
let lastTime = NaN
let lastIso = ''

function recordTime (t: unknown): string {
  if (typeof t === 'number' && Number.isFinite(t)) {
    if (t !== lastTime) { lastTime = t; lastIso = new Date(t).toISOString() }
    return lastIso
  }
  if (typeof t === 'string') {
    const d = new Date(/^\d+$/.test(t) ? Number(t) : t)
    if (!Number.isNaN(d.getTime())) return d.toISOString()
  }
  return new Date().toISOString()
}

function toIso (t: unknown, fieldName: string): string {
  if (t === undefined) return new Date().toISOString()
  const d = t instanceof Date ? t : typeof t === 'number' || typeof t === 'string' ? new Date(t) : undefined
  if (d === undefined || Number.isNaN(d.getTime())) throw new InvalidAlertError(fieldName, `expected a date, an ISO 8601 string or epoch milliseconds, got ${describe(t)}`)
  return d.toISOString()
}

function isIsoUtc (s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s) && !Number.isNaN(Date.parse(s))
}

function stringLabels (o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue
    out[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v)
  }
  return out
}

function optString (o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new InvalidAlertError(k, `expected a string, got ${describe(v)}`)
  return v
}

function asObject (v: unknown, fieldName: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidAlertError(fieldName, `expected an object, got ${describe(v)}`)
  return v as Record<string, unknown>
}

function parseTrace (v: unknown, fieldName: string): TraceContext {
  const o = asObject(v, fieldName)
  if (typeof o.traceId !== 'string') throw new InvalidAlertError(`${fieldName}.traceId`, `expected a string, got ${describe(o.traceId)}`)
  if (typeof o.spanId !== 'string') throw new InvalidAlertError(`${fieldName}.spanId`, `expected a string, got ${describe(o.spanId)}`)
  return { traceId: o.traceId, spanId: o.spanId }
}

/** A short, safe description of a bad value for error messages. */
export function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)
  if (typeof v === 'object') return 'an object'
  if (v === undefined) return 'nothing'
  return `${typeof v} ${String(v)}`
}
