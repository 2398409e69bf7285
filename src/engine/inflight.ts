/**
 * What the engine is still doing: every delivery promise (flush and close wait for them, bounded by a
 * deadline), and `busy`, the alerts accepted and not yet finished (stats().inFlight; flood mode
 * starts beyond a threshold of it).
 */
import { sleep } from '../delivery/retry.js'

export class InFlight {
  private readonly promises = new Set<Promise<unknown>>()
  /** Alerts accepted and not yet finished. */
  busy = 0

  get size (): number { return this.promises.size }

  track<T> (p: Promise<T>): Promise<T> {
    this.promises.add(p)
    const forget = (): void => { this.promises.delete(p) }
    p.then(forget, forget) // (a rejection stays with the caller's promise: no second, unhandled one here)
    return p
  }

  /** Waits until nothing is in flight, or until `deadline` (epoch ms). */
  async settle (deadline: number): Promise<void> {
    while (this.promises.size > 0) {
      const left = deadline - Date.now()
      if (left <= 0) return
      const done = new AbortController()
      await Promise.race([Promise.allSettled([...this.promises]), sleep(left, done.signal)])
      done.abort()
    }
  }
}
