/** The engine's public shapes: what `createAlerter` returns and what its calls resolve to. */
import type { ChannelStats, DeliveryReport } from '../delivery/deliverer.js'
import type { AckOutcome } from './ack.js'
import type { AlertEvent, AlertInput } from '../event.js'
import type { ResolvedOptions } from '../options.js'
import type { Silence, SilenceInput } from '../pipeline/silence.js'
import type { Reporter } from '../report.js'
import type { HistoryEntry, HistoryQuery, Receipt, Summary, SummaryQuery } from '../store/sqlite.js'

export interface DispatchResult {
  /** The event id ('' when the input was not a valid alert). */
  id: string
  deliveries: DeliveryReport[]
  /**
   * Set when nothing was sent on purpose. `resolve-unknown`: a resolved alert whose firing one was never
   * delivered. `mute`: every rule it matched was inside its `muteTime` or outside its `activeTime`.
   */
  suppressed?: 'dedupe' | 'silence' | 'inhibit' | 'resolve-unknown' | 'mute'
  /** Which silence, inhibit rule, dedupe window, or muted rule and interval (`routes[0] muted by "weekend" (muteTime)`). */
  detail?: string
  /** Set when the input was not a valid alert; nothing was sent. */
  error?: string
}

/** What `acknowledge` did. */
export interface Acknowledgement {
  /** Ids acknowledged now. */
  acknowledged: string[]
  /** Ids of the fingerprint acknowledged before (the first acknowledgement stands; channels are not told again). */
  already: string[]
  /** One outcome per channel told (those that keep incident state and delivered the alert). */
  channels: AckOutcome[]
}

export interface AlerterStats {
  /** Alerts accepted by dispatch. */
  alerts: number
  /** Alerts not sent on purpose (silenced, inhibited, deduped, muted, unknown resolves). */
  suppressed: number
  /** Inputs rejected by dispatch (not a valid alert). */
  rejected: number
  /** Lines the transport or CLI skipped as bad (not JSON, wrong field types, too long). */
  badLines: number
  /** Alerts whose every routed channel (or its stand-in) delivered. */
  delivered: number
  /** Alerts at least one routed channel of which failed with no stand-in delivering. */
  failed: number
  /** Alerts accepted and not yet finished (delivered, failed or suppressed). */
  inFlight: number
  channels: Record<string, ChannelStats>
}

export interface Alerter {
  dispatch (event: AlertEvent | AlertInput): Promise<DispatchResult>
  /**
   * Fire-and-forget dispatch of a parsed event (what the transport and the CLI use): no result is kept,
   * so in a flood a waiting alert costs little more than the event itself.
   */
  post (event: AlertEvent): void
  /** Waits for every delivery in flight, bounded by `shutdownTimeoutMs`. */
  flush (): Promise<void>
  /** Flushes, then stops what is still running and closes channels. Idempotent. */
  close (): Promise<void>
  stats (): AlerterStats
  /** Stored alerts, newest first (needs `store`). */
  history (q?: HistoryQuery): HistoryEntry[]
  /** Counts by severity, source, channel outcome and time bucket (needs `store`). */
  summary (q?: SummaryQuery): Summary
  /** Each channel's final outcome for one alert (needs `store`). */
  receipts (alertId: string): Receipt[]
  /**
   * Acknowledges an alert (by id, or every alert of a fingerprint): its pending escalations stop, and
   * channels that delivered it and keep incident state (PagerDuty) are told in the background (a
   * failure is a stderr notice). Returns the ids acknowledged.
   */
  ack (idOrFingerprint: string, by?: string, comment?: string): string[]
  /** The same acknowledgement, resolving once every channel told has answered, with each one's outcome. */
  acknowledge (idOrFingerprint: string, by?: string, comment?: string): Promise<Acknowledgement>
  /** Creates a silence (stored when a store is configured, so other processes see it). */
  silence (input: SilenceInput): Silence
  /** Active and future silences (and expired ones with `includeExpired`). */
  silences (includeExpired?: boolean): Silence[]
  /** Ends a silence now; false when no such active silence exists. */
  expireSilence (id: string): boolean
  /** Resolves when every channel module is loaded (and the store opened); rejects when one cannot start. */
  readonly ready: Promise<void>
  /** The validated options. */
  readonly options: ResolvedOptions
  /** Where bad lines and undelivered alerts are reported (the transport shares it). */
  readonly reporter: Reporter
}

export interface AlerterDeps {
  env?: NodeJS.ProcessEnv
  reporter?: Reporter
  /** How often the one-line stderr summary may appear (only when something failed or was dropped). Default 60000. */
  summaryIntervalMs?: number
  /** The clock for silences, dedupe windows, inhibition, grouping and time intervals (tests). Default Date.now. */
  now?: () => number
  /**
   * Deliver what the store's outbox still holds and re-arm stored escalations at start, take over a
   * dead process's alerts while running, and apply retention. Default true. Tools that open an app's
   * store beside the running app (the CLI's `resolve`, the dashboard) pass false: the app owns its
   * outbox, its escalations and its history (SPEC §15).
   */
  replay?: boolean
}

/** Delivers events (one alert, or a digest that travels together) to a route and records the outcome. */
export type Deliver = (events: AlertEvent[], route: readonly string[]) => Promise<DeliveryReport[]>

/** How notices name an alert: `alert <id> (<severity> <source>: <title, 80 characters>)`. */
export function alertRef (e: AlertEvent): string {
  return `alert ${e.id} (${e.severity} ${e.source}: ${e.title.slice(0, 80)})`
}
