/**
 * The outbox: the one module that writes alerts, receipts, settlements and acknowledgements to the
 * store (test/store-writers.test.ts holds every other module to it). The engine writes through the
 * gateway (a store error is reported and never stops a delivery); the tools beside the app (the
 * dashboard with no alerter of its own on this store, the CLI) write directly, so that a store error
 * reaches the person who asked.
 *
 * An alert's life in the store: written when admitted (with the channels it is routed to) or
 * suppressed (with why), then a receipt per channel outcome, then settled once every outcome is final.
 * An alert written but not settled is what replay delivers at the next start (or a live process takes
 * over once its owner is gone).
 */
import type { AlertEvent } from '../event.js'
import type { AlertStore } from './sqlite.js'

/** One channel's outcome for an alert, as a receipt records it. */
export interface ReceiptInput { channel: string, ok: boolean, attempts: number, error?: string, standInFor?: string }

/** Runs a store write: through the gateway (reported, never thrown) or directly (thrown). */
type Run = (what: string, fn: (s: AlertStore) => void) => void

export class Outbox {
  constructor (private readonly run: Run, private readonly now: () => number = Date.now) {}

  /** For a tool: writes go straight to `store`, and a store error is thrown to the caller. */
  static direct (store: AlertStore, now: () => number = Date.now): Outbox {
    return new Outbox((_what, fn) => { fn(store) }, now)
  }

  /** An admitted alert, to be delivered to `channels`: in the outbox until settled. */
  admitted (event: AlertEvent, channels: readonly string[]): void {
    this.run('write the alert', (s) => { s.insert(event.toJSON(), channels, this.now()) })
  }

  /** A suppressed alert (why: dedupe, silence, inhibit, mute, …): history only, nothing to deliver. */
  suppressed (event: AlertEvent, why: string): void {
    this.run('write the alert', (s) => { s.insert(event.toJSON(), [], this.now(), why) })
  }

  /**
   * A delivery's outcomes. `final`: every outcome is final, so the alert is settled; when the shutdown
   * cut it short, only the successes are recorded and the alert stays in the outbox for the next start.
   */
  delivered (id: string, outcomes: readonly ReceiptInput[], final: boolean): void {
    this.run('record receipts', (s) => {
      for (const r of outcomes) if (r.ok || final) s.receipt(id, r)
      if (final) s.settle(id)
    })
  }

  /** Nothing is left to deliver for this alert (replay: every channel it was routed to is gone). */
  settle (id: string): void {
    this.run('settle', (s) => { s.settle(id) })
  }

  /**
   * An alert delivered elsewhere (an alerter with no store, or another one) recorded here with its
   * outcomes in one go, settled.
   */
  recorded (event: AlertEvent, outcomes: readonly ReceiptInput[], suppressed?: string): void {
    this.run('write the alert', (s) => {
      s.insert(event.toJSON(), outcomes.map((d) => d.channel), this.now(), suppressed)
      for (const r of outcomes) s.receipt(event.id, r)
      s.settle(event.id)
    })
  }

  /**
   * A resolve recorded without delivering it (no alerter to send it): settled at once, and the
   * pending escalation steps of every alert of its fingerprint are cancelled.
   */
  resolvedHere (event: AlertEvent, ids: readonly string[]): void {
    this.run('write the resolve', (s) => {
      const at = this.now()
      s.insert(event.toJSON(), [], at)
      s.settle(event.id, at)
      for (const id of ids) s.cancelEscalations(id)
    })
  }

  /**
   * Records the acknowledgement of each of `ids` (the first one of an alert stands; a second is
   * ignored) and cancels their pending escalation steps.
   */
  acknowledged (ids: readonly string[], by: string, comment: string): void {
    this.run('record the acknowledgement', (s) => {
      const at = this.now()
      for (const id of ids) s.ack(id, by, comment, at)
    })
  }
}
