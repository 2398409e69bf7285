/**
 * alertmanager: hand-off to Prometheus Alertmanager (API v2, `POST {url}/api/v2/alerts`), one
 * Alertmanager or every member of an HA cluster.
 *
 * - A POST carries an array of alerts: one event is an array of one, a digest is one array (most
 *   severe first) split into several POSTs beyond `AM_MAX_ALERTS_PER_POST` alerts or
 *   `AM_MAX_BODY_BYTES` bytes (Alertmanager itself has no limit; reverse proxies in front of it do,
 *   nginx at 1 MiB by default). No headline: Alertmanager groups and summarises alerts itself.
 * - Labels: the event's labels plus `alertname` (the title), `source` and `severity` (`critical`,
 *   `warning`, `info`: the Prometheus convention). Names are made valid Prometheus label names
 *   (`[a-zA-Z_][a-zA-Z0-9_]*`); an event label whose name is taken (by `alertname`, `source`,
 *   `severity` or an earlier label) gets `label_` put in front, as often as needed, so nothing
 *   overrides those three. Empty values are left out (Alertmanager treats them as absent).
 * - The label set is the alert's identity in Alertmanager. A resolve is sent with the label set and
 *   `startsAt` of the firing alert of the same fingerprint (even when it was logged at another level),
 *   `endsAt` = the resolve time.
 * - Clusters: members do not share alerts (only silences and the notification log), so every member is
 *   sent every alert, concurrently, in the same `send`. As in Prometheus, the alert is delivered when at
 *   least one member accepted it; members that missed it get it with the next resend. One message per
 *   member would not do: the delivery wrapper sends a delivery's messages in turn and stops at the first
 *   failure, so a dead member would hold up (or, refusing for good, cut off) the healthy ones.
 * - Answers: 2xx delivered; 400/422 permanent, with Alertmanager's message; 408, 429, 5xx and network
 *   errors retryable (`Retry-After` honoured).
 * - Resend: the one channel with its own timer. Alertmanager resolves an alert it has not heard of for
 *   `resolve_timeout` (default 5 min), as Prometheus re-sends firing alerts on every evaluation; so the
 *   channel keeps the alerts it delivered and re-POSTs the firing ones every `resendMs` while they fire,
 *   and resolved ones (with `endsAt`) for `AM_RESOLVED_RESEND_MS`, so that a member that was down when
 *   the resolve went out learns of it too. The timer is unref()'d (it never keeps a process alive) and
 *   stops on close(); when the process ends, Alertmanager resolves its alerts after `resolve_timeout`.
 */
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent, Severity } from '../event.js'
import { wellFormed } from '../format/escape.js'
import { bySeverity, stripControl } from '../format/text.js'
import { byteLength, truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'

export const AM_ALERTS_PATH = '/api/v2/alerts'
/** Alerts per POST (Prometheus sends at most 256; Alertmanager takes any number). */
export const AM_MAX_ALERTS_PER_POST = 500
/** Request body bytes per POST: what a reverse proxy in front of Alertmanager takes by default (nginx). */
export const AM_MAX_BODY_BYTES = 1024 * 1024
/** Field limits (UTF-16 units): Alertmanager has none, but every receiver behind it has. */
export const AM_LIMITS = {
  labelName: 128,
  labelValue: 1024,
  /** Event labels per alert; the rest are left out (the annotation `labels_truncated` says how many). */
  labels: 64,
  summary: 1024,
  description: 16 * 1024,
  metadata: 16 * 1024,
  annotation: 1024
} as const
/** Resolved alerts are re-sent this long after the resolve. */
export const AM_RESOLVED_RESEND_MS = 5 * 60_000
/** Alerts kept for resending (firing, and resolved ones, each); beyond it the oldest are let go. */
export const AM_MAX_TRACKED = 10_000
/** Prometheus' label (and Alertmanager 0.25's annotation) name syntax. */
export const AM_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
export const AM_SEVERITY: Readonly<Record<Severity, string>> = { critical: 'critical', warn: 'warning', info: 'info' }
const RESERVED = ['alertname', 'source', 'severity'] as const

/** An alert as `POST /api/v2/alerts` takes it (`models.PostableAlert`). */
export interface PostableAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt?: string
  generatorURL?: string
}

