/**
 * The dashboard's JSON API over an AlertStore (and, when one is attached, an Alerter): pure handlers
 * that take parsed input and return a status and a JSON body; server.ts does the HTTP around them.
 */
import { resolve as resolvePath } from 'node:path'
import type { Alerter } from '../alerter.js'
import { ApiError } from '../errors.js'
import { AlertEvent, SEVERITIES, type Severity } from '../event.js'
import { MatcherError, matchesAlert, parseMatchers } from '../matchers.js'
import { Silences, type SilenceInput } from '../pipeline/silence.js'
import { toMs, type AlertStore, type HistoryEntry, type HistoryQuery, type Receipt, type StoredSilence } from '../store/sqlite.js'
import { Outbox } from '../store/outbox.js'
import { Routing } from './routing.js'

export { ApiError }

export interface ApiResult { status: number, body: unknown }

export type Delivery = 'pending' | 'delivered' | 'failed' | 'suppressed' | 'none'

/** A stored alert as the page shows it: the event, its acknowledgement and a delivery summary. */
export interface AlertItem extends HistoryEntry {
  acked: { by: string, comment: string, at: string } | null
  delivery: Delivery
  /** One entry per receipt: which channel, delivered or not, standing in for which. */
  channels: Array<{ channel: string, ok: boolean, standInFor?: string }>
}

export interface SilenceItem extends StoredSilence {
  /** In force now (started, not ended). */
  active: boolean
  /** `store`: in the store, seen by every process; `alerter`: only in the attached alerter (from its options). */
  origin: 'store' | 'alerter'
}

/** Something the live feed should tell every page at once (an ack, a silence change). */
export type Notify = (event: 'ack' | 'silences', data: unknown) => void

export function deliveryOf (e: HistoryEntry, receipts: readonly Receipt[]): Delivery {
  if (e.suppressed !== undefined) return 'suppressed'
  if (!e.settled) return 'pending'
  if (receipts.length === 0) return 'none'
  const covered = new Set(receipts.filter((r) => r.ok && r.standInFor !== undefined).flatMap((r) => (r.standInFor ?? '').split(',')))
  const lost = receipts.some((r) => !r.ok && r.standInFor === undefined && !covered.has(r.channel))
  return lost ? 'failed' : 'delivered'
}

export function itemOf (store: AlertStore, e: HistoryEntry): AlertItem {
  const receipts = store.receipts(e.id)
  return {
    ...e,
    acked: store.acked(e.id) ?? null,
    delivery: deliveryOf(e, receipts),
    channels: receipts.map((r) => (r.standInFor === undefined ? { channel: r.channel, ok: r.ok } : { channel: r.channel, ok: r.ok, standInFor: r.standInFor }))
  }
}

// ---------------------------------------------------------------------------------------------------
// Input helpers

const STATUSES = ['firing', 'resolved', 'acked', 'unacked', 'suppressed', 'failed', 'pending'] as const
type StatusFilter = typeof STATUSES[number]

function optString (o: Record<string, unknown>, key: string, max: number): string | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') throw new ApiError(400, `${key}: expected a string`)
  if (v.length > max) throw new ApiError(400, `${key}: longer than ${max} characters`)
  return v
}

function time (v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined
  const n = /^-?\d+$/.test(v) ? Number(v) : v
  try { return toMs(n, 0) } catch { throw new ApiError(400, `${name}: not a time (expected an ISO 8601 string or epoch milliseconds)`) }
}

function int (v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined || v === '') return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, `${name}: expected an integer from ${min} to ${max}`)
  return n
}

export interface AlertFilter {
  severity?: Severity[]
  source?: string
  status?: StatusFilter
  q?: string
  since?: number
  until?: number
  limit: number
}

export function parseFilter (p: URLSearchParams): AlertFilter {
  const f: AlertFilter = { limit: int(p.get('limit') ?? undefined, 'limit', 100, 1, 1000) }
  const sev = p.getAll('severity').flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  if (sev.length > 0) {
    for (const s of sev) if (!(SEVERITIES as readonly string[]).includes(s)) throw new ApiError(400, `severity: expected info, warn or critical, got ${JSON.stringify(s.slice(0, 40))}`)
    f.severity = sev as Severity[]
  }
  const source = p.get('source')
  if (source !== null && source !== '') f.source = source
  const status = p.get('status')
  if (status !== null && status !== '') {
    if (!(STATUSES as readonly string[]).includes(status)) throw new ApiError(400, `status: expected one of ${STATUSES.join(', ')}`)
    f.status = status as StatusFilter
  }
  const q = p.get('q')
  if (q !== null && q.trim() !== '') {
    if (q.length > 500) throw new ApiError(400, 'q: longer than 500 characters')
    f.q = q.trim().toLowerCase()
  }
  const since = time(p.get('since') ?? undefined, 'since')
  if (since !== undefined) f.since = since
  const until = time(p.get('until') ?? undefined, 'until')
  if (until !== undefined) f.until = until
  return f
}

