/**
 * What the commands that act on stored alerts share: looking alerts up, an alerter over the
 * configured channels and the store (resolve: the engine sends a resolve to the channels that
 * carried the firing alert), and telling channels that keep incident state of an acknowledgement.
 */
import { createAlerter, type Alerter, type AlerterDeps } from '../alerter.js'
import { createChannel, type Channel } from '../channels/channel.js'
import { isStoreError } from '../errors.js'
import { releaseHttpAgent, retainHttpAgent } from '../http/client.js'
import { AlertEvent } from '../event.js'
import type { ResolvedOptions } from '../options.js'
import { Reporter, stderrWriter } from '../report.js'
import type { HistoryEntry, Receipt } from '../store/sqlite.js'
import { CliError } from './command.js'
import { withStore } from './config.js'
import { tellChannels, type AckOutcome } from '../engine/ack.js'

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

/**
 * Tells each channel that delivered an alert and keeps incident state (PagerDuty: `acknowledge`) that
 * it was acknowledged: one attempt each, so that the person running the command sees the outcome.
 */
export async function acknowledgeOnChannels (opts: ResolvedOptions, alerts: FoundAlert[]): Promise<AckOutcome[]> {
  const wanted = new Set(alerts.flatMap((a) => a.receipts.filter((r) => r.ok).map((r) => r.channel)))
  const configs = opts.channels.filter((c) => c.enabled && wanted.has(c.name) && c.type !== 'console' && c.type !== 'file')
  if (configs.length === 0) return []
  retainHttpAgent()
  const channels = new Map<string, { channel: Channel, timeoutMs: number, secrets: string[] }>()
  const outcomes: AckOutcome[] = []
  try {
    await Promise.all(configs.map(async (cfg) => {
      try {
        channels.set(cfg.name, { channel: await createChannel(cfg), timeoutMs: cfg.timeoutMs, secrets: cfg.secrets })
      } catch { /* a channel that cannot start cannot have anything to acknowledge here */ }
    }))
    const told = await Promise.all(alerts.map(async (a) => {
      const { receipts: _r, acked: _a, receivedAt: _t, settled: _s, suppressed: _x, ...json } = a
      return await tellChannels(AlertEvent.fromJSON(json), a.receipts.filter((r) => r.ok).map((r) => r.channel), (name) => channels.get(name))
    }))
    outcomes.push(...told.flat())
  } finally {
    await Promise.all([...channels.values()].map(async (c) => await c.channel.close?.().catch(() => {})))
    await releaseHttpAgent()
  }
  return outcomes
}
