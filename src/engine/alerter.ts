/**
 * The engine behind the transport, the CLI and library use. `createAlerter` wires the stages, each a
 * file with one job and its own state:
 *   admit.ts     silence → inhibit → dedupe → route → outbox write (dispatch and post alike)
 *   fanout.ts    delivery to a route in parallel, failover stand-ins
 *   record.ts    counters, receipts and settling, "not delivered" notices
 *   resolves.ts  the firing index and resolved events
 *   flood.ts     batches when thousands are in flight
 *   inflight.ts  what flush and close wait for
 *   replay.ts    the outbox left by the last run, and take-over in a shared store (SPEC §15)
 * and owns the lifecycle: start (channels and store), dispatch, flush, close. It never throws into
 * the caller.
 */
import { setMaxListeners } from 'node:events'
import { hostname } from 'node:os'
import { createChannel } from '../channels/channel.js'
import { Deliverer, type ChannelStats, type DeliveryReport } from '../delivery/deliverer.js'
import { ConfigError, isStoreError, PinoAlertsError } from '../errors.js'
import { AlertEvent } from '../event.js'
import { releaseHttpAgent, retainHttpAgent } from '../http/client.js'
import { resolveOptions, type AlertsOptions, type ResolvedOptions } from '../options.js'
import { Deduper } from '../pipeline/dedupe.js'
import { Escalator } from '../pipeline/escalate.js'
import { Grouper } from '../pipeline/group.js'
import { Inhibitor } from '../pipeline/inhibit.js'
import type { RouteDecision } from '../pipeline/route.js'
import { Silences, type Silence, type SilenceInput } from '../pipeline/silence.js'
import { redact } from '../redact.js'
import { Reporter } from '../report.js'
import { escalationStore, StoreGateway } from '../store/gateway.js'
import { Outbox } from '../store/outbox.js'
import type { AlertStore, HistoryEntry, HistoryQuery, Receipt, Summary, SummaryQuery } from '../store/sqlite.js'
import { tellChannels, type AckOutcome } from './ack.js'
import { Admission } from './admit.js'
import { StartQueue } from './early.js'
import { fanOut } from './fanout.js'
import { Floods } from './flood.js'
import { InFlight } from './inflight.js'
import { Recorder } from './record.js'
import { heartbeatMs, Replayer } from './replay.js'
import { Resolves } from './resolves.js'
import { configSnapshot } from './snapshot.js'
import { Summarizer } from './summary.js'
import { alertRef, type Acknowledgement, type Alerter, type AlerterDeps, type AlerterStats, type Deliver, type DispatchResult } from './types.js'

/** Validates options synchronously (throws ConfigError); channel modules load in the background. */
export function createAlerter (options: AlertsOptions | ResolvedOptions = {}, deps: AlerterDeps = {}): Alerter {
  return new Engine(isResolved(options) ? options : resolveOptions(options, deps.env ?? process.env), deps)
}

class Engine implements Alerter {
  readonly options: ResolvedOptions
  readonly reporter: Reporter
  readonly ready: Promise<void>
  private readonly now: () => number
  private readonly stop = new AbortController()
  private readonly deliverers = new Map<string, Deliverer>()
  private readonly inflight = new InFlight()
  private readonly store: StoreGateway
  /** The one writer of alerts, receipts, settlements and acknowledgements (through the gateway). */
  private readonly outbox: Outbox
  private readonly deduper: Deduper | undefined
  private readonly inhibitor: Inhibitor | undefined
  private readonly grouper: Grouper<{ reports: DeliveryReport[], size: number }> | undefined
  private readonly resolves: Resolves
  private readonly recorder: Recorder
  private readonly admission: Admission
  private readonly floods: Floods
  private readonly summarizer: Summarizer
  private readonly deliver: Deliver
  /** This engine in a shared store: the owner of what it writes, the key of its heartbeat row. */
  private readonly processId = `${process.pid}@${hostname()}#${Math.random().toString(36).slice(2, 8)}`
  private readonly heartbeatTimer: NodeJS.Timeout
  /** A heartbeat due soon: a channel's circuit changed state (see `beatSoon`). */
  private soonTimer: NodeJS.Timeout | undefined
  /** Set for an engine that owns its outbox (AlerterDeps.replay); tools beside the app have none. */
  private readonly replayer: Replayer | undefined
  private readonly loaded: Promise<Array<PromiseSettledResult<void>>>
  /** Set once channels and the store are up: until then alerts wait for them in `run`. */
  private readonly started: Promise<Array<PromiseSettledResult<void>>>
  private isStarted = false
  /** Alerts dispatched before start (bounded: see early.ts). */
  private readonly early: StartQueue
  private escalator: Escalator | undefined
  private closing: Promise<void> | undefined

