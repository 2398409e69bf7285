/**
 * pagerduty: PagerDuty Events API v2 (`POST {url}/v2/enqueue`). Every alert is one event: a firing
 * alert `trigger`s, a resolved one `resolve`s, `alerter.ack` `acknowledge`s — all with
 * `dedup_key` = the alert's fingerprint, so PagerDuty keeps one alert per problem (across processes
 * and restarts too: the fingerprint is a stable hash of source, title and labels).
 *
 * - PagerDuty has no digest: a digest renders into one event per alert, most severe first, except
 *   that the events of one dedup_key keep the order they arrived in (a resolve never overtakes its
 *   trigger). Each is its own request, taking its own rate-limit token.
 * - Answers: 202 `{ status: "success" }` delivered; 400 `invalid event` (with PagerDuty's `errors`)
 *   and other 4xx permanent; 429 and 5xx retryable (`Retry-After` honoured; a 429 without one waits
 *   at least 30 s, as PagerDuty advises, since its limit is counted over a trailing minute).
 * - Limits: `payload.summary` ≤ 1024 characters, `payload.source` ≤ 255, `dedup_key` ≤ 255, a request
 *   ≤ 512 KB. Text is cut with `…`; an event over the size budget loses metadata first, then body text.
 * - PagerDuty shows every field as plain text (no markup to escape), but its summary is also read
 *   out in phone calls, SMS and push notifications: lone surrogates become U+FFFD, control and
 *   bidi-override characters are replaced, and the summary is one line.
 */
import { createHash } from 'node:crypto'
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent, Severity } from '../event.js'
import { wellFormed } from '../format/escape.js'
import { bySeverity, stripControl, subject } from '../format/text.js'
import { boundedJson } from '../format/json.js'
import { byteLength, ELLIPSIS, headFor, headUnits, truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import { firstProblem, within, type ChannelLimits } from './limits.js'

export const PAGERDUTY_DEFAULT_URL = 'https://events.pagerduty.com'
/** PagerDuty's documented request limit ("512 KB"). */
export const PAGERDUTY_MAX_BYTES = 512 * 1024
/** What rendered events aim for: headroom however "KB" is counted (512 000 ≥ 480 KiB). */
export const PAGERDUTY_BUDGET_BYTES = 480 * 1024
export const SUMMARY_MAX = 1024
export const SOURCE_MAX = 255
export const DEDUP_KEY_MAX = 255
/** A 429 without `Retry-After`: PagerDuty counts its limit over a trailing 60 s and suggests retries 30 s apart. */
export const THROTTLE_RETRY_MS = 30_000

/** Our severities → PagerDuty's (`error` is never used). */
export const PAGERDUTY_SEVERITY: Readonly<Record<Severity, 'critical' | 'warning' | 'info'>> = {
  critical: 'critical',
  warn: 'warning',
  info: 'info'
}

export type PagerDutyAction = 'trigger' | 'acknowledge' | 'resolve'

/** One Events API request: the action and key (for tests and logs) and the JSON body, ready to POST. */
export interface PagerDutyMessage { action: PagerDutyAction, dedupKey: string, body: string }

/** Starting limits (UTF-16 units) of what goes into `custom_details`; bytes cut further if needed. */
const BODY_MAX = 64 * 1024
const LABELS_MAX = 100
const LABEL_KEY_MAX = 255
const LABEL_VALUE_MAX = 1024
const META_DEPTH = 32
/** component, group, class: undocumented limits; kept short like `source`. */
const FIELD_MAX = 255

// ---------------------------------------------------------------------------------------------------
// Untrusted text

// Bidi overrides/isolates could make a summary read differently from what it says.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g

/** Valid Unicode, `\n` line ends, no control or bidi-override characters. */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n')).replace(BIDI, '\ufffd')
}

/** One line (summary, source, component…): cleaned, whitespace runs folded into one space, cut to `max`. */
function oneLine (s: string, max: number): string {
  return truncate(clean(headFor(s, max)).replace(/\s+/g, ' ').trim(), max)
}

