/**
 * The engine for the commands that act on stored alerts (ack, resolve): an alerter over the
 * configured channels and the store, so that acknowledgements reach channels that keep incident
 * state and resolves go to the channels that carried the firing alert.
 */
import { createAlerter, type Alerter } from '../alerter.js'
import type { ResolvedOptions } from '../options.js'
import type { HistoryEntry } from '../store/sqlite.js'
import { CliError } from './command.js'
import { withStore } from './config.js'

/** Starts an alerter on the existing store; a store that cannot open is exit 2, a channel that cannot start is reported and the others work. */
export async function storeAlerter (opts: ResolvedOptions): Promise<Alerter> {
  withStore(opts, false, () => {})
  const alerter = createAlerter(opts)
  try {
    await alerter.ready
  } catch (err) {
    if ((err as Error).name === 'StoreError') {
      await alerter.close()
      throw new CliError((err as Error).message, 2, true)
    }
  }
  return alerter
}

/** The alert with this id, else the alerts of this fingerprint (oldest first). */
export function findAlerts (opts: ResolvedOptions, idOrFingerprint: string): Array<HistoryEntry & { acked?: { by: string, comment: string, at: string } }> {
  return withStore(opts, false, (s) => {
    const one = s.get(idOrFingerprint)
    const entries = one !== undefined ? [one] : s.idsOf(idOrFingerprint).map((id) => s.get(id)).filter((e): e is HistoryEntry => e !== undefined)
    return entries.map((e) => {
      const acked = s.acked(e.id)
      return acked === undefined ? e : { ...e, acked }
    })
  })
}
