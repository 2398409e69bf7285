/**
 * "Channels & routing" (SPEC §16): the processes writing to the store, each with its channels and
 * their health, its routes or rules and time intervals (`GET /api/processes`), and where an alert
 * would go now in each live process (`GET /api/route`).
 *
 * Every process records its configuration with no secret in it (engine/snapshot.ts) when its heartbeat
 * row is first written, and its channels' health with every heartbeat. Routing is answered with the
 * engine's own code (`routeFor`, the matchers, the time intervals) over that record, compiled once
 * per record (cached by process and the record's hash, bounded). The store is read as hostile input:
 * a record is checked against the shape the engine writes, with bounds, before anything uses it.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod/v3'
import { ApiError } from '../errors.js'
import { AlertEvent, fingerprintOf, normalizeSeverity, type Severity } from '../event.js'
import { alertLabelSet, compileTimeIntervals, inTimeIntervals, matchesAlert, parseMatchers, type CompiledTimeInterval, type Matcher } from '../matchers.js'
import type { CompiledRule } from '../options.js'
import { routeFor } from '../pipeline/route.js'
import { processAlive, type AlertStore, type ProcessDetail } from '../store/sqlite.js'
import type { ChannelSnapshot, RuleSnapshot } from '../engine/snapshot.js'

/** Process rows listed (the newest) and answered for. */
const MAX_PROCESSES = 100
/** Compiled records kept, and their JSON texts' total size (characters). */
const CACHE_MAX = 100
const CACHE_CHARS_MAX = 16 * 1024 * 1024
/** Store silences and recent firing alerts (inhibition sources) looked at per question. */
const SILENCES_MAX = 1000
const SOURCES_MAX = 1000
const LAST_ERROR_MAX = 300

// ---------------------------------------------------------------------------------------------------
// The record, as engine/snapshot.ts writes it; anything else in it is dropped.

const text = (max: number): z.ZodString => z.string().max(max)
const names = z.array(text(200)).max(1000)
const matcherTexts = z.array(text(4096)).max(200)
const num = z.number().finite()
const snapshotSchema = z.object({
  v: z.literal(1),
  channels: z.array(z.object({
    name: text(200),
    type: text(100),
    enabled: z.boolean(),
    rateLimit: z.object({ perSecond: num, burst: num }).nullable(),
    retry: z.object({ maxAttempts: num, initialMs: num, maxMs: num })
  })).max(1000),
  routes: z.object({ info: names, warn: names, critical: names }),
  rules: z.array(z.object({
    index: z.number().int().min(0),
    match: matcherTexts,
    channels: names,
    continue: z.boolean(),
    activeTime: text(200).optional(),
    muteTime: text(200).optional()
  })).max(5000).nullable(),
  timeIntervals: z.record(text(200), z.array(z.record(z.unknown())).max(100)),
  failover: names,
  inhibit: z.array(z.object({ source: matcherTexts, target: matcherTexts, equal: names, windowMs: num.min(0) })).max(1000),
  silences: z.array(z.object({ match: matcherTexts, startsAt: text(40), endsAt: text(40) })).max(1000),
  truncated: z.literal(true).optional()
})
type Snapshot = z.infer<typeof snapshotSchema>

interface CompiledInhibit { source: Matcher[], target: Matcher[], equal: string[], windowMs: number }
interface OptionSilence { id: string, match: string[], matchers: Matcher[], startsAt: number, endsAt: number }

/** A record ready to answer from. `error`: why routing cannot be answered from it (it still lists). */
interface Compiled {
  snap: Snapshot
  error: string | undefined
  /** Time intervals that compiled, by name. */
  intervals: Map<string, CompiledTimeInterval[]>
  rules: CompiledRule[] | undefined
  inhibit: CompiledInhibit[]
  silences: OptionSilence[]
}
/** A record that is not what the engine writes. */
interface Unreadable { unreadable: string }

