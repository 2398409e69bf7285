/**
 * The wrapper every channel sits behind:
 *
 *   bounded queue → rate limit (what waits is coalesced into a digest) → circuit → attempt timeout
 *   → retry with backoff and jitter (at least the service's Retry-After; never for permanent errors)
 *
 * bounded in total by `deliveryTimeoutMs`. A request the HTTP client refused to build because of the
 * alert's own content (an id or label that cannot be a header value: `isNotSent`) is permanent and is
 * not counted by the circuit, which guards against a failing service, not a bad alert.
 * Channels only render and send once; this is the one place
 * that waits, paces, counts and masks secrets. Each event gets its own report, also when it travelled
 * in a digest with others.
 *
 * A batch (what a rate-limited channel takes off its queue at once) holds only as many alerts as its
 * messages can carry before the oldest deadline among them (`plan`); each alert's report follows the
 * message(s) that carried it (`groups`), so an alert the service accepted is never reported failed, nor
 * handed to failover, because another alert of the batch ran out of time.
 */
import type { Channel, Outcome } from '../channels/channel.js'
import type { AlertEvent } from '../event.js'
import type { ResolvedChannel } from '../options.js'
import { redact } from '../redact.js'
import { Circuit, type CircuitState } from './circuit.js'
import { isNotSent, outcomeFromError } from '../http/outcome.js'
import { TokenBucket } from './rate-limit.js'
import { backoffMs, sleep } from './retry.js'

export interface DeliveryReport {
  channel: string
  ok: boolean
  attempts: number
  error?: string
  /** Set when this channel stood in for one (or more, comma-separated) routed channels that failed. */
  standInFor?: string
  /** How many alerts travelled together in the digest that carried this one (absent: alone). */
  digestOf?: number
}

export interface ChannelStats {
  type: string
  /** Alerts routed to this channel (stand-ins included). */
  received: number
  /** Alerts delivered. */
  delivered: number
  /** Alerts whose delivery failed for good (after retries, timeouts, circuit open, dropped excluded). */
  failed: number
  /** Alerts dropped because the queue was full (oldest info first, then warn; never critical). */
  dropped: number
  /** Alerts not sent on purpose that would have gone to this channel (silenced, inhibited, muted, deduped). */
  suppressed: number
  /** Requests made to the service (every attempt of every message). */
  attempts: number
  /** Attempts after the first, per message. */
  retried: number
  /** Messages the service accepted. */
  messages: number
  /** Deliveries that carried more than one alert. */
  digests: number
  /** Alerts waiting in the queue. */
  queued: number
  /** Batches being delivered now. */
  inFlight: number
  circuit: CircuitState
  /** The last failure (its error, secrets masked, at most 300 characters); absent before any. */
  lastError?: string
  /** When it happened (ISO 8601). */
  lastErrorAt?: string
}

/** One parcel: an alert, or a group's digest that must travel together. */
interface Item {
  events: AlertEvent[]
  /** The most severe of `events` (what the queue bound looks at). */
  severity: AlertEvent['severity']
  deadline: number
  resolve: (r: DeliveryReport) => void
  /** Requests made for it in earlier batches (a digest cut short, see `cut`): its report counts them. */
  tried?: number
}

/** What the channel made of a batch: its messages, or why it could not render them. */
type Rendered = { messages: unknown[] } | { error: string }

/** Items taken off the queue to travel together, and what they rendered into. */
interface Batch { items: Item[], rendered: Rendered }

/** A possible batch (the first items of the queue): what they render into, and the oldest deadline among them. */
interface Candidate { minDeadline: number, rendered: Rendered }

/**
 * Items that stand or fall together: every message of the group may carry every item of it. A batch
 * is one group when the channel merged its alerts (a digest, perhaps split into parts: which part
 * carries which alert is the channel's secret), or one group per item when each message is known to
 * carry one item only (PagerDuty: one event per alert). An item's report is its group's outcome, so an
 * alert in a message the service accepted is never reported failed because another message was not.
 */
