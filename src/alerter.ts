/**
 * The engine behind the transport, the CLI and library use: owns the lifecycle (start, dispatch,
 * flush, close), routes each alert by severity, delivers to its channels in parallel and, for each
 * channel that fails, to a failover stand-in. Never throws into the caller.
 */
import { createChannel } from './channels/channel.js'
import { Deliverer, type ChannelStats, type DeliveryReport } from './delivery/deliverer.js'
import { releaseHttpAgent, retainHttpAgent } from './delivery/http.js'
import { sleep } from './delivery/retry.js'
import { AlertEvent, type AlertInput } from './event.js'
import { resolveOptions, type AlertsOptions, type ResolvedOptions } from './options.js'
import { redact } from './redact.js'
import { Reporter } from './report.js'

export interface DispatchResult {
  /** The event id ('' when the input was not a valid alert). */
  id: string
  deliveries: DeliveryReport[]
  /** Set when nothing was sent on purpose (later steps: dedupe, silence, inhibit). */
  suppressed?: 'dedupe' | 'silence' | 'inhibit'
  /** Set when the input was not a valid alert; nothing was sent. */
  error?: string
}

export interface AlerterStats {
  /** Alerts accepted by dispatch. */
  alerts: number
  /** Inputs rejected by dispatch (not a valid alert). */
  rejected: number
  /** Lines the transport or CLI skipped as bad (not JSON, wrong field types, too long). */
  badLines: number
  /** Alerts whose every routed channel (or its stand-in) delivered. */
  delivered: number
  /** Alerts at least one routed channel of which failed with no stand-in delivering. */
  failed: number
  /** Dispatches in flight. */
  inFlight: number
  channels: Record<string, ChannelStats>
}

export interface Alerter {
  dispatch (event: AlertEvent | AlertInput): Promise<DispatchResult>
  /** Waits for every delivery in flight, bounded by `shutdownTimeoutMs`. */
  flush (): Promise<void>
  /** Flushes, then stops what is still running and closes channels. Idempotent. */
  close (): Promise<void>
  stats (): AlerterStats
  /** Resolves when every channel module is loaded; rejects when one cannot start. */
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
  const counters = { alerts: 0, rejected: 0, delivered: 0, failed: 0 }

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
  let closing: Promise<void> | undefined

  // Channels start independently: one that cannot start (say, an unwritable file path) is reported
  // and `ready` rejects, while the others still deliver.
  const loaded = Promise.allSettled(opts.channels.filter((c) => c.enabled).map(async (cfg) => {
    try {
      const channel = await createChannel(cfg)
      deliverers.set(cfg.name, new Deliverer(channel, cfg, stop.signal))
    } catch (err) {
      throw new Error(`channel "${cfg.name}" could not start: ${redact((err as Error).message, cfg.secrets)}`)
    }
  }))
  const ready = loaded.then((results) => {
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message)
    if (errors.length > 0) throw new Error(errors.join('; '))
  })
  ready.catch((err: Error) => reporter.notice(`pino-alerts: ${err.message}`))

  async function run (event: AlertEvent): Promise<DispatchResult> {
    await loaded
    const route = opts.routes[event.severity]
    const standIns = new Map<string, { report: Promise<DeliveryReport>, stands: string[] }>()

    const failover = async (failed: DeliveryReport): Promise<DeliveryReport | undefined> => {
      const list = opts.failover
      const from = list.indexOf(failed.channel)
      for (const name of list.slice(from + 1)) {
        if (route.includes(name) || name === failed.channel) continue
        const d = deliverers.get(name)
        if (d === undefined) continue
        const existing = standIns.get(name)
        if (existing !== undefined) {
          const r = await existing.report
          if (r.ok) { existing.stands.push(failed.channel); r.standInFor = existing.stands.join(',') ; return undefined }
          continue
        }
        if (!d.healthy) continue
        const entry = { report: d.deliver(event), stands: [failed.channel] }
        standIns.set(name, entry)
        const r = await entry.report
        r.standInFor = entry.stands.join(',')
        if (r.ok) return r
      }
      return undefined
    }

    const standInReports: DeliveryReport[] = []
    const routed = await Promise.all(route.map(async (name) => {
      const d = deliverers.get(name)
      const r: DeliveryReport = d !== undefined ? await d.deliver(event) : { channel: name, ok: false, attempts: 0, error: `${name}: channel could not start` }
      if (!r.ok) await failover(r)
      return r
    }))
    for (const entry of standIns.values()) standInReports.push(await entry.report)

    const standInOk = new Set(standInReports.filter((r) => r.ok).flatMap((r) => (r.standInFor ?? '').split(',')))
    const lost = routed.filter((r) => !r.ok && !standInOk.has(r.channel))
    if (lost.length === 0) counters.delivered++
    else {
      counters.failed++
      reporter.notice(`pino-alerts: alert ${event.id} (${event.severity} ${event.source}: ${event.title.slice(0, 80)}) not delivered: ${lost.map((r) => r.error ?? r.channel).join('; ')}`)
    }
    return { id: event.id, deliveries: [...routed, ...standInReports] }
  }

  function track<T> (p: Promise<T>): Promise<T> {
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
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
        reporter.notice(`pino-alerts: alert ${event.id} (${event.severity} ${event.source}: ${event.title.slice(0, 80)}) dispatched after close; not sent`)
        return Promise.resolve({ id: event.id, deliveries: [], error: 'alerter is closed' })
      }
      counters.alerts++
      return track(run(event))
    },
    async flush () {
      await settle(Date.now() + opts.shutdownTimeoutMs)
      await Promise.all([...deliverers.values()].map(async (d) => await d.channel.flush?.().catch(() => {})))
    },
    close () {
      closing ??= (async () => {
        const deadline = Date.now() + opts.shutdownTimeoutMs
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
        summarize()
        reporter.flush()
      })()
      return closing
    },
    stats () {
      const channels: Record<string, ChannelStats> = {}
      for (const [name, d] of deliverers) channels[name] = d.stats()
      return { ...counters, badLines: reporter.badLines, inFlight: inflight.size, channels }
    }
  }
  return alerter
}

function isResolved (o: unknown): o is ResolvedOptions {
  return o !== null && typeof o === 'object' && Array.isArray((o as ResolvedOptions).channels) && Array.isArray((o as ResolvedOptions).warnings)
}
