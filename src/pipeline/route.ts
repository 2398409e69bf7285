/**
 * Routing: the severity matrix, or a rule list where the first matching rule wins unless it says
 * `continue`. A rule outside its `activeTime` or inside its `muteTime` does not match, so later rules
 * (a catch-all) still see the alert. An alert no rule matched takes the severity matrix: nothing is
 * dropped for want of a rule.
 */
import type { AlertEvent } from '../event.js'
import { inTimeIntervals, matchesAlert } from '../matchers.js'
import type { ResolvedOptions } from '../options.js'

export interface RouteDecision {
  channels: string[]
  escalate: Array<{ afterMs: number, channels: string[] }>
  /** Indexes of the rules that matched (empty: the severity matrix). */
  rules: number[]
}

export function routeFor (e: AlertEvent, opts: Pick<ResolvedOptions, 'routes' | 'rules'>, at: Date): RouteDecision {
  if (opts.rules === undefined) return { channels: opts.routes[e.severity], escalate: [], rules: [] }
  const channels: string[] = []
  const escalate: RouteDecision['escalate'] = []
  const matched: number[] = []
  for (const rule of opts.rules) {
    if (!matchesAlert(rule.matchers, e)) continue
    if (rule.activeTime !== undefined && !inTimeIntervals(rule.activeTime, at)) continue
    if (rule.muteTime !== undefined && inTimeIntervals(rule.muteTime, at)) continue
    matched.push(rule.index)
    for (const c of rule.channels) if (!channels.includes(c)) channels.push(c)
    escalate.push(...rule.escalate)
    if (!rule.continue) break
  }
  if (matched.length === 0) return { channels: opts.routes[e.severity], escalate: [], rules: [] }
  return { channels, escalate, rules: matched }
}