interface Group {
  items: Item[]
  events: number
  /** Deadlines of the items: the oldest bounds the group until one of its messages is accepted. */
  minDeadline: number
  maxDeadline: number
  /** Messages to send for this group, and how many the service accepted so far. */
  messages: number
  accepted: number
  attempts: number
  /** Messages that failed for good (permanent, retries exhausted): the others are still sent. */
  failures: string[]
  settled: boolean
}

/**
 * How one message went: accepted, failed for good, or cut short by the deadline or shutdown.
 * `asked`: attempts that asked the service (all but those refused before sending, see `isNotSent`):
 * only they tell the circuit breaker anything about it.
 */
type Sent = { ok: true, attempts: number } | { ok: false, attempts: number, asked: number, error: string, cut: boolean }

/**
 * A FIFO with a moving head: taking from the front is O(1) amortized, where `Array#splice(0, k)` or
 * `shift()` on a large array moves every element left (quadratic over a long queue).
 */
class Fifo<T> {
  private buf: T[] = []
  private head = 0

  get size (): number { return this.buf.length - this.head }
  at (i: number): T { return this.buf[this.head + i] as T }
  push (x: T): void { this.buf.push(x) }

  take (k: number): T[] {
    const out = this.buf.slice(this.head, this.head + k)
    this.head += out.length
    // Compact once the dead front outweighs the live part: memory stays within twice the queue.
    if (this.head === this.buf.length) { this.buf = []; this.head = 0 } else if (this.head > 1024 && this.head * 2 > this.buf.length) { this.buf = this.buf.slice(this.head); this.head = 0 }
    return out
  }

  /** Puts `xs` back in front, in their order (they were taken from there). */
  putBack (xs: readonly T[]): void {
    if (xs.length <= this.head) {
      this.head -= xs.length
      for (let i = 0; i < xs.length; i++) this.buf[this.head + i] = xs[i] as T
    } else {
      this.buf = xs.concat(this.buf.slice(this.head))
      this.head = 0
    }
  }

  findIndex (pred: (x: T) => boolean): number {
    for (let i = this.head; i < this.buf.length; i++) if (pred(this.buf[i] as T)) return i - this.head
    return -1
  }

  removeAt (i: number): T {
    return this.buf.splice(this.head + i, 1)[0] as T
  }

  drain (): T[] {
    return this.take(this.size)
  }

  /** Removes every element matching `pred` in one pass (not one splice each: that is O(n) per element). */
  removeWhere (pred: (x: T) => boolean): T[] {
    const kept: T[] = []
    const removed: T[] = []
    for (let i = this.head; i < this.buf.length; i++) {
      const x = this.buf[i] as T
      if (pred(x)) removed.push(x)
      else kept.push(x)
    }
    if (removed.length > 0) { this.buf = kept; this.head = 0 }
    return removed
  }
}

/** While a circuit is open, how often it is looked at again (it half-opens with time alone). */
const CIRCUIT_RECHECK_MS = 1000
/** `lastError` is cut to this many characters. */
const LAST_ERROR_MAX = 300

const min = (a: number, b: number): number => (b < a ? b : a)
const max = (a: number, b: number): number => (b > a ? b : a)

export class Deliverer {
  readonly circuit = new Circuit()
  /**
   * Told when the circuit changes state (closed → open, open → half-open, half-open → closed or open),
   * soon after it does: a process writes its heartbeat then, so that the dashboard sees it at once.
   */
  onCircuitChange: ((state: CircuitState) => void) | undefined
  private circuitSeen: CircuitState = 'closed'
  private circuitTimer: NodeJS.Timeout | undefined
  private lastError: { error: string, at: number } | undefined
  private readonly bucket: TokenBucket | undefined
  private readonly queue = new Fifo<Item>()
  private runners = 0
  private inFlight = 0
  private sweeper: NodeJS.Timeout | undefined
  private readonly counters = { received: 0, delivered: 0, failed: 0, dropped: 0, suppressed: 0, attempts: 0, retried: 0, messages: 0, digests: 0 }
  /** Alerts in the queue, kept with every push and removal (a sum over the queue would be O(n) per read). */
  private queuedEvents = 0
  /** Recent time from request to answer (moving average): part of what sending n messages takes. */
  private rttMs = 0

