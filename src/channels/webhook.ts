/**
 * webhook: JSON POST of `AlertEvent.toJSON()` (a digest: `{ events: [...] }`). With `secret`
 * (`whsec_…`) every request is signed per Standard Webhooks: `webhook-id` (the event id, so receivers
 * can drop duplicates of a retried or replayed alert), `webhook-timestamp`, `webhook-signature`.
 *
 * Every body is at most `maxBodyBytes` (default 1 MiB, what nginx takes by default): a digest too large
 * for one request is split into several, most severe first, each `{ events: [...] }` with its own
 * `webhook-id`; a part that holds one alert is that alert's own message (its JSON, its id). One alert
 * larger than the cap is cut, not dropped: its body, then its title (down to a quarter of the cap each),
 * then its metadata and labels, then body and title further (then, as a last resort, source,
 * fingerprint and id) give way; a cut text ends with "… [truncated]", and `truncated` lists the fields
 * cut (`AlertEvent.fromJSON` ignores it).
 */
import { createHash, createHmac } from 'node:crypto'
import { httpRequest, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent, AlertEventJSON } from '../event.js'
import { bySeverity } from '../format/text.js'
import { byteLength } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import { DEFAULT_MAX_BODY_BYTES, jsonStringBytes, packRuns, proseFloor, shrinkText, tooSmall } from './pack.js'

export interface WebhookMessage { id: string, body: string }

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the secret's base64-decoded bytes. */
export function signStandardWebhook (secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}

/** `{"events":[` … `]}`: what a digest adds around its alerts' JSON. */
const DIGEST_HEAD = '{"events":['
const DIGEST_TAIL = ']}'
const ENVELOPE_BYTES = DIGEST_HEAD.length + DIGEST_TAIL.length

/** The fields a cut may list, in the order they give way. */
type CutField = 'body' | 'title' | 'metadata' | 'labels' | 'source' | 'fingerprint' | 'id'
/** What the `truncated` flag can cost at most: room kept for it before cutting. */
const FLAG_BYTES = byteLength(`,"truncated":${JSON.stringify(['body', 'title', 'metadata', 'labels', 'source', 'fingerprint', 'id'])}`)

/**
 * One alert's JSON within `max` bytes: as it is when it fits, else cut field by field, each only as much
 * as is still needed (sizes counted, not re-serialised), with `truncated` naming the fields cut.
 */
export function fitEventJson (e: AlertEvent, max: number, json = JSON.stringify(e.toJSON())): string {
  const size = byteLength(json)
  if (size <= max) return json
  const j: AlertEventJSON & { truncated?: CutField[] } = e.toJSON()
  const cut: CutField[] = []
  let over = size + FLAG_BYTES - max
  const floor = proseFloor(max)
  const text = (field: 'body' | 'title' | 'source' | 'fingerprint' | 'id', keep = 0): void => {
    if (over <= 0) return
    const r = shrinkText(j[field], over, keep)
    if (r.saved === 0) return
    j[field] = r.text
    over -= r.saved
    if (!cut.includes(field)) cut.push(field)
  }
  text('body', floor)
  text('title', floor)
  if (over > 0) {
    // Metadata gives way as a whole: its JSON, cut, as the one string `{ "truncated": "…" }`.
    const meta = JSON.stringify(j.metadata)
    const bytes = byteLength(meta)
    const wrapped = bytes - over - byteLength('{"truncated":""}')
    const keep = wrapped > 0 ? shrinkText(meta, jsonStringBytes(meta) - wrapped).text : undefined
    const next = keep === undefined ? {} : { truncated: keep }
    const saved = bytes - byteLength(JSON.stringify(next))
    if (saved > 0) {
      j.metadata = next
      over -= saved
      cut.push('metadata')
    }
  }
  if (over > 0) {
    // Labels give way from the last: dropped whole while that is not too much, else the value cut.
    const entries = Object.entries(j.labels)
    let n = entries.length
    let lastValue: string | undefined
    while (over > 0 && n > 0) {
      const [k, v] = entries[n - 1] as [string, string]
      const cutValue = shrinkText(v, over)
      if (cutValue.saved >= over) {
        lastValue = cutValue.text
        over -= cutValue.saved
        break
      }
      over -= jsonStringBytes(k) + jsonStringBytes(v) + 5 + (n > 1 ? 1 : 0)
      n--
    }
    if (n < entries.length || lastValue !== undefined) {
      const kept = entries.slice(0, n)
      if (lastValue !== undefined) (kept[n - 1] as [string, string])[1] = lastValue
      j.labels = Object.fromEntries(kept)
      cut.push('labels')
    }
  }
  text('body')
  text('title')
  text('source')
  text('fingerprint')
  text('id')
  j.truncated = cut
  const out = JSON.stringify(j)
  const bytes = byteLength(out)
  if (bytes > max) throw tooSmall('alert', max, bytes)
  return out
}

