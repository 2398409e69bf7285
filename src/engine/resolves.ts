/**
 * Resolves (SPEC §10): a resolved event goes to the channels that carried the last firing alert of its
 * fingerprint. This keeps that index (memory, bounded, then the store) and the deliveries of firing
 * alerts still under way: a resolve logged right after its firing alert waits for that delivery, as it
 * must know where the firing alert went.
 */
import type { DeliveryReport } from '../delivery/deliverer.js'
import { AlertEvent } from '../event.js'
import { forgetOldest } from '../bounded.js'
import type { Outbox } from '../store/outbox.js'
import type { Deliver, DispatchResult } from './types.js'

export interface FiringRecord { id: string, timestamp: string, channels: string[], event?: AlertEvent }

/** How many firing records are kept in memory (with a store, resolves still find older ones there). */
const FIRING_MAX = 20_000

export interface ResolveDeps {
  /** The last firing alert of a fingerprint some channel delivered, as the store knows it (a read that never throws). */
  lastDelivered: (fingerprint: string) => Omit<FiringRecord, 'event'> | undefined
  outbox: Outbox
  deliver: Deliver
  now: () => number
  /** The flood batch carrying a firing alert of this fingerprint, if any (sent now if still open). */
  floodCarrying: (fingerprint: string) => Promise<void> | undefined
  /** Stores and counts a suppressed event. */
  suppress: (event: AlertEvent, why: 'resolve-unknown', detail: string) => DispatchResult
  /** The alert was resolved: its dedupe window and escalations end. */
  ended: (fingerprint: string, firingId: string) => void
}

export class Resolves {
  /** fingerprint → the last firing alert that reached a channel. */
  private readonly firing = new Map<string, FiringRecord>()
  /** fingerprint → the delivery of its firing alert still under way. */
  private readonly inFlight = new Map<string, Promise<void>>()

  constructor (private readonly deps: ResolveDeps) {}

  /** A firing alert reached `channels`; `keepEvent` where an acknowledgement will need the event itself. */
  remember (event: AlertEvent, channels: string[], keepEvent: boolean): void {
    this.firing.delete(event.fingerprint)
    this.firing.set(event.fingerprint, keepEvent ? { id: event.id, timestamp: event.timestamp, channels, event } : { id: event.id, timestamp: event.timestamp, channels })
    if (this.firing.size > FIRING_MAX) forgetOldest(this.firing, FIRING_MAX * 0.75)
  }

  /** Marks a firing alert's delivery as under way; call the result when it is done. */
  delivering (fingerprint: string): () => void {
    let settled!: () => void
    const done = new Promise<void>((resolve) => { settled = resolve })
    this.inFlight.set(fingerprint, done)
    return () => {
      if (this.inFlight.get(fingerprint) === done) this.inFlight.delete(fingerprint)
      settled()
    }
  }

  /** The firing record of a fingerprint in memory. */
  byFingerprint (fingerprint: string): FiringRecord | undefined { return this.firing.get(fingerprint) }

  /** The firing record (in memory) of an alert id. */
  byId (id: string): FiringRecord | undefined {
    for (const f of this.firing.values()) if (f.id === id) return f
    return undefined
  }

  /** The channels that carried the last firing alert of a fingerprint (memory, then the store). */
  private record (fingerprint: string): Omit<FiringRecord, 'event'> | undefined {
    return this.firing.get(fingerprint) ?? this.deps.lastDelivered(fingerprint)
  }

  async resolve (input: AlertEvent): Promise<DispatchResult> {
    const { deps } = this
    await (this.inFlight.get(input.fingerprint) ?? deps.floodCarrying(input.fingerprint))
    const fired = this.record(input.fingerprint)
    if (fired === undefined) {
      deps.ended(input.fingerprint, '')
      return deps.suppress(input, 'resolve-unknown', 'no delivered firing alert with this fingerprint')
    }
    deps.ended(input.fingerprint, fired.id)
    this.firing.delete(input.fingerprint)
    const firingFor = formatDuration(Math.max(0, Date.parse(input.timestamp) - Date.parse(fired.timestamp)))
    const event = new AlertEvent({
      ...input.toJSON(),
      body: input.body === '' ? `Firing for ${firingFor}.` : `${input.body}\n\nFiring for ${firingFor}.`,
      metadata: { ...input.metadata, firingFor, firingAlertId: fired.id }
    })
    deps.outbox.admitted(event, fired.channels)
    const deliveries: DeliveryReport[] = await deps.deliver([event], fired.channels)
    return { id: event.id, deliveries }
  }
}

/** 3723000 → "1h 2m 3s". */
function formatDuration (ms: number): string {
  const s = Math.round(ms / 1000)
  const parts: string[] = []
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (d > 0) parts.push(`${d}d`)
  if (h > 0) parts.push(`${h}h`)
  if (m > 0) parts.push(`${m}m`)
  if (sec > 0 || parts.length === 0) parts.push(`${sec}s`)
  return parts.join(' ')
}
