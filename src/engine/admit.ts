/**
 * Admission: the synchronous front of the pipeline for a firing alert, the same for `dispatch` and
 * `post`: silence → inhibit → dedupe → route, then the outbox write (before any delivery). Either the
 * alert is suppressed (stored with why, counted on the channels it would have gone to), or it goes
 * out on the route decided here.
 */
import type { Deliverer } from '../delivery/deliverer.js'
import { AlertEvent } from '../event.js'
import type { ResolvedOptions } from '../options.js'
import type { Deduper } from '../pipeline/dedupe.js'
import type { Inhibitor } from '../pipeline/inhibit.js'
import { routeFor, type RouteDecision } from '../pipeline/route.js'
import type { Silences } from '../pipeline/silence.js'
import type { StoreGateway } from '../store/gateway.js'
import type { Counters } from './record.js'
import type { DispatchResult } from './types.js'

export type Admitted = { result: DispatchResult } | { event: AlertEvent, decision: RouteDecision }

export class Admission {
  /** Replaced once the store is open (silences stored by other processes count too). */
  silences: Silences

  constructor (private readonly deps: {
    opts: ResolvedOptions
    now: () => number
    store: StoreGateway
    counters: Counters
    deliverers: ReadonlyMap<string, Deliverer>
    silences: Silences
    inhibitor: Inhibitor | undefined
    deduper: Deduper | undefined
  }) {
    this.silences = deps.silences
  }

  admit (input: AlertEvent): Admitted {
    const { deduper, inhibitor, opts, now, store } = this.deps
    let event = input
    const silence = this.silences.match(event)
    if (silence !== undefined) return { result: this.suppress(event, 'silence', `silence ${silence.id}`) }
    const inhibitedBy = inhibitor?.inhibitedBy(event) ?? -1
    if (inhibitedBy >= 0) return { result: this.suppress(event, 'inhibit', `inhibit[${inhibitedBy}]`) }
    if (deduper !== undefined) {
      const d = deduper.check(event)
      if (d.suppress) return { result: this.suppress(event, 'dedupe', `repeat ${d.repeats} within ${deduper.windowFor(event)} ms`) }
      if (d.repeats > 0) event = new AlertEvent({ ...event.toJSON(), title: `${event.title} (+${d.repeats} repeat${d.repeats === 1 ? '' : 's'} suppressed)` })
    }
    const decision = routeFor(event, opts, new Date(now()))
    const routed = event
    store.write('write the alert', (s) => s.insert(routed.toJSON(), decision.channels, now()))
    return { event, decision }
  }

  /** Stores a suppressed alert and counts it on the channels it would have gone to. */
  suppress (event: AlertEvent, why: NonNullable<DispatchResult['suppressed']>, detail?: string): DispatchResult {
    const { counters, deliverers, opts, now, store } = this.deps
    counters.suppressed++
    if (why !== 'resolve-unknown') for (const c of routeFor(event, opts, new Date(now())).channels) deliverers.get(c)?.countSuppressed()
    store.write('write the alert', (s) => s.insert(event.toJSON(), [], now(), why))
    return detail === undefined ? { id: event.id, deliveries: [], suppressed: why } : { id: event.id, deliveries: [], suppressed: why, detail }
  }
}
