/**
 * The wrapper every channel sits behind:
 *
 *   bounded queue → rate limit (what waits is coalesced into a digest) → circuit → attempt timeout
 *   → retry with backoff and jitter (at least the service's Retry-After; never for permanent errors)
 *
 * bounded in total by `deliveryTimeoutMs`. Channels only render and send once; this is the one place
 * that waits, paces, counts and masks secrets. Each event gets its own report, also when it travelled
 * in a digest with others.
 */
import type { Channel, Outcome } from '../channels/channel.js'
import type { AlertEvent } from '../event.js'
import type { ResolvedChannel } from '../options.js'
import { redact } from '../redact.js'
import { Circuit } from './circuit.js'
import { outcomeFromError } from '../http/outcome.js'
import { TokenBucket } from './rate-limit.js'
import { backoffMs, sleep } from './retry.js'

export interface DeliveryReport {
  channel: string
  ok: boolean
  attempts: number
  error?: string
  /** Set when this channel stood in for one (or more, comma-separated) routed channels that failed. */
  standInFor?: string
  /** How many alerts travelled together in the digest that carried this one (absent: alone). */
  digestOf?: number
}

export interface ChannelStats {
  type: string
  /** Alerts routed to this channel (stand-ins included). */
  received: number
  /** Alerts delivered. */
  delivered: number
  /** Alerts whose delivery failed for good (after retries, timeouts, circuit open, dropped excluded). */
  failed: number
  /** Alerts dropped because the queue was full (oldest info first, then warn; never critical). */
  dropped: number
  /** Alerts not sent on purpose (dedupe, silences: later steps). */
  suppressed: number
  /** Requests made to the service (every attempt of every message). */
  attempts: number
  /** Attempts after the first, per message. */
  retried: number
  /** Messages the service accepted. */
  messages: number
  /** Deliveries that carried more than one alert. */
  digests: number
  /** Alerts waiting in the queue. */
  queued: number
  /** Batches being delivered now. */
  inFlight: number
  circuit: string
}

/** One parcel: an alert, or a group's digest that must travel together. */
interface Item {
  events: AlertEvent[]
  /** The most severe of `events` (what the queue bound looks at). */
  severity: AlertEvent['severity']
  deadline: number
  resolve: (r: DeliveryReport) => void
  /** Settled early (expired while queued). */
  done?: boolean
}

export class Deliverer {
  readonly circuit = new Circuit()
  private readonly bucket: TokenBucket | undefined
  private readonly queue: Item[] = []
  private runners = 0
  private inFlight = 0
  private sweeper: NodeJS.Timeout | undefined
  private readonly counters = { received: 0, delivered: 0, failed: 0, dropped: 0, suppressed: 0, attempts: 0, retried: 0, messages: 0, digests: 0 }

  /** `stop` aborts attempts and waits when the shutdown deadline has passed. */
  constructor (readonly channel: Channel, readonly cfg: ResolvedChannel, private readonly stop: AbortSignal) {
    this.bucket = cfg.rateLimit === undefined ? undefined : new TokenBucket(cfg.rateLimit)
  }

  get name (): string { return this.cfg.name }
  /** False while the circuit is open: failover skips it. */
  get healthy (): boolean { return this.circuit.state !== 'open' }
  /** Alerts waiting (not in flight). */
  get queued (): number {
    let n = 0
    for (const x of this.queue) n += x.events.length
    return n
  }

  stats (): ChannelStats {
    return { type: this.cfg.type, ...this.counters, queued: this.queued, inFlight: this.inFlight, circuit: this.circuit.state }
  }

  /** An alert routed here was not sent on purpose (silence, inhibit, dedupe). */
  countSuppressed (): void {
    this.counters.suppressed++
  }

  /** Delivers one alert, perhaps in a digest with others waiting for the same channel; never throws. */
  deliver (event: AlertEvent): Promise<DeliveryReport> {
    return this.deliverBatch([event])
  }

  /** Delivers alerts that must travel together (a group's digest); one report for all. Never throws. */
  deliverBatch (events: AlertEvent[]): Promise<DeliveryReport> {
    this.counters.received += events.length
    if (this.circuit.state === 'open') {
      // Straight to failover instead of waiting out retries against a service known to be down.
      this.counters.failed += events.length
      return Promise.resolve({ channel: this.name, ok: false, attempts: 0, error: `${this.name}: circuit open after ${this.circuit.threshold} failed deliveries in a row` })
    }
    const severity = events.some((e) => e.severity === 'critical') ? 'critical' : events.some((e) => e.severity === 'warn') ? 'warn' : 'info'
    return new Promise<DeliveryReport>((resolve) => {
      this.admit({ events, severity, deadline: Date.now() + this.cfg.deliveryTimeoutMs, resolve })
      this.pump()
    })
  }

