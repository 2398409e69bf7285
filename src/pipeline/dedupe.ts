/**
 * Dedupe: the same fingerprint within its window (a cooldown, from the last notification) is
 * suppressed and counted; the next notification carries the count ("+N repeats suppressed").
 */
import type { AlertEvent } from '../event.js'
import { matchesAlert } from '../matchers.js'
import { forgetOldest } from '../bounded.js'
import type { ResolvedOptions } from '../options.js'

type DedupeOptions = NonNullable<ResolvedOptions['dedupe']>

export class Deduper {
  private readonly last = new Map<string, { sentAt: number, suppressed: number }>()
  private readonly maxWindow: number

  constructor (private readonly cfg: DedupeOptions, private readonly now: () => number = Date.now) {
    this.maxWindow = Math.max(cfg.windowMs, ...cfg.rules.map((r) => r.windowMs))
  }

  windowFor (e: AlertEvent): number {
    for (const r of this.cfg.rules) if (matchesAlert(r.matchers, e)) return r.windowMs
    return this.cfg.windowMs
  }

  /** A firing alert: suppress it, or let it through with how many repeats were suppressed before it. */
  check (e: AlertEvent): { suppress: true, repeats: number } | { suppress: false, repeats: number } {
    const t = this.now()
    const entry = this.last.get(e.fingerprint)
    if (entry !== undefined && t - entry.sentAt < this.windowFor(e)) {
      entry.suppressed++
      return { suppress: true, repeats: entry.suppressed }
    }
    const repeats = entry?.suppressed ?? 0
    this.last.delete(e.fingerprint) // re-inserted last: the map stays in order of last notification
    this.last.set(e.fingerprint, { sentAt: t, suppressed: 0 })
    if (this.last.size > this.nextPrune) this.prune(t)
    return { suppress: false, repeats }
  }

  private nextPrune = 10_000

  /** A resolved alert ends the episode: the next firing one notifies at once. */
  forget (fingerprint: string): void {
    this.last.delete(fingerprint)
  }

  /**
   * Forgets fingerprints whose window has passed (oldest first: the map is in notification order, so
   * the walk stops at the first live one). Runs when the map doubled since the last prune: amortised O(1).
   */
  private prune (t: number): void {
    for (const [fp, v] of this.last) {
      if (t - v.sentAt < this.maxWindow) break
      if (v.suppressed === 0) this.last.delete(fp)
    }
    // Bounded memory in a flood of distinct alerts: beyond 100 000 the oldest are forgotten (they may notify again).
    forgetOldest(this.last, 100_000)
    this.nextPrune = Math.max(10_000, this.last.size * 2)
  }
}