/** The filters the store cannot apply, on one item (the page applies the same to live events). */
function passes (f: AlertFilter, item: AlertItem): boolean {
  if (f.q !== undefined && !item.title.toLowerCase().includes(f.q) && !item.body.toLowerCase().includes(f.q)) return false
  switch (f.status) {
    case 'acked': return item.acked !== null
    case 'unacked': return item.status === 'firing' && item.suppressed === undefined && item.acked === null
    case 'suppressed': return item.suppressed !== undefined
    case 'failed': return item.delivery === 'failed'
    case 'pending': return item.delivery === 'pending'
    default: return true
  }
}

// ---------------------------------------------------------------------------------------------------
// Handlers

export class Api {
  /** The attached alerter writes to this same store file (then it records what it does itself). */
  private readonly alerterWritesHere: boolean
  /** Where this dashboard writes alerts and acknowledgements itself (a store error is an HTTP 500). */
  private readonly outbox: Outbox
  /** The processes' channels and routing, from what each recorded in the store. */
  private readonly routing: Routing

  constructor (private readonly store: AlertStore, private readonly alerter: Alerter | undefined, private readonly notify: Notify) {
    const path = alerter?.options.store?.path
    this.alerterWritesHere = path !== undefined && resolvePath(path) === store.path
    this.outbox = Outbox.direct(store)
    this.routing = new Routing(store)
  }

  /**
   * `GET /api/processes` (also the live feed's `processes` event): every process writing to the store
   * (the newest 100), its channels with their health, its routes or rules and time intervals.
   */
  processes (): { status: 200, body: ReturnType<Routing['processes']> } {
    return { status: 200, body: this.routing.processes() }
  }

  /** `GET /api/route?severity=&source=&title=&labels=k%3Dv,…`: where such an alert would go now, per live process. */
  route (p: URLSearchParams): ApiResult {
    return { status: 200, body: this.routing.route(p) }
  }

  /** `GET /api/alerts`: newest first. */
  listAlerts (p: URLSearchParams): ApiResult {
    const f = parseFilter(p)
    const q: HistoryQuery = {}
    if (f.severity !== undefined) q.severity = f.severity
    if (f.source !== undefined) q.source = f.source
    if (f.status === 'firing' || f.status === 'resolved') q.status = f.status
    if (f.since !== undefined) q.since = f.since
    if (f.until !== undefined) q.until = f.until
    // Text and state filters run here: scan up to 10 000 of the newest candidates for them.
    const scanning = f.q !== undefined || (f.status !== undefined && f.status !== 'firing' && f.status !== 'resolved')
    q.limit = scanning ? 10_000 : f.limit
    const out: AlertItem[] = []
    let scanned = 0
    for (const e of this.store.history(q)) {
      scanned++
      if (scanning && f.q !== undefined && !e.title.toLowerCase().includes(f.q) && !e.body.toLowerCase().includes(f.q)) continue
      const item = itemOf(this.store, e)
      if (!passes(f, item)) continue
      out.push(item)
      if (out.length >= f.limit) break
    }
    return { status: 200, body: { alerts: out, count: out.length, scanned, lastRowId: this.store.lastRowId() } }
  }

  /** `GET /api/alerts/:id`: the alert, its receipts, its acknowledgement, and what resolved it. */
  getAlert (id: string): ApiResult {
    const e = this.store.get(id)
    if (e === undefined) throw new ApiError(404, 'no such alert')
    const item = itemOf(this.store, e)
    const receipts = this.store.receipts(id)
    let resolvedBy: { id: string, timestamp: string } | null = null
    if (e.status === 'firing') {
      const ids = this.store.idsOf(e.fingerprint)
      // Newest first; stop at this alert: a resolve must come after it.
      for (let i = ids.length - 1, seen = 0; i >= 0 && seen < 200; i--, seen++) {
        const other = ids[i] as string
        if (other === id) break
        const o = this.store.get(other)
        if (o !== undefined && o.status === 'resolved' && Date.parse(o.timestamp) >= Date.parse(e.timestamp)) { resolvedBy = { id: o.id, timestamp: o.timestamp }; break }
        if (o !== undefined && o.status === 'firing') break
      }
    }
    return { status: 200, body: { alert: item, receipts, acked: item.acked, resolvedBy } }
  }