  /** `stop` aborts attempts and waits when the shutdown deadline has passed. */
  constructor (readonly channel: Channel, readonly cfg: ResolvedChannel, private readonly stop: AbortSignal) {
    this.bucket = cfg.rateLimit === undefined ? undefined : new TokenBucket(cfg.rateLimit)
  }

  get name (): string { return this.cfg.name }
  /** False while the circuit is open: failover skips it. */
  get healthy (): boolean { return this.circuit.state !== 'open' }
  /** Alerts waiting (not in flight). */
  get queued (): number { return this.queuedEvents }

  stats (): ChannelStats {
    const out: ChannelStats = { type: this.cfg.type, ...this.counters, queued: this.queued, inFlight: this.inFlight, circuit: this.circuit.state }
    if (this.lastError !== undefined) {
      out.lastError = this.lastError.error
      out.lastErrorAt = new Date(this.lastError.at).toISOString()
    }
    return out
  }

  /** A failure to report in `stats()`: masked (again: a cut must not leave half a secret), then cut. */
  private failed (error: string): void {
    const masked = this.mask(error.length > 4 * LAST_ERROR_MAX ? error.slice(0, 4 * LAST_ERROR_MAX) : error)
    this.lastError = { error: masked.length > LAST_ERROR_MAX ? masked.slice(0, LAST_ERROR_MAX - 1) + '…' : masked, at: Date.now() }
  }

  /**
   * Tells `onCircuitChange` when the state differs from the last one told. An open circuit half-opens
   * with time alone: while open it is looked at again every second (an unref'd timer).
   */
  private circuitMoved (): void {
    const state = this.circuit.state
    if (state === 'open' && this.circuitTimer === undefined) {
      this.circuitTimer = setTimeout(() => { this.circuitTimer = undefined; this.circuitMoved() }, CIRCUIT_RECHECK_MS)
      this.circuitTimer.unref()
    }
    if (state === this.circuitSeen) return
    this.circuitSeen = state
    try { this.onCircuitChange?.(state) } catch { /* a listener's failure is not the delivery's */ }
  }

  /** An alert routed here was not sent on purpose (silence, inhibit, dedupe). */
  countSuppressed (): void {
    this.counters.suppressed++
  }

  /** Delivers one alert, perhaps in a digest with others waiting for the same channel; never throws. */
  deliver (event: AlertEvent): Promise<DeliveryReport> {
    return this.deliverBatch([event])
  }

  /** Delivers alerts that must travel together (a group's digest); one report for all. Never throws. */
  deliverBatch (events: AlertEvent[]): Promise<DeliveryReport> {
    this.counters.received += events.length
    if (this.circuit.state === 'open') {
      // Straight to failover instead of waiting out retries against a service known to be down.
      this.counters.failed += events.length
      const error = `${this.name}: circuit open after ${this.circuit.threshold} failed deliveries in a row`
      this.failed(error)
      return Promise.resolve({ channel: this.name, ok: false, attempts: 0, error })
    }
    const severity = events.some((e) => e.severity === 'critical') ? 'critical' : events.some((e) => e.severity === 'warn') ? 'warn' : 'info'
    return new Promise<DeliveryReport>((resolve) => {
      this.admit({ events, severity, deadline: Date.now() + this.cfg.deliveryTimeoutMs, resolve })
      this.pump()
    })
  }

