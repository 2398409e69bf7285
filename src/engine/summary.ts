/** Self-metrics on stderr: one line per interval, only when something failed or was dropped. */
import type { Deliverer } from '../delivery/deliverer.js'
import type { Reporter } from '../report.js'

interface Seen { failed: number, dropped: number, delivered: number }

export class Summarizer {
  private last = new Map<string, Seen>()
  private readonly timer: NodeJS.Timeout

  constructor (private readonly deliverers: ReadonlyMap<string, Deliverer>, private readonly reporter: Reporter, intervalMs: number) {
    this.timer = setInterval(() => this.report(), intervalMs)
    this.timer.unref()
  }

  report (): void {
    const parts: string[] = []
    const next = new Map<string, Seen>()
    for (const [name, d] of this.deliverers) {
      const s = d.stats()
      const prev = this.last.get(name) ?? { failed: 0, dropped: 0, delivered: 0 }
      next.set(name, { failed: s.failed, dropped: s.dropped, delivered: s.delivered })
      const failed = s.failed - prev.failed
      const dropped = s.dropped - prev.dropped
      if (failed > 0 || dropped > 0) {
        parts.push(`${name}: ${s.delivered - prev.delivered} delivered, ${failed} failed, ${dropped} dropped, ${s.queued} queued, circuit ${s.circuit}`)
      }
    }
    this.last = next
    if (parts.length > 0) this.reporter.summary(`pino-alerts: summary: ${parts.join('; ')}`)
  }

  /** Stops the timer and reports what is left. */
  close (): void {
    clearInterval(this.timer)
    this.report()
  }
}
