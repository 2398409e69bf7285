/**
 * What the commands that act on stored alerts share: looking alerts up, and an alerter over the
 * configured channels and the store, through which they act as the app would (resolve: the engine
 * sends a resolve to the channels that carried the firing alert; ack: the engine records the
 * acknowledgement and tells the channels that keep incident state).
 */
import { createAlerter, type Alerter, type AlerterDeps } from '../alerter.js'
import { isStoreError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import { Reporter, stderrWriter } from '../report.js'
import type { HistoryEntry, Receipt } from '../store/sqlite.js'
import { CliError } from './command.js'
import { withStore } from './config.js'

/**
 * For commands that print each channel's outcome themselves (test, resolve): the engine's stderr
 * lines about undelivered alerts and its failure summary would say the same again; everything else
 * (start-up warnings, channels that cannot start, outbox replays) still shows.
 */
export function commandReporter (): Reporter {
  return new Reporter((text) => {
    if (/^pino-alerts: (alert \S+ \(.*\) not delivered|summary): /.test(text)) return
    stderrWriter(text)
  })
}

/** Starts an alerter on the existing store; a store that cannot open is exit 2, a channel that cannot start is reported and the others work. */
export async function storeAlerter (opts: ResolvedOptions, deps: AlerterDeps = {}): Promise<Alerter> {
  withStore(opts, false, () => {})
  // The running app owns its outbox and escalations: this tool never replays or takes them over, and
  // applies no retention (the app's maxAgeDays, not this config's). It has a heartbeat row in the store
  // only once it writes an alert to deliver (resolve), and marks it ended when it closes (SPEC §15).
  const alerter = createAlerter(opts, { replay: false, ...deps })
  try {
    await alerter.ready
  } catch (err) {
    if (isStoreError(err)) {
      await alerter.close()
      throw new CliError((err as Error).message, 2, true)
    }
  }
  return alerter
}

export interface FoundAlert extends HistoryEntry {
  receipts: Receipt[]
  acked?: { by: string, comment: string, at: string }
}

/** The alert with this id, else the alerts of this fingerprint (oldest first), with receipts and acknowledgement. */
export function findAlerts (opts: ResolvedOptions, idOrFingerprint: string): FoundAlert[] {
  return withStore(opts, false, (s) => {
    const one = s.get(idOrFingerprint)
    const entries = one !== undefined ? [one] : s.idsOf(idOrFingerprint).map((id) => s.get(id)).filter((e): e is HistoryEntry => e !== undefined)
    return entries.map((e) => {
      const acked = s.acked(e.id)
      const found: FoundAlert = { ...e, receipts: s.receipts(e.id) }
      if (acked !== undefined) found.acked = acked
      return found
    })
  })
}