  /** `POST /api/alerts/:id/ack` `{ by, comment }`. */
  ack (id: string, body: Record<string, unknown>): ApiResult {
    const e = this.store.get(id)
    if (e === undefined) throw new ApiError(404, 'no such alert')
    const by = optString(body, 'by', 200)?.trim() || 'dashboard'
    const comment = optString(body, 'comment', 2000) ?? ''
    const before = this.store.acked(id)
    if (before !== undefined) return { status: 200, body: { ok: true, id, acked: before, already: true } }
    // The alerter tells channels that keep incident state (PagerDuty) and stops its own escalations;
    // the store row is what every other process's escalation checks before it fires.
    // One acknowledgement: the alerter's, which also records it (its store is this one); written here
    // through the outbox only when there is no alerter, it has another store, or its store could not
    // take it (a lock held too long: reported by the alerter).
    if (this.alerter !== undefined) this.alerter.ack(id, by, comment)
    if (this.store.acked(id) === undefined) this.outbox.acknowledged([id], by, comment)
    const acked = this.store.acked(id) ?? null
    this.notify('ack', { id, acked })
    return { status: 200, body: { ok: true, id, acked } }
  }

  /**
   * `POST /api/alerts/:id/resolve`: a resolved copy (same fingerprint, source, title, labels). With an
   * alerter it is dispatched, so the channels that carried the alert get a RESOLVED notice; without
   * one it is only recorded in the store, and the answer says that no channel was notified.
   */
  async resolve (id: string, body: Record<string, unknown>): Promise<ApiResult> {
    const e = this.store.get(id)
    if (e === undefined) throw new ApiError(404, 'no such alert')
    if (e.status === 'resolved') throw new ApiError(409, 'this alert is itself a resolve')
    const by = optString(body, 'by', 200)?.trim() || 'dashboard'
    const comment = optString(body, 'comment', 2000) ?? ''
    const input = {
      source: e.source,
      severity: e.severity,
      title: e.title,
      body: comment,
      labels: e.labels,
      metadata: { resolvedBy: by, resolvedVia: 'dashboard', resolvesAlertId: e.id },
      fingerprint: e.fingerprint,
      level: e.level,
      status: 'resolved' as const,
      ...(e.trace === undefined ? {} : { trace: e.trace })
    }
    if (this.alerter !== undefined) {
      const r = await this.alerter.dispatch(input)
      if (r.error !== undefined) throw new ApiError(500, `the alerter refused the resolve: ${r.error}`)
      if (!this.alerterWritesHere && this.store.get(r.id) === undefined) {
        // The alerter has no store, or another one: keep the record here too.
        this.outbox.recorded(AlertEvent.from({ ...input, id: r.id }), r.deliveries, r.suppressed)
      }
      const notified = r.deliveries.filter((d) => d.ok).map((d) => d.channel)
      const note = r.suppressed === 'resolve-unknown'
        ? 'no channel was notified: the alerter knows no delivered firing alert with this fingerprint'
        : notified.length === 0 ? 'no channel was notified: every delivery of the resolve failed' : undefined
      return {
        status: 200,
        body: { ok: true, id: r.id, resolves: e.id, notified, deliveries: r.deliveries, ...(note === undefined ? {} : { note }) }
      }
    }
    const event = AlertEvent.from(input)
    this.outbox.resolvedHere(event, this.store.idsOf(e.fingerprint))
    return {
      status: 200,
      body: { ok: true, id: event.id, resolves: e.id, notified: [], note: 'no channel was notified: no alerter is attached to this dashboard; the resolved alert was recorded in the store only' }
    }
  }

  /** Active (and future) silences; with `expired=1` the ended ones too. */
  silences (p: URLSearchParams): ApiResult {
    return { status: 200, body: { silences: this.silenceList(p.get('expired') === '1' || p.get('expired') === 'true') } }
  }

  silenceList (includeExpired = false): SilenceItem[] {
    const now = Date.now()
    const mark = (s: StoredSilence, origin: SilenceItem['origin']): SilenceItem => ({ ...s, active: Date.parse(s.startsAt) <= now && now < Date.parse(s.endsAt), origin })
    const list = this.store.silences(now, includeExpired).map((s) => mark(s, 'store'))
    if (this.alerter !== undefined) {
      const ids = new Set(list.map((s) => s.id))
      for (const s of this.alerter.silences(includeExpired)) if (!ids.has(s.id)) list.push(mark(s, 'alerter'))
    }
    return list
  }