/** A record checked and compiled; matchers and intervals that do not compile are named in `error`. */
function compile (json: string): Compiled | Unreadable {
  let raw: unknown
  try { raw = JSON.parse(json) } catch { return { unreadable: 'its configuration record is not JSON' } }
  const parsed = snapshotSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { unreadable: `its configuration record is not readable (${issue === undefined ? '' : `${issue.path.join('.')}: ${issue.message}`})` }
  }
  const snap = parsed.data
  const problems: string[] = []
  if (snap.truncated === true) problems.push('its configuration was too large to record in full')
  const intervals = new Map<string, CompiledTimeInterval[]>()
  for (const [name, list] of Object.entries(snap.timeIntervals)) {
    try {
      const one = compileTimeIntervals({ [name]: list } as never).get(name)
      if (one !== undefined) intervals.set(name, one)
    } catch (err) {
      problems.push(`timeIntervals.${name}: ${(err as Error).message}`)
    }
  }
  const interval = (name: string | undefined, path: string): CompiledTimeInterval[] | undefined => {
    if (name === undefined) return undefined
    const found = intervals.get(name)
    if (found === undefined) problems.push(`${path}: time interval ${JSON.stringify(name)} is not in its record`)
    return found ?? []
  }
  const matchers = (list: readonly string[], path: string): Matcher[] => {
    try { return parseMatchers(list) } catch (err) { problems.push(`${path}: ${(err as Error).message}`); return [] }
  }
  const rules = snap.rules?.map((r): CompiledRule => ({
    index: r.index,
    matchers: matchers(r.match, `routes[${r.index}].match`),
    channels: r.channels,
    continue: r.continue,
    activeTime: interval(r.activeTime, `routes[${r.index}].activeTime`),
    muteTime: interval(r.muteTime, `routes[${r.index}].muteTime`),
    activeTimeName: r.activeTime,
    muteTimeName: r.muteTime,
    escalate: []
  }))
  const inhibit = snap.inhibit.map((r, i) => ({ source: matchers(r.source, `inhibit[${i}].source`), target: matchers(r.target, `inhibit[${i}].target`), equal: r.equal, windowMs: r.windowMs }))
  const silences = snap.silences.map((s, i) => ({ id: `options-${i}`, match: s.match, matchers: matchers(s.match, `silences[${i}].match`), startsAt: Date.parse(s.startsAt), endsAt: Date.parse(s.endsAt) }))
  return { snap, error: problems.length === 0 ? undefined : problems.slice(0, 3).join('; '), intervals, rules, inhibit, silences }
}

// ---------------------------------------------------------------------------------------------------
// Shapes of the answers

type Circuit = 'closed' | 'open' | 'half-open'

/** A channel as /api/processes shows it: its recorded configuration and its health. */
export interface ChannelItem extends ChannelSnapshot {
  /** null: no live counters for it (disabled, not started, or nothing recorded yet). */
  circuit: Circuit | null
  queued: number
  delivered: number
  failed: number
  lastError: string | null
  lastErrorAt: string | null
}

/** A rule as /api/processes shows it: as recorded, and whether it is active or muted now. */
export interface RuleItem extends RuleSnapshot {
  /** Inside its activeTime now; null without one (or when it is not in the record). */
  activeNow: boolean | null
  /** It would notify nobody now: outside its activeTime or inside its muteTime. */
  mutedNow: boolean
}

export interface ProcessItem {
  process: string
  pid: number | null
  host: string | null
  /** Last heartbeat. */
  at: string
  startedAt: string | null
  endedAt: string | null
  alive: boolean
  leaseMs: number | null
  channels: ChannelItem[]
  /** The severity matrix, when there are no rules. */
  routes: Record<Severity, string[]> | null
  rules: RuleItem[] | null
  timeIntervals: Record<string, { spec: unknown[], activeNow: boolean | null }>
  failover: string[]
  inhibit: Array<{ source: string[], target: string[], equal: string[], windowMs: number }>
  /** Set when its configuration record cannot be read or compiled. */
  error?: string
}

export interface RouteAlert { severity: Severity, source: string, title: string, labels: Record<string, string> }