/** One POST, sent to every member: the alerts and their JSON body as sent. */
export interface AlertmanagerMessage {
  alerts: PostableAlert[]
  /** The events' fingerprints, index-aligned with `alerts` (resend bookkeeping). */
  fingerprints: string[]
  body: string
}

// ---------------------------------------------------------------------------------------------------
// Untrusted text → label names, label values, annotations

/** Valid Unicode without control characters; `\n` line ends. */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n'))
}

/** One line: line breaks and tabs folded into single spaces, trimmed, cut to `max`. */
function oneLine (s: string, max: number): string {
  return truncate(clean(s).replace(/\s*[\n\t]\s*/g, ' ').trim(), max)
}

/** A valid Prometheus label name: other characters become `_`, a leading digit gets `_` in front. */
export function labelName (raw: string): string {
  let n = raw.replace(/[^a-zA-Z0-9_]/g, '_')
  if (n === '' || /^[0-9]/.test(n)) n = '_' + n
  return n.slice(0, AM_LIMITS.labelName)
}

/**
 * The label set: `alertname`, `source`, `severity` first, then the event's labels (sorted by name, so
 * that the set does not depend on the order they were logged in) under valid names; a taken name gets
 * `label_` in front until it is free.
 */
export function alertLabels (e: AlertEvent): { labels: Record<string, string>, dropped: number } {
  const labels: Record<string, string> = {
    alertname: oneLine(e.title, AM_LIMITS.labelValue) || oneLine(e.source, AM_LIMITS.labelValue) || 'alert',
    source: oneLine(e.source, AM_LIMITS.labelValue) || 'app',
    severity: AM_SEVERITY[e.severity]
  }
  const keys = Object.keys(e.labels).sort()
  let added = 0
  let dropped = 0
  for (const k of keys) {
    const value = oneLine(String(e.labels[k] ?? ''), AM_LIMITS.labelValue)
    if (value === '') continue
    if (added >= AM_LIMITS.labels) { dropped++; continue }
    let name = labelName(k)
    while (Object.hasOwn(labels, name)) name = 'label_' + name
    labels[name] = value
    added++
  }
  return { labels, dropped }
}

function annotationsOf (e: AlertEvent, dropped: number): Record<string, string> {
  const a: Record<string, string> = {
    summary: oneLine(e.title, AM_LIMITS.summary) || oneLine(e.source, AM_LIMITS.summary)
  }
  const description = truncate(clean(e.body).trim(), AM_LIMITS.description)
  if (description !== '') a.description = description
  if (Object.keys(e.metadata).length > 0) {
    let json: string
    try { json = JSON.stringify(e.metadata) } catch (err) { json = JSON.stringify({ error: `metadata could not be serialised: ${(err as Error).message}` }) }
    a.metadata = truncate(wellFormedJson(json), AM_LIMITS.metadata)
  }
  a.alert_id = oneLine(e.id, AM_LIMITS.annotation)
  if (e.trace !== undefined) {
    a.trace_id = oneLine(e.trace.traceId, AM_LIMITS.annotation)
    a.span_id = oneLine(e.trace.spanId, AM_LIMITS.annotation)
  }
  if (dropped > 0) a.labels_truncated = `${dropped} more label${dropped === 1 ? '' : 's'} not sent (at most ${AM_LIMITS.labels})`
  return a
}

/**
 * JSON.stringify writes a lone surrogate as a `\udXXX` escape (paired ones stay raw), which
 * Alertmanager decodes into U+FFFD anyway: done here, so that what is sent is what is shown.
 */
function wellFormedJson (json: string): string {
  return wellFormed(json).replace(/(?<=(?:^|[^\\])(?:\\\\)*)\\u[dD][89a-fA-F][0-9a-fA-F]{2}/g, '\ufffd')
}

/** A stable key of a label set (Alertmanager's identity of an alert). */
export function labelKey (labels: Record<string, string>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]))
}

// ---------------------------------------------------------------------------------------------------
// Members

interface Member {
  /** `{url}/api/v2/alerts`, without credentials. */
  endpoint: string
  /** For error texts: scheme, host and port. */
  where: string
  headers: Record<string, string>
}

/**
 * The member URLs of `config.url`: one URL, a list, or a comma-separated string (as the environment
 * gives it; split here too because a comma inside a host still parses as one URL).
 */
