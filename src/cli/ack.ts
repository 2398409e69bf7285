/** `pino-alerts ack ID|FINGERPRINT`: acknowledges stored alerts; their pending escalation steps stop. */
import { bool, CliError, str, UsageError, type Command } from './command.js'
import { loadConfig } from './config.js'
import { commandReporter, findAlerts, storeAlerter } from './engine.js'
import { formatTime, json, visible } from './format.js'
import { whoami } from './silence.js'

const USAGE = 'pino-alerts ack ID|FINGERPRINT [-c alerts.json] [-s alerts.db] [--by NAME] [--comment TEXT] [--json]'

const command: Command = {
  usage: USAGE,
  options: { by: { type: 'string' }, comment: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  help: `Acknowledges one stored alert (by id) or every alert of a fingerprint: the acknowledgement is
recorded in the store, their pending escalation steps stop (in a running pipeline using the same
store too), and channels that delivered them and keep incident state (PagerDuty) are told; pass the
pipeline's config (-c) so that those channels are known. Exits 1 when no alert has this id or
fingerprint, or when telling a channel failed (the acknowledgement is recorded all the same).

Options:
      --by NAME       who (default: your user name)
      --comment TEXT  why
      --json          the outcome as JSON

Examples:
  pino-alerts ack -c alerts.json 0f8e2c1a-6a51-4a8e-9a57-2f4f3c0b9d11 --comment "on it"
  pino-alerts ack -s alerts.db 9c1d4e6f0a2b3c4d --by alice`,

  async run (ctx) {
    const [target, ...extra] = ctx.positionals
    if (target === undefined || extra.length > 0) throw new UsageError(target === undefined ? 'expected an alert id or fingerprint' : `unexpected argument ${extra[0] as string}`, `usage: ${USAGE}`)
    const opts = loadConfig(ctx.global)
    const found = findAlerts(opts, target)
    if (found.length === 0) throw new CliError(`no alert with id or fingerprint ${target} in the store`)
    const by = str(ctx.values.by) ?? whoami()
    const comment = str(ctx.values.comment) ?? ''
    // The engine's acknowledgement (the one the dashboard and library use): recorded in the store
    // first (a running pipeline's escalations check it before each step), then the channels told.
    const alerter = await storeAlerter(opts, { reporter: commandReporter() })
    let done
    try { done = await alerter.acknowledge(target, by, comment) } finally { await alerter.close() }
    const { channels } = done
    if (bool(ctx.values.json)) {
      ctx.out(json({ acknowledged: done.acknowledged, alreadyAcknowledged: done.already, by, channels }))
    } else {
      for (const a of found) {
        const earlier = a.acked
        ctx.out(earlier !== undefined
          ? `${a.id}  ${visible(a.title)}: already acknowledged ${formatTime(earlier.at)}${earlier.by !== '' ? ` by ${visible(earlier.by)}` : ''}\n`
          : `${a.id}  ${visible(a.title)}: acknowledged${by !== '' ? ` by ${visible(by)}` : ''}\n`)
        for (const c of channels.filter((x) => x.alertId === a.id)) ctx.out(`  ${c.channel}: ${c.ok ? 'told' : `FAILED: ${visible(c.error ?? '')}`}\n`)
      }
    }
    return channels.some((c) => !c.ok) ? 1 : 0
  }
}
export default command
