/**
 * Escalation: a rule's `escalate: [{ afterMs, channels }]` steps fire unless the alert was
 * acknowledged or resolved first. With a store the pending steps are written down and re-armed at
 * the next start (overdue ones fire at once); without one they live as long as the process.
 */
import { AlertEvent } from '../event.js'
import type { AlertStore } from '../store/sqlite.js'

export interface EscalationStep { afterMs: number, channels: string[] }

export class Escalator {
  private readonly timers = new Map<string, NodeJS.Timeout>()
  /** Acknowledged or resolved, without a store. */
  private readonly done = new Set<string>()

  constructor (
    private readonly fire: (event: AlertEvent, channels: string[], step: number) => Promise<void>,
    private readonly store: AlertStore | undefined,
    private readonly now: () => number = Date.now
  ) {}

  schedule (event: AlertEvent, steps: readonly EscalationStep[], from = this.now()): void {
    steps.forEach((s, i) => {
      const due = from + s.afterMs
      this.store?.addEscalation(event.id, i, due, s.channels)
      this.arm(event, i, due, s.channels)
    })
  }

  /** Re-arms what a previous run left pending. */
  restore (): number {
    if (this.store === undefined) return 0
    const pending = this.store.pendingEscalations()
    for (const p of pending) this.arm(AlertEvent.fromJSON(p.event), p.step, p.dueAt, p.channels)
    return pending.length
  }

  /** Acknowledged or resolved: no further step fires. */
  cancel (alertId: string): void {
    this.done.add(alertId)
    for (const [k, t] of this.timers) if (k.startsWith(alertId + '#')) { clearTimeout(t); this.timers.delete(k) }
    this.store?.cancelEscalations(alertId)
  }

  get pending (): number { return this.timers.size }

  close (): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  private arm (event: AlertEvent, step: number, due: number, channels: string[]): void {
    const key = `${event.id}#${step}`
    if (this.timers.has(key)) return
    const t = setTimeout(() => {
      this.timers.delete(key)
      // Acknowledged or resolved here, or by another process through the store (CLI, dashboard).
      const stored = this.store?.escalationState(event.id, step)
      if (this.done.has(event.id) || this.store?.acked(event.id) !== undefined || (stored !== undefined && stored !== 'pending')) {
        this.store?.setEscalation(event.id, step, 'cancelled')
        return
      }
      this.store?.setEscalation(event.id, step, 'fired')
      void this.fire(event, channels, step)
    }, Math.max(0, due - this.now()))
    // Escalations do not keep a process alive: with a store they survive a restart.
    t.unref()
    this.timers.set(key, t)
  }
}