export function memberUrls (url: unknown): string[] {
  const list = Array.isArray(url) ? url.map(String) : [String(url)]
  return list.flatMap((u) => {
    const parts = u.split(',').map((p) => p.trim()).filter((p) => p !== '')
    return parts.length > 1 && parts.every(isHttpUrl) ? parts : [u.trim()]
  })
}

function isHttpUrl (s: string): boolean {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.host.includes(',')
  } catch { return false }
}

/** Credentials in the URL become a Basic `authorization` header; the path gets `/api/v2/alerts`. */
function memberOf (name: string, raw: string): { member: Member, secrets: string[] } {
  const u = new URL(raw)
  const secrets: string[] = []
  const headers: Record<string, string> = {}
  if (u.username !== '' || u.password !== '') {
    const user = decodeURIComponent(u.username)
    const pass = decodeURIComponent(u.password)
    headers.authorization = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64')
    if (pass !== '') secrets.push(pass, u.password)
    secrets.push(headers.authorization.slice('Basic '.length))
    u.username = ''
    u.password = ''
  }
  const rest = u.pathname + u.search
  if (rest.length > 1) secrets.push(rest, u.pathname)
  const base = u.pathname.replace(/\/+$/, '')
  u.pathname = base.endsWith(AM_ALERTS_PATH) ? base : base + AM_ALERTS_PATH
  return { member: { endpoint: u.toString(), where: `${name} (${safeUrl(raw)})`, headers }, secrets }
}

/**
 * Alertmanager's error bodies: a JSON string (`"invalid label set: …"`) for invalid alerts, or
 * `{ code, message }` from its HTTP layer (`parsing alerts body … failed`, 415, 422).
 */
