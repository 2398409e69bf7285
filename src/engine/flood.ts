/**
 * Flood mode. Each alert delivered on its own holds a chain of pending promises (about 5 kB) until its
 * channels answer; a rate-limited channel makes a burst of critical alerts (never dropped) wait for
 * seconds. Beyond FLOOD_AT alerts in flight, critical alerts that share a route travel in batches
 * instead: one delivery (a digest per channel) for everything that arrived in the same turn of the
 * event loop (one chunk of log lines), so a waiting alert costs little more than the event itself
 * (~0.3 kB) and none waits longer than that turn. Info and warn alerts need none of this: beyond
 * maxQueue they are dropped (and counted).
 */
import type { DeliveryReport } from '../delivery/deliverer.js'
import type { AlertEvent } from '../event.js'
import type { RouteDecision } from '../pipeline/route.js'
import type { Reporter } from '../report.js'
import type { InFlight } from './inflight.js'
import type { Deliver, DispatchResult } from './types.js'

const FLOOD_AT = 1000

interface Flood {
  decision: RouteDecision
  events: AlertEvent[]
  /** dispatch() callers waiting for their result (post() leaves none). */
  waiters: Array<{ event: AlertEvent, resolve: (r: DispatchResult) => void }>
  /** Alerts that came by post(): they leave `busy` when the batch is done (dispatch()'s leave on their own). */
  posted: number
  timer: NodeJS.Immediate
}

export class Floods {
  private readonly open = new Map<string, Flood>()
  private readonly sending = new Map<Promise<void>, Flood>()

  constructor (private readonly deps: {
    deliver: Deliver
    inflight: InFlight
    reporter: Reporter
    /** Grouping replaces flood batches (a group is its own digest). */
    grouping: boolean
    /** After a batch's delivery: each alert's escalation. */
    delivered: (event: AlertEvent, decision: RouteDecision) => void
  }) {}

  floodable (event: AlertEvent, decision: RouteDecision): boolean {
    return this.deps.inflight.busy > FLOOD_AT && event.severity === 'critical' && !this.deps.grouping && decision.channels.length > 0
  }

  join (event: AlertEvent, decision: RouteDecision, resolve?: (r: DispatchResult) => void): void {
    const key = JSON.stringify([decision.channels, decision.escalate])
    let f = this.open.get(key)
    if (f === undefined) {
      const timer = setImmediate(() => this.close(key))
      f = { decision, events: [], waiters: [], posted: 0, timer }
      this.open.set(key, f)
    }
    f.events.push(event)
    if (resolve !== undefined) f.waiters.push({ event, resolve })
    else f.posted++
  }

  /** Sends every open batch now (flush, close). */
  closeAll (): void {
    for (const key of [...this.open.keys()]) this.close(key)
  }

  /**
   * The delivery of the batch that carries a firing alert of this fingerprint, if any (an open batch
   * is sent now). Alerts in batches have no map entry of their own (memory): a resolve, which is
   * rare, looks through the batches instead.
   */
  carrying (fingerprint: string): Promise<void> | undefined {
    for (const [key, f] of this.open) {
      if (f.events.some((e) => e.fingerprint === fingerprint)) { this.close(key); break }
    }
    for (const [done, f] of this.sending) if (f.events.some((e) => e.fingerprint === fingerprint)) return done
    return undefined
  }

  private close (key: string): void {
    const f = this.open.get(key)
    if (f === undefined) return
    this.open.delete(key)
    clearImmediate(f.timer)
    this.deps.inflight.track(this.send(f)).catch((err: Error) => { this.deps.reporter.notice(`pino-alerts: ${f.events.length} alert(s) of a flood batch not delivered: ${err.message}`) })
  }

  private async send (f: Flood): Promise<void> {
    let settled!: () => void
    const done = new Promise<void>((resolve) => { settled = resolve })
    this.sending.set(done, f)
    let deliveries: DeliveryReport[] = []
    try {
      deliveries = await this.deps.deliver(f.events, f.decision.channels)
    } finally {
      this.sending.delete(done)
      this.deps.inflight.busy -= f.posted
      settled()
    }
    const size = f.events.length
    const reports = size > 1 ? deliveries.map((r) => ({ ...r, digestOf: r.digestOf ?? size })) : deliveries
    for (const e of f.events) this.deps.delivered(e, f.decision)
    for (const w of f.waiters) w.resolve({ id: w.event.id, deliveries: reports })
  }
}