export type RouteItem = {
  process: string
  /** The channels it would notify now (none when silenced or inhibited). */
  channels: string[]
  /** The channels its routing picks, silence and inhibition aside. */
  routed: string[]
  /** The first rule that matched; null: the severity matrix. */
  rule: number | null
  muted: { rule: number, interval: string, why: 'muteTime' | 'activeTime' } | null
  silencedBy: { id: string, match: string[] } | null
  inhibitedBy: { rule: number, sourceAlertId: string } | null
} | { process: string, error: string }

// ---------------------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0)
const iso = (ms: number): string => new Date(Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : 0).toISOString()
const isoOrNull = (ms: number | undefined): string | null => (ms === undefined ? null : iso(ms))
const CIRCUITS: readonly string[] = ['closed', 'open', 'half-open']

/** A channel's health from a process's live counters (any shape: checked field by field). */
function health (stats: unknown, name: string): Pick<ChannelItem, 'circuit' | 'queued' | 'delivered' | 'failed' | 'lastError' | 'lastErrorAt'> {
  const channels = isObject(stats) ? stats.channels : undefined
  const c = isObject(channels) && Object.hasOwn(channels, name) ? channels[name] : undefined
  if (!isObject(c)) return { circuit: null, queued: 0, delivered: 0, failed: 0, lastError: null, lastErrorAt: null }
  const at = typeof c.lastErrorAt === 'string' && c.lastErrorAt.length <= 40 && !Number.isNaN(Date.parse(c.lastErrorAt)) ? c.lastErrorAt : null
  return {
    circuit: typeof c.circuit === 'string' && CIRCUITS.includes(c.circuit) ? c.circuit as Circuit : null,
    queued: count(c.queued),
    delivered: count(c.delivered),
    failed: count(c.failed),
    lastError: typeof c.lastError === 'string' ? c.lastError.slice(0, LAST_ERROR_MAX) : null,
    lastErrorAt: at
  }
}

function ruleItem (c: Compiled, r: NonNullable<Snapshot['rules']>[number], now: Date): RuleItem {
  const active = r.activeTime === undefined ? undefined : c.intervals.get(r.activeTime)
  const mute = r.muteTime === undefined ? undefined : c.intervals.get(r.muteTime)
  const activeNow = active === undefined ? null : inTimeIntervals(active, now)
  const out: RuleItem = { index: r.index, match: r.match, channels: r.channels, continue: r.continue, activeNow, mutedNow: activeNow === false || (mute !== undefined && inTimeIntervals(mute, now)) }
  if (r.activeTime !== undefined) out.activeTime = r.activeTime
  if (r.muteTime !== undefined) out.muteTime = r.muteTime
  return out
}

/** The severity, source, title and labels asked about; ApiError 400 for what is not one. */
export function parseRouteQuery (p: URLSearchParams): RouteAlert {
  const one = (key: string, max: number): string => {
    const all = p.getAll(key)
    if (all.length > 1) throw new ApiError(400, `${key}: given ${all.length} times; give it once`)
    const v = all[0] ?? ''
    if (v.length > max) throw new ApiError(400, `${key}: longer than ${max} characters`)
    return v
  }
  const rawSeverity = one('severity', 20).trim()
  if (rawSeverity === '') throw new ApiError(400, 'severity: required, one of info, warn, critical')
  const severity = normalizeSeverity(rawSeverity)
  if (severity === undefined) throw new ApiError(400, `severity: expected info, warn or critical, got ${JSON.stringify(rawSeverity)}`)
  const source = one('source', 200).trim()
  const title = one('title', 1000)
  const labels: Record<string, string> = {}
  const list = p.getAll('labels').join(',')
  if (list.length > 4000) throw new ApiError(400, 'labels: longer than 4000 characters')
  let n = 0
  for (const part of list.split(',')) {
    if (part.trim() === '') continue
    const eq = part.indexOf('=')
    const key = eq === -1 ? '' : part.slice(0, eq).trim()
    if (eq === -1 || !/^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$/.test(key)) {
      throw new ApiError(400, `labels: ${JSON.stringify(part.slice(0, 60))} is not name=value (expected labels=k%3Dv,k2%3Dv2; a name starts with a letter or _ and has letters, digits, _ . : / -)`)
    }
    if (['source', 'severity', 'title', 'status'].includes(key)) throw new ApiError(400, `labels: ${key} is a field of its own, not a label; use ${key}=`)
    if (Object.hasOwn(labels, key)) throw new ApiError(400, `labels: ${key} is given twice`)
    if (++n > 50) throw new ApiError(400, 'labels: more than 50')
    labels[key] = part.slice(eq + 1).trim()
  }
  return { severity, source, title, labels }
}

