/**
 * pino-alerts: alert by logging. The default export is the pino transport factory
 * (`target: 'pino-alerts'`); the named exports are the library API.
 */
import pinoAlertsTransport from './transport.js'

export default pinoAlertsTransport
export { pinoAlertsTransport }
export { AlertStream } from './transport.js'
export { createAlerter } from './alerter.js'
export type { Acknowledgement, AckOutcome, Alerter, AlerterStats, DispatchResult, AlerterDeps } from './alerter.js'
export { AlertEvent, fromRecord, fingerprintOf, severityForLevel, normalizeSeverity, SEVERITIES } from './event.js'
export type { AlertEventJSON, AlertInput, Severity, AlertStatus, TraceContext, RecordContext } from './event.js'
export { resolveOptions, DEFAULT_ROUTES } from './options.js'
export type {
  AlertsOptions, ChannelOptions, ChannelOptionsByName, ChannelsOptions, RuleOptions, RouteMatrixOptions, TimeIntervalOptions,
  ResolvedOptions, ResolvedChannel, RetryPolicy
} from './options.js'
export { recordContext } from './levels.js'
/**
 * Your own channel (`type: 'module'`, docs/extending.md): a module whose `create(ctx: ChannelContext)`
 * returns a `Channel`; its `send` answers each attempt with an `Outcome`.
 */
export type { Channel, Outcome, ChannelContext, ChannelModule } from './channels/channel.js'
export type { ChannelLimits } from './channels/limits.js'
export type { DeliveryReport, ChannelStats } from './delivery/deliverer.js'
export { outcomeFromResponse, parseRetryAfter } from './http/outcome.js'
export { backoffMs } from './delivery/retry.js'
export { signStandardWebhook } from './channels/webhook.js'
export { PinoAlertsError, ConfigError, InvalidAlertError } from './errors.js'
export { Reporter } from './report.js'
export { AlertStore, openStore, history, summary, receipts, StoreError, SCHEMA_VERSION } from './store/sqlite.js'
export type { HistoryEntry, HistoryQuery, Receipt, Summary, SummaryQuery } from './store/sqlite.js'
export { DashboardError } from './errors.js'
export type { DashboardOptions, Dashboard } from './dashboard/server.js'
import type { DashboardOptions, Dashboard } from './dashboard/server.js'

/**
 * Starts the dashboard (see `pino-alerts/dashboard`). Its modules load on the first call: this file is
 * also what pino's worker loads for `target: 'pino-alerts'`, and a transport never serves a page.
 */
export async function startDashboard (opts: DashboardOptions): Promise<Dashboard> {
  const { startDashboard: start } = await import('./dashboard/server.js')
  return await start(opts)
}
export type { Silence, SilenceInput } from './pipeline/silence.js'
export { parseMatcher, parseMatchers, MatcherError } from './matchers.js'