export function alertmanagerMessage (body: string): string {
  const t = body.trim()
  if (t === '') return ''
  try {
    const v = JSON.parse(t) as unknown
    if (typeof v === 'string') return v
    if (v !== null && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message
  } catch { /* not JSON: a proxy's page */ }
  return t
}

// ---------------------------------------------------------------------------------------------------

interface Tracked { alert: PostableAlert, fingerprint: string }
interface TrackedResolved { alert: PostableAlert, until: number }

/** Alerts → POSTs within `AM_MAX_ALERTS_PER_POST` and `AM_MAX_BODY_BYTES`. */
function chunk (alerts: readonly PostableAlert[], fingerprints: readonly string[]): AlertmanagerMessage[] {
  const out: AlertmanagerMessage[] = []
  let cur: string[] = []
  let curAlerts: PostableAlert[] = []
  let curFps: string[] = []
  let bytes = 2
  const flush = (): void => {
    if (cur.length === 0) return
    out.push({ alerts: curAlerts, fingerprints: curFps, body: `[${cur.join(',')}]` })
    cur = []
    curAlerts = []
    curFps = []
    bytes = 2
  }
  alerts.forEach((a, i) => {
    const json = JSON.stringify(a)
    const size = byteLength(json)
    // +1: the comma before it. One alert alone always fits (the field limits see to that).
    if (cur.length >= AM_MAX_ALERTS_PER_POST || (cur.length > 0 && bytes + 1 + size > AM_MAX_BODY_BYTES)) flush()
    bytes += size + (cur.length > 0 ? 1 : 0)
    cur.push(json)
    curAlerts.push(a)
    curFps.push(fingerprints[i] ?? '')
  })
  flush()
  return out
}

/** Keeps at most `max` entries, dropping the oldest (Map order is insertion order). */
function cap<K, V> (m: Map<K, V>, max: number, onDrop?: (k: K, v: V) => void): void {
  for (const [k, v] of m) {
    if (m.size <= max) return
    m.delete(k)
    onDrop?.(k, v)
  }
}

/** The members of `cfg.config.url`, and the channel's secrets with the members' credentials and paths. */
function membersOf (cfg: ResolvedChannel): { members: Member[], secrets: string[] } {
  const secrets = [...cfg.secrets]
  const members: Member[] = memberUrls(cfg.config.url).map((u) => {
    const m = memberOf(cfg.name, u)
    secrets.push(...m.secrets)
    return m.member
  })
  return { members, secrets }
}

/**
 * Events → alerts. Remembers the label set and start of each fingerprint's latest firing alert, which
 * its resolve must carry (even when logged at another level).
 */
class AlertBuilder {
  /** fingerprint → the label set and start of its latest firing alert: what a resolve must carry. */
  private readonly identity = new Map<string, { labels: Record<string, string>, startsAt: string }>()

  constructor (private readonly generatorURL: string | undefined) {}

  toAlert (e: AlertEvent): PostableAlert {
    const generatorURL = this.generatorURL
    if (e.status === 'resolved') {
      const known = this.identity.get(e.fingerprint)
      const labels = known?.labels ?? alertLabels(e).labels
      // Never in the future (Alertmanager would keep it firing until then), never before the start (it refuses that).
      const at = Math.min(Date.parse(e.timestamp), Date.now())
      const startsAt = known?.startsAt ?? new Date(at).toISOString()
      const end = Math.max(Date.parse(startsAt), at)
      const a: PostableAlert = { labels, annotations: annotationsOf(e, 0), startsAt, endsAt: new Date(end).toISOString() }
      if (generatorURL !== undefined) a.generatorURL = generatorURL
      return a
    }
    const { labels, dropped } = alertLabels(e)
    this.identity.delete(e.fingerprint)
    this.identity.set(e.fingerprint, { labels, startsAt: e.timestamp })
    cap(this.identity, AM_MAX_TRACKED)
    const a: PostableAlert = { labels, annotations: annotationsOf(e, dropped), startsAt: e.timestamp }
    if (generatorURL !== undefined) a.generatorURL = generatorURL
    return a
  }

  /** The POSTs of a delivery: one alert per label set (the latest), most severe first. */
  render (events: readonly AlertEvent[]): AlertmanagerMessage[] {
    // Identity in time order (a resolve after its firing alert), one alert per label set (the latest).
    const inOrder = [...events].sort((a, b) => a.timestamp.localeCompare(b.timestamp))
    const latest = new Map<string, { event: AlertEvent, alert: PostableAlert }>()
    for (const e of inOrder) {
      const alert = this.toAlert(e)
      const key = labelKey(alert.labels)
      latest.delete(key)
      latest.set(key, { event: e, alert })
    }
    const byEvent = new Map([...latest.values()].map((x) => [x.event, x.alert]))
    const ordered = bySeverity([...byEvent.keys()])
    return chunk(ordered.map((e) => byEvent.get(e) as PostableAlert), ordered.map((e) => e.fingerprint))
  }
}

/**
 * The resend timer: keeps the alerts delivered (firing ones while they fire, resolved ones for
 * `AM_RESOLVED_RESEND_MS`) and re-POSTs them every `resendMs` through `postAll`.
 */
class Resender {
  /** label key → firing alert delivered (re-sent every resendMs). */
  private readonly firing = new Map<string, Tracked>()
  /** fingerprint → label key of its latest firing alert in `firing`. */
  private readonly firingKeyOf = new Map<string, string>()
  /** label key → resolved alert delivered (re-sent until `until`). */
  private readonly resolved = new Map<string, TrackedResolved>()
  private timer: NodeJS.Timeout | undefined
  private ticking: Promise<void> | undefined
  private tickAbort: AbortController | undefined
  private closed = false

  constructor (
    private readonly resendMs: number,
    private readonly timeoutMs: number,
    /** One POST to every member; its answers are not looked at. */
    private readonly postAll: (body: string, signal: AbortSignal) => Promise<unknown>
  ) {}

  /** What a POST that at least one member accepted leaves to resend. */
  track (message: AlertmanagerMessage): void {
    if (this.closed) return
    const { firing, firingKeyOf, resolved } = this
    const now = Date.now()
    message.alerts.forEach((alert, i) => {
      const fp = message.fingerprints[i] ?? ''
      const key = labelKey(alert.labels)
      if (alert.endsAt === undefined) {
        const before = firingKeyOf.get(fp)
        if (before !== undefined && before !== key) {
          // The same alert now fires with another label set (another severity): the old one has ended.
          const old = firing.get(before)
          firing.delete(before)
          if (old !== undefined) resolved.set(before, { alert: { ...old.alert, endsAt: new Date(Math.max(now, Date.parse(old.alert.startsAt))).toISOString() }, until: now + AM_RESOLVED_RESEND_MS })
        }
        resolved.delete(key)
        firing.delete(key)
        firing.set(key, { alert, fingerprint: fp })
        firingKeyOf.set(fp, key)
        cap(firing, AM_MAX_TRACKED, (k, v) => { if (firingKeyOf.get(v.fingerprint) === k) firingKeyOf.delete(v.fingerprint) })
      } else {
        const was = firing.get(key)
        firing.delete(key)
        if (was !== undefined && firingKeyOf.get(was.fingerprint) === key) firingKeyOf.delete(was.fingerprint)
        resolved.delete(key)
        resolved.set(key, { alert, until: now + AM_RESOLVED_RESEND_MS })
        cap(resolved, AM_MAX_TRACKED)
      }
    })
    if (this.timer === undefined && (firing.size > 0 || resolved.size > 0)) {
      this.timer = setInterval(() => { this.resend() }, this.resendMs)
      this.timer.unref()
    }
  }

  /** Re-POSTs what is tracked to every member; answers are not waited for beyond `timeoutMs` or reported. */
  private resend (): void {
    if (this.closed || this.ticking !== undefined) return
    const now = Date.now()
    for (const [k, r] of this.resolved) if (r.until <= now) this.resolved.delete(k)
    const alerts = [...[...this.firing.values()].map((t) => t.alert), ...[...this.resolved.values()].map((r) => r.alert)]
    if (alerts.length === 0) {
      clearInterval(this.timer)
      this.timer = undefined
      return
    }
    const ac = new AbortController()
    this.tickAbort = ac
    const t = setTimeout(() => ac.abort(new Error(`resend timed out after ${this.timeoutMs} ms`)), this.timeoutMs)
    t.unref()
    this.ticking = (async () => {
      for (const m of chunk(alerts, [])) {
        if (ac.signal.aborted) return
        await this.postAll(m.body, ac.signal)
      }
    })().catch(() => {}).finally(() => {
      clearTimeout(t)
      this.ticking = undefined
      this.tickAbort = undefined
    })
  }

  /** Stops the timer, aborts a resend under way and waits for it. */
  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    this.timer = undefined
    this.tickAbort?.abort(new Error('channel closed'))
    await this.ticking
  }
}

