/**
 * The engine behind the transport, the CLI and library use: owns the lifecycle (start, dispatch,
 * flush, close), routes each alert by severity, delivers to its channels in parallel and, for each
 * channel that fails, to a failover stand-in. Never throws into the caller.
 */
import { createChannel } from './channels/channel.js'
import { Deliverer, type ChannelStats, type DeliveryReport } from './delivery/deliverer.js'
import { releaseHttpAgent, retainHttpAgent } from './http/client.js'
import { sleep } from './delivery/retry.js'
import { AlertEvent, type AlertInput } from './event.js'
import { resolveOptions, type AlertsOptions, type ResolvedOptions } from './options.js'
import { PinoAlertsError } from './errors.js'
import { redact } from './redact.js'
import type { AlertStore, HistoryEntry, HistoryQuery, Receipt, Summary, SummaryQuery } from './store/sqlite.js'
import { Reporter } from './report.js'
import { Deduper } from './pipeline/dedupe.js'
import { forgetOldest } from './bounded.js'
import { Escalator } from './pipeline/escalate.js'
import { Grouper } from './pipeline/group.js'
import { Inhibitor } from './pipeline/inhibit.js'
import { routeFor, type RouteDecision } from './pipeline/route.js'
import { Silences, type Silence, type SilenceInput } from './pipeline/silence.js'

export interface DispatchResult {
  /** The event id ('' when the input was not a valid alert). */
  id: string
  deliveries: DeliveryReport[]
  /** Set when nothing was sent on purpose. `resolve-unknown`: a resolved alert whose firing one was never delivered. */
  suppressed?: 'dedupe' | 'silence' | 'inhibit' | 'resolve-unknown'
  /** Which silence, inhibit rule or dedupe window. */
  detail?: string
  /** Set when the input was not a valid alert; nothing was sent. */
  error?: string
}

export interface AlerterStats {
  /** Alerts accepted by dispatch. */
  alerts: number
  /** Alerts not sent on purpose (silenced, inhibited, deduped, unknown resolves). */
  suppressed: number
  /** Inputs rejected by dispatch (not a valid alert). */
  rejected: number
  /** Lines the transport or CLI skipped as bad (not JSON, wrong field types, too long). */
  badLines: number
  /** Alerts whose every routed channel (or its stand-in) delivered. */
  delivered: number
  /** Alerts at least one routed channel of which failed with no stand-in delivering. */
  failed: number
  /** Alerts accepted and not yet finished (delivered, failed or suppressed). */
  inFlight: number
  channels: Record<string, ChannelStats>
}

export interface Alerter {
  dispatch (event: AlertEvent | AlertInput): Promise<DispatchResult>
  /**
   * Fire-and-forget dispatch of a parsed event (what the transport and the CLI use): no result is kept,
   * so in a flood a waiting alert costs little more than the event itself.
   */
  post (event: AlertEvent): void
  /** Waits for every delivery in flight, bounded by `shutdownTimeoutMs`. */
  flush (): Promise<void>
  /** Flushes, then stops what is still running and closes channels. Idempotent. */
  close (): Promise<void>
  stats (): AlerterStats
  /** Stored alerts, newest first (needs `store`). */
  history (q?: HistoryQuery): HistoryEntry[]
  /** Counts by severity, source, channel outcome and time bucket (needs `store`). */
  summary (q?: SummaryQuery): Summary
  /** Each channel's final outcome for one alert (needs `store`). */
  receipts (alertId: string): Receipt[]
  /** Acknowledges an alert (by id, or every alert of a fingerprint): its pending escalations stop. Returns the ids acknowledged. */
  ack (idOrFingerprint: string, by?: string, comment?: string): string[]
  /** Creates a silence (stored when a store is configured, so other processes see it). */
  silence (input: SilenceInput): Silence
  /** Active and future silences (and expired ones with `includeExpired`). */
  silences (includeExpired?: boolean): Silence[]
  /** Ends a silence now; false when no such active silence exists. */
  expireSilence (id: string): boolean
  /** Resolves when every channel module is loaded (and the store opened); rejects when one cannot start. */
  readonly ready: Promise<void>
  /** The validated options. */
  readonly options: ResolvedOptions
  /** Where bad lines and undelivered alerts are reported (the transport shares it). */
  readonly reporter: Reporter
}