  /** Bounded queue: beyond maxQueue the oldest info alert goes first, then the oldest warn; critical never. */
  private admit (item: Item): void {
    const q = this.queue
    if (q.size >= this.cfg.maxQueue) {
      for (const sev of ['info', 'warn'] as const) {
        // A queue of criticals only is common in a flood: skip the scan (it made admission O(n²)).
        const i = this.counts[sev] === 0 ? -1 : q.findIndex((x) => x.severity === sev)
        if (i !== -1) {
          const dropped = q.removeAt(i)
          this.removed([dropped])
          this.drop(dropped)
          this.enqueue(item)
          return
        }
        if (item.severity === sev) {
          this.drop(item)
          return
        }
      }
    }
    this.enqueue(item)
  }

  /** Parcels per severity in the queue: kept with every push and removal. */
  private readonly counts = { info: 0, warn: 0, critical: 0 }
  private enqueue (item: Item): void {
    this.queue.push(item)
    this.counts[item.severity]++
    this.queuedEvents += item.events.length
  }

  private removed (items: readonly Item[]): void {
    for (const x of items) {
      this.counts[x.severity]--
      this.queuedEvents -= x.events.length
    }
  }

  private drop (item: Item): void {
    this.counters.dropped += item.events.length
    const error = `${this.name}: dropped, queue full (maxQueue ${this.cfg.maxQueue})`
    this.failed(error)
    item.resolve({ channel: this.name, ok: false, attempts: 0, error })
  }

  /** Starts runners up to the channel's concurrency; a rate-limited channel has one. */
  private pump (): void {
    const most = this.bucket === undefined ? this.cfg.concurrency : 1
    while (this.runners < most && this.queue.size > 0) {
      this.runners++
      void this.runner().finally(() => { this.runners--; if (this.queue.size > 0) this.pump() })
    }
    this.sweepLater()
  }

  private async runner (): Promise<void> {
    while (this.queue.size > 0) {
      if (this.stop.aborted) { this.failAll(`${this.name}: shutdown deadline reached`); return }
      if (this.circuit.state === 'open') { this.failAll(`${this.name}: circuit open after ${this.circuit.threshold} failed deliveries in a row`); return }
      // Wait for a token before taking what is queued: everything that arrived meanwhile travels together.
      if (this.bucket !== undefined && !(await this.bucket.ready(this.stop))) continue
      if (!this.circuit.allow()) {
        // Half-open and a probe is out: wait for its verdict.
        await sleep(50, this.stop)
        continue
      }
      this.expireFront()
      if (this.queue.size === 0) { this.circuit.release(); continue }
      const batch = this.bucket === undefined ? this.take(1, this.render(this.queue.at(0).events)) : this.plan()
      this.inFlight++
      try {
        await this.send(batch)
      } finally {
        this.inFlight--
      }
    }
  }

  private take (count: number, rendered: Rendered): Batch {
    const items = this.queue.take(count)
    this.removed(items)
    return { items, rendered }
  }

  /**
   * A rate-limited channel's next batch: the longest run from the front of the queue whose messages
   * can all leave, at the bucket's pace, before the oldest deadline among them. What does not fit
   * stays queued for the next batch (or expires there, honestly unsent) instead of riding along in a
   * digest that its deadline cannot wait for. The front item always goes: this is its only chance.
   *
   * Galloping (1, 2, 4, … then bisecting) renders O(batch · log batch) events, never the whole queue
   * for a small batch: a long queue to a one-message-per-alert channel stays linear overall.
   */
  private plan (): Batch {
    const n = this.queue.size
    const first = this.prefix(1)
    if (n === 1 || !('messages' in first.rendered)) return this.take(1, first.rendered)
    // Alerts that add no message cost the front one nothing, even when it is already short of time.
    const alone = first.rendered.messages.length
    const ok = (c: Candidate): boolean => 'messages' in c.rendered && (c.rendered.messages.length <= alone || this.inTime(c))
    let best = first
    let fits = 1
    let fails = n + 1
    for (let c = 2; ; c = min(c * 2, n)) {
      const cand = this.prefix(c)
      if (!ok(cand)) { fails = c; break }
      fits = c
      best = cand
      if (c === n) break
    }
    while (fails - fits > 1) {
      const mid = Math.floor((fits + fails) / 2)
      const cand = this.prefix(mid)
      if (ok(cand)) { fits = mid; best = cand } else fails = mid
    }
    return this.take(fits, best.rendered)
  }