const LEVELS: Record<Severity, number> = { info: 30, warn: 40, critical: 50 }

/** What the store holds that may apply to an alert: silences and recent firing alerts, read once per question (and only when needed). */
class StoreFacts {
  private silenceList: Array<{ id: string, match: string[], matchers: Matcher[] }> | undefined
  private sourceList: ReturnType<AlertStore['recentFiring']> | undefined
  private readonly sourceSince: number

  constructor (private readonly store: AlertStore, private readonly now: number, windowMs: number) {
    this.sourceSince = now - Math.min(windowMs, 366 * 86_400_000)
  }

  /** Active store silences (those whose matchers do not parse are left out, as the engine does). */
  silences (): Array<{ id: string, match: string[], matchers: Matcher[] }> {
    if (this.silenceList !== undefined) return this.silenceList
    this.silenceList = []
    for (const s of this.store.silences(this.now, false, SILENCES_MAX)) {
      if (Date.parse(s.startsAt) > this.now || !Array.isArray(s.match)) continue
      try { this.silenceList.push({ id: s.id, match: s.match, matchers: parseMatchers(s.match) }) } catch { /* not applied by the engine either */ }
    }
    return this.silenceList
  }

  sources (): ReturnType<AlertStore['recentFiring']> {
    this.sourceList ??= this.store.recentFiring(this.sourceSince, SOURCES_MAX)
    return this.sourceList
  }
}

/** The first inhibit rule of a process that a firing source alert in the store holds over `e` now. */
function inhibitedBy (c: Compiled, e: AlertEvent, facts: StoreFacts, now: number): { rule: number, sourceAlertId: string } | null {
  const labels = alertLabelSet(e)
  for (let i = 0; i < c.inhibit.length; i++) {
    const rule = c.inhibit[i] as CompiledInhibit
    if (!matchesAlert(rule.target, e)) continue
    for (const s of facts.sources()) {
      if (s.fingerprint === e.fingerprint || now - s.ts > rule.windowMs) continue
      const src = { ...s, status: 'firing' as const }
      if (!matchesAlert(rule.source, src)) continue
      const theirs = alertLabelSet(src)
      if (rule.equal.every((l) => (theirs[l] ?? '') === (labels[l] ?? ''))) return { rule: i, sourceAlertId: s.id }
    }
  }
  return null
}

function routeItem (process: string, c: Compiled, e: AlertEvent, facts: StoreFacts, now: number): RouteItem {
  const decision = routeFor(e, { routes: c.snap.routes, rules: c.rules }, new Date(now))
  const mute = decision.muted[0]
  let silencedBy: { id: string, match: string[] } | null = null
  for (const s of c.silences) {
    if (s.startsAt <= now && now < s.endsAt && matchesAlert(s.matchers, e)) { silencedBy = { id: s.id, match: s.match }; break }
  }
  if (silencedBy === null) {
    for (const s of facts.silences()) if (matchesAlert(s.matchers, e)) { silencedBy = { id: s.id, match: s.match }; break }
  }
  const inhibited = inhibitedBy(c, e, facts, now)
  return {
    process,
    channels: silencedBy !== null || inhibited !== null ? [] : [...decision.channels],
    routed: [...decision.channels],
    rule: decision.rules[0] ?? null,
    muted: mute === undefined ? null : { rule: mute.rule, interval: mute.interval, why: mute.why },
    silencedBy,
    inhibitedBy: inhibited
  }
}

