/**
 * Routing: the severity matrix, or a rule list where the first matching rule wins unless it says
 * `continue`. Time intervals follow Alertmanager: a rule matches by its matchers alone; inside its
 * `muteTime`, or outside its `activeTime`, it still matches (and ends the walk unless `continue`) but
 * adds no channels and no escalation: it is recorded in `muted`. Only an alert that no rule matched
 * takes the severity matrix — never one whose matching rules were all muted.
 */
import type { AlertEvent } from '../event.js'
import { inTimeIntervals, matchesAlert } from '../matchers.js'
import type { CompiledRule, ResolvedOptions } from '../options.js'

/** A rule that matched while muted: which rule, which interval, and which of the two it was. */
export interface MutedRule {
  /** The rule's index in `routes`. */
  rule: number
  /** The `timeIntervals` name. */
  interval: string
  /** `muteTime`: inside the rule's muteTime; `activeTime`: outside its activeTime. */
  why: 'muteTime' | 'activeTime'
}

export interface RouteDecision {
  channels: string[]
  escalate: Array<{ afterMs: number, channels: string[] }>
  /** Indexes of the rules that matched, muted ones included (empty: the severity matrix). */
  rules: number[]
  /** The matched rules that were muted at the time: they notified nobody. */
  muted: MutedRule[]
}

/** Why a matching rule is muted at `at`, or undefined when it is active. */
function mutedAt (rule: CompiledRule, at: Date): MutedRule | undefined {
  if (rule.activeTime !== undefined && !inTimeIntervals(rule.activeTime, at)) return { rule: rule.index, interval: rule.activeTimeName ?? 'activeTime', why: 'activeTime' }
  if (rule.muteTime !== undefined && inTimeIntervals(rule.muteTime, at)) return { rule: rule.index, interval: rule.muteTimeName ?? 'muteTime', why: 'muteTime' }
  return undefined
}

export function routeFor (e: AlertEvent, opts: Pick<ResolvedOptions, 'routes' | 'rules'>, at: Date): RouteDecision {
  if (opts.rules === undefined) return { channels: opts.routes[e.severity], escalate: [], rules: [], muted: [] }
  const channels: string[] = []
  const escalate: RouteDecision['escalate'] = []
  const matched: number[] = []
  const muted: MutedRule[] = []
  for (const rule of opts.rules) {
    if (!matchesAlert(rule.matchers, e)) continue
    matched.push(rule.index)
    const mute = mutedAt(rule, at)
    if (mute !== undefined) {
      muted.push(mute)
    } else {
      for (const c of rule.channels) if (!channels.includes(c)) channels.push(c)
      escalate.push(...rule.escalate)
    }
    if (!rule.continue) break
  }
  if (matched.length === 0) return { channels: opts.routes[e.severity], escalate: [], rules: [], muted: [] }
  return { channels, escalate, rules: matched, muted }
}

/** A mute's `detail`: `routes[1] muted by "weekend" (muteTime)`, `routes[0] outside "business-hours" (activeTime)`. */
export function mutedDetail (muted: readonly MutedRule[]): string {
  return muted.map((m) => m.why === 'muteTime'
    ? `routes[${m.rule}] muted by ${JSON.stringify(m.interval)} (muteTime)`
    : `routes[${m.rule}] outside ${JSON.stringify(m.interval)} (activeTime)`).join('; ')
}
