/**
 * At start: what the last run left in the outbox goes to the channels that had not delivered it, and
 * stored escalation steps are re-armed. Tools beside a running app never call this (AlerterDeps.replay).
 */
import { AlertEvent } from '../event.js'
import type { Escalator } from '../pipeline/escalate.js'
import type { Reporter } from '../report.js'
import type { StoreGateway } from '../store/gateway.js'
import type { Counters } from './record.js'
import type { InFlight } from './inflight.js'
import type { Deliver } from './types.js'

export function replay (deps: { store: StoreGateway, reporter: Reporter, counters: Counters, inflight: InFlight, deliver: Deliver, escalator: Escalator | undefined }): void {
  const { store, reporter, counters, inflight, deliver, escalator } = deps
  if (store.store === undefined) return
  const pending = store.read('read the outbox', (s) => s.unsettled())
  if (pending === undefined) return
  if (pending.length > 0) reporter.notice(`pino-alerts: delivering ${pending.length} alert(s) left undelivered by the last run (store ${store.store.path})`)
  for (const p of pending) {
    let event: AlertEvent
    try { event = AlertEvent.fromJSON(p.event) } catch (err) { reporter.notice(`pino-alerts: store: skipping unreadable outbox entry: ${(err as Error).message}`); continue }
    const done = new Set<string>()
    for (const r of p.receipts) {
      if (!r.ok) continue
      done.add(r.channel)
      for (const c of (r.standInFor ?? '').split(',')) if (c !== '') done.add(c)
    }
    const remaining = p.routes.filter((c) => !done.has(c))
    if (remaining.length === 0) { store.write('settle', (s) => s.settle(event.id)); continue }
    counters.alerts++
    void inflight.track(deliver([event], remaining))
  }
  try {
    const n = escalator?.restore() ?? 0
    if (n > 0) reporter.notice(`pino-alerts: ${n} pending escalation step(s) re-armed from the store`)
  } catch (err) { reporter.notice(`pino-alerts: store: could not re-arm escalations: ${(err as Error).message}`) }
}