/** Metadata: every string and key cleaned, depth bounded (JSON from a log line: no cycles). */
function cleanJson (v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return clean(v)
  if (v === null || typeof v !== 'object') return typeof v === 'number' && !Number.isFinite(v) ? null : v
  if (depth >= META_DEPTH) return '[nested too deep]'
  if (Array.isArray(v)) return v.map((x) => cleanJson(x, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x !== undefined) out[clean(k)] = cleanJson(x, depth + 1)
  }
  return out
}

function cleanLabels (labels: Record<string, string>, max: number, valueMax: number): Record<string, string> {
  const keys = Object.keys(labels)
  const out: Record<string, string> = {}
  for (const k of keys.slice(0, max)) out[oneLine(k, LABEL_KEY_MAX)] = truncate(clean(headUnits(labels[k] ?? '', 2 * valueMax + 2)), valueMax)
  if (keys.length > max) out['…'] = `${keys.length - max} more label${keys.length - max === 1 ? '' : 's'}`
  return out
}

/** UTF-8 bytes of one UTF-16 unit (or of the pair it starts: `pair`) as JSON.stringify writes it inside a string. */
function jsonUnitBytes (c: number, pair: boolean): number {
  if (c === 0x22 || c === 0x5c) return 2
  if (c < 0x20) return c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6
  if (c < 0x80) return 1
  if (c < 0x800) return 2
  if (c >= 0xd800 && c <= 0xdfff) return pair ? 4 : 6 // a lone surrogate is written as `\udXXX`
  return 3
}

/**
 * The longest cut of `text` (with `…`) whose message is at most `budget` bytes, '' when none is;
 * `size(s)` is the message's size with `s` in place of the text. Linear: the message is measured with
 * an empty text once, and the cut found by adding up what each unit of the text adds to its JSON (a
 * bisection that built and measured the whole message each time took some 20 builds of ~480 KB).
 */
function fitText (text: string, size: (s: string) => number, budget: number): string {
  if (size(text) <= budget) return text
  const room = budget - size('') - 3 // `…` is 3 bytes
  if (room < 0) return ''
  let used = 0
  let end = 0
  // As truncate(text, n) for n up to text.length - 1: at most text.length - 2 units, and the marker.
  while (end < text.length - 2) {
    const c = text.charCodeAt(end)
    const low = text.charCodeAt(end + 1)
    const pair = c >= 0xd800 && c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff
    if (pair && end + 2 > text.length - 2) break
    const n = jsonUnitBytes(c, pair)
    if (used + n > room) break
    used += n
    end += pair ? 2 : 1
  }
  // truncate() never ends on a high surrogate, even a lone one.
  const last = text.charCodeAt(end - 1)
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--
  const cut = text.slice(0, end) + ELLIPSIS
  if (size(cut) <= budget) return cut
  // Not reached (the count is exact); kept as the safe answer should JSON.stringify ever differ.
  let lo = 0
  let hi = text.length - 1
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (size(truncate(text, mid)) <= budget) lo = mid
    else hi = mid - 1
  }
  return lo === 0 ? '' : truncate(text, lo)
}

// ---------------------------------------------------------------------------------------------------
// Events

/**
 * `dedup_key`: the fingerprint as is when PagerDuty takes it (≤ 255, valid Unicode, no control
 * characters), else a stable hash of it — the same for the trigger, the acknowledge and the resolve.
 */
export function dedupKeyOf (e: AlertEvent): string {
  const f = e.fingerprint
  // eslint-disable-next-line no-control-regex
  if (f !== '' && f.length <= DEDUP_KEY_MAX && wellFormed(f) === f && !/[\u0000-\u001f\u007f-\u009f]/.test(f)) return f
  return 'sha256:' + createHash('sha256').update(f, 'utf8').digest('hex')
}

export interface PagerDutyOptions {
  routingKey: string
  source?: string
  component?: string
  group?: string
  class?: string
  links?: Array<{ href: string, text?: string }>
}

function lifecycleEvent (routingKey: string, action: 'acknowledge' | 'resolve', dedupKey: string): PagerDutyMessage {
  return { action, dedupKey, body: JSON.stringify({ routing_key: routingKey, event_action: action, dedup_key: dedupKey }) }
}