  /** `POST /api/silences` `{ match, durationMs | endsAt, startsAt?, comment, createdBy }`. */
  addSilence (body: Record<string, unknown>): ApiResult {
    const match = body.match
    if (typeof match !== 'string' && !(Array.isArray(match) && match.every((m) => typeof m === 'string'))) {
      throw new ApiError(400, 'match: expected a matcher string or a list of them, e.g. ["source=\\"risk_gate\\""]')
    }
    const input: SilenceInput = { match: match as string | string[] }
    if (body.durationMs !== undefined) {
      if (typeof body.durationMs !== 'number' || !Number.isFinite(body.durationMs) || body.durationMs <= 0) throw new ApiError(400, 'durationMs: expected a positive number of milliseconds')
      input.durationMs = body.durationMs
    }
    for (const k of ['endsAt', 'startsAt'] as const) {
      const v = body[k]
      if (v === undefined) continue
      if (typeof v !== 'string' && typeof v !== 'number') throw new ApiError(400, `${k}: expected an ISO 8601 string or epoch milliseconds`)
      if (Number.isNaN(typeof v === 'number' ? v : Date.parse(v))) throw new ApiError(400, `${k}: not a time`)
      input[k] = v
    }
    if (input.durationMs === undefined && input.endsAt === undefined) throw new ApiError(400, 'a silence needs durationMs or endsAt')
    input.comment = optString(body, 'comment', 2000) ?? ''
    input.createdBy = optString(body, 'createdBy', 200)?.trim() || 'dashboard'
    let silence: StoredSilence
    try {
      if (this.alerter !== undefined) {
        silence = this.alerter.silence(input)
        if (!this.alerterWritesHere) this.store.addSilence(silence)
      } else {
        silence = new Silences([], this.store).add(input)
      }
    } catch (err) {
      if (err instanceof MatcherError || err instanceof TypeError) throw new ApiError(400, err.message)
      throw err
    }
    this.notify('silences', { silences: this.silenceList() })
    return { status: 201, body: { ok: true, silence } }
  }

  /** `DELETE /api/silences/:id`: ends it now. */
  expireSilence (id: string): ApiResult {
    let done = false
    if (this.alerter !== undefined) done = this.alerter.expireSilence(id)
    done = this.store.expireSilence(id) || done
    if (!done) throw new ApiError(404, 'no such active silence (silences from options cannot be expired here)')
    this.notify('silences', { silences: this.silenceList() })
    return { status: 200, body: { ok: true, id } }
  }

  /** `GET /api/silences/preview?match=…`: the canonical matchers and which recent alerts they cover, or why they do not parse. */
  previewSilence (p: URLSearchParams): ApiResult {
    const raw = p.getAll('match').filter((m) => m.trim() !== '')
    if (raw.length === 0) throw new ApiError(400, 'match: at least one matcher is needed')
    let matchers
    try { matchers = parseMatchers(raw) } catch (err) {
      // A preview answers what is wrong as data (the page shows it while one types); creating the
      // silence with it is the 400.
      if (err instanceof MatcherError) return { status: 200, body: { valid: false, error: err.message } }
      throw err
    }
    const recent = this.store.history({ limit: 1000, since: Date.now() - 86_400_000 })
    const hits = recent.filter((e) => matchesAlert(matchers, e))
    return {
      status: 200,
      body: {
        valid: true,
        match: matchers.map((m) => m.text),
        recent: { checked: recent.length, matching: hits.length, examples: hits.slice(0, 5).map((e) => ({ id: e.id, source: e.source, severity: e.severity, title: e.title, timestamp: e.timestamp })) }
      }
    }
  }

  /** `GET /api/stats`: the store summary (default: the last 24 h in hourly buckets) and live counters. */
  stats (p: URLSearchParams, extra: Record<string, unknown>): ApiResult {
    const now = Date.now()
    const until = time(p.get('until') ?? undefined, 'until') ?? now
    const since = time(p.get('since') ?? undefined, 'since') ?? until - 86_400_000
    if (since >= until) throw new ApiError(400, 'since: must be before until')
    let bucketMs = int(p.get('bucketMs') ?? undefined, 'bucketMs', 3_600_000, 1000, 366 * 86_400_000)
    // At most 500 buckets: a chart has no use for more.
    bucketMs = Math.max(bucketMs, Math.ceil((until - since) / 500))
    const summary = this.store.summary({ since, until, bucketMs })
    return {
      status: 200,
      body: {
        summary: { ...summary, bucketMs },
        runtime: this.store.runtimeStats(60_000, now),
        alerter: this.alerter?.stats() ?? null,
        silencesActive: this.silenceList().filter((s) => s.active).length,
        store: this.store.path,
        ...extra
      }
    }
  }
}
