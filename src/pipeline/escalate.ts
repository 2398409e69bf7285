/**
 * Escalation: a rule's `escalate: [{ afterMs, channels }]` steps fire unless the alert was
 * acknowledged or resolved first. With a store the pending steps are written down, owned by this
 * process, and re-armed by the next one that takes them over (replay.ts: at the next start, or by a
 * live process sharing the store once this one is gone; overdue ones fire at once); without one they
 * live as long as the process.
 *
 * The escalator sees the store as `EscalationStore` only (the engine's adapter over the gateway: a
 * locked or full store is reported, never thrown from a timer).
 * A step is marked `fired` once its delivery has ended, not when its timer fires: one cut short by
 * the shutdown deadline stays pending and fires again at the next start (at least once).
 */
import { forgetOldest } from '../bounded.js'
import { AlertEvent } from '../event.js'
import type { StoredStep } from '../store/sqlite.js'

export interface EscalationStep { afterMs: number, channels: string[] }

/** The pending steps as the escalator sees the store; without a store every call does nothing. */
export interface EscalationStore {
  /** This process's name in a shared store (the owner of what it writes). */
  readonly owner: string | undefined
  add (alertId: string, step: number, dueAt: number, channels: readonly string[]): void
  /** A step as stored: another process may have cancelled it (an ack, a resolve) or taken it over. */
  step (alertId: string, step: number): { state: string, owner: string | null } | undefined
  /** Acknowledged in the store (by this process, the CLI or the dashboard). */
  acked (alertId: string): boolean
  set (alertId: string, step: number, state: 'fired' | 'cancelled'): void
  /** Every pending step of an alert is cancelled. */
  cancel (alertId: string): void
}

/** How many acknowledged or resolved alert ids are remembered without a store. */
const DONE_MAX = 10_000

export class Escalator {
  private readonly timers = new Map<string, NodeJS.Timeout>()
  /** Acknowledged or resolved (without a store this is the only record; bounded, oldest forgotten). */
  private readonly done = new Map<string, true>()

  constructor (
    /** Delivers a step; resolves true when its outcome is final (false: cut short by the shutdown). */
    private readonly fire: (event: AlertEvent, channels: string[], step: number) => Promise<boolean>,
    private readonly store: EscalationStore,
    private readonly now: () => number = Date.now
  ) {}

  schedule (event: AlertEvent, steps: readonly EscalationStep[], from = this.now()): void {
    if (this.done.has(event.id)) return
    steps.forEach((s, i) => {
      const due = from + s.afterMs
      this.store.add(event.id, i, due, s.channels)
      this.arm(event, i, due, s.channels)
    })
  }

  /** Arms steps taken over from the store (left pending by a previous run or a process that is gone). */
  adopt (steps: readonly StoredStep[]): void {
    for (const p of steps) this.arm(AlertEvent.fromJSON(p.event), p.step, p.dueAt, p.channels)
  }

  /** Acknowledged or resolved: no further step fires. */
  cancel (alertId: string): void {
    this.done.set(alertId, true)
    if (this.done.size > DONE_MAX) forgetOldest(this.done, DONE_MAX * 0.75)
    for (const [k, t] of this.timers) if (k.startsWith(alertId + '#')) { clearTimeout(t); this.timers.delete(k) }
    this.store.cancel(alertId)
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
      const stored = this.store.step(event.id, step)
      // Taken over by another process (this one's heartbeat lapsed): that one fires it.
      if (stored !== undefined && stored.owner !== null && stored.owner !== this.store.owner) return
      // Acknowledged or resolved here, or by another process through the store (CLI, dashboard).
      if (this.done.has(event.id) || this.store.acked(event.id) || (stored !== undefined && stored.state !== 'pending')) {
        if (stored === undefined || stored.state === 'pending') this.store.set(event.id, step, 'cancelled')
        return
      }
      void this.fire(event, channels, step).then((final) => {
        if (final) this.store.set(event.id, step, 'fired')
      })
    }, Math.max(0, due - this.now()))
    // Escalations do not keep a process alive: with a store they survive a restart.
    t.unref()
    this.timers.set(key, t)
  }
}