/** The trigger event of a firing alert, within `budget` bytes of JSON. */
function triggerEvent (e: AlertEvent, o: PagerDutyOptions, budget: number): PagerDutyMessage {
  const dedupKey = dedupKeyOf(e)
  const source = oneLine(o.source ?? e.source, SOURCE_MAX) || 'app'
  const payload: Record<string, unknown> = {
    summary: oneLine(subject(e), SUMMARY_MAX),
    source,
    severity: PAGERDUTY_SEVERITY[e.severity],
    timestamp: e.timestamp
  }
  if (o.component !== undefined) payload.component = oneLine(o.component, FIELD_MAX)
  if (o.group !== undefined) payload.group = oneLine(o.group, FIELD_MAX)
  if (o.class !== undefined) payload.class = oneLine(o.class, FIELD_MAX)

  // Cleaning shortens only `\r\n`: twice the limit in units is more than the cut keeps.
  let body = truncate(clean(headUnits(e.body, 2 * BODY_MAX + 2)), BODY_MAX)
  const labels = cleanLabels(e.labels, LABELS_MAX, LABEL_VALUE_MAX)
  let metadata: unknown = cleanJson(e.metadata)
  const build = (): string => {
    const details: Record<string, unknown> = { body, labels, metadata, alert_id: oneLine(e.id, DEDUP_KEY_MAX), fingerprint: truncate(clean(e.fingerprint), 1024) }
    if (e.trace !== undefined) { details.trace_id = oneLine(e.trace.traceId, 64); details.span_id = oneLine(e.trace.spanId, 64) }
    const event: Record<string, unknown> = {
      routing_key: o.routingKey,
      event_action: 'trigger',
      dedup_key: dedupKey,
      payload: { ...payload, custom_details: details },
      client: 'pino-alerts'
    }
    if (o.links !== undefined && o.links.length > 0) {
      event.links = o.links.map((l) => (l.text === undefined ? { href: l.href } : { href: l.href, text: oneLine(l.text, 1024) }))
    }
    return JSON.stringify(event)
  }
  let json = build()
  if (byteLength(json) > budget) {
    // Metadata first (often a whole error or order object): kept as its JSON text, cut to what fits.
    // No cut longer than the budget can fit (a unit is at least a byte): the text beyond it is never read.
    const text = boundedJson(metadata, budget + 1) ?? ''
    metadata = { truncated: fitText(text, (s) => { metadata = { truncated: s }; return byteLength(build()) }, budget) }
    json = build()
  }
  if (byteLength(json) > budget) {
    const full = body
    body = fitText(full, (s) => { body = s; return byteLength(build()) }, budget)
    json = build()
  }
  // Nothing else needs cutting: the rest is bounded (≤ 100 labels of ≤ 255 + 1024 units, a 1024-unit
  // summary, …: under 400 KB even at 3 UTF-8 bytes per unit).
  return { action: 'trigger', dedupKey, body: json }
}

/**
 * Most severe first (oldest first within a severity), but the events of one dedup_key stay together
 * in their arrival order: a resolve that came after its trigger is never sent before it.
 */
export function pagerDutyOrder (events: readonly AlertEvent[]): AlertEvent[] {
  const byKey = new Map<string, AlertEvent[]>()
  for (const e of events) {
    const k = dedupKeyOf(e)
    const list = byKey.get(k)
    if (list === undefined) byKey.set(k, [e])
    else list.push(e)
  }
  const out: AlertEvent[] = []
  const seen = new Set<string>()
  for (const e of bySeverity(events)) {
    const k = dedupKeyOf(e)
    if (seen.has(k)) continue
    seen.add(k)
    out.push(...(byKey.get(k) ?? []))
  }
  return out
}

/** One Events API event per alert: trigger for firing, resolve for resolved alerts. */
export function renderPagerDuty (events: readonly AlertEvent[], o: PagerDutyOptions, budget = PAGERDUTY_BUDGET_BYTES): PagerDutyMessage[] {
  return pagerDutyOrder(events).map((e) => (e.status === 'resolved'
    ? lifecycleEvent(o.routingKey, 'resolve', dedupKeyOf(e))
    : triggerEvent(e, o, budget)))
}

// ---------------------------------------------------------------------------------------------------
// Answers