export interface AlerterDeps {
  env?: NodeJS.ProcessEnv
  reporter?: Reporter
  /** How often the one-line stderr summary may appear (only when something failed or was dropped). Default 60000. */
  summaryIntervalMs?: number
  /** The clock for silences, dedupe windows, inhibition, grouping and time intervals (tests). Default Date.now. */
  now?: () => number
  /**
   * Deliver what the store's outbox still holds and re-arm stored escalations at start. Default true.
   * Tools that open an app's store beside the running app (the CLI's `resolve`, the dashboard) pass
   * false: the app owns its outbox and its escalations.
   */
  replay?: boolean
}

/** Validates options synchronously (throws ConfigError); channel modules load in the background. */
export function createAlerter (options: AlertsOptions | ResolvedOptions = {}, deps: AlerterDeps = {}): Alerter {
  const opts = isResolved(options) ? options : resolveOptions(options, deps.env ?? process.env)
  const reporter = deps.reporter ?? new Reporter()
  for (const w of opts.warnings) reporter.notice(w)

  const stop = new AbortController()
  retainHttpAgent()
  const deliverers = new Map<string, Deliverer>()
  const inflight = new Set<Promise<unknown>>()
  const counters = { alerts: 0, rejected: 0, delivered: 0, failed: 0, suppressed: 0 }
  const now = deps.now ?? Date.now
  /** fingerprint → the last firing alert that reached a channel: where its resolve goes. */
  const firing = new Map<string, { id: string, timestamp: string, channels: string[], event?: AlertEvent }>()
  /** fingerprint → the delivery of its firing alert still under way. */
  const inFlightFiring = new Map<string, Promise<void>>()
  /** Alerts accepted and not yet finished (stats().inFlight; what flood mode looks at). */
  let busy = 0
  /** Set once channels and the store are up: until then alerts wait for them in `run`. */
  let isStarted = false
  const deduper = opts.dedupe === undefined ? undefined : new Deduper(opts.dedupe, now)
  const inhibitor = opts.inhibit.length === 0 ? undefined : new Inhibitor(opts.inhibit, now)
  const grouper = opts.group === undefined
    ? undefined
    : new Grouper<{ reports: DeliveryReport[], size: number }>(opts.group, async (events, channels) => ({ reports: await deliverAndRecord(events, channels), size: events.length }), now)
  // These two need the store: made once it is open.
  let silences = new Silences(opts.silences, undefined, now)
  let escalator: Escalator | undefined

  // Self-metrics on stderr: one line per interval, only when something failed or was dropped.
  let lastSummary = new Map<string, { failed: number, dropped: number, delivered: number }>()
  const summarize = (): void => {
    const parts: string[] = []
    const next = new Map<string, { failed: number, dropped: number, delivered: number }>()
    for (const [name, d] of deliverers) {
      const s = d.stats()
      const prev = lastSummary.get(name) ?? { failed: 0, dropped: 0, delivered: 0 }
      next.set(name, { failed: s.failed, dropped: s.dropped, delivered: s.delivered })
      const failed = s.failed - prev.failed
      const dropped = s.dropped - prev.dropped
      if (failed > 0 || dropped > 0) {
        parts.push(`${name}: ${s.delivered - prev.delivered} delivered, ${failed} failed, ${dropped} dropped, ${s.queued} queued, circuit ${s.circuit}`)
      }
    }
    lastSummary = next
    if (parts.length > 0) reporter.summary(`pino-alerts: summary: ${parts.join('; ')}`)
  }
  const summaryTimer = setInterval(summarize, deps.summaryIntervalMs ?? 60_000)
  summaryTimer.unref()
  // With a store, the live counters are written every few seconds for the dashboard's /metrics.
  const processId = `${process.pid}@${(process.env.HOSTNAME ?? '')}#${Math.random().toString(36).slice(2, 8)}`
  const statsTimer = setInterval(() => storeSafely('write live counters', (s) => s.writeStats(processId, alerter.stats())), 5000)
  statsTimer.unref()
  let closing: Promise<void> | undefined

  // Channels start independently: one that cannot start (say, an unwritable file path) is reported
  // and `ready` rejects, while the others still deliver.
  let store: AlertStore | undefined
  const openStore = async (): Promise<void> => {
    if (opts.store === undefined) return
    const { AlertStore: Store } = await import('./store/sqlite.js')
    store = Store.open(opts.store)
  }
  const loaded = Promise.allSettled([openStore(), ...opts.channels.filter((c) => c.enabled).map(async (cfg) => {
    try {
      const channel = await createChannel(cfg)
      deliverers.set(cfg.name, new Deliverer(channel, cfg, stop.signal))
    } catch (err) {
      throw new Error(`channel "${cfg.name}" could not start: ${redact((err as Error).message, cfg.secrets)}`)
    }
  })])
  const started = loaded.then((results) => {
    isStarted = true
    silences = new Silences(opts.silences, store, now)
    escalator = new Escalator(async (event, channels) => { await deliverAndRecord([event], channels) }, store, now)
    return results
  })
  const ready = started.then((results) => {
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error)
    // A store that cannot open keeps its own error (code, message): it is the one to fix first.
    const storeError = failed.find((e) => e.name === 'StoreError')
    if (storeError !== undefined) throw storeError
    if (failed.length > 0) throw new Error(failed.map((e) => e.message).join('; '))
    if (deps.replay !== false) replay()
  })
  ready.catch((err: Error) => reporter.notice(`pino-alerts: ${err.message}`))

  /** Store calls never stop a delivery: a full disk is reported, the alert still goes out. */
  const storeSafely = (what: string, fn: (s: AlertStore) => void): void => {
    if (store === undefined) return
    try { fn(store) } catch (err) { reporter.notice(`pino-alerts: store: could not ${what}: ${(err as Error).message}`) }
  }

  /** At start: what the last run left in the outbox goes to the channels that had not delivered it. */
  function replay (): void {
    if (store === undefined) return
    let pending: ReturnType<AlertStore['unsettled']>
    try { pending = store.unsettled() } catch (err) { reporter.notice(`pino-alerts: store: could not read the outbox: ${(err as Error).message}`); return }
    if (pending.length > 0) reporter.notice(`pino-alerts: delivering ${pending.length} alert(s) left undelivered by the last run (store ${store.path})`)
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
      if (remaining.length === 0) { storeSafely('settle', (s) => s.settle(event.id)); continue }
      counters.alerts++
      void track(deliverAndRecord([event], remaining).then((deliveries) => ({ id: event.id, deliveries })))
    }
    try {
      const n = escalator?.restore() ?? 0
      if (n > 0) reporter.notice(`pino-alerts: ${n} pending escalation step(s) re-armed from the store`)
    } catch (err) { reporter.notice(`pino-alerts: store: could not re-arm escalations: ${(err as Error).message}`) }
  }

  /**
   * Delivers one alert, or a digest that travels together, to `route` in parallel; each channel that
   * fails gets a failover stand-in. Returns every report, routed channels first.
   */
  async function deliverTo (events: AlertEvent[], route: readonly string[]): Promise<DeliveryReport[]> {
    const send = (d: Deliverer): Promise<DeliveryReport> => (events.length === 1 ? d.deliver(events[0] as AlertEvent) : d.deliverBatch(events))
    const standIns = new Map<string, { report: Promise<DeliveryReport>, stands: string[] }>()
    const failover = async (failed: DeliveryReport): Promise<void> => {
      const list = opts.failover
      const from = list.indexOf(failed.channel)
      for (const name of list.slice(from + 1)) {
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

  /** deliverTo, then receipts, settling, the firing record for resolves, and the stderr notice for what was lost. */
  async function deliverAndRecord (events: AlertEvent[], route: readonly string[]): Promise<DeliveryReport[]> {
    const deliveries = await deliverTo(events, route)
    const standInOk = new Set(deliveries.filter((r) => r.ok && r.standInFor !== undefined).flatMap((r) => (r.standInFor ?? '').split(',')))
    const lost = deliveries.filter((r) => !r.ok && r.standInFor === undefined && !standInOk.has(r.channel))
    // Outcomes cut short by the shutdown deadline are not final: the alert stays in the outbox and is
    // delivered at the next start. Everything else is a receipt, and the alert is settled.
    const cutShort = stop.signal.aborted && deliveries.some((r) => !r.ok)
    const okChannels = deliveries.filter((r) => r.ok).map((r) => r.channel)
    for (const event of events) {
      if (lost.length === 0) counters.delivered++
      else {
        counters.failed++
        reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: ${lost.map((r) => r.error ?? r.channel).join('; ')}`)
      }
      storeSafely('record receipts', (s) => {
        for (const r of deliveries) if (r.ok || !cutShort) s.receipt(event.id, r)
        if (!cutShort) s.settle(event.id)
      })
      if (event.status === 'firing' && okChannels.length > 0) {
        // The event itself is kept only where an acknowledgement will need it (channels with incident state).
        const keepEvent = okChannels.some((c) => deliverers.get(c)?.channel.acknowledge !== undefined)
        firing.delete(event.fingerprint)
        firing.set(event.fingerprint, keepEvent ? { id: event.id, timestamp: event.timestamp, channels: okChannels, event } : { id: event.id, timestamp: event.timestamp, channels: okChannels })
        // Bounded: the oldest firing records are forgotten first (with a store, resolves still find them there).
        if (firing.size > FIRING_MAX) forgetOldest(firing, FIRING_MAX * 0.75)
      }
    }
    return deliveries
  }

  /** Tells the channels that delivered an alert and keep incident state (PagerDuty) that it was acknowledged. */
  async function acknowledgeOn (id: string): Promise<void> {
    let event: AlertEvent | undefined
    let channels: string[] = []
    for (const f of firing.values()) if (f.id === id) { event = f.event; channels = f.channels }
    if (event === undefined && store !== undefined) {
      try {
        const stored = store.get(id)
        if (stored !== undefined) {
          const { receivedAt: _r, settled: _s, suppressed: _x, ...json } = stored
          event = AlertEvent.fromJSON(json)
          channels = store.receipts(id).filter((r) => r.ok).map((r) => r.channel)
        }
      } catch (err) { reporter.notice(`pino-alerts: store: could not read alert ${id}: ${(err as Error).message}`) }
    }
    if (event === undefined) return
    const ev = event
    await Promise.all(channels.map(async (name) => {
      const ch = deliverers.get(name)?.channel
      if (ch?.acknowledge === undefined) return
      const signal = AbortSignal.timeout(deliverers.get(name)?.cfg.timeoutMs ?? 10_000)
      try {
        const out = await ch.acknowledge(ev, { signal })
        if (!out.ok) reporter.notice(`pino-alerts: ${name}: could not acknowledge alert ${id}: ${out.error}`)
      } catch (err) { reporter.notice(`pino-alerts: ${name}: could not acknowledge alert ${id}: ${(err as Error).message}`) }
    }))
  }

  /** The channels that carried the last firing alert of a fingerprint (memory, then the store). */
  function firingRecord (fingerprint: string): { id: string, timestamp: string, channels: string[] } | undefined {
    const mem = firing.get(fingerprint)
    if (mem !== undefined) return mem
    if (store === undefined) return undefined
    try { return store.lastDelivered(fingerprint) } catch { return undefined }
  }

  /** The noise-control pipeline: resolve → silence → inhibit → dedupe → route → group → deliver. */
  async function run (input: AlertEvent): Promise<DispatchResult> {
    await started
    inhibitor?.observe(input)
    if (input.status === 'resolved') return await runResolve(input)
    const admitted = admitFiring(input)
    if ('result' in admitted) return admitted.result
    if (floodable(admitted.event, admitted.decision)) return await new Promise<DispatchResult>((resolve) => { joinFlood(admitted.event, admitted.decision, resolve) })
    return await deliverOne(admitted.event, admitted.decision)
  }

  /** Stores a suppressed alert and counts it on the channels it would have gone to. */
  function suppress (event: AlertEvent, why: NonNullable<DispatchResult['suppressed']>, detail?: string): DispatchResult {
    counters.suppressed++
    if (why !== 'resolve-unknown') for (const c of routeFor(event, opts, new Date(now())).channels) deliverers.get(c)?.countSuppressed()
    storeSafely('write the alert', (s) => s.insert(event.toJSON(), [], now(), why))
    return detail === undefined ? { id: event.id, deliveries: [], suppressed: why } : { id: event.id, deliveries: [], suppressed: why, detail }
  }

  async function runResolve (input: AlertEvent): Promise<DispatchResult> {
    // A resolve logged right after its firing alert waits for that delivery: it must know where the
    // firing alert went.
    await (inFlightFiring.get(input.fingerprint) ?? floodCarrying(input.fingerprint))
    const fired = firingRecord(input.fingerprint)
    deduper?.forget(input.fingerprint)
    if (fired === undefined) return suppress(input, 'resolve-unknown', 'no delivered firing alert with this fingerprint')
    escalator?.cancel(fired.id)
    firing.delete(input.fingerprint)
    const duration = Date.parse(input.timestamp) - Date.parse(fired.timestamp)
    const firingFor = formatDuration(Math.max(0, duration))
    const event = new AlertEvent({
      ...input.toJSON(),
      body: input.body === '' ? `Firing for ${firingFor}.` : `${input.body}\n\nFiring for ${firingFor}.`,
      metadata: { ...input.metadata, firingFor, firingAlertId: fired.id }
    })
    storeSafely('write the alert', (s) => s.insert(event.toJSON(), fired.channels, now()))
    const deliveries = await deliverAndRecord([event], fired.channels)
    return { id: event.id, deliveries }
  }

  /**
   * The synchronous front of the pipeline for a firing alert: silence → inhibit → dedupe → route, then
   * the outbox write (before any delivery). Either the alert was suppressed, or it goes out on `decision`.
   */
  function admitFiring (input: AlertEvent): { result: DispatchResult } | { event: AlertEvent, decision: RouteDecision } {
    let event = input
    const silence = silences.match(event)
    if (silence !== undefined) return { result: suppress(event, 'silence', `silence ${silence.id}`) }
    const inhibitedBy = inhibitor?.inhibitedBy(event) ?? -1
    if (inhibitedBy >= 0) return { result: suppress(event, 'inhibit', `inhibit[${inhibitedBy}]`) }
    if (deduper !== undefined) {
      const d = deduper.check(event)
      if (d.suppress) return { result: suppress(event, 'dedupe', `repeat ${d.repeats} within ${deduper.windowFor(event)} ms`) }
      if (d.repeats > 0) event = new AlertEvent({ ...event.toJSON(), title: `${event.title} (+${d.repeats} repeat${d.repeats === 1 ? '' : 's'} suppressed)` })
    }
    const decision = routeFor(event, opts, new Date(now()))
    const routed = event
    storeSafely('write the alert', (s) => s.insert(routed.toJSON(), decision.channels, now()))
    return { event, decision }
  }

  /** One alert's own delivery (or its group's digest), then its escalation. */
  async function deliverOne (event: AlertEvent, decision: RouteDecision): Promise<DispatchResult> {
    let settled!: () => void
    const done = new Promise<void>((resolve) => { settled = resolve })
    inFlightFiring.set(event.fingerprint, done)
    let deliveries: DeliveryReport[] = []
    try {
      deliveries = await deliverFiring(event, decision)
    } finally {
      if (inFlightFiring.get(event.fingerprint) === done) inFlightFiring.delete(event.fingerprint)
      settled()
    }
    scheduleEscalation(event, decision)
    return { id: event.id, deliveries }
  }

  function scheduleEscalation (event: AlertEvent, decision: RouteDecision): void {
    if (decision.escalate.length === 0 || escalator === undefined) return
    try { escalator.schedule(event, decision.escalate) } catch (err) { reporter.notice(`pino-alerts: could not schedule escalation: ${(err as Error).message}`) }
  }

  // Flood mode. Each alert delivered on its own holds a chain of pending promises (about 5 kB) until
  // its channels answer; a rate-limited channel makes a burst of critical alerts (never dropped) wait
  // for seconds. Beyond FLOOD_AT alerts in flight, critical alerts that share a route travel in
  // batches instead: one delivery (a digest per channel) for everything that arrived in the same turn
  // of the event loop (one chunk of log lines), so a waiting alert costs little more than the event
  // itself (~0.3 kB) and none waits longer than that turn. Info and warn alerts need none of this:
  // beyond maxQueue they are dropped (and counted).
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
  const floods = new Map<string, Flood>()

  function floodable (event: AlertEvent, decision: RouteDecision): boolean {
    return busy > FLOOD_AT && event.severity === 'critical' && grouper === undefined && decision.channels.length > 0
  }

  function joinFlood (event: AlertEvent, decision: RouteDecision, resolve?: (r: DispatchResult) => void): void {
    const key = JSON.stringify([decision.channels, decision.escalate])
    let f = floods.get(key)
    if (f === undefined) {
      const timer = setImmediate(() => closeFlood(key))
      f = { decision, events: [], waiters: [], posted: 0, timer }
      floods.set(key, f)
    }
    f.events.push(event)
    if (resolve !== undefined) f.waiters.push({ event, resolve })
    else f.posted++
  }

  function closeFlood (key: string): void {
    const f = floods.get(key)
    if (f === undefined) return
    floods.delete(key)
    clearImmediate(f.timer)
    track(deliverFlood(f)).catch((err: Error) => { reporter.notice(`pino-alerts: ${f.events.length} alert(s) of a flood batch not delivered: ${err.message}`) })
  }

  const floodsInFlight = new Map<Promise<void>, Flood>()

  /**
   * The delivery of the flood batch that carries a firing alert of this fingerprint, if any (an open
   * batch is sent now). Alerts in flood batches have no map entry of their own (memory): a resolve,
   * which is rare, looks through the batches instead.
   */
  function floodCarrying (fingerprint: string): Promise<void> | undefined {
    for (const [key, f] of floods) {
      if (f.events.some((e) => e.fingerprint === fingerprint)) { closeFlood(key); break }
    }
    for (const [done, f] of floodsInFlight) if (f.events.some((e) => e.fingerprint === fingerprint)) return done
    return undefined
  }
  async function deliverFlood (f: Flood): Promise<void> {
    let settled!: () => void
    const done = new Promise<void>((resolve) => { settled = resolve })
    floodsInFlight.set(done, f)
    let deliveries: DeliveryReport[] = []
    try {
      deliveries = await deliverAndRecord(f.events, f.decision.channels)
    } finally {
      floodsInFlight.delete(done)
      busy -= f.posted
      settled()
    }
    const size = f.events.length
    const reports = size > 1 ? deliveries.map((r) => ({ ...r, digestOf: r.digestOf ?? size })) : deliveries
    for (const e of f.events) scheduleEscalation(e, f.decision)
    for (const w of f.waiters) w.resolve({ id: w.event.id, deliveries: reports })
  }

  function closeFloods (): void {
    for (const key of [...floods.keys()]) closeFlood(key)
  }

  async function deliverFiring (event: AlertEvent, decision: RouteDecision): Promise<DeliveryReport[]> {
    let deliveries: DeliveryReport[]
    if (grouper !== undefined && decision.channels.length > 0) {
      const { reports, size } = await grouper.add(event, decision.channels)
      deliveries = size > 1 ? reports.map((r) => ({ ...r, digestOf: r.digestOf ?? size })) : reports
    } else {
      deliveries = await deliverAndRecord([event], decision.channels)
    }
    return deliveries
  }

  function track<T> (p: Promise<T>): Promise<T> {
    inflight.add(p)
    const forget = (): void => { inflight.delete(p) }
    p.then(forget, forget) // (a rejection stays with the caller's promise: no second, unhandled one here)
    return p
  }

  async function settle (deadline: number): Promise<void> {
    while (inflight.size > 0) {
      const left = deadline - Date.now()
      if (left <= 0) return
      const done = new AbortController()
      await Promise.race([Promise.allSettled([...inflight]), sleep(left, done.signal)])
      done.abort()
    }
  }

  const alerter: Alerter = {
    options: opts,
    reporter,
    ready,
    dispatch (input) {
      let event: AlertEvent
      try {
        event = AlertEvent.from(input)
      } catch (err) {
        counters.rejected++
        return Promise.resolve({ id: '', deliveries: [], error: (err as Error).message })
      }
      if (closing !== undefined) {
        counters.rejected++
        reporter.notice(`pino-alerts: ${alertRef(event)} dispatched after close; not sent`)
        return Promise.resolve({ id: event.id, deliveries: [], error: 'alerter is closed' })
      }
      counters.alerts++
      busy++
      return track(run(event)).finally(() => { busy-- })
    },
    post (event) {
      if (closing !== undefined || !isStarted || event.status === 'resolved') { void alerter.dispatch(event); return }
      counters.alerts++
      let admitted: ReturnType<typeof admitFiring>
      try {
        inhibitor?.observe(event)
        admitted = admitFiring(event)
      } catch (err) {
        // Never thrown into the transport's write path: the alert is reported and counted as failed.
        counters.failed++
        reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: ${(err as Error).message}`)
        return
      }
      if ('result' in admitted) return
      busy++
      if (floodable(admitted.event, admitted.decision)) { joinFlood(admitted.event, admitted.decision); return }
      track(deliverOne(admitted.event, admitted.decision))
        .catch((err: Error) => { reporter.notice(`pino-alerts: ${alertRef(event)} not delivered: ${err.message}`) })
        .finally(() => { busy-- })
    },
    async flush () {
      closeFloods()
      void grouper?.flushAll()
      await settle(Date.now() + opts.shutdownTimeoutMs)
      await Promise.all([...deliverers.values()].map(async (d) => await d.channel.flush?.().catch(() => {})))
    },
    close () {
      closing ??= (async () => {
        const deadline = Date.now() + opts.shutdownTimeoutMs
        // Grouped alerts and flood batches still waiting go out now: nothing is held back at exit.
        closeFloods()
        void grouper?.flushAll()
        escalator?.close()
        await settle(deadline)
        if (inflight.size > 0) {
          reporter.notice(`pino-alerts: shutdown deadline (${opts.shutdownTimeoutMs} ms) reached with ${inflight.size} alert(s) still being delivered; stopping them`)
          stop.abort(new Error('shutdown deadline reached'))
          await settle(Date.now() + 500)
        }
        await loaded
        await Promise.all([...deliverers.values()].map(async (d) => {
          await d.channel.flush?.().catch(() => {})
          await d.channel.close?.().catch(() => {})
        }))
        await releaseHttpAgent(stop.signal.aborted)
        clearInterval(summaryTimer)
        clearInterval(statsTimer)
        storeSafely('write live counters', (s) => s.writeStats(processId, alerter.stats()))
        store?.close()
        summarize()
        reporter.flush()
      })()
      return closing
    },
    stats () {
      const channels: Record<string, ChannelStats> = {}
      for (const [name, d] of deliverers) channels[name] = d.stats()
      return { ...counters, badLines: reporter.badLines, inFlight: busy, channels }
    },
    ack (idOrFingerprint, by = '', comment = '') {
      let ids: string[]
      if (store !== undefined) {
        ids = store.get(idOrFingerprint) !== undefined ? [idOrFingerprint] : store.idsOf(idOrFingerprint)
        for (const id of ids) storeSafely('record the acknowledgement', (s) => s.ack(id, by, comment, now()))
      } else {
        const fired = firing.get(idOrFingerprint)
        ids = fired !== undefined ? [fired.id] : [idOrFingerprint]
      }
      for (const id of ids) {
        escalator?.cancel(id)
        void track(acknowledgeOn(id))
      }
      return ids
    },
    silence: (input) => silences.add(input),
    silences: (includeExpired = false) => silences.list(includeExpired),
    expireSilence: (id) => silences.expire(id),
    history: (q) => needStore().history(q),
    summary: (q) => needStore().summary(q),
    receipts: (id) => needStore().receipts(id)
  }
  function needStore (): AlertStore {
    if (store === undefined) {
      throw new PinoAlertsError(opts.store === undefined ? 'no store configured (options.store.path or RISK_ALERTS_STORE)' : 'the store is not open (yet, or it failed to open: see alerter.ready)', 'PINO_ALERTS_NO_STORE')
    }
    return store
  }
  return alerter
}

/** How notices name an alert: `alert <id> (<severity> <source>: <title, 80 characters>)`. */
function alertRef (e: AlertEvent): string {
  return `alert ${e.id} (${e.severity} ${e.source}: ${e.title.slice(0, 80)})`
}

/** How many firing records (where a resolve goes) are kept in memory. */
const FIRING_MAX = 20_000

function isResolved (o: unknown): o is ResolvedOptions {
  return o !== null && typeof o === 'object' && Array.isArray((o as ResolvedOptions).channels) && Array.isArray((o as ResolvedOptions).warnings)
}

/** 3723000 → "1h 2m 3s". */
export function formatDuration (ms: number): string {
  const s = Math.round(ms / 1000)
  const parts: string[] = []
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (d > 0) parts.push(`${d}d`)
  if (h > 0) parts.push(`${h}h`)
  if (m > 0) parts.push(`${m}m`)
  if (sec > 0 || parts.length === 0) parts.push(`${sec}s`)
  return parts.join(' ')
}
