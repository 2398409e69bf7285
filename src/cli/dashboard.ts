/**
 * `pino-alerts dashboard`: serves the web dashboard over a store that other processes write to, until
 * SIGINT or SIGTERM. Binds 127.0.0.1 by default; any other address needs a token of at least 16
 * characters (`--token`, or better RISK_ALERTS_DASHBOARD_TOKEN: a command line is visible to every user
 * of the machine). Without one it refuses to start (exit 2) rather than make one up: a generated token
 * would be printed into whatever keeps the service's output, and change with every restart.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Alerter } from '../alerter.js'
import { startDashboard, DashboardError, type Dashboard } from '../dashboard/server.js'
import { checkBind, MIN_TOKEN_LENGTH } from '../dashboard/security.js'
import { StoreError } from '../store/sqlite.js'
import { bool, CliError, str, UsageError, type Command, type Context } from './command.js'
import { loadConfig, storePath } from './config.js'
import { storeAlerter } from './engine.js'

export const TOKEN_ENV = 'RISK_ALERTS_DASHBOARD_TOKEN'

const USAGE = 'pino-alerts dashboard -s alerts.db [--host 127.0.0.1] [--port 9099] [--token TOKEN] [--origin URL] [--notify -c alerts.json]'

function portOption (v: string | undefined): number {
  if (v === undefined) return 9099
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`--port: got ${JSON.stringify(v)}; expected a port number from 0 to 65535 (0: any free port)`, `usage: ${USAGE}`)
  return Number(v)
}

/** A failed start as the CLI reports it: a port in use exits 1, a refused bind or token, a bad store or option 2. */
function dashboardFailure (err: unknown): unknown {
  if (err instanceof DashboardError) return new CliError(err.message.replace(/^dashboard: /, ''), err.code === 'PINO_ALERTS_DASHBOARD_IN_USE' ? 1 : 2)
  if (err instanceof StoreError) return new CliError(err.message, 2)
  if (err instanceof TypeError) return new UsageError(err.message, `usage: ${USAGE}`)
  return err
}

/** Runs the dashboard until `stop` resolves (the command: SIGINT or SIGTERM). */
export async function runDashboard (ctx: Context, stop: (dash: Dashboard) => Promise<void>, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (ctx.positionals.length > 0) throw new UsageError(`unexpected argument ${ctx.positionals[0] as string}`, `usage: ${USAGE}`)
  const opts = loadConfig(ctx.global, env)
  const path = storePath(opts)
  const port = portOption(str(ctx.values.port))
  const host = str(ctx.values.host) ?? '127.0.0.1'
  const fromFlag = str(ctx.values.token)
  const token = fromFlag ?? (env[TOKEN_ENV] === '' ? undefined : env[TOKEN_ENV])
  const originValues = ctx.values.origin
  const origins = Array.isArray(originValues) ? originValues.filter((o): o is string => typeof o === 'string') : typeof originValues === 'string' ? [originValues] : []
  const created = !existsSync(path)
  // Before --notify starts an alerter (which delivers the outbox at start): a bind that cannot be used
  // stops here, with nothing done.
  try { checkBind(host, token) } catch (err) { throw dashboardFailure(err) }

  let alerter: Alerter | undefined
  if (bool(ctx.values.notify)) {
    if (opts.channels.filter((c) => c.enabled && c.type !== 'console').length === 0) {
      throw new UsageError('--notify: no channel is configured to notify (pass the pipeline\'s config with -c)', `usage: ${USAGE}`)
    }
    alerter = await storeAlerter(opts)
  }
  let dash: Dashboard
  try {
    dash = await startDashboard({ store: path, host, port, ...(token === undefined ? {} : { token }), ...(alerter === undefined ? {} : { alerter }), origins })
  } catch (err) {
    await alerter?.close()
    throw dashboardFailure(err)
  }
  if (created) ctx.err(`pino-alerts: store ${resolve(path)} did not exist: created it empty; alerts appear as soon as a process writes to it\n`)
  // The token is never printed: only where it came from.
  const auth = token === undefined ? 'no token (this machine only)' : `token from ${fromFlag !== undefined ? '--token' : TOKEN_ENV}`
  ctx.out(`pino-alerts dashboard: ${dash.url}\n  store ${resolve(path)}; ${auth}${alerter !== undefined ? '; resolves and acks notify the configured channels' : ''}\n  Ctrl-C to stop\n`)
  try {
    await stop(dash)
  } finally {
    await dash.close()
    await alerter?.close()
  }
  return 0
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal (): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve()
    }
    process.on('SIGINT', done)
    process.on('SIGTERM', done)
  })
}

const command: Command = {
  usage: USAGE,
  options: {
    host: { type: 'string' },
    port: { type: 'string', short: 'p' },
    token: { type: 'string' },
    origin: { type: 'string', multiple: true },
    notify: { type: 'boolean' }
  },
  positionals: false,
  help: `Serves the web dashboard over the store (-s, or store.path of -c, or RISK_ALERTS_STORE): a live
list of the alerts every process writes to it, filters, per-channel delivery receipts, a volume
chart, acknowledge / resolve / silence buttons, /metrics for Prometheus. Runs until Ctrl-C
(SIGINT) or SIGTERM.

Options:
      --host HOST     address to listen on (default 127.0.0.1); anything but 127.0.0.1, ::1 or
                      localhost needs a token of at least ${MIN_TOKEN_LENGTH} characters
  -p, --port PORT     default 9099; 0 picks a free port
      --token TOKEN   needed by every request (log in at /login, or Authorization: Bearer TOKEN);
                      prefer ${TOKEN_ENV}: a command line is visible to other users.
                      10 wrong tokens (logins and bearer headers) from one address within a
                      minute: that address gets 429 until the minute has passed
      --origin URL    a public origin changes may come from too (a TLS reverse proxy:
                      https://alerts.example.com); repeatable
      --notify        resolves are sent to the channels that carried the alert, acks to channels
                      that keep incident state (PagerDuty): pass the pipeline's config with -c.
                      Without it a resolve is only recorded in the store.

Environment:
  ${TOKEN_ENV}   the token (when --token is not given)

Examples:
  pino-alerts dashboard -s alerts.db
  ${TOKEN_ENV}=$(openssl rand -hex 24) pino-alerts dashboard -s alerts.db --host 0.0.0.0
  pino-alerts dashboard -c alerts.json --notify --port 8080`,

  async run (ctx) {
    return await runDashboard(ctx, async () => { await untilSignal() })
  }
}
export default command
