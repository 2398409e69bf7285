/**
 * What happened to each alert, once its deliveries are in: the counters (delivered / failed), the
 * store's receipts and settling, the firing index for resolves, and the stderr notice for an alert
 * that was lost.
 */
import type { Deliverer, DeliveryReport } from '../delivery/deliverer.js'
import type { AlertEvent } from '../event.js'
import type { Reporter } from '../report.js'
import type { Outbox } from '../store/outbox.js'
import type { Resolves } from './resolves.js'
import { alertRef } from './types.js'

export interface Counters { alerts: number, rejected: number, delivered: number, failed: number, suppressed: number }

export class Recorder {
  readonly counters: Counters = { alerts: 0, rejected: 0, delivered: 0, failed: 0, suppressed: 0 }

  constructor (private readonly deps: {
    reporter: Reporter
    outbox: Outbox
    resolves: Resolves
    deliverers: ReadonlyMap<string, Deliverer>
    /** Aborted at the shutdown deadline. */
    stop: AbortSignal
  }) {}

  record (events: readonly AlertEvent[], deliveries: readonly DeliveryReport[]): void {
    const { reporter, outbox, resolves, deliverers, stop } = this.deps
    const standInOk = new Set(deliveries.filter((r) => r.ok && r.standInFor !== undefined).flatMap((r) => (r.standInFor ?? '').split(',')))
    const lost = deliveries.filter((r) => !r.ok && r.standInFor === undefined && !standInOk.has(r.channel))
    // Outcomes cut short by the shutdown deadline are not final: the alert stays in the outbox and is
    // delivered at the next start. Everything else is a receipt, and the alert is settled.
    const cutShort = stop.aborted && deliveries.some((r) => !r.ok)
    const okChannels = deliveries.filter((r) => r.ok).map((r) => r.channel)
    // The event itself is kept only where an acknowledgement will need it (channels with incident state).
    const keepEvent = okChannels.some((c) => deliverers.get(c)?.channel.acknowledge !== undefined)
    // A route that resolves to no channel (a type nobody configured, every channel disabled, an empty
    // rule) delivers nothing: that is a failure to report, not a delivery.
    const nowhere = deliveries.length === 0
    for (const event of events) {
      if (nowhere) {
        this.counters.failed++
        reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: its route has no enabled channel (see routes; a channel type in a route needs a channel of that type)`)
      } else if (lost.length === 0) this.counters.delivered++
      else {
        this.counters.failed++
        reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: ${lost.map((r) => r.error ?? r.channel).join('; ')}`)
      }
      outbox.delivered(event.id, deliveries, !cutShort)
      if (event.status === 'firing' && okChannels.length > 0) resolves.remember(event, okChannels, keepEvent)
    }
  }
}