  /** The first `count` queued items rendered together, and the oldest deadline among them. */
  private prefix (count: number): Candidate {
    const events: AlertEvent[] = []
    let minDeadline = Infinity
    for (let i = 0; i < count; i++) {
      const x = this.queue.at(i)
      for (const e of x.events) events.push(e)
      minDeadline = min(minDeadline, x.deadline)
    }
    return { minDeadline, rendered: this.render(events) }
  }

  /** Can every message leave and be answered before the deadline? (Answers take about `rttMs` each.) */
  private inTime (c: Candidate): boolean {
    if (!('messages' in c.rendered) || this.bucket === undefined) return false
    const m = c.rendered.messages.length
    return Date.now() + this.bucket.msFor(m) + m * this.rttMs < c.minDeadline
  }

  private render (events: readonly AlertEvent[]): Rendered {
    try {
      return { messages: this.channel.render(events) }
    } catch (err) {
      return { error: this.mask(`${this.name}: could not render: ${(err as Error).message}`) }
    }
  }

  /** Sends a batch's messages in the order the channel rendered them; each group gets its own outcome. */
  private async send (batch: Batch): Promise<void> {
    const { items, rendered } = batch
    if (!('messages' in rendered)) {
      // Our failure, not the service's: the circuit (which guards against a failing service) is left alone.
      this.circuit.release()
      this.settle(this.group(items, 0), rendered.error)
      return
    }
    const { groups, order } = this.groups(items, rendered.messages)
    let accepted = false
    let attempted = false
    for (const [g, message] of order) {
      if (g.settled) continue
      // Until a message of the group is accepted its oldest alert bounds it; after that the group is
      // partly delivered and cannot be taken back, so it may finish within its newest alert's deadline.
      const deadline = g.accepted > 0 ? g.maxDeadline : g.minDeadline
      const r = await this.transmit(message, deadline)
      g.attempts += r.attempts
      if (r.ok || r.asked > 0) attempted = true
      if (r.ok) {
        g.accepted++
        accepted = true
      } else if (r.cut) {
        this.cut(g, r.error, deadline)
      } else {
        g.failures.push(r.error)
      }
    }
    for (const g of groups) {
      if (g.settled) continue
      const of = g.messages > 1 && g.failures.length > 0 ? ` [${g.failures.length} of ${g.messages} messages failed]` : ''
      this.settle(g, g.failures.length === 0 ? undefined : g.failures.join('; ') + of)
    }
    // The circuit guards against a failing service: one accepted message says it is up; a batch cut
    // short while waiting its turn (no request made), or refused before sending because of its own
    // content (an id that cannot be a header value), says nothing about it.
    if (accepted) this.circuit.success()
    else if (attempted) this.circuit.failure()
    else this.circuit.release()
    this.circuitMoved()
    if (this.circuit.state === 'open') this.failAll(`${this.name}: circuit open after ${this.circuit.threshold} failed deliveries in a row`)
  }

  private group (items: Item[], messages: number): Group {
    let events = 0
    let minDeadline = Infinity
    let maxDeadline = -Infinity
    for (const x of items) {
      events += x.events.length
      minDeadline = min(minDeadline, x.deadline)
      maxDeadline = max(maxDeadline, x.deadline)
    }
    return { items, events, minDeadline, maxDeadline, messages, accepted: 0, attempts: 0, failures: [], settled: false }
  }

