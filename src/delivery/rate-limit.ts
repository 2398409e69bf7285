/**
 * Token bucket per channel instance. `perSecond` tokens refill continuously up to `burst`. A service's
 * own "slow down" (429 + Retry-After) pauses the bucket until then. The bucket runs 5% below the
 * configured rate: a request that leaves on time can still arrive early at a service that counts
 * strictly, and one 429 costs more than 5%. The interval is also counted from each answer: a request
 * that left on time but reached the service late (a busy event loop, a slow upload) does not make
 * the next one arrive early.
 */
import { sleep } from './retry.js'

export interface RateLimit { perSecond: number, burst: number }

const MARGIN = 1.05

export class TokenBucket {
  private tokens: number
  private last: number
  private pausedUntil = 0
  /** Tokens left right after the last take. */
  private afterTake = 0
  private readonly ratePerMs: number

  constructor (readonly limit: RateLimit, private readonly now = Date.now) {
    this.tokens = limit.burst
    this.last = now()
    this.ratePerMs = limit.perSecond / 1000 / MARGIN
  }

  private refill (): void {
    const t = this.now()
    this.tokens = Math.min(this.limit.burst, this.tokens + (t - this.last) * this.ratePerMs)
    this.last = t
  }

  /** Milliseconds until a token is available (0: now). */
  waitMs (): number {
    this.refill()
    const pause = Math.max(0, this.pausedUntil - this.now())
    const forToken = this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.ratePerMs)
    return Math.max(pause, forToken)
  }

  /**
   * Milliseconds from now until `n` requests could have left, one token each, taken as soon as each
   * is there (0 for n ≤ the tokens at hand). A lower bound: it cannot know how long each answer
   * takes (see `answered`). The deliverer sizes a digest with it, so that a batch only takes alerts
   * whose deadlines leave time to send all of its messages.
   */
  msFor (n: number): number {
    this.refill()
    const pause = Math.max(0, this.pausedUntil - this.now())
    // What has refilled by the end of a pause (tokens keep accruing while paused, up to the burst).
    const atStart = Math.min(this.limit.burst, this.tokens + pause * this.ratePerMs)
    return pause + (n <= atStart ? 0 : Math.ceil((n - atStart) / this.ratePerMs))
  }

  /** Waits for a token and takes it; false when `signal` aborted first. */
  async take (signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      const w = this.waitMs()
      if (w === 0) {
        this.tokens -= 1
        this.afterTake = this.tokens
        return true
      }
      if (!(await sleep(w, signal))) return false
    }
  }

  /** Waits until a token could be taken, without taking it. */
  async ready (signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      const w = this.waitMs()
      if (w === 0) return true
      if (!(await sleep(w, signal))) return false
    }
  }

  /** The answer to the last request arrived: nothing refilled while it was under way counts. */
  answered (): void {
    this.refill()
    this.tokens = Math.min(this.tokens, this.afterTake)
  }

  /** The service asked for a pause (Retry-After): no token before then. */
  pause (ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms)
    this.refill()
    this.tokens = Math.min(this.tokens, 0)
  }
}
