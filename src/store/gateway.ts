/**
 * The store as the engine sees it: every call on a delivery path goes through `write` or `read`, which
 * report a store error (a full disk, a lock held too long by another process) on stderr and never
 * throw: the alert still goes out. `store` is undefined until the store is open, and without one.
 */
import type { EscalationStore } from '../pipeline/escalate.js'
import type { Reporter } from '../report.js'
import type { AlertStore } from './sqlite.js'

export class StoreGateway {
  store: AlertStore | undefined

  constructor (private readonly reporter: Reporter) {}

  /** Runs a write; a failure is reported (`store: could not <what>: …`), never thrown. */
  write (what: string, fn: (s: AlertStore) => void): void {
    if (this.store === undefined) return
    try { fn(this.store) } catch (err) { this.reporter.notice(`pino-alerts: store: could not ${what}: ${(err as Error).message}`) }
  }

  /** Runs a read; undefined without a store or when it fails (reported). */
  read<T> (what: string, fn: (s: AlertStore) => T): T | undefined {
    if (this.store === undefined) return undefined
    try { return fn(this.store) } catch (err) {
      this.reporter.notice(`pino-alerts: store: could not ${what}: ${(err as Error).message}`)
      return undefined
    }
  }
}

/** The escalator's view of the store, through the gateway (reported, never thrown). */
export function escalationStore (gateway: StoreGateway): EscalationStore {
  return {
    get owner () { return gateway.store?.owner },
    add: (alertId, step, dueAt, channels) => { gateway.write('record an escalation step', (s) => { s.addEscalation(alertId, step, dueAt, channels) }) },
    step: (alertId, step) => gateway.read('read an escalation step', (s) => s.escalationStep(alertId, step)),
    acked: (alertId) => gateway.read('read an acknowledgement', (s) => s.acked(alertId)) !== undefined,
    set: (alertId, step, state) => { gateway.write('mark an escalation step', (s) => { s.setEscalation(alertId, step, state) }) },
    cancel: (alertId) => { gateway.write('cancel escalations', (s) => { s.cancelEscalations(alertId) }) }
  }
}