  /** Bounded queue: beyond maxQueue the oldest info alert goes first, then the oldest warn; critical never. */
  private admit (item: Item): void {
    const q = this.queue
    if (q.length >= this.cfg.maxQueue) {
      for (const sev of ['info', 'warn'] as const) {
        // A queue of criticals only is common in a flood: skip the scan (it made admission O(n²)).
        const i = this.counts[sev] === 0 ? -1 : q.findIndex((x) => x.severity === sev)
        if (i !== -1) {
          const dropped = q.splice(i, 1)
          this.removed(dropped)
          this.drop(dropped[0] as Item)
          q.push(item)
          this.counts[item.severity]++
          return
        }
        if (item.severity === sev) {
          this.drop(item)
          return
        }
      }
    }
    q.push(item)
    this.counts[item.severity]++
  }

  /** Parcels per severity in the queue: kept with every push and removal. */
  private readonly counts = { info: 0, warn: 0, critical: 0 }
  private removed (items: readonly Item[]): void {
    for (const x of items) this.counts[x.severity]--
  }

  private drop (item: Item): void {
    this.counters.dropped += item.events.length
    item.resolve({ channel: this.name, ok: false, attempts: 0, error: `${this.name}: dropped, queue full (maxQueue ${this.cfg.maxQueue})` })
  }

  /** Starts runners up to the channel's concurrency; a rate-limited channel has one. */
  private pump (): void {
    const max = this.bucket === undefined ? this.cfg.concurrency : 1
    while (this.runners < max && this.queue.length > 0) {
      this.runners++
      void this.runner().finally(() => { this.runners--; if (this.queue.length > 0) this.pump() })
    }
    this.sweepLater()
  }

  private async runner (): Promise<void> {
    while (this.queue.length > 0) {
      if (this.stop.aborted) { this.failAll(`${this.name}: shutdown deadline reached`); return }
      if (this.circuit.state === 'open') { this.failAll(`${this.name}: circuit open after ${this.circuit.threshold} failed deliveries in a row`); return }
      // Wait for a token before taking what is queued: everything that arrived meanwhile travels together.
      if (this.bucket !== undefined && !(await this.bucket.ready(this.stop))) continue
      if (!this.circuit.allow()) {
        // Half-open and a probe is out: wait for its verdict.
        await sleep(50, this.stop)
        continue
      }
      const batch = this.bucket !== undefined ? this.queue.splice(0) : this.queue.splice(0, 1)
      this.removed(batch)
      this.expire(batch)
      const live = batch.filter((x) => !x.done)
      if (live.length === 0) { this.circuit.release(); continue }
      this.inFlight++
      try {
        await this.send(live)
      } finally {
        this.inFlight--
      }
    }
  }

  private async send (items: Item[]): Promise<void> {
    const events = items.flatMap((x) => x.events)
    const deadline = Math.min(...items.map((x) => x.deadline))
    const r = await this.run(events, deadline)
    if (r.ok) {
      this.circuit.success()
      this.counters.delivered += events.length
      if (events.length > 1) this.counters.digests++
    } else {
      this.circuit.failure()
      this.counters.failed += events.length
    }
    for (const x of items) x.resolve(events.length > 1 ? { ...r, digestOf: events.length } : r)
    if (!r.ok && this.circuit.state === 'open') this.failAll(`${this.name}: circuit open after ${this.circuit.threshold} failed deliveries in a row`)
  }

  private failAll (error: string): void {
    const all = this.queue.splice(0)
    this.removed(all)
    for (const x of all) {
      this.counters.failed += x.events.length
      x.resolve({ channel: this.name, ok: false, attempts: 0, error })
    }
  }

  /** Alerts that waited past deliveryTimeoutMs fail (and go to failover) instead of waiting on. */
  private expire (items: Item[]): void {
    const now = Date.now()
    for (const x of items) {
      if (x.deadline <= now) {
        x.done = true
        this.counters.failed += x.events.length
        x.resolve({ channel: this.name, ok: false, attempts: 0, error: `${this.name}: not delivered within deliveryTimeoutMs (${this.cfg.deliveryTimeoutMs} ms)` })
      }
    }
  }

