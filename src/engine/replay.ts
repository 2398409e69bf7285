/**
 * The outbox and the lease (SPEC §9, §15). At start, what the last run left undelivered goes to the
 * channels that had not delivered it, and its pending escalation steps are re-armed; then, every
 * min(leaseMs, 5 s), the same take-over runs for whatever a process sharing the store left behind
 * when it died. Only what no live process owns is taken: no owner, an owner that ended, one whose
 * heartbeat is older than its lease, or one whose pid is gone from this machine (a crash, SIGKILL:
 * the next start does not wait out the lease). And only what this process has the remaining channels
 * for; the rest waits for a process that has them.
 *
 * Tools beside a running app never run this (AlerterDeps.replay: false): they never replay, take
 * over, or apply retention.
 */
import { forgetOldest } from '../bounded.js'
import { AlertEvent } from '../event.js'
import type { Escalator } from '../pipeline/escalate.js'
import type { Reporter } from '../report.js'
import type { StoreGateway } from '../store/gateway.js'
import type { Outbox } from '../store/outbox.js'
import { localHost, pidRunning, type Liveness, type Outboxed, type ProcessRow } from '../store/sqlite.js'
import type { Counters } from './record.js'
import type { InFlight } from './inflight.js'
import type { Deliver } from './types.js'

/** How many alert ids already reported as needing channels this process lacks are remembered. */
const REPORTED_MAX = 10_000

export interface ReplayDeps {
  store: StoreGateway
  outbox: Outbox
  reporter: Reporter
  counters: Counters
  inflight: InFlight
  deliver: Deliver
  escalator: () => Escalator | undefined
  /** Whether this process has a channel of that name (started). */
  has: (channel: string) => boolean
  /** `store.leaseMs`: a take-over runs every min(leaseMs, 5 s). */
  leaseMs: number
  /** The live counters written with the heartbeat. */
  stats: () => unknown
}

/** How often a process sharing the store with this lease heartbeats: three times a lease, at most every 5 s. */
export function heartbeatMs (leaseMs: number): number {
  return Math.max(50, Math.min(5000, Math.floor(leaseMs / 3)))
}

export class Replayer {
  private timer: NodeJS.Timeout | undefined
  /** Alert ids already reported as needing channels this process does not have. */
  private readonly reported = new Map<string, true>()

  constructor (private readonly deps: ReplayDeps) {}

