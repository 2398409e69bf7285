/**
 * `pino-alerts resolve ID`: dispatches the resolved copy of a stored firing alert (same source, title,
 * severity, labels and fingerprint; status resolved) through the configured channels; the engine
 * sends it to the channels that carried the firing alert.
 */
import { bool, CliError, str, UsageError, type Command } from './command.js'
import { loadConfig } from './config.js'
import { commandReporter, findAlerts, storeAlerter } from './engine.js'
import { json, table, visible } from './format.js'
import { whoami } from './silence.js'

const USAGE = 'pino-alerts resolve ID|FINGERPRINT [-c alerts.json] [-s alerts.db] [--comment TEXT] [--by NAME] [--json]'

const command: Command = {
  usage: USAGE,
  options: { comment: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  help: `Sends the resolved notification of a stored firing alert (by id, or the latest firing alert of a
fingerprint) to the channels that delivered it (PagerDuty resolve, Alertmanager endsAt, a RESOLVED
message elsewhere). Use the pipeline's config (-c) so that those channels are configured here too.
Exits 1 when the alert is unknown, was never delivered, or a channel failed.

Options:
      --comment TEXT  the resolved notification's body
      --by NAME       recorded in its metadata (default: your user name)
      --json          the dispatch result as JSON

Examples:
  pino-alerts resolve -c alerts.json 0f8e2c1a-6a51-4a8e-9a57-2f4f3c0b9d11
  pino-alerts resolve -c alerts.json 9c1d4e6f0a2b3c4d --comment "fixed by restarting the feed"`,

  async run (ctx) {
    const [target, ...extra] = ctx.positionals
    if (target === undefined || extra.length > 0) throw new UsageError(target === undefined ? 'expected an alert id or fingerprint' : `unexpected argument ${extra[0] as string}`, `usage: ${USAGE}`)
    const opts = loadConfig(ctx.global)
    const found = findAlerts(opts, target)
    const firing = found.filter((e) => e.status === 'firing')
    const a = firing[firing.length - 1]
    if (a === undefined) {
      throw new CliError(found.length === 0
        ? `no alert with id or fingerprint ${target} in the store`
        : `alert ${target} is a resolved notification itself; pass the id of the firing alert`)
    }
    const alerter = await storeAlerter(opts, { reporter: commandReporter() })
    let result
    try {
      result = await alerter.dispatch({
        source: a.source,
        title: a.title,
        severity: a.severity,
        labels: a.labels,
        fingerprint: a.fingerprint,
        status: 'resolved',
        body: str(ctx.values.comment) ?? '',
        metadata: { resolvedBy: str(ctx.values.by) ?? whoami(), resolvedWith: 'pino-alerts resolve', firingAlertId: a.id }
      })
    } finally {
      await alerter.close()
    }
    if (result.suppressed === 'resolve-unknown') throw new CliError(`alert ${a.id} was not delivered to any channel: there is nothing to resolve`)
    if (result.error !== undefined) throw new CliError(`could not resolve alert ${a.id}: ${result.error}`)
    // A failed channel whose failover stand-in delivered is not a failure.
    const covered = new Set(result.deliveries.filter((d) => d.ok && d.standInFor !== undefined).flatMap((d) => (d.standInFor as string).split(',')))
    const failed = result.deliveries.some((d) => !d.ok && d.standInFor === undefined && !covered.has(d.channel))
    if (bool(ctx.values.json)) {
      ctx.out(json({ resolved: a.id, ...result }))
    } else {
      ctx.out(`resolved ${a.id} (${a.severity} ${visible(a.source)}: ${visible(a.title)}) as ${result.id}\n\n`)
      ctx.out(table(['channel', 'result', 'attempts', 'error'], result.deliveries.map((d) => [d.channel, d.ok ? 'delivered' : 'FAILED', d.attempts, d.error ?? '']), { right: [2], max: { 3: 100 } }))
    }
    return failed ? 1 : 0
  }
}
export default command
