/**
 * alertmanager: hand-off to Prometheus Alertmanager (API v2, `POST {url}/api/v2/alerts`), one
 * Alertmanager or every member of an HA cluster.
 *
 * - A POST carries an array of alerts: one event is an array of one, a digest is one array (most
 *   severe first) split into several POSTs beyond `AM_MAX_ALERTS_PER_POST` alerts or `maxBodyBytes`
 *   (default `AM_MAX_BODY_BYTES`, 1 MiB: Alertmanager itself has no limit; reverse proxies in front of
 *   it do, nginx at 1 MiB by default). No headline: Alertmanager groups and summarises alerts itself.
 * - One alert larger than that is cut, not dropped. Its label set (its identity) may take half the cap
 *   at most: beyond it event labels are left out from the last (then `alertname` and `source` cut),
 *   decided by the label set alone, so that its resolve and resends carry the very same set. Then its
 *   annotations give way (description, then summary, down to a quarter of the cap each; then metadata
 *   and the others; then description and summary further), each cut text ending in "… [truncated]";
 *   the annotation `truncated` names what was cut.
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
import { boundedJson } from '../format/json.js'
import { bySeverity, foldBreaks, stripControl } from '../format/text.js'
import { byteLength, headFor, headUnits, truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import type { ChannelLimits } from './limits.js'

/** Alertmanager's own checks of a POST (API v2 `postableAlerts`) that a size cannot express. */
const AM_CHECK: ChannelLimits<AlertmanagerMessage>['check'] = (m) => {
  if (m.alerts.length > AM_MAX_ALERTS_PER_POST) return `${m.alerts.length} alerts in one POST (at most ${AM_MAX_ALERTS_PER_POST})`
  for (const a of m.alerts) {
    const names = Object.keys(a.labels)
    if (names.length === 0) return 'an alert without labels'
    const bad = names.find((n) => !AM_LABEL_NAME.test(n))
    if (bad !== undefined) return `label name ${JSON.stringify(bad.slice(0, 50))} is not a Prometheus label name`
  }
  return undefined
}
import { DEFAULT_MAX_BODY_BYTES, jsonStringBytes, packRuns, proseFloor, shrinkText, tooSmall } from './pack.js'

export const AM_ALERTS_PATH = '/api/v2/alerts'
/** Alerts per POST (Prometheus sends at most 256; Alertmanager takes any number). */
export const AM_MAX_ALERTS_PER_POST = 500
/** Request body bytes per POST unless `maxBodyBytes` says otherwise: what a reverse proxy in front of Alertmanager takes by default (nginx). */
export const AM_MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES
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

/**
 * One line: whitespace runs with a line break or tab folded into one space, trimmed, cut to `max`.
 * Only what the cut can keep is cleaned (`headFor`); the folding is one pass (`foldBreaks`).
 */
function oneLine (s: string, max: number): string {
  return truncate(foldBreaks(clean(headFor(s, max)), true).trim(), max)
}

