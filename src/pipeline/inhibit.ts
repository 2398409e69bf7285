/**
 * Inhibition (Alertmanager's inhibit_rules): while an alert matching a rule's `source` is firing and
 * was seen within `windowMs`, alerts matching its `target` with the same values of the `equal` labels
 * are not sent. A resolved source alert ends its inhibition; an alert never inhibits itself.
 */
import type { AlertEvent } from '../event.js'
import { alertLabelSet, matchesAlert } from '../matchers.js'
import type { ResolvedInhibit } from '../options.js'

export class Inhibitor {
  /** Per rule: equal-label values → firing source fingerprints and when each was last seen. */
  private readonly sources: Array<Map<string, Map<string, number>>>

  constructor (private readonly rules: readonly ResolvedInhibit[], private readonly now: () => number = Date.now) {
    this.sources = rules.map(() => new Map())
  }

  private key (rule: ResolvedInhibit, e: AlertEvent): string {
    const labels = alertLabelSet(e)
    return JSON.stringify(rule.equal.map((l) => labels[l] ?? ''))
  }

  /** Records a source alert (or its end). Call for every alert, inhibited ones included. */
  observe (e: AlertEvent): void {
    this.rules.forEach((rule, i) => {
      if (!matchesAlert(rule.source, e)) return
      const byKey = this.sources[i] as Map<string, Map<string, number>>
      const k = this.key(rule, e)
      if (e.status === 'resolved') {
        const fps = byKey.get(k)
        fps?.delete(e.fingerprint)
        if (fps?.size === 0) byKey.delete(k)
        return
      }
      let fps = byKey.get(k)
      if (fps === undefined) { fps = new Map(); byKey.set(k, fps) }
      fps.set(e.fingerprint, this.now())
    })
  }

  /** The rule index that inhibits `e`, or -1. */
  inhibitedBy (e: AlertEvent): number {
    const t = this.now()
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i] as ResolvedInhibit
      if (!matchesAlert(rule.target, e)) continue
      const fps = this.sources[i]?.get(this.key(rule, e))
      if (fps === undefined) continue
      for (const [fp, seen] of fps) {
        if (fp === e.fingerprint) continue
        if (t - seen <= rule.windowMs) return i
        fps.delete(fp)
      }
    }
    return -1
  }
}