  /** The first heartbeat, the replay at start, then a take-over every min(leaseMs, 5 s) (unref'd). */
  start (): void {
    const { store, leaseMs } = this.deps
    if (store.store === undefined) return
    store.write('write the heartbeat', (s) => s.register(this.deps.stats()))
    this.takeOver(true)
    this.timer = setInterval(() => this.takeOver(false), Math.min(leaseMs, 5000))
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private takeOver (atStart: boolean): void {
    const { store, reporter } = this.deps
    const me = store.store?.owner
    if (store.store === undefined || me === undefined) return
    const path = store.store.path
    const rows = store.read('read the processes', (s) => s.processes())
    if (rows === undefined) return
    const live = liveness(rows, me, this.deps.leaseMs)
    const lacking: Array<{ id: string, channels: string[] }> = []
    const alerts = store.read('take over undelivered alerts', (s) => s.takeOverAlerts(me, live, (o) => {
      const missing = remaining(o).filter((c) => !this.deps.has(c))
      if (missing.length > 0) lacking.push({ id: o.event.id, channels: missing })
      return missing.length === 0
    })) ?? []
    // Those whose channels had all delivered (settled here) are not worth a line.
    const undelivered = alerts.filter((p) => remaining(p).length > 0)
    if (undelivered.length > 0) {
      if (atStart) reporter.notice(`pino-alerts: delivering ${undelivered.length} alert(s) left undelivered by the last run (store ${path})`)
      else for (const [from, n] of countBy(undelivered)) reporter.notice(`pino-alerts: taking over ${n} alert(s) left undelivered by process ${from ?? '(none recorded)'} (${why(from, rows, live)}) in store ${path}`)
    }
    for (const p of alerts) this.redeliver(p)
    this.reportLacking(lacking, path)

    const escalator = this.deps.escalator()
    if (escalator === undefined) return
    const steps = store.read('take over escalation steps', (s) => s.takeOverSteps(me, live, (channels) => channels.every((c) => this.deps.has(c)))) ?? []
    if (steps.length === 0) return
    if (atStart) reporter.notice(`pino-alerts: ${steps.length} pending escalation step(s) re-armed from the store`)
    else for (const [from, n] of countBy(steps)) reporter.notice(`pino-alerts: taking over ${n} pending escalation step(s) of process ${from ?? '(none recorded)'} (${why(from, rows, live)})`)
    try { escalator.adopt(steps) } catch (err) { reporter.notice(`pino-alerts: store: could not re-arm escalations: ${(err as Error).message}`) }
  }

  /** One alert taken over: to the channels that had not delivered it. */
  private redeliver (p: Outboxed): void {
    const { outbox, reporter, counters, inflight, deliver } = this.deps
    let event: AlertEvent
    try { event = AlertEvent.fromJSON(p.event) } catch (err) { reporter.notice(`pino-alerts: store: skipping unreadable outbox entry: ${(err as Error).message}`); return }
    const rest = remaining(p)
    if (rest.length === 0) { outbox.settle(event.id); return }
    counters.alerts++
    void inflight.track(deliver([event], rest))
  }

  /** Once per alert: left for a process that has its channels. */
  private reportLacking (lacking: ReadonlyArray<{ id: string, channels: string[] }>, path: string): void {
    const fresh = lacking.filter((l) => !this.reported.has(l.id))
    if (fresh.length === 0) return
    for (const l of fresh) this.reported.set(l.id, true)
    if (this.reported.size > REPORTED_MAX) forgetOldest(this.reported, REPORTED_MAX * 0.75)
    const channels = [...new Set(fresh.flatMap((l) => l.channels))].sort()
    this.deps.reporter.notice(`pino-alerts: ${fresh.length} undelivered alert(s) in store ${path} need channel(s) this process does not have (${channels.join(', ')}); left for a process that has them`)
  }
}

/** The routed channels that have not delivered the alert (directly or through a stand-in). */
function remaining (o: Outboxed): string[] {
  const done = new Set<string>()
  for (const r of o.receipts) {
    if (!r.ok) continue
    done.add(r.channel)
    for (const c of (r.standInFor ?? '').split(',')) if (c !== '') done.add(c)
  }
  return o.routes.filter((c) => !done.has(c))
}

/**
 * Now, and the owners known to be gone: a process on this machine (same host, boot and PID namespace)
 * whose heartbeat is still fresh but whose pid no longer exists.
 */
function liveness (rows: readonly ProcessRow[], me: string, leaseMs: number, now = Date.now()): Liveness {
  const here = localHost()
  const gone = rows.filter((p) => p.process !== me && p.endedAt === undefined && p.host === here && p.pid !== undefined &&
    p.pid !== process.pid && now - p.at <= (p.leaseMs ?? leaseMs) && !pidRunning(p.pid)).map((p) => p.process)
  return { now, leaseMs, gone }
}

/** Why an owner counts as dead, for the notice. */
function why (from: string | null, rows: readonly ProcessRow[], live: Liveness): string {
  if (from === null) return 'written before owners were recorded, or by a tool'
  const row = rows.find((p) => p.process === from)
  if (row === undefined) return 'no heartbeat recorded'
  if (row.endedAt !== undefined) return 'it ended'
  if (live.gone.includes(from)) return `pid ${row.pid ?? '?'} has exited`
  return `no heartbeat for ${((live.now - row.at) / 1000).toFixed(1)} s; store.leaseMs ${row.leaseMs ?? live.leaseMs}`
}

function countBy (items: ReadonlyArray<{ from: string | null }>): Map<string | null, number> {
  const out = new Map<string | null, number>()
  for (const i of items) out.set(i.from, (out.get(i.from) ?? 0) + 1)
  return out
}
