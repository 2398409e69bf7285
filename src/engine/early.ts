/**
 * Alerts dispatched before the channels and the store are up wait here, bounded as a channel's queue
 * is: beyond `max` the oldest info alert is dropped, then the oldest warn alert; critical alerts are
 * never dropped. Each waiting alert costs its event and one small record, not a chain of promises.
 */
import type { AlertEvent, Severity } from '../event.js'
import type { DispatchResult } from './types.js'

interface Waiting { seq: number, event: AlertEvent, resolve: (r: DispatchResult) => void }

export class StartQueue {
  private readonly lists: Record<Severity, Waiting[]> = { info: [], warn: [], critical: [] }
  private readonly heads: Record<Severity, number> = { info: 0, warn: 0, critical: 0 }
  private seq = 0
  private size = 0

  constructor (private readonly max: number, private readonly dropped: (w: Waiting) => void) {}

  add (event: AlertEvent, resolve: (r: DispatchResult) => void): void {
    this.lists[event.severity].push({ seq: this.seq++, event, resolve })
    this.size++
    while (this.size > this.max) {
      const victim = this.shift('info') ?? this.shift('warn')
      if (victim === undefined) return
      this.dropped(victim)
    }
  }

  /** Everything still waiting, in the order it came, and the queue emptied. */
  drain (): Waiting[] {
    const out: Waiting[] = []
    for (;;) {
      let next: Severity | undefined
      for (const s of ['info', 'warn', 'critical'] as const) {
        const w = this.lists[s][this.heads[s]]
        if (w !== undefined && (next === undefined || w.seq < (this.lists[next][this.heads[next]] as Waiting).seq)) next = s
      }
      if (next === undefined) break
      out.push(this.shift(next) as Waiting)
    }
    for (const s of ['info', 'warn', 'critical'] as const) { this.lists[s] = []; this.heads[s] = 0 }
    this.size = 0
    return out
  }

  private shift (s: Severity): Waiting | undefined {
    const w = this.lists[s][this.heads[s]]
    if (w === undefined) return undefined
    this.lists[s][this.heads[s]++] = undefined as unknown as Waiting // let the event go
    this.size--
    return w
  }
}
