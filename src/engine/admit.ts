/**
 * Admission: the synchronous front of the pipeline for a firing alert, the same for `dispatch` and
 * `post`: silence → inhibit → route (mute) → dedupe, then the outbox write (before any delivery).
 * Either the alert is suppressed (stored with why, counted on the channels it would have gone to), or
 * it goes out on the route decided here. An alert whose matching rules are all muted (muteTime,
 * activeTime) is suppressed as `mute` before dedupe sees it: a notification nobody got does not open
 * a dedupe window, so the first repeat after the mute ends is sent.
 */
import type { Deliverer } from '../delivery/deliverer.js'
import { AlertEvent } from '../event.js'
import type { ResolvedOptions } from '../options.js'
import type { Deduper } from '../pipeline/dedupe.js'
import type { Inhibitor } from '../pipeline/inhibit.js'
import { mutedDetail, routeFor, type RouteDecision } from '../pipeline/route.js'
import type { Silences } from '../pipeline/silence.js'
import type { Outbox } from '../store/outbox.js'
import type { Counters } from './record.js'
import type { DispatchResult } from './types.js'

export type Admitted = { result: DispatchResult } | { event: AlertEvent, decision: RouteDecision }

export class Admission {
  /** Replaced once the store is open (silences stored by other processes count too). */
  silences: Silences

  constructor (private readonly deps: {
    opts: ResolvedOptions
    now: () => number
    outbox: Outbox
    counters: Counters
    deliverers: ReadonlyMap<string, Deliverer>
    silences: Silences
    inhibitor: Inhibitor | undefined
    deduper: Deduper | undefined
  }) {
    this.silences = deps.silences
  }

  admit (input: AlertEvent): Admitted {
    const { deduper, inhibitor, opts, now, outbox } = this.deps
    let event = input
    const silence = this.silences.match(event)
    if (silence !== undefined) return { result: this.suppress(event, 'silence', `silence ${silence.id}`) }
    const inhibitedBy = inhibitor?.inhibitedBy(event) ?? -1
    if (inhibitedBy >= 0) return { result: this.suppress(event, 'inhibit', `inhibit[${inhibitedBy}]`) }
    const at = new Date(now())
    let decision = routeFor(event, opts, at)
    if (isMuted(decision)) return { result: this.suppress(event, 'mute', mutedDetail(decision.muted), decision) }
    if (deduper !== undefined) {
      const d = deduper.check(event)
      if (d.suppress) return { result: this.suppress(event, 'dedupe', `repeat ${d.repeats} within ${deduper.windowFor(event)} ms`, decision) }
      if (d.repeats > 0) {
        event = new AlertEvent({ ...event.toJSON(), title: `${event.title} (+${d.repeats} repeat${d.repeats === 1 ? '' : 's'} suppressed)` })
        // Rules may match on the title: the one sent is routed.
        decision = routeFor(event, opts, at)
        if (isMuted(decision)) return { result: this.suppress(event, 'mute', mutedDetail(decision.muted), decision) }
      }
    }
    outbox.admitted(event, decision.channels)
    return { event, decision }
  }

  /**
   * Stores a suppressed alert and counts it on the channels it would have gone to (for a mute: the
   * muted rules' channels). `decision`: the route already decided for it, if any.
   */
  suppress (event: AlertEvent, why: NonNullable<DispatchResult['suppressed']>, detail?: string, decision?: RouteDecision): DispatchResult {
    const { counters, deliverers, opts, now, outbox } = this.deps
    counters.suppressed++
    if (why !== 'resolve-unknown') {
      const d = decision ?? routeFor(event, opts, new Date(now()))
      for (const c of why === 'mute' ? mutedChannels(d, opts) : d.channels) deliverers.get(c)?.countSuppressed()
    }
    outbox.suppressed(event, why)
    return detail === undefined ? { id: event.id, deliveries: [], suppressed: why } : { id: event.id, deliveries: [], suppressed: why, detail }
  }
}

/** Every matching rule was muted (and none added a channel): nobody is notified. */
function isMuted (d: RouteDecision): boolean {
  return d.channels.length === 0 && d.muted.length > 0
}

/** The channels the muted rules of a decision would have notified. */
function mutedChannels (d: RouteDecision, opts: ResolvedOptions): string[] {
  const out: string[] = []
  for (const m of d.muted) {
    for (const c of opts.rules?.find((r) => r.index === m.rule)?.channels ?? []) if (!out.includes(c)) out.push(c)
  }
  return out
}