/** A digest part's id: stable for the same alerts, so a retried part is the same message. */
function digestId (events: readonly AlertEvent[]): string {
  return 'digest_' + createHash('sha256').update(events.map((e) => e.id).join(',')).digest('hex').slice(0, 24)
}

/**
 * One alert, or a digest packed into requests of at most `max` bytes (most severe first). Each alert's
 * JSON is written once; a part's body is those texts joined.
 */
export function renderWebhook (events: readonly AlertEvent[], max: number, carried?: WeakMap<WebhookMessage, string[]>): WebhookMessage[] {
  if (events.length === 0) return []
  if (events.length === 1) {
    const e = events[0] as AlertEvent
    const one = { id: e.id, body: fitEventJson(e, max) }
    carried?.set(one, [e.id])
    return [one]
  }
  const sorted = bySeverity(events)
  const texts = sorted.map((e) => JSON.stringify(e.toJSON()))
  const runs = packRuns(texts.map(byteLength), max - ENVELOPE_BYTES)
  return runs.map(([start, end]) => {
    const part = sorted.slice(start, end)
    // A part of one alert is that alert's own message: what it renders to alone.
    const m = end - start === 1
      ? { id: (part[0] as AlertEvent).id, body: fitEventJson(part[0] as AlertEvent, max, texts[start]) }
      : { id: digestId(part), body: DIGEST_HEAD + texts.slice(start, end).join(',') + DIGEST_TAIL }
    carried?.set(m, part.map((e) => e.id))
    return m
  })
}

export function create (cfg: ResolvedChannel): Channel<WebhookMessage> {
  const net = netOf(cfg.config)
  const url = String(cfg.config.url)
  const secret = cfg.config.secret as string | undefined
  const extra = (cfg.config.headers ?? {}) as Record<string, string>
  const maxBodyBytes = (cfg.config.maxBodyBytes as number | undefined) ?? DEFAULT_MAX_BODY_BYTES
  const where = `${cfg.name} (${safeUrl(url)})`
  // Receivers often echo the request path (a credential for many webhooks) in their error pages.
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, cfg.secrets) })
  // Which alerts each rendered part carries: a 413 on one part fails only its alerts.
  const carried = new WeakMap<WebhookMessage, string[]>()
  return {
    name: cfg.name,
    type: 'webhook',
    // Every request body within maxBodyBytes (renderWebhook packs and cuts to it).
    limits: { maxMessageBytes: maxBodyBytes },
    render: (events) => renderWebhook(events, maxBodyBytes, carried),
    carries: (message) => carried.get(message) ?? [],
    async send (message: WebhookMessage, { signal }): Promise<Outcome> {
      // Header names are case-insensitive: user headers are lower-cased so ours replace theirs, never sit beside them.
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v
      headers['content-type'] = 'application/json'
      headers['user-agent'] = 'pino-alerts'
      headers['webhook-id'] = message.id
      if (secret !== undefined) {
        const ts = Math.floor(Date.now() / 1000)
        headers['webhook-timestamp'] = String(ts)
        headers['webhook-signature'] = signStandardWebhook(secret, message.id, ts, message.body)
      }
      try {
        const res = await httpRequest(url, { method: 'POST', headers, body: message.body, signal, net })
        return masked(outcomeFromResponse(res, where, cfg.secrets))
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
    }
  }
}