  private sweepLater (): void {
    if (this.sweeper !== undefined || this.queue.length === 0) return
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined
      const now = Date.now()
      for (let i = this.queue.length - 1; i >= 0; i--) {
        const x = this.queue[i] as Item
        if (x.deadline <= now) {
          this.removed(this.queue.splice(i, 1))
          this.counters.failed += x.events.length
          x.resolve({ channel: this.name, ok: false, attempts: 0, error: `${this.name}: not delivered within deliveryTimeoutMs (${this.cfg.deliveryTimeoutMs} ms)` })
        }
      }
      this.sweepLater()
    }, 1000)
    this.sweeper.unref()
  }

  private async run (events: readonly AlertEvent[], deadline: number): Promise<DeliveryReport> {
    const name = this.name
    let messages: unknown[]
    try {
      messages = this.channel.render(events)
    } catch (err) {
      return { channel: name, ok: false, attempts: 0, error: this.mask(`${name}: could not render: ${(err as Error).message}`) }
    }
    const { signal: budget, dispose } = deadlineSignal(this.stop, deadline - Date.now(), `not delivered within deliveryTimeoutMs (${this.cfg.deliveryTimeoutMs} ms)`)
    let attempts = 0
    // A message that fails for good does not stop the others (one SMS recipient who unsubscribed, one
    // Alertmanager of a cluster, one part of a split digest): each message is its own delivery; the
    // report fails when any of them did. The budget running out (deadline, shutdown) stops everything.
    const failures: string[] = []
    try {
      for (const message of messages) {
        let tries = 0
        for (;;) {
          if (this.bucket !== undefined && !(await this.bucket.take(budget))) return this.partial(this.ended(attempts, budget), failures)
          tries++
          attempts++
          this.counters.attempts++
          if (tries > 1) this.counters.retried++
          const outcome = await this.attempt(message, budget)
          this.bucket?.answered()
          if (outcome.ok) { this.counters.messages++; break }
          if (outcome.retryAfterMs !== undefined) this.bucket?.pause(outcome.retryAfterMs)
          const error = this.mask(outcome.error)
          if (!outcome.retryable) { failures.push(`${error} (permanent, not retried)`); break }
          if (tries >= this.cfg.retry.maxAttempts) { failures.push(`${error} (gave up after ${tries} attempt${tries === 1 ? '' : 's'})`); break }
          if (budget.aborted) return this.partial({ ...this.ended(attempts, budget), error: `${error} (${reason(budget)})` }, failures)
          const wait = backoffMs(tries, this.cfg.retry, outcome.retryAfterMs)
          if (!(await sleep(wait, budget))) return this.partial({ ...this.ended(attempts, budget), error: `${error} (${reason(budget)} before the next attempt)` }, failures)
        }
      }
    } finally {
      dispose()
    }
    if (failures.length === 0) return { channel: name, ok: true, attempts }
    const of = messages.length > 1 ? ` [${failures.length} of ${messages.length} messages failed]` : ''
    return { channel: name, ok: false, attempts, error: failures.join('; ') + of }
  }

  private partial (r: DeliveryReport, earlier: readonly string[]): DeliveryReport {
    return earlier.length === 0 ? r : { ...r, error: [...earlier, r.error].join('; ') }
  }

  private ended (attempts: number, budget: AbortSignal): DeliveryReport {
    return { channel: this.name, ok: false, attempts, error: `${this.name}: ${reason(budget)}` }
  }

  private async attempt (message: unknown, budget: AbortSignal): Promise<Outcome> {
    const ms = this.cfg.timeoutMs
    const { signal, dispose } = deadlineSignal(budget, ms, `attempt timed out after ${ms} ms`)
    const what = this.name
    try {
      return await Promise.race([
        this.channel.send(message, { signal }),
        // A channel that ignores its signal still cannot hold the delivery past the timeout.
        new Promise<Outcome>((resolve) => signal.addEventListener('abort', () => resolve(outcomeFromError(undefined, what, signal)), { once: true }))
      ])
    } catch (err) {
      return outcomeFromError(err, what, signal)
    } finally {
      dispose()
    }
  }

  private mask (text: string): string {
    return redact(text, this.cfg.secrets)
  }
}

/**
 * A child of `parent` that also aborts after `ms`. `dispose()` clears the timer and the listener on
 * the long-lived parent, so neither keeps a process alive nor piles up (AbortSignal.timeout cannot be
 * cancelled; AbortSignal.any leaves its listeners to the garbage collector).
 */
function deadlineSignal (parent: AbortSignal, ms: number, message: string): { signal: AbortSignal, dispose: () => void } {
  const c = new AbortController()
  const t = setTimeout(() => c.abort(new Error(message)), Math.max(0, ms))
  const onParent = (): void => c.abort(parent.reason)
  if (parent.aborted) c.abort(parent.reason)
  else parent.addEventListener('abort', onParent, { once: true })
  return { signal: c.signal, dispose: () => { clearTimeout(t); parent.removeEventListener('abort', onParent) } }
}

function reason (signal: AbortSignal): string {
  const r = signal.reason as { message?: string } | undefined
  return r?.message ?? 'aborted'
}