/** PagerDuty's JSON error body (`{ status, message, errors }`) as one line; other bodies as they are. */
function describeBody (body: string): string {
  try {
    const j = JSON.parse(body) as { status?: unknown, message?: unknown, errors?: unknown }
    if (j === null || typeof j !== 'object') return body
    const parts: string[] = []
    if (typeof j.status === 'string' && j.status !== '') parts.push(j.status)
    if (typeof j.message === 'string' && j.message !== '' && j.message !== j.status) parts.push(j.message)
    if (Array.isArray(j.errors) && j.errors.length > 0) parts.push(j.errors.map(String).join('; '))
    return parts.length === 0 ? body : parts.join(': ')
  } catch {
    return body
  }
}

/** 2xx delivered; 429 and 5xx retryable; 400 and other 4xx permanent. The routing key is masked. */
export function pagerDutyOutcome (res: HttpResponse, where: string, secrets: readonly string[]): Outcome {
  const ok = res.status >= 200 && res.status < 300
  const out = outcomeFromResponse(ok ? res : { ...res, body: describeBody(res.body) }, where, secrets)
  if (!out.ok && res.status === 429 && out.retryAfterMs === undefined) return { ...out, retryAfterMs: THROTTLE_RETRY_MS }
  return out
}

/** `{url}/v2/enqueue`; a `url` that already ends in `/v2/enqueue` is taken as it is. */
export function enqueueUrl (base: string): string {
  const trimmed = base.replace(/\/+$/, '')
  return /\/v2\/enqueue$/.test(trimmed) ? trimmed : `${trimmed}/v2/enqueue`
}

/** Events API v2: a request of at most 512 KB; summary ≤ 1024 characters, source and dedup_key ≤ 255. */
const PAGERDUTY_LIMITS: ChannelLimits<PagerDutyMessage> = {
  maxMessageBytes: PAGERDUTY_MAX_BYTES,
  check (m: PagerDutyMessage): string | undefined {
    const j = JSON.parse(m.body) as { event_action?: unknown, dedup_key?: string, payload?: { summary?: string, source?: string } }
    if (j.event_action !== m.action) return `event_action ${JSON.stringify(j.event_action)} is not the message's action ${m.action}`
    return firstProblem(
      within('dedup_key', j.dedup_key, DEDUP_KEY_MAX),
      within('payload.summary', j.payload?.summary, SUMMARY_MAX),
      within('payload.source', j.payload?.source, SOURCE_MAX),
      j.event_action === 'trigger' && (j.payload?.summary ?? '') === '' ? 'a trigger without payload.summary' : undefined
    )
  }
}

export function create (cfg: ResolvedChannel): Channel<PagerDutyMessage> {
  const net = netOf(cfg.config)
  const c = cfg.config
  const o: PagerDutyOptions = {
    routingKey: String(c.routingKey),
    source: c.source as string | undefined,
    component: c.component as string | undefined,
    group: c.group as string | undefined,
    class: c.class as string | undefined,
    links: c.links as PagerDutyOptions['links']
  }
  const endpoint = enqueueUrl(String(c.url ?? PAGERDUTY_DEFAULT_URL))
  let host = 'events.pagerduty.com'
  try { host = new URL(endpoint).host } catch { /* validated by options */ }
  const where = `${cfg.name} (${host})`
  const secrets = [...cfg.secrets, o.routingKey]
  const masked = (out: Outcome): Outcome => (out.ok ? out : { ...out, error: redact(out.error, secrets) })

  const send = async (message: PagerDutyMessage, signal: AbortSignal): Promise<Outcome> => {
    try {
      const res = await httpRequest(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'pino-alerts' },
        body: message.body,
        signal,
        net
      })
      return masked(pagerDutyOutcome(res, where, secrets))
    } catch (err) {
      return masked(outcomeFromError(err, where, signal))
    }
  }

  return {
    name: cfg.name,
    type: 'pagerduty',
    limits: PAGERDUTY_LIMITS,
    render: (events) => renderPagerDuty(events, o),
    send: async (message, { signal }) => await send(message, signal),
    acknowledge: async (event, { signal }) => await send(lifecycleEvent(o.routingKey, 'acknowledge', dedupKeyOf(event)), signal)
  }
}