/** Every member failed: retryable when one of them may take it later, at the earliest time they named. */
function combineFailures (failed: ReadonlyArray<Extract<Outcome, { ok: false }>>): Outcome {
  const retryable = failed.filter((r) => r.retryable)
  const statuses = new Set(failed.map((r) => r.status))
  const error = truncate(failed.map((r) => r.error).join('; '), 1000)
  const out: Outcome = { ok: false, retryable: retryable.length > 0, error }
  const [status] = statuses
  if (statuses.size === 1 && status !== undefined) out.status = status
  // The earliest a member may take it: a retryable member that named no time may take it at once.
  if (retryable.length > 0 && retryable.every((r) => r.retryAfterMs !== undefined)) out.retryAfterMs = Math.min(...retryable.map((r) => r.retryAfterMs as number))
  return out
}

export function create (cfg: ResolvedChannel): Channel<AlertmanagerMessage> {
  const net = netOf(cfg.config)
  const { members, secrets } = membersOf(cfg)
  const builder = new AlertBuilder(cfg.config.generatorURL as string | undefined)
  const resendMs = (cfg.config.resendMs as number | undefined) ?? 60_000
  const mask = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, secrets) })

  const post = async (m: Member, body: string, signal: AbortSignal): Promise<Outcome> => {
    try {
      const res: HttpResponse = await httpRequest(m.endpoint, {
        method: 'POST',
        headers: { ...m.headers, 'content-type': 'application/json', 'user-agent': 'pino-alerts' },
        body,
        signal,
        net
      })
      return mask(outcomeFromResponse({ ...res, body: alertmanagerMessage(res.body) }, m.where, secrets))
    } catch (err) {
      return mask(outcomeFromError(err, m.where, signal))
    }
  }
  const postAll = async (body: string, signal: AbortSignal): Promise<Outcome[]> =>
    await Promise.all(members.map(async (m) => await post(m, body, signal)))
  const resender = new Resender(resendMs, cfg.timeoutMs, postAll)

  return {
    name: cfg.name,
    type: 'alertmanager',
    render (events: readonly AlertEvent[]): AlertmanagerMessage[] {
      return builder.render(events)
    },
    async send (message: AlertmanagerMessage, { signal }): Promise<Outcome> {
      const results = await postAll(message.body, signal)
      if (results.some((r) => r.ok)) {
        resender.track(message)
        return { ok: true }
      }
      return combineFailures(results as Array<Extract<Outcome, { ok: false }>>)
    },
    async close (): Promise<void> {
      await resender.close()
    }
  }
}
