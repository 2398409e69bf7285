/** `pino-alerts receipts ID`: one stored alert and each channel's final delivery outcome. */
import { bool, CliError, UsageError, type Command } from './command.js'
import { loadConfig, withStore } from './config.js'
import { formatTime, json, table, visible } from './format.js'
import { deliveredTo } from './history.js'

const USAGE = 'pino-alerts receipts ID [-s alerts.db] [--json]'

const command: Command = {
  usage: USAGE,
  options: { json: { type: 'boolean' } },
  positionals: true,
  help: `Shows one stored alert (ids are in "pino-alerts history") and, per channel, its final delivery
outcome: delivered or failed, attempts, the channel it stood in for (failover), when, and the error.
Exits 1 when there is no such alert.

Options:
      --json   the alert and its receipts as JSON

Examples:
  pino-alerts receipts -s alerts.db 0f8e2c1a-6a51-4a8e-9a57-2f4f3c0b9d11
  pino-alerts receipts -c alerts.json 0f8e2c1a-6a51-4a8e-9a57-2f4f3c0b9d11 --json`,

  async run (ctx) {
    const [id, ...extra] = ctx.positionals
    if (id === undefined || extra.length > 0) throw new UsageError(id === undefined ? 'expected an alert id' : `unexpected argument ${extra[0] as string}`, `usage: ${USAGE}`)
    const opts = loadConfig(ctx.global)
    const found = withStore(opts, false, (s) => {
      const alert = s.get(id)
      return alert === undefined ? undefined : { alert, receipts: s.receipts(id), ack: s.acked(id) }
    })
    if (found === undefined) throw new CliError(`no alert with id ${id} in the store`)
    const { alert: a, receipts, ack } = found
    if (bool(ctx.values.json)) {
      ctx.out(json({ alert: a, receipts, ...(ack !== undefined ? { acknowledged: ack } : {}) }))
      return 0
    }
    const lines = [
      `alert        ${a.id}`,
      `time         ${formatTime(a.timestamp)}`,
      `severity     ${a.severity}`,
      `source       ${visible(a.source)}`,
      `title        ${visible(a.title)}`,
      `status       ${a.status}${a.settled ? '' : ' (delivery not finished)'}`,
      `fingerprint  ${a.fingerprint}`
    ]
    if (Object.keys(a.labels).length > 0) lines.push(`labels       ${visible(Object.entries(a.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' '))}`)
    if (ack !== undefined) lines.push(`acknowledged ${formatTime(ack.at)}${ack.by !== '' ? ` by ${visible(ack.by)}` : ''}${ack.comment !== '' ? `: ${visible(ack.comment)}` : ''}`)
    if (a.suppressed !== undefined) lines.push(`not sent     ${deliveredTo(a, receipts).replace(/^not sent: /, '')}`)
    ctx.out(lines.join('\n') + '\n\n')
    ctx.out(receipts.length === 0
      ? 'no receipts\n'
      : table(['channel', 'result', 'attempts', 'stand-in for', 'at', 'error'],
        receipts.map((r) => [r.channel, r.ok ? 'delivered' : 'FAILED', r.attempts, r.standInFor ?? '', formatTime(r.at), r.error ?? '']),
        { right: [2], max: { 5: 100 } }))
    return 0
  }
}
export default command
