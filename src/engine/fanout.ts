/**
 * Fan-out: one alert, or a digest that travels together, goes to every channel of its route in
 * parallel; each channel that fails gets a failover stand-in (SPEC §7): the next channel of `failover`
 * that is enabled, healthy and not already in this alert's route, until one delivers. A stand-in
 * already sending for another failed channel of the same alert stands in for both.
 */
import type { Deliverer, DeliveryReport } from '../delivery/deliverer.js'
import type { AlertEvent } from '../event.js'

/** Every report, routed channels first, then stand-ins (with `standInFor`). */
export async function fanOut (
  deliverers: ReadonlyMap<string, Deliverer>,
  failoverList: readonly string[],
  events: AlertEvent[],
  route: readonly string[]
): Promise<DeliveryReport[]> {
  const send = (d: Deliverer): Promise<DeliveryReport> => (events.length === 1 ? d.deliver(events[0] as AlertEvent) : d.deliverBatch(events))
  const standIns = new Map<string, { report: Promise<DeliveryReport>, stands: string[] }>()
  const failover = async (failed: DeliveryReport): Promise<void> => {
    const from = failoverList.indexOf(failed.channel)
    for (const name of failoverList.slice(from + 1)) {
      if (route.includes(name) || name === failed.channel) continue
      const d = deliverers.get(name)
      if (d === undefined) continue
      const existing = standIns.get(name)
      if (existing !== undefined) {
        const r = await existing.report
        if (r.ok) { existing.stands.push(failed.channel); r.standInFor = existing.stands.join(','); return }
        continue
      }
      if (!d.healthy) continue
      const entry = { report: send(d), stands: [failed.channel] }
      standIns.set(name, entry)
      const r = await entry.report
      r.standInFor = entry.stands.join(',')
      if (r.ok) return
    }
  }
  const routed = await Promise.all(route.map(async (name) => {
    const d = deliverers.get(name)
    const r: DeliveryReport = d !== undefined ? await send(d) : { channel: name, ok: false, attempts: 0, error: `${name}: channel could not start` }
    if (!r.ok) await failover(r)
    return r
  }))
  const standInReports: DeliveryReport[] = []
  for (const entry of standIns.values()) standInReports.push(await entry.report)
  return [...routed, ...standInReports]
}