export class Routing {
  /** Compiled records by process and the hash of the record, least recently used first. */
  private readonly cache = new Map<string, { compiled: Compiled | Unreadable, chars: number }>()
  private cacheChars = 0

  constructor (private readonly store: AlertStore) {}

  /** `GET /api/processes`. */
  processes (now = Date.now()): { processes: ProcessItem[] } {
    return { processes: this.store.processDetails(MAX_PROCESSES).map((d) => this.processItem(d, now)) }
  }

  /** `GET /api/route?severity=&source=&title=&labels=`. */
  route (p: URLSearchParams, now = Date.now()): { alert: RouteAlert, processes: RouteItem[] } {
    const alert = parseRouteQuery(p)
    const e = AlertEvent.fromJSON({
      id: 'route-preview', ...alert, body: '', metadata: {}, timestamp: iso(now), level: LEVELS[alert.severity],
      fingerprint: fingerprintOf(alert.source, alert.title, alert.labels), status: 'firing'
    })
    const live = this.store.processDetails(MAX_PROCESSES).filter((d) => processAlive(d, now))
    const compiled = live.map((d) => ({ d, c: this.compiled(d) }))
    let windowMs = 0
    for (const { c } of compiled) if (c !== undefined && 'snap' in c) for (const r of c.inhibit) windowMs = Math.max(windowMs, r.windowMs)
    const facts = new StoreFacts(this.store, now, windowMs)
    const processes = compiled.map(({ d, c }): RouteItem => {
      if (c === undefined) return { process: d.process, error: 'it recorded no configuration (a pino-alerts older than this dashboard)' }
      if ('unreadable' in c) return { process: d.process, error: c.unreadable }
      if (c.error !== undefined) return { process: d.process, error: c.error }
      return routeItem(d.process, c, e, facts, now)
    })
    return { alert, processes }
  }

  private processItem (d: ProcessDetail, now: number): ProcessItem {
    const out: ProcessItem = {
      process: d.process,
      pid: d.pid ?? null,
      host: d.host === undefined ? null : d.host.split('/')[0] ?? null,
      at: iso(d.at),
      startedAt: isoOrNull(d.startedAt),
      endedAt: isoOrNull(d.endedAt),
      alive: processAlive(d, now),
      leaseMs: d.leaseMs ?? null,
      channels: [],
      routes: null,
      rules: null,
      timeIntervals: {},
      failover: [],
      inhibit: []
    }
    const c = this.compiled(d)
    if (c === undefined) return out
    if ('unreadable' in c) return { ...out, error: c.unreadable }
    const { snap } = c
    const at = new Date(now)
    out.channels = snap.channels.map((ch) => ({ ...ch, ...health(d.stats, ch.name) }))
    out.routes = snap.rules === null ? snap.routes : null
    out.rules = snap.rules === null ? null : snap.rules.map((r) => ruleItem(c, r, at))
    for (const [name, spec] of Object.entries(snap.timeIntervals)) {
      const compiled = c.intervals.get(name)
      out.timeIntervals[name] = { spec, activeNow: compiled === undefined ? null : inTimeIntervals(compiled, at) }
    }
    out.failover = snap.failover
    out.inhibit = snap.inhibit
    if (c.error !== undefined) out.error = c.error
    return out
  }

  /** A process's record compiled (cached); undefined when it recorded none. */
  private compiled (d: ProcessDetail): Compiled | Unreadable | undefined {
    if (d.config === undefined) return undefined
    const key = `${d.process}\0${createHash('sha256').update(d.config).digest('base64')}`
    const hit = this.cache.get(key)
    if (hit !== undefined) {
      this.cache.delete(key)
      this.cache.set(key, hit)
      return hit.compiled
    }
    const entry = { compiled: compile(d.config), chars: d.config.length }
    this.cache.set(key, entry)
    this.cacheChars += entry.chars
    for (const [k, v] of this.cache) {
      if (this.cache.size <= CACHE_MAX && this.cacheChars <= CACHE_CHARS_MAX) break
      if (k === key) break
      this.cache.delete(k)
      this.cacheChars -= v.chars
    }
    return entry.compiled
  }
}
