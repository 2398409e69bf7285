/**
 * The wrapper every channel sits behind: bounded queue → circuit → attempt timeout → retry with
 * backoff and jitter (at least the service's Retry-After; never for permanent errors). Channels only
 * render and send once; this is the one place that waits, counts and masks secrets.
 */
import type { Channel, Outcome } from '../channels/channel.js'
import type { AlertEvent } from '../event.js'
import type { ResolvedChannel } from '../options.js'
import { redact } from '../redact.js'
import { Circuit } from './circuit.js'
import { outcomeFromError } from './http.js'
import { backoffMs, sleep } from './retry.js'

export interface DeliveryReport {
  channel: string
  ok: boolean
  attempts: number
  error?: string
  /** Set when this channel stood in for one (or more, comma-separated) routed channels that failed. */
  standInFor?: string
}

export interface ChannelStats {
  type: string
  /** Deliveries asked of this channel (one per alert or digest). */
  received: number
  delivered: number
  failed: number
  /** Attempts after the first. */
  retried: number
  /** Not accepted because the queue was full. */
  dropped: number
  /** Events waiting or in flight. */
  queued: number
  circuit: string
}

class Semaphore {
  private active = 0
  private readonly waiters: Array<() => void> = []
  constructor (private readonly max: number) {}
  async acquire (): Promise<void> {
    if (this.active < this.max) { this.active++; return }
    await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  release (): void {
    const next = this.waiters.shift()
    if (next !== undefined) next()
    else this.active--
  }
}

export class Deliverer {
  readonly circuit = new Circuit()
  private readonly slots: Semaphore
  private queued = 0
  private readonly counters = { received: 0, delivered: 0, failed: 0, retried: 0, dropped: 0 }

  /** `stop` aborts attempts and backoff sleeps when the shutdown deadline has passed. */
  constructor (readonly channel: Channel, readonly cfg: ResolvedChannel, private readonly stop: AbortSignal) {
    this.slots = new Semaphore(cfg.concurrency)
  }

  get name (): string { return this.cfg.name }
  get healthy (): boolean { return this.circuit.state !== 'open' }

  stats (): ChannelStats {
    return { type: this.cfg.type, ...this.counters, queued: this.queued, circuit: this.circuit.state }
  }

  /** Delivers one event or a digest; never throws. */
  async deliver (events: readonly AlertEvent[]): Promise<DeliveryReport> {
    const name = this.cfg.name
    this.counters.received++
    if (this.queued + events.length > this.cfg.maxQueue && !events.some((e) => e.severity === 'critical')) {
      this.counters.dropped++
      return { channel: name, ok: false, attempts: 0, error: `${name}: queue full (maxQueue ${this.cfg.maxQueue}), dropped` }
    }
    if (!this.circuit.allow()) {
      this.counters.failed++
      return { channel: name, ok: false, attempts: 0, error: `${name}: circuit open after repeated failures` }
    }
    this.queued += events.length
    try {
      const report = await this.run(events)
      if (report.ok) { this.counters.delivered++; this.circuit.success() } else { this.counters.failed++; this.circuit.failure() }
      return report
    } finally {
      this.queued -= events.length
    }
  }

  private async run (events: readonly AlertEvent[]): Promise<DeliveryReport> {
    const name = this.cfg.name
    let messages: unknown[]
    try {
      messages = this.channel.render(events)
    } catch (err) {
      return { channel: name, ok: false, attempts: 0, error: this.mask(`${name}: could not render: ${(err as Error).message}`) }
    }
    let attempts = 0
    for (const message of messages) {
      let tries = 0
      for (;;) {
        tries++
        attempts++
        if (tries > 1) this.counters.retried++
        const outcome = await this.attempt(message)
        if (outcome.ok) break
        const error = this.mask(outcome.error)
        if (!outcome.retryable) return { channel: name, ok: false, attempts, error: `${error} (permanent, not retried)` }
        if (tries >= this.cfg.retry.maxAttempts) return { channel: name, ok: false, attempts, error: `${error} (gave up after ${tries} attempt${tries === 1 ? '' : 's'})` }
        if (this.stop.aborted) return { channel: name, ok: false, attempts, error: `${error} (shutdown deadline reached)` }
        const wait = backoffMs(tries, this.cfg.retry, outcome.retryAfterMs)
        if (!(await sleep(wait, this.stop))) return { channel: name, ok: false, attempts, error: `${error} (shutdown deadline reached before the next attempt)` }
      }
    }
    return { channel: name, ok: true, attempts }
  }

  private async attempt (message: unknown): Promise<Outcome> {
    await this.slots.acquire()
    const ms = this.cfg.timeoutMs
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(new Error(`attempt timed out after ${ms} ms`)), ms)
    timer.unref()
    const signal = AbortSignal.any([timeout.signal, this.stop])
    const what = this.cfg.name
    try {
      const out = await Promise.race([
        this.channel.send(message, { signal }),
        // A channel that ignores its signal still cannot hold the delivery past the timeout.
        new Promise<Outcome>((resolve) => signal.addEventListener('abort', () => resolve(outcomeFromError(undefined, what, signal)), { once: true }))
      ])
      return out
    } catch (err) {
      return outcomeFromError(err, what, signal)
    } finally {
      clearTimeout(timer)
      this.slots.release()
    }
  }

  private mask (text: string): string {
    return redact(text, this.cfg.secrets)
  }
}