  /**
   * Splits a batch into groups (see `Group`): by what each message carries when the channel says
   * (`carries`), else one per item when each message is known to carry one item, else one group.
   */
  private groups (items: Item[], messages: unknown[]): { groups: Group[], order: Array<[Group, unknown]> } {
    if (items.length > 1 && messages.length > 1) {
      const parts = this.carried(items, messages)
      if (parts !== undefined) return parts
    }
    const owners = items.length > 1 && messages.length > 1 ? this.owners(items, messages) : undefined
    if (owners === undefined) {
      const g = this.group(items, messages.length)
      return { groups: [g], order: messages.map((m) => [g, m]) }
    }
    const perItem = new Array<number>(items.length).fill(0)
    for (const i of owners) perItem[i] = (perItem[i] as number) + 1
    const groups = items.map((x, i) => this.group([x], perItem[i] as number))
    return { groups, order: messages.map((m, j) => [groups[owners[j] as number] as Group, m]) }
  }

  /**
   * Groups from the channel's own account of which alerts each message carries (a digest split into
   * parts under a size cap): items that share a message are one group, so each part succeeds or fails
   * with exactly the alerts it carried. Undefined when the channel does not say, or when a message
   * carries no alert of the batch or an item travels in no message (then the batch is one group).
   * Linear in the batch (union-find over items).
   */
  private carried (items: readonly Item[], messages: readonly unknown[]): { groups: Group[], order: Array<[Group, unknown]> } | undefined {
    const carries = this.channel.carries
    if (carries === undefined) return undefined
    const itemOf = new Map<string, number>()
    items.forEach((x, i) => { for (const e of x.events) itemOf.set(e.id, i) })
    const parent = items.map((_, i) => i)
    const find = (i: number): number => {
      while (parent[i] !== i) { const up = parent[parent[i] as number] as number; parent[i] = up; i = up }
      return i
    }
    const first: number[] = []
    try {
      for (const m of messages) {
        let root = -1
        for (const id of carries.call(this.channel, m)) {
          const i = itemOf.get(id)
          if (i === undefined) continue
          const r = find(i)
          if (root === -1) root = r
          else if (r !== root) parent[r] = root
        }
        if (root === -1) return undefined
        first.push(root)
      }
    } catch {
      return undefined
    }
    const index = new Map<number, number>()
    const members: Item[][] = []
    items.forEach((x, i) => {
      const r = find(i)
      let k = index.get(r)
      if (k === undefined) { k = members.length; index.set(r, k); members.push([]) }
      ;(members[k] as Item[]).push(x)
    })
    const of = first.map((r) => index.get(find(r)) as number)
    const count = new Array<number>(members.length).fill(0)
    for (const k of of) count[k] = (count[k] as number) + 1
    if (count.some((n) => n === 0)) return undefined
    const groups = members.map((its, k) => this.group(its, count[k] as number))
    return { groups, order: messages.map((m, j) => [groups[of[j] as number] as Group, m]) }
  }

  /**
   * Which item each message of a batch carries, when the channel renders a batch as the messages of its
   * items rendered alone (PagerDuty: one event per alert, only reordered); undefined when it merged
   * them (a digest), when an item's render differs alone (a time in it), or when a message cannot be
   * compared. Linear in the batch, which `plan` keeps within what its deadline allows.
   */
  private owners (items: readonly Item[], messages: readonly unknown[]): number[] | undefined {
    // Every item renders into at least one message of its own: fewer messages than items is a digest
    // (a Slack flood: 3 messages for 100 000 alerts), known without rendering each item alone.
    if (messages.length < items.length) return undefined
    try {
      const byText = new Map<string, number[]>()
      let total = 0
      for (let i = 0; i < items.length; i++) {
        for (const m of this.channel.render((items[i] as Item).events)) {
          const key = JSON.stringify(m)
          const list = byText.get(key)
          if (list === undefined) byText.set(key, [i])
          else list.push(i)
          total++
        }
      }
      if (total !== messages.length) return undefined
      const owners: number[] = []
      for (const m of messages) {
        const i = byText.get(JSON.stringify(m))?.shift()
        if (i === undefined) return undefined
        owners.push(i)
      }
      return owners
    } catch {
      return undefined
    }
  }