  constructor (opts: ResolvedOptions, deps: AlerterDeps) {
    this.options = opts
    this.reporter = deps.reporter ?? new Reporter()
    for (const w of opts.warnings) this.reporter.notice(w)
    retainHttpAgent()
    // Every delivery in flight listens to the stop signal (and removes its listener when done): more than
    // 10 at once is normal, not a leak (Node's MaxListenersExceededWarning).
    setMaxListeners(0, this.stop.signal)
    const now = this.now = deps.now ?? Date.now
    const store = this.store = new StoreGateway(this.reporter)
    const outbox = this.outbox = new Outbox((what, fn) => { store.write(what, fn) }, now)
    this.deduper = opts.dedupe === undefined ? undefined : new Deduper(opts.dedupe, now)
    this.inhibitor = opts.inhibit.length === 0 ? undefined : new Inhibitor(opts.inhibit, now)
    this.deliver = async (events, route) => {
      const deliveries = await fanOut(this.deliverers, opts.failover, events, route)
      this.recorder.record(events, deliveries)
      return deliveries
    }
    this.resolves = new Resolves({
      outbox,
      lastDelivered: (fingerprint) => store.read('read the last delivery of a fingerprint', (s) => s.lastDelivered(fingerprint)),
      deliver: this.deliver,
      now,
      floodCarrying: (fingerprint) => this.floods.carrying(fingerprint),
      suppress: (event, why, detail) => this.admission.suppress(event, why, detail),
      ended: (fingerprint, firingId) => {
        this.deduper?.forget(fingerprint)
        if (firingId !== '') this.escalator?.cancel(firingId)
      }
    })
    this.recorder = new Recorder({ reporter: this.reporter, outbox, resolves: this.resolves, deliverers: this.deliverers, stop: this.stop.signal })
    this.admission = new Admission({
      opts, now, outbox, counters: this.recorder.counters, deliverers: this.deliverers,
      silences: new Silences(opts.silences, undefined, now), inhibitor: this.inhibitor, deduper: this.deduper
    })
    this.grouper = opts.group === undefined
      ? undefined
      : new Grouper(opts.group, async (events, channels) => ({ reports: await this.deliver(events, channels), size: events.length }), now)
    this.floods = new Floods({ deliver: this.deliver, inflight: this.inflight, reporter: this.reporter, grouping: this.grouper !== undefined, delivered: (e, d) => this.scheduleEscalation(e, d) })
    this.summarizer = new Summarizer(this.deliverers, this.reporter, deps.summaryIntervalMs ?? 60_000)
    // With a store, once this process owns something there (or replays), its heartbeat row with the
    // live counters (the dashboard's /metrics) is written three times a lease, at most every 5 s.
    this.heartbeatTimer = setInterval(() => { this.beat() }, heartbeatMs(opts.store?.leaseMs ?? 30_000))
    this.heartbeatTimer.unref()
    this.replayer = deps.replay === false || opts.store === undefined
      ? undefined
      : new Replayer({
        store, outbox, reporter: this.reporter, counters: this.recorder.counters, inflight: this.inflight, deliver: this.deliver,
        escalator: () => this.escalator, has: (c) => this.deliverers.has(c), leaseMs: opts.store.leaseMs, stats: () => this.stats()
      })
    // As many as the largest queue of a channel could hold (a loop, not Math.max(...): no spread of a list).
    let maxQueue = 0
    for (const c of opts.channels) if (c.enabled && c.maxQueue > maxQueue) maxQueue = c.maxQueue
    if (maxQueue === 0) maxQueue = 10_000
    this.early = new StartQueue(maxQueue, (w) => {
      this.recorder.counters.failed++
      this.reporter.notice(`pino-alerts: ${alertRef(w.event)} dropped before start: more than ${maxQueue} alerts waiting (the oldest info, then warn alerts go first; critical never)`)
      w.resolve({ id: w.event.id, deliveries: [], error: `dropped before start: queue full (maxQueue ${maxQueue})` })
    })
    this.loaded = this.load()
    this.started = this.loaded.then((results) => {
      this.isStarted = true
      this.admission.silences = new Silences(opts.silences, store.store, now, (err) => { this.reporter.notice(`pino-alerts: store: could not read silences: ${err.message}`) })
      // A step's delivery is tracked like any other: flush and close wait for it.
      this.escalator = new Escalator(async (event, channels, step) => {
        try {
          await this.inflight.track(this.deliver([event], channels))
          return !this.stop.signal.aborted
        } catch (err) {
          this.reporter.notice(`pino-alerts: ${alertRef(event)}: escalation step ${step + 1} not delivered: ${(err as Error).message}`)
          return false
        }
      }, escalationStore(store), now)
      for (const w of this.early.drain()) {
        void this.run(w.event).then(w.resolve, (err: Error) => { w.resolve({ id: w.event.id, deliveries: [], error: err.message }) })
      }
      return results
    })
    this.ready = this.started.then((results) => {
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error)
      // A store that cannot open keeps its own error (code, message): it is the one to fix first.
      const storeError = failed.find((e) => isStoreError(e))
      if (storeError !== undefined) throw storeError
      // A channel module that cannot load is a configuration problem: a ConfigError naming
      // `channels.<name>.module` (with any other channel's failure as one more issue).
      if (failed.some((e) => e instanceof ConfigError)) throw new ConfigError(failed.flatMap((e) => e instanceof ConfigError ? e.issues : [e.message]))
      if (failed.length > 0) throw new Error(failed.map((e) => e.message).join('; '))
      if (this.closing === undefined) this.replayer?.start()
    })
    // One line: a ConfigError's issues joined (its message spans lines, which a notice shows as `\n`).
    this.ready.catch((err: Error) => this.reporter.notice(`pino-alerts: ${err instanceof ConfigError ? `invalid options: ${err.issues.join('; ')}` : err.message}`))
  }

  /**
   * Channels start independently: one that cannot start (say, an unwritable file path, or a channel
   * module that cannot load: a ConfigError) is reported and `ready` rejects, while the others still deliver.
   */
  private async load (): Promise<Array<PromiseSettledResult<void>>> {
    const opts = this.options
    const openStore = async (): Promise<void> => {
      if (opts.store === undefined) return
      const { AlertStore: Store } = await import('../store/sqlite.js')
      // Retention belongs to the engine that owns the outbox, never to a tool beside the app.
      // The heartbeat row carries this process's configuration, secrets left out (the dashboard's "Channels & routing").
      this.store.store = Store.open({ ...opts.store, busyTimeoutMs: STORE_BUSY_MS, retention: this.replayer !== undefined, process: this.processId, config: configSnapshot(opts) })
    }
    return await Promise.allSettled([openStore(), ...opts.channels.filter((c) => c.enabled).map(async (cfg) => {
      try {
        const channel = await createChannel(cfg)
        const deliverer = new Deliverer(channel, cfg, this.stop.signal)
        deliverer.onCircuitChange = () => { this.beatSoon() }
        this.deliverers.set(cfg.name, deliverer)
      } catch (err) {
        // Already names the option and holds no secret (createChannel redacts it).
        if (err instanceof ConfigError) throw err
        throw new Error(`channel "${cfg.name}" could not start: ${redact((err as Error).message, cfg.secrets)}`)
      }
    })])
  }

  dispatch (input: AlertEvent | Parameters<Alerter['dispatch']>[0]): Promise<DispatchResult> {
    const { counters } = this.recorder
    let event: AlertEvent
    try {
      event = AlertEvent.from(input)
    } catch (err) {
      counters.rejected++
      return Promise.resolve({ id: '', deliveries: [], error: (err as Error).message })
    }
    if (this.closing !== undefined) {
      counters.rejected++
      this.reporter.notice(`pino-alerts: ${alertRef(event)} dispatched after close; not sent`)
      return Promise.resolve({ id: event.id, deliveries: [], error: 'alerter is closed' })
    }
    counters.alerts++
    this.inflight.busy++
    const result = this.isStarted ? this.run(event) : new Promise<DispatchResult>((resolve) => { this.early.add(event, resolve) })
    return this.inflight.track(result).finally(() => { this.inflight.busy-- })
  }

  post (event: AlertEvent): void {
    if (this.closing !== undefined || !this.isStarted || event.status === 'resolved') { void this.dispatch(event); return }
    this.recorder.counters.alerts++
    let admitted: ReturnType<Admission['admit']>
    try {
      this.inhibitor?.observe(event)
      admitted = this.admission.admit(event)
    } catch (err) {
      // Never thrown into the transport's write path: the alert is reported and counted as failed.
      this.recorder.counters.failed++
      this.reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: ${(err as Error).message}`)
      return
    }
    if ('result' in admitted) return
    this.inflight.busy++
    if (this.floods.floodable(admitted.event, admitted.decision)) { this.floods.join(admitted.event, admitted.decision); return }
    this.inflight.track(this.deliverOne(admitted.event, admitted.decision))
      .catch((err: Error) => { this.reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: ${err.message}`) })
      .finally(() => { this.inflight.busy-- })
  }

  /** The pipeline for one dispatched alert: resolve, or admission → (flood batch | own delivery). */
  private async run (input: AlertEvent): Promise<DispatchResult> {
    await this.started
    this.inhibitor?.observe(input)
    if (input.status === 'resolved') return await this.resolves.resolve(input)
    const admitted = this.admission.admit(input)
    if ('result' in admitted) return admitted.result
    const { event, decision } = admitted
    if (this.floods.floodable(event, decision)) return await new Promise<DispatchResult>((resolve) => { this.floods.join(event, decision, resolve) })
    return await this.deliverOne(event, decision)
  }

  /** One alert's own delivery (or its group's digest), then its escalation. */
  private async deliverOne (event: AlertEvent, decision: RouteDecision): Promise<DispatchResult> {
    const done = this.resolves.delivering(event.fingerprint)
    let deliveries: DeliveryReport[] = []
    try {
      if (this.grouper !== undefined && decision.channels.length > 0) {
        const { reports, size } = await this.grouper.add(event, decision.channels)
        deliveries = size > 1 ? reports.map((r) => ({ ...r, digestOf: r.digestOf ?? size })) : reports
      } else {
        deliveries = await this.deliver([event], decision.channels)
      }
    } finally {
      done()
    }
    this.scheduleEscalation(event, decision)
    return { id: event.id, deliveries }
  }

  private scheduleEscalation (event: AlertEvent, decision: RouteDecision): void {
    if (decision.escalate.length === 0 || this.escalator === undefined) return
    try { this.escalator.schedule(event, decision.escalate) } catch (err) { this.reporter.notice(`pino-alerts: could not schedule escalation: ${(err as Error).message}`) }
  }

  async flush (): Promise<void> {
    this.floods.closeAll()
    void this.grouper?.flushAll()
    await this.inflight.settle(Date.now() + this.options.shutdownTimeoutMs)
    await Promise.all([...this.deliverers.values()].map(async (d) => await d.channel.flush?.().catch(() => {})))
  }

  close (): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown (): Promise<void> {
    const { shutdownTimeoutMs } = this.options
    const deadline = Date.now() + shutdownTimeoutMs
    // Grouped alerts and flood batches still waiting go out now: nothing is held back at exit.
    this.floods.closeAll()
    void this.grouper?.flushAll()
    this.escalator?.close()
    this.replayer?.stop()
    await this.inflight.settle(deadline)
    if (this.inflight.size > 0) {
      this.reporter.notice(`pino-alerts: shutdown deadline (${shutdownTimeoutMs} ms) reached with ${this.inflight.size} alert(s) still being delivered; stopping them`)
      this.stop.abort(new Error('shutdown deadline reached'))
      await this.inflight.settle(Date.now() + 500)
    }
    await this.loaded
    await Promise.all([...this.deliverers.values()].map(async (d) => {
      await d.channel.flush?.().catch(() => {})
      await d.channel.close?.().catch(() => {})
    }))
    await releaseHttpAgent(this.stop.signal.aborted)
    clearInterval(this.heartbeatTimer)
    if (this.soonTimer !== undefined) clearTimeout(this.soonTimer)
    // Ended cleanly: what this process still owns (cut short, escalations not yet due) is free for
    // a live process sharing the store to take over at once.
    this.store.write('record the end of this process', (s) => s.end(this.stats()))
    this.store.store?.close()
    this.summarizer.close()
    this.reporter.flush()
  }

  /** The heartbeat with the live counters (nothing while this process owns nothing in the store). */
  private beat (): void {
    this.store.write('write the heartbeat', (s) => s.heartbeat(this.stats()))
  }

  /**
   * A heartbeat within BEAT_SOON_MS (one for every change in that time): a channel's circuit opened or
   * closed, and the dashboard should see it within a second, not at the next regular heartbeat.
   */
  private beatSoon (): void {
    if (this.soonTimer !== undefined || this.closing !== undefined) return
    this.soonTimer = setTimeout(() => { this.soonTimer = undefined; this.beat() }, BEAT_SOON_MS)
    this.soonTimer.unref()
  }

  stats (): AlerterStats {
    const channels: Record<string, ChannelStats> = {}
    for (const [name, d] of this.deliverers) channels[name] = d.stats()
    return { ...this.recorder.counters, badLines: this.reporter.badLines, inFlight: this.inflight.busy, channels }
  }

  ack (idOrFingerprint: string, by = '', comment = ''): string[] {
    const { ids, fresh } = this.record(idOrFingerprint, by, comment)
    for (const id of fresh) {
      void this.inflight.track(this.acknowledgeOn(id).then((outcomes) => {
        for (const o of outcomes) if (!o.ok) this.reporter.notice(`pino-alerts: ${o.channel}: could not acknowledge alert ${id}: ${o.error ?? ''}`)
      }))
    }
    return ids
  }

  async acknowledge (idOrFingerprint: string, by = '', comment = ''): Promise<Acknowledgement> {
    const { ids, fresh } = this.record(idOrFingerprint, by, comment)
    const told = await this.inflight.track(Promise.all(fresh.map(async (id) => await this.acknowledgeOn(id))))
    return { acknowledged: fresh, already: ids.filter((id) => !fresh.includes(id)), channels: told.flat() }
  }

  /**
   * The one acknowledgement: the alert with this id, else every alert of the fingerprint, recorded
   * through the outbox; their escalations stop. `fresh`: those not acknowledged before (only they are
   * told to channels; without a store every one is fresh).
   */
  private record (idOrFingerprint: string, by: string, comment: string): { ids: string[], fresh: string[] } {
    const found = this.store.read('read the alerts to acknowledge', (s) => {
      const ids = s.get(idOrFingerprint) !== undefined ? [idOrFingerprint] : s.idsOf(idOrFingerprint)
      return { ids, fresh: ids.filter((id) => s.acked(id) === undefined) }
    })
    const fired = found === undefined ? this.resolves.byFingerprint(idOrFingerprint) : undefined
    const { ids, fresh } = found ?? { ids: [fired?.id ?? idOrFingerprint], fresh: [fired?.id ?? idOrFingerprint] }
    this.outbox.acknowledged(fresh, by, comment)
    for (const id of ids) this.escalator?.cancel(id)
    return { ids, fresh }
  }

  /** Tells the channels that delivered an alert and keep incident state (PagerDuty) that it was acknowledged. */
  private async acknowledgeOn (id: string): Promise<AckOutcome[]> {
    const mem = this.resolves.byId(id)
    let event = mem?.event
    let channels = mem?.channels ?? []
    if (event === undefined) {
      const stored = this.store.read(`read alert ${id}`, (s) => {
        const found = s.get(id)
        if (found === undefined) return undefined
        const { receivedAt: _r, settled: _s, suppressed: _x, ...json } = found
        return { event: AlertEvent.fromJSON(json), channels: s.receipts(id).filter((r) => r.ok).map((r) => r.channel) }
      })
      if (stored !== undefined) ({ event, channels } = stored)
    }
    if (event === undefined) return []
    return await tellChannels(event, channels, (name) => {
      const d = this.deliverers.get(name)
      return d === undefined ? undefined : { channel: d.channel, timeoutMs: d.cfg.timeoutMs, secrets: d.cfg.secrets }
    })
  }

  silence (input: SilenceInput): Silence { return this.admission.silences.add(input) }
  silences (includeExpired = false): Silence[] { return this.admission.silences.list(includeExpired) }
  expireSilence (id: string): boolean { return this.admission.silences.expire(id) }
  history (q?: HistoryQuery): HistoryEntry[] { return this.needStore().history(q) }
  summary (q?: SummaryQuery): Summary { return this.needStore().summary(q) }
  receipts (id: string): Receipt[] { return this.needStore().receipts(id) }

  private needStore (): AlertStore {
    const { store } = this.store
    if (store === undefined) {
      throw new PinoAlertsError(this.options.store === undefined ? 'no store configured (options.store.path or RISK_ALERTS_STORE)' : 'the store is not open (yet, or it failed to open: see alerter.ready)', 'PINO_ALERTS_NO_STORE')
    }
    return store
  }
}

/**
 * How long a store write on a delivery path waits for another process's lock. Writers beside the app
 * (the CLI, the dashboard) hold it for milliseconds; a lock held longer is reported and the alert goes
 * out without its store record, rather than every alert waiting (synchronously) behind it.
 */
const STORE_BUSY_MS = 250

/** How soon after a channel's circuit changes state the heartbeat carries it. */
const BEAT_SOON_MS = 250

function isResolved (o: unknown): o is ResolvedOptions {
  return o !== null && typeof o === 'object' && Array.isArray((o as ResolvedOptions).channels) && Array.isArray((o as ResolvedOptions).warnings)
}
