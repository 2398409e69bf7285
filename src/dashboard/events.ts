/**
 * `GET /events`: server-sent events for every open page. The store is written by other processes,
 * so the feed polls it — only while a page is listening:
 * - every 250 ms `lastRowId()`, and on a change `since(rowid)`: an `alert` event per new alert, noticed
 *   well within a second of being stored by any process;
 * - every second: alerts seen pending that have since settled (`update`, with their receipts), recent
 *   alerts acknowledged elsewhere (`ack`), the silences, when they changed (`silences`), and the
 *   processes writing to the store, when one appeared, ended, died, or its counters or channels'
 *   health changed (`processes`, the body of `GET /api/processes`; a heartbeat that changed nothing
 *   else is not sent).
 * Changes made through this dashboard are sent at once (`ack`, `silences`).
 *
 * Event ids are store rowids: a reconnecting page (`Last-Event-ID`) gets what it missed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AlertStore } from '../store/sqlite.js'
import { itemOf, type AlertItem, type SilenceItem } from './api.js'
import type { ProcessItem } from './routing.js'
import { forgetOldest } from '../bounded.js'

const TICK_MS = 250
const HEARTBEAT_MS = 15_000
/** How many pending / unacknowledged alerts are watched for changes made elsewhere. */
const WATCH_MAX = 1000

export class LiveFeed {
  private readonly clients = new Set<ServerResponse>()
  private timer: NodeJS.Timeout | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private lastRowId = 0
  private ticks = 0
  /** id → when first watched: pending alerts (for `update`) and unacknowledged firing ones (for `ack`). */
  private readonly pending = new Map<string, number>()
  private readonly unacked = new Map<string, number>()
  private silenceSignature = ''
  private processSignature = ''
  /** The last poll error (a busy or vanished store); cleared by the next good poll. */
  lastError: string | undefined

  constructor (
    private readonly store: AlertStore,
    private readonly silences: () => SilenceItem[],
    private readonly processes: () => { processes: ProcessItem[] }
  ) {}

  get size (): number { return this.clients.size }

  /** Takes over an authenticated `GET /events` request. */
  attach (req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no'
    })
    res.write('retry: 1000\n\n')
    if (this.clients.size === 0) this.start()
    this.clients.add(res)
    const drop = (): void => {
      this.clients.delete(res)
      if (this.clients.size === 0) this.stop()
    }
    req.on('close', drop)
    res.on('error', drop)

    const last = Number(req.headers['last-event-id'])
    const current = this.store.lastRowId()
    if (Number.isInteger(last) && last > 0 && last < current) {
      // Replays what a reconnecting page missed (at most 500; beyond that it reloads its list).
      const missed = this.store.since(last, 500)
      for (const e of missed) this.send(res, 'alert', this.item(e), e.rowid)
    }
    this.send(res, 'hello', { lastRowId: current, silences: this.silences() })
  }

  /** Tells every page (acks and silence changes made through this dashboard). */
  broadcast (event: string, data: unknown, id?: number): void {
    if (event === 'silences') this.silenceSignature = signature((data as { silences: SilenceItem[] }).silences)
    if (event === 'ack') this.unacked.delete((data as { id: string }).id)
    for (const res of this.clients) this.send(res, event, data, id)
  }

  close (): void {
    this.stop()
    for (const res of this.clients) res.end()
    this.clients.clear()
  }

  private send (res: ServerResponse, event: string, data: unknown, id?: number): void {
    // JSON has no raw line breaks: one `data:` line per event.
    res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  private item (e: Parameters<typeof itemOf>[1]): AlertItem {
    const item = itemOf(this.store, e)
    const now = Date.now()
    if (item.delivery === 'pending') this.watch(this.pending, item.id, now)
    if (item.status === 'firing' && item.acked === null && item.suppressed === undefined) this.watch(this.unacked, item.id, now)
    return item
  }

  private watch (m: Map<string, number>, id: string, now: number): void {
    m.set(id, now)
    if (m.size > WATCH_MAX) forgetOldest(m, WATCH_MAX)
  }

  private start (): void {
    this.lastRowId = this.store.lastRowId()
    this.silenceSignature = signature(this.silences())
    this.processSignature = processSignature(this.processes())
    // Recent alerts that may still settle or be acknowledged elsewhere.
    for (const e of this.store.history({ limit: 300 }).reverse()) this.item(e)
    this.ticks = 0
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
    this.heartbeat = setInterval(() => { for (const res of this.clients) res.write(': keep-alive\n\n') }, HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  private stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    this.timer = undefined
    this.heartbeat = undefined
    this.pending.clear()
    this.unacked.clear()
  }

  private tick (): void {
    try {
      const last = this.store.lastRowId()
      if (last < this.lastRowId) this.lastRowId = last // rows removed (retention) or the file replaced
      while (last > this.lastRowId) {
        const rows = this.store.since(this.lastRowId, 500)
        if (rows.length === 0) break
        for (const e of rows) this.broadcast('alert', this.item(e), e.rowid)
        this.lastRowId = (rows[rows.length - 1] as { rowid: number }).rowid
      }
      if (++this.ticks % 4 === 0) this.slowTick()
      this.lastError = undefined
    } catch (err) {
      this.lastError = (err as Error).message
    }
  }

  /** Once a second: changes other processes made to alerts already shown. */
  private slowTick (): void {
    const now = Date.now()
    for (const [id, since] of [...this.pending]) {
      const e = this.store.get(id)
      if (e === undefined) { this.pending.delete(id); continue }
      if (e.settled) {
        this.pending.delete(id)
        this.broadcast('update', itemOf(this.store, e))
      } else if (now - since > 600_000) {
        this.pending.delete(id) // its process died: the next start delivers it; the page can reload
      }
    }
    for (const [id, since] of [...this.unacked]) {
      const acked = this.store.acked(id)
      if (acked !== undefined) this.broadcast('ack', { id, acked })
      else if (now - since > 86_400_000) this.unacked.delete(id)
    }
    const silences = this.silences()
    const sig = signature(silences)
    if (sig !== this.silenceSignature) this.broadcast('silences', { silences })
    const processes = this.processes()
    const psig = processSignature(processes)
    if (psig !== this.processSignature) {
      this.processSignature = psig
      this.broadcast('processes', processes)
    }
  }
}

/** What the page shows of the processes, but the time of the last heartbeat (it moves every few seconds). */
function processSignature (body: { processes: readonly ProcessItem[] }): string {
  return JSON.stringify(body.processes.map(({ at: _at, ...rest }) => rest))
}

function signature (list: readonly SilenceItem[]): string {
  return list.map((s) => `${s.id}:${s.endsAt}:${s.active ? 1 : 0}`).join('|')
}