  /**
   * A group's time ran out (its deadline, or shutdown) with a message unsent or unanswered. Items
   * whose own deadline has passed fail; if nothing of the group reached the service yet, the others
   * go back to the front of the queue, to travel in a later batch without the expired ones (a retry of
   * the same message would carry the alerts just reported failed). A group partly delivered, or one
   * cut by shutdown, fails whole: which of its alerts the accepted part carried is unknown.
   */
  private cut (g: Group, error: string, deadline: number): void {
    if (this.stop.aborted || g.accepted > 0 || g.failures.length > 0) {
      this.settle(g, [...g.failures, error].join('; '))
      return
    }
    // At least the deadline that cut the group has passed (a timer may fire a millisecond early).
    const now = max(Date.now(), deadline)
    const expired = g.items.filter((x) => x.deadline <= now)
    const rest = g.items.filter((x) => x.deadline > now)
    this.settle({ ...this.group(expired, g.messages), attempts: g.attempts, events: g.events }, error)
    g.settled = true
    if (rest.length === 0) return
    for (const x of rest) {
      x.tried = (x.tried ?? 0) + g.attempts
      this.counts[x.severity]++
      this.queuedEvents += x.events.length
    }
    this.queue.putBack(rest)
    this.sweepLater()
  }

  /** Reports every item of a group: delivered (no error) or failed with `error`. */
  private settle (g: Group, error: string | undefined): void {
    g.settled = true
    if (g.items.length === 0) return
    const ok = error === undefined
    if (ok) {
      this.counters.delivered += g.events
      if (g.events > 1) this.counters.digests++
    } else {
      let n = 0
      for (const x of g.items) n += x.events.length
      this.counters.failed += n
      this.failed(error)
    }
    const report: DeliveryReport = ok ? { channel: this.name, ok, attempts: g.attempts } : { channel: this.name, ok, attempts: g.attempts, error }
    if (g.events > 1) report.digestOf = g.events
    for (const x of g.items) x.resolve(x.tried === undefined ? { ...report } : { ...report, attempts: report.attempts + x.tried })
  }

  private failAll (error: string): void {
    const all = this.queue.drain()
    this.removed(all)
    if (all.length > 0) this.failed(error)
    for (const x of all) {
      this.counters.failed += x.events.length
      x.resolve({ channel: this.name, ok: false, attempts: 0, error })
    }
  }

  /** The report of an alert that waited past deliveryTimeoutMs (and the last error). */
  private expired (): DeliveryReport {
    const error = `${this.name}: not delivered within deliveryTimeoutMs (${this.cfg.deliveryTimeoutMs} ms)`
    this.failed(error)
    return { channel: this.name, ok: false, attempts: 0, error }
  }

  /**
   * Alerts at the front that waited past deliveryTimeoutMs fail (and go to failover) instead of being
   * sent late. Deadlines grow along the queue (admission time + a fixed timeout), so the front is
   * where they expire; the sweeper catches any other.
   */
  private expireFront (): void {
    const now = Date.now()
    while (this.queue.size > 0 && this.queue.at(0).deadline <= now) {
      const [x] = this.queue.take(1) as [Item]
      this.removed([x])
      this.counters.failed += x.events.length
      x.resolve(this.expired())
    }
  }

