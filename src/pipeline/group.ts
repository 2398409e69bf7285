/**
 * Grouping (Alertmanager's group_by / group_wait / group_interval): alerts with the same values of
 * `by` (labels, or source/severity/title/status) and the same route wait together and go out as one
 * digest: the first after `waitMs`, later additions `intervalMs` after the group's last digest.
 */
import type { AlertEvent } from '../event.js'
import { alertLabelSet } from '../matchers.js'

interface Pending<R> { event: AlertEvent, resolve: (r: R) => void }
interface Group<R> { channels: string[], pending: Array<Pending<R>>, timer: NodeJS.Timeout | undefined, lastFlush: number | undefined }

export class Grouper<R> {
  private readonly groups = new Map<string, Group<R>>()

  constructor (
    private readonly cfg: { by: string[], waitMs: number, intervalMs: number },
    /** Sends one digest; each event's promise resolves with what its digest's delivery returned. */
    private readonly send: (events: AlertEvent[], channels: string[]) => Promise<R>,
    private readonly now: () => number = Date.now
  ) {}

  keyOf (e: AlertEvent, channels: readonly string[]): string {
    const labels = alertLabelSet(e)
    return JSON.stringify([this.cfg.by.map((l) => labels[l] ?? ''), [...channels].sort()])
  }

  add (e: AlertEvent, channels: string[]): Promise<R> {
    const key = this.keyOf(e, channels)
    let g = this.groups.get(key)
    if (g === undefined) {
      g = { channels, pending: [], timer: undefined, lastFlush: undefined }
      this.groups.set(key, g)
    }
    const group = g
    return new Promise<R>((resolve) => {
      group.pending.push({ event: e, resolve })
      if (group.timer === undefined) {
        const delay = group.lastFlush === undefined ? this.cfg.waitMs : Math.max(0, group.lastFlush + this.cfg.intervalMs - this.now())
        group.timer = setTimeout(() => { void this.flush(key) }, delay)
      }
    })
  }

  /** Pending groups: how many alerts wait. */
  get waiting (): number {
    let n = 0
    for (const g of this.groups.values()) n += g.pending.length
    return n
  }

  async flush (key: string): Promise<void> {
    const g = this.groups.get(key)
    if (g === undefined) return
    if (g.timer !== undefined) { clearTimeout(g.timer); g.timer = undefined }
    const batch = g.pending.splice(0)
    if (batch.length === 0) return
    g.lastFlush = this.now()
    const result = await this.send(batch.map((p) => p.event), g.channels)
    for (const p of batch) p.resolve(result)
    // A group idle for a whole interval starts afresh (with waitMs) next time.
    const t = setTimeout(() => { if (g.pending.length === 0 && g.timer === undefined) this.groups.delete(key) }, this.cfg.intervalMs)
    t.unref()
  }

  /** At close: everything waiting goes out now; nothing is held back. */
  async flushAll (): Promise<void> {
    await Promise.all([...this.groups.keys()].map(async (k) => await this.flush(k)))
  }
}
