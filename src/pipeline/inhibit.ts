/**
 * Inhibition (Alertmanager's inhibit_rules): while an alert matching a rule's `source` is firing and
 * was seen within `windowMs`, alerts matching its `target` with the same values of the `equal` labels
 * are not sent. A resolved source alert ends its inhibition; an alert never inhibits itself.
 *
 * Bounded: sources are kept in order of when they were last seen; those older than their rule's
 * window are swept out every SWEEP_EVERY observations, and beyond MAX_SOURCES per rule the least
 * recently seen go first (an `equal` label unique per alert, an order id say, would otherwise keep
 * every source alert ever seen).
 */
import type { AlertEvent } from '../event.js'
import { alertLabelSet, matchesAlert } from '../matchers.js'
import type { ResolvedInhibit } from '../options.js'

/** Source alerts remembered per rule at the most. */
export const MAX_SOURCES = 10_000
const SWEEP_EVERY = 1000

interface RuleSources {
  /** equal-label values → source fingerprints → when each was last seen; both in order of last seen. */
  byKey: Map<string, Map<string, number>>
  count: number
}

export class Inhibitor {
  private readonly sources: RuleSources[]
  private observed = 0

  constructor (private readonly rules: readonly ResolvedInhibit[], private readonly now: () => number = Date.now) {
    this.sources = rules.map(() => ({ byKey: new Map(), count: 0 }))
  }

  /** Source alerts remembered, over every rule. */
  get size (): number {
    let n = 0
    for (const r of this.sources) n += r.count
    return n
  }

  private key (rule: ResolvedInhibit, e: AlertEvent): string {
    const labels = alertLabelSet(e)
    return JSON.stringify(rule.equal.map((l) => labels[l] ?? ''))
  }

  /** Records a source alert (or its end). Call for every alert, inhibited ones included. */
  observe (e: AlertEvent): void {
    this.rules.forEach((rule, i) => {
      if (!matchesAlert(rule.source, e)) return
      const src = this.sources[i] as RuleSources
      const k = this.key(rule, e)
      const fps = src.byKey.get(k)
      if (e.status === 'resolved') {
        if (fps?.delete(e.fingerprint) === true) src.count--
        if (fps?.size === 0) src.byKey.delete(k)
        return
      }
      const group = fps ?? new Map<string, number>()
      // Re-inserted, so that both maps stay in order of last seen (the oldest first).
      src.byKey.delete(k)
      src.byKey.set(k, group)
      if (group.delete(e.fingerprint)) src.count--
      group.set(e.fingerprint, this.now())
      src.count++
      if (src.count > MAX_SOURCES) this.forgetOldest(src, Math.floor(MAX_SOURCES * 0.75))
    })
    if (++this.observed % SWEEP_EVERY === 0) this.sweep()
  }

  /** The rule index that inhibits `e`, or -1. */
  inhibitedBy (e: AlertEvent): number {
    const t = this.now()
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i] as ResolvedInhibit
      if (!matchesAlert(rule.target, e)) continue
      const src = this.sources[i] as RuleSources
      const fps = src.byKey.get(this.key(rule, e))
      if (fps === undefined) continue
      for (const [fp, seen] of fps) {
        if (fp === e.fingerprint) continue
        if (t - seen <= rule.windowMs) return i
        fps.delete(fp)
        src.count--
      }
    }
    return -1
  }

  /** Drops every source seen longer ago than its rule's window. */
  private sweep (): void {
    const t = this.now()
    this.rules.forEach((rule, i) => {
      const src = this.sources[i] as RuleSources
      for (const [k, fps] of src.byKey) {
        for (const [fp, seen] of fps) {
          if (t - seen <= rule.windowMs) break // in order of last seen: the rest are newer
          fps.delete(fp)
          src.count--
        }
        if (fps.size === 0) src.byKey.delete(k)
      }
    })
  }

  private forgetOldest (src: RuleSources, keep: number): void {
    for (const [k, fps] of src.byKey) {
      if (src.count <= keep) return
      src.count -= fps.size
      src.byKey.delete(k)
    }
  }
}