  private sweepLater (): void {
    if (this.sweeper !== undefined || this.queue.size === 0) return
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined
      const now = Date.now()
      const expired = this.queue.removeWhere((x) => x.deadline <= now)
      this.removed(expired)
      for (const x of expired) {
        this.counters.failed += x.events.length
        x.resolve(this.expired())
      }
      this.sweepLater()
    }, 1000)
    this.sweeper.unref()
  }

  /**
   * One message until the service accepts it: a token per attempt, retries with backoff (at least
   * what the service asked), no retry of a permanent error; bounded by `deadline` and shutdown.
   */
  private async transmit (message: unknown, deadline: number): Promise<Sent> {
    const name = this.name
    const { signal: budget, dispose } = deadlineSignal(this.stop, deadline - Date.now(), `not delivered within deliveryTimeoutMs (${this.cfg.deliveryTimeoutMs} ms)`)
    let tries = 0
    let asked = 0
    const cut = (error: string): Sent => ({ ok: false, attempts: tries, asked, error, cut: true })
    try {
      for (;;) {
        if (budget.aborted) return cut(`${name}: ${reason(budget)}`)
        if (this.bucket !== undefined && !(await this.bucket.take(budget))) return cut(`${name}: ${reason(budget)}`)
        tries++
        this.counters.attempts++
        if (tries > 1) this.counters.retried++
        const outcome = await this.attempt(message, budget)
        this.bucket?.answered()
        if (outcome.ok) { this.counters.messages++; return { ok: true, attempts: tries } }
        if (!isNotSent(outcome)) asked++
        if (outcome.retryAfterMs !== undefined) this.bucket?.pause(outcome.retryAfterMs)
        const error = this.mask(outcome.error)
        // A request refused before sending (isNotSent) is permanent: the same content fails the same way.
        if (!outcome.retryable || isNotSent(outcome)) return { ok: false, attempts: tries, asked, error: `${error} (permanent, not retried)`, cut: false }
        if (tries >= this.cfg.retry.maxAttempts) return { ok: false, attempts: tries, asked, error: `${error} (gave up after ${tries} attempt${tries === 1 ? '' : 's'})`, cut: false }
        if (budget.aborted) return cut(`${error} (${reason(budget)})`)
        const wait = backoffMs(tries, this.cfg.retry, outcome.retryAfterMs)
        if (!(await sleep(wait, budget))) return cut(`${error} (${reason(budget)} before the next attempt)`)
      }
    } finally {
      dispose()
    }
  }

  private async attempt (message: unknown, budget: AbortSignal): Promise<Outcome> {
    const ms = this.cfg.timeoutMs
    const { signal, dispose } = deadlineSignal(budget, ms, `attempt timed out after ${ms} ms`)
    const what = this.name
    const started = Date.now()
    try {
      return await Promise.race([
        this.channel.send(message, { signal }),
        // A channel that ignores its signal still cannot hold the delivery past the timeout.
        new Promise<Outcome>((resolve) => signal.addEventListener('abort', () => resolve(outcomeFromError(undefined, what, signal)), { once: true }))
      ])
    } catch (err) {
      return outcomeFromError(err, what, signal)
    } finally {
      dispose()
      // A moving average, so that one slow answer does not shrink every later digest to one alert.
      const took = Date.now() - started
      this.rttMs = this.rttMs === 0 ? took : 0.8 * this.rttMs + 0.2 * took
    }
  }

  private mask (text: string): string {
    return redact(text, this.cfg.secrets)
  }
}

/**
 * A child of `parent` that also aborts after `ms`. `dispose()` clears the timer and the listener on
 * the long-lived parent, so neither keeps a process alive nor piles up (AbortSignal.timeout cannot be
 * cancelled; AbortSignal.any leaves its listeners to the garbage collector).
 */
function deadlineSignal (parent: AbortSignal, ms: number, message: string): { signal: AbortSignal, dispose: () => void } {
  const c = new AbortController()
  const t = setTimeout(() => c.abort(new Error(message)), Math.max(0, ms))
  const onParent = (): void => c.abort(parent.reason)
  if (parent.aborted) c.abort(parent.reason)
  // A deadline already past aborts now, not on the next timer tick: no request may leave after it.
  else if (ms <= 0) c.abort(new Error(message))
  else parent.addEventListener('abort', onParent, { once: true })
  return { signal: c.signal, dispose: () => { clearTimeout(t); parent.removeEventListener('abort', onParent) } }
}

function reason (signal: AbortSignal): string {
  const r = signal.reason as { message?: string } | undefined
  return r?.message ?? 'aborted'
}