/** A valid Prometheus label name: other characters become `_`, a leading digit gets `_` in front. */
export function labelName (raw: string): string {
  // Cut first: every unit maps to one, and a `_` put in front still leaves the first 128 units decisive.
  let n = raw.slice(0, AM_LIMITS.labelName).replace(/[^a-zA-Z0-9_]/g, '_')
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
  const description = truncate(clean(headFor(e.body, AM_LIMITS.description)).trim(), AM_LIMITS.description)
  if (description !== '') a.description = description
  if (Object.keys(e.metadata).length > 0) {
    // An escape of a lone surrogate (6 units) becomes one: 6 units of JSON per unit kept at most.
    const room = 6 * (AM_LIMITS.metadata + 1)
    let json: string
    try { json = boundedJson(e.metadata, room) ?? '' } catch (err) { json = JSON.stringify({ error: `metadata could not be serialised: ${(err as Error).message}` }) }
    a.metadata = truncate(wellFormedJson(headUnits(json, room)), AM_LIMITS.metadata)
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
  // Left to right, an escaped backslash is taken whole, so a `\u` found is a real escape. (A lookbehind
  // counting the backslashes before each `\u` rescanned a run of them at every position: quadratic.)
  return wellFormed(json).replace(/\\(?:\\|u[dD][89a-fA-F][0-9a-fA-F]{2})/g, (m) => (m.length === 2 ? m : '\ufffd'))
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

/** The annotation that names what a cut gave away. */
const AM_TRUNCATED = 'truncated'
/**
 * Annotations that give way when an alert is over the cap (its labels never do here): description and
 * summary down to a quarter of the cap each, then the others, then description and summary further.
 */
const AM_CUT_PROSE = ['description', 'summary'] as const
const AM_CUT_DETAIL = ['metadata', 'alert_id', 'trace_id', 'span_id', 'labels_truncated'] as const

/**
 * A label set within `max` bytes of JSON, decided by the labels alone (so a resolve and the resends,
 * cut again, carry the same set): event labels left out from the last, then `alertname` and `source`
 * cut. `left`: how many labels were left out.
 */
export function fitLabels (labels: Record<string, string>, max: number): { labels: Record<string, string>, left: number } {
  const json = JSON.stringify(labels)
  let over = byteLength(json) - max
  if (over <= 0) return { labels, left: 0 }
  const entries = Object.entries(labels)
  let n = entries.length
  // alertname, source and severity come first (alertLabels): they stay.
  while (over > 0 && n > RESERVED.length) {
    const [k, v] = entries[n - 1] as [string, string]
    over -= jsonStringBytes(k) + jsonStringBytes(v) + 6
    n--
  }
  const out = Object.fromEntries(entries.slice(0, n))
  for (const k of ['alertname', 'source'] as const) {
    if (over <= 0 || out[k] === undefined) continue
    const r = shrinkText(out[k], over)
    out[k] = r.text
    over -= r.saved
  }
  return { labels: out, left: entries.length - n }
}

/** What the `truncated` annotation may cost at most: room kept for it before cutting annotations. */
const AM_FLAG_RESERVE = byteLength(`,${JSON.stringify(AM_TRUNCATED)}:${JSON.stringify(`${[...AM_CUT_PROSE, ...AM_CUT_DETAIL].join(', ')}; 4294967295 labels left out`)}`)

/**
 * An alert within `max` bytes of JSON: as it is when it fits, else its annotations cut (see
 * `AM_CUT_PROSE`), each only as much as still needed, and named in the `truncated` annotation.
 */
export function fitAlert (alert: PostableAlert, json: string, max: number): { alert: PostableAlert, json: string } {
  const size = byteLength(json)
  if (size <= max) return { alert, json }
  const annotations = { ...alert.annotations }
  const before = annotations[AM_TRUNCATED]
  let over = size + AM_FLAG_RESERVE - max
  const cut: string[] = []
  const shrink = (k: string, keep: number): void => {
    const v = annotations[k]
    if (over <= 0 || v === undefined) return
    const r = shrinkText(v, over, keep)
    if (r.saved === 0) return
    annotations[k] = r.text
    over -= r.saved
    if (!cut.includes(k)) cut.push(k)
  }
  for (const k of AM_CUT_PROSE) shrink(k, proseFloor(max))
  for (const k of AM_CUT_DETAIL) shrink(k, 0)
  for (const k of AM_CUT_PROSE) shrink(k, 0)
  // The labels' own note (set when they were fitted) stays, after what this cut names.
  const note = [cut.join(', '), before].filter((x) => x !== undefined && x !== '').join('; ')
  delete annotations[AM_TRUNCATED]
  if (note !== '') annotations[AM_TRUNCATED] = note
  const out: PostableAlert = { ...alert, annotations }
  const text = JSON.stringify(out)
  const bytes = byteLength(text)
  if (bytes > max) throw tooSmall('alert', max + 2, bytes + 2)
  return { alert: out, json: text }
}

/** Alerts → POSTs within `AM_MAX_ALERTS_PER_POST` and `maxBytes` (an alert over it alone is cut: `fitAlert`). */
function chunk (alerts: readonly PostableAlert[], fingerprints: readonly string[], maxBytes: number): AlertmanagerMessage[] {
  // `[` … `]` around the alerts, a comma between two.
  const room = maxBytes - 2
  const fitted = alerts.map((a) => fitAlert(a, JSON.stringify(a), room))
  return packRuns(fitted.map((f) => byteLength(f.json)), room, { maxItems: AM_MAX_ALERTS_PER_POST }).map(([start, end]) => {
    const part = fitted.slice(start, end)
    return {
      alerts: part.map((f) => f.alert),
      fingerprints: fingerprints.length === 0 ? part.map(() => '') : fingerprints.slice(start, end),
      body: `[${part.map((f) => f.json).join(',')}]`
    }
  })
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

  constructor (private readonly generatorURL: string | undefined, private readonly maxBytes: number) {}

  /** The label set within half the body cap (`fitLabels`): decided by the labels alone. */
  private labelsOf (e: AlertEvent): { labels: Record<string, string>, dropped: number, left: number } {
    const { labels, dropped } = alertLabels(e)
    return { ...fitLabels(labels, Math.floor(this.maxBytes / 2)), dropped }
  }

  toAlert (e: AlertEvent): PostableAlert {
    const generatorURL = this.generatorURL
    if (e.status === 'resolved') {
      const known = this.identity.get(e.fingerprint)
      const labels = known?.labels ?? this.labelsOf(e).labels
      // Never in the future (Alertmanager would keep it firing until then), never before the start (it refuses that).
      const at = Math.min(Date.parse(e.timestamp), Date.now())
      const startsAt = known?.startsAt ?? new Date(at).toISOString()
      const end = Math.max(Date.parse(startsAt), at)
      const a: PostableAlert = { labels, annotations: annotationsOf(e, 0), startsAt, endsAt: new Date(end).toISOString() }
      if (generatorURL !== undefined) a.generatorURL = generatorURL
      return a
    }
    const { labels, dropped, left } = this.labelsOf(e)
    this.identity.delete(e.fingerprint)
    this.identity.set(e.fingerprint, { labels, startsAt: e.timestamp })
    cap(this.identity, AM_MAX_TRACKED)
    const a: PostableAlert = { labels, annotations: annotationsOf(e, dropped), startsAt: e.timestamp }
    if (left > 0) a.annotations[AM_TRUNCATED] = `${left} label${left === 1 ? '' : 's'} left out`
    if (generatorURL !== undefined) a.generatorURL = generatorURL
    return a
  }

  /** The POSTs of a delivery: one alert per label set (the latest), most severe first. */
  /** `carried`: where each message's alert ids are recorded (those of every event its label sets stand for). */
  render (events: readonly AlertEvent[], carried?: WeakMap<AlertmanagerMessage, string[]>): AlertmanagerMessage[] {
    // Identity in time order (a resolve after its firing alert), one alert per label set (the latest).
    // ISO 8601 UTC: plain comparison orders them (as bySeverity does; localeCompare is far slower).
    const inOrder = [...events].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
    const latest = new Map<string, { event: AlertEvent, alert: PostableAlert, ids: string[] }>()
    for (const e of inOrder) {
      const alert = this.toAlert(e)
      const key = labelKey(alert.labels)
      const ids = latest.get(key)?.ids ?? []
      ids.push(e.id)
      latest.delete(key)
      latest.set(key, { event: e, alert, ids })
    }
    const byEvent = new Map([...latest.values()].map((x) => [x.event, x]))
    const ordered = bySeverity([...byEvent.keys()])
    const messages = chunk(ordered.map((e) => (byEvent.get(e) as { alert: PostableAlert }).alert), ordered.map((e) => e.fingerprint), this.maxBytes)
    if (carried !== undefined) {
      // chunk keeps the order and splits it into consecutive runs.
      let at = 0
      for (const m of messages) {
        const ids: string[] = []
        for (const e of ordered.slice(at, at + m.alerts.length)) ids.push(...(byEvent.get(e) as { ids: string[] }).ids)
        at += m.alerts.length
        carried.set(m, ids)
      }
    }
    return messages
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
    private readonly postAll: (body: string, signal: AbortSignal) => Promise<unknown>,
    /** The body cap (the alerts tracked are already cut to it; a resend packs them again). */
    private readonly maxBytes: number
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
      for (const m of chunk(alerts, [], this.maxBytes)) {
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
  const maxBytes = (cfg.config.maxBodyBytes as number | undefined) ?? AM_MAX_BODY_BYTES
  const builder = new AlertBuilder(cfg.config.generatorURL as string | undefined, maxBytes)
  const carried = new WeakMap<AlertmanagerMessage, string[]>()
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
  const resender = new Resender(resendMs, cfg.timeoutMs, postAll, maxBytes)

  return {
    name: cfg.name,
    type: 'alertmanager',
    // Every POST body within maxBodyBytes, at most AM_MAX_ALERTS_PER_POST alerts, valid label names.
    limits: { maxMessageBytes: maxBytes, check: AM_CHECK },
    render (events: readonly AlertEvent[]): AlertmanagerMessage[] {
      return builder.render(events, carried)
    },
    // Which alerts each POST carries: a 413 on one part fails only its alerts.
    carries: (message: AlertmanagerMessage) => carried.get(message) ?? [],
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
