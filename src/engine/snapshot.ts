/**
 * What a process writing to a shared store records of its configuration (SPEC §15): channels with
 * their type, whether enabled, rate limit and retry; routes or rules; time intervals; failover;
 * inhibit rules; silences from the options. Nothing channel-specific: no URL, token, header, address,
 * path or proxy, only the keys below (the dashboard shows it, and answers "where would this alert go?"
 * from it). Channel health is not here: it travels with the live counters in every heartbeat.
 */
import type { Severity } from '../event.js'
import type { TimeIntervalSpec } from '../matchers.js'
import type { CompiledRule, ResolvedOptions } from '../options.js'
import { PROCESS_TEXT_MAX } from '../store/sqlite.js'

export interface ChannelSnapshot {
  name: string
  type: string
  enabled: boolean
  rateLimit: { perSecond: number, burst: number } | null
  retry: { maxAttempts: number, initialMs: number, maxMs: number }
}

export interface RuleSnapshot {
  index: number
  /** The rule's matchers as Alertmanager writes them (`severity="critical"`). */
  match: string[]
  channels: string[]
  continue: boolean
  /** `timeIntervals` names. */
  activeTime?: string
  muteTime?: string
}

export interface ConfigSnapshot {
  /** This shape's version. */
  v: 1
  channels: ChannelSnapshot[]
  /** The severity matrix: the routing without rules, and for alerts that no rule matches. */
  routes: Record<Severity, string[]>
  /** The rule list, when `routes` is one. */
  rules: RuleSnapshot[] | null
  timeIntervals: Record<string, TimeIntervalSpec[]>
  failover: string[]
  inhibit: Array<{ source: string[], target: string[], equal: string[], windowMs: number }>
  /** Silences from the options (ISO times). */
  silences: Array<{ match: string[], startsAt: string, endsAt: string }>
  /**
   * Set when the whole did not fit PROCESS_TEXT_MAX: only the channels were kept (routing cannot be
   * answered from it).
   */
  truncated?: true
}

/** The configuration snapshot of resolved options, bounded to what a process row keeps. */
export function configSnapshot (opts: ResolvedOptions): ConfigSnapshot {
  const channels = opts.channels.map((c): ChannelSnapshot => ({
    name: c.name,
    type: c.type,
    enabled: c.enabled,
    rateLimit: c.rateLimit === undefined ? null : { perSecond: c.rateLimit.perSecond, burst: c.rateLimit.burst },
    retry: { maxAttempts: c.retry.maxAttempts, initialMs: c.retry.initialMs, maxMs: c.retry.maxMs }
  }))
  const snapshot: ConfigSnapshot = {
    v: 1,
    channels,
    routes: { info: [...opts.routes.info], warn: [...opts.routes.warn], critical: [...opts.routes.critical] },
    rules: opts.rules === undefined ? null : opts.rules.map(ruleSnapshot),
    // As configured (validated): JSON in, JSON out.
    timeIntervals: JSON.parse(JSON.stringify(opts.timeIntervals ?? {})) as Record<string, TimeIntervalSpec[]>,
    failover: [...opts.failover],
    inhibit: opts.inhibit.map((r) => ({ source: r.source.map((m) => m.text), target: r.target.map((m) => m.text), equal: [...r.equal], windowMs: r.windowMs })),
    silences: opts.silences.map((s) => ({ match: s.matchers.map((m) => m.text), startsAt: isoOr(s.startsAt), endsAt: isoOr(s.endsAt) }))
  }
  if (JSON.stringify(snapshot).length <= PROCESS_TEXT_MAX) return snapshot
  const small: ConfigSnapshot = { v: 1, channels: [], routes: { info: [], warn: [], critical: [] }, rules: null, timeIntervals: {}, failover: [], inhibit: [], silences: [], truncated: true }
  let size = JSON.stringify(small).length
  for (const c of channels) {
    size += JSON.stringify(c).length + 1
    if (size > PROCESS_TEXT_MAX) break
    small.channels.push(c)
  }
  return small
}

function ruleSnapshot (r: CompiledRule): RuleSnapshot {
  const out: RuleSnapshot = { index: r.index, match: r.matchers.map((m) => m.text), channels: [...r.channels], continue: r.continue }
  if (r.activeTimeName !== undefined) out.activeTime = r.activeTimeName
  if (r.muteTimeName !== undefined) out.muteTime = r.muteTimeName
  return out
}

const isoOr = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : new Date(0).toISOString())
