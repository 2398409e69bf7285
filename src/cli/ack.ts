/** `pino-alerts ack ID|FINGERPRINT`: acknowledges stored alerts; their pending escalation steps stop. */
import { bool, CliError, str, UsageError, type Command } from './command.js'
import { loadConfig } from './config.js'
import { findAlerts, storeAlerter } from './engine.js'
import { formatTime, json, visible } from './format.js'
import { whoami } from './silence.js'

const USAGE = 'pino-alerts ack ID|FINGERPRINT [-c alerts.json] [-s alerts.db] [--by NAME] [--comment TEXT] [--json]'

const command: Command = {
  usage: USAGE,
  options: { by: { type: 'string' }, comment: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  help: `Acknowledges one stored alert (by id) or every alert of a fingerprint: their escalation steps
stop (also in a running pipeline using the same store), and channels that keep incident state
(PagerDuty) are told. Use the pipeline's config (-c) so that those channels are known.
Exits 1 when no alert has this id or fingerprint.

Options:
      --by NAME       who (default: your user name)
      --comment TEXT  why
      --json          the acknowledged ids as JSON

Examples:
  pino-alerts ack -c alerts.json 0f8e2c1a-6a51-4a8e-9a57-2f4f3c0b9d11 --comment "on it"
  pino-alerts ack -s alerts.db 9c1d4e6f0a2b3c4d --by alice`,

  async run (ctx) {
    const [target, ...extra] = ctx.positionals
    if (target === undefined || extra.length > 0) throw new UsageError(target === undefined ? 'expected an alert id or fingerprint' : `unexpected argument ${extra[0] as string}`, `usage: ${USAGE}`)
    const opts = loadConfig(ctx.global)
    const before = findAlerts(opts, target)
    if (before.length === 0) throw new CliError(`no alert with id or fingerprint ${target} in the store`)
    const by = str(ctx.values.by) ?? whoami()
    const alerter = await storeAlerter(opts)
    let ids: string[]
    try {
      ids = alerter.ack(target, by, str(ctx.values.comment) ?? '')
    } finally {
      await alerter.close()
    }
    if (bool(ctx.values.json)) {
      ctx.out(json({ acknowledged: ids, by }))
      return 0
    }
    for (const e of before) {
      const earlier = e.acked
      ctx.out(earlier !== undefined
        ? `${e.id}  ${visible(e.title)}: already acknowledged ${formatTime(earlier.at)}${earlier.by !== '' ? ` by ${visible(earlier.by)}` : ''}\n`
        : `${e.id}  ${visible(e.title)}: acknowledged${by !== '' ? ` by ${visible(by)}` : ''}\n`)
    }
    return 0
  }
}
export default command
