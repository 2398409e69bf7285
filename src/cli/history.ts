/** `pino-alerts history`: stored alerts, newest first, with where each was delivered. */
import { normalizeSeverity, type Severity } from '../event.js'
import type { HistoryEntry, HistoryQuery, Receipt } from '../store/sqlite.js'
import { bool, str, UsageError, type Command } from './command.js'
import { loadConfig, withStore } from './config.js'
import { formatTime, intOption, json, table, timeOption } from './format.js'

const USAGE = 'pino-alerts history [-s alerts.db] [--since 1h] [--until TIME] [--severity S[,S]] [--source NAME] [--status firing|resolved] [--limit N] [--json]'

/** Where an alert went: delivered channels, failed ones marked, or why it was not sent. */
export function deliveredTo (e: HistoryEntry, receipts: Receipt[]): string {
  if (e.suppressed !== undefined) return `not sent: ${e.suppressed}`
  if (receipts.length === 0) return e.settled ? '-' : 'pending'
  return receipts.map((r) => (r.ok ? r.channel : `${r.channel} FAILED`) + (r.ok && r.standInFor !== undefined ? ` (for ${r.standInFor})` : '')).join(', ')
}

const command: Command = {
  usage: USAGE,
  options: {
    since: { type: 'string' },
    until: { type: 'string' },
    severity: { type: 'string' },
    source: { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' }
  },
  positionals: false,
  help: `Lists stored alerts, newest first: time (local), severity, source, title, status, where each was
delivered (or why it was not sent: silence, inhibit, dedupe, resolve-unknown) and its id (for
"receipts", "ack" and "resolve").

Options:
      --since WHEN       a duration ago (90s, 15m, 2h, 7d) or an ISO 8601 time
      --until WHEN       the same; alerts before it
      --severity S[,S]   info, warn, critical (comma-separated for several)
      --source NAME      only this source
      --status STATUS    firing or resolved
      --limit N          at most N alerts (default 50, at most 10000)
      --json             the entries as JSON (ISO 8601 UTC times, receipts included)

Examples:
  pino-alerts history -s alerts.db
  pino-alerts history -s alerts.db --since 2h --severity warn,critical
  pino-alerts history -c alerts.json --source kill_switch --status firing --limit 5 --json`,

  async run (ctx) {
    const v = ctx.values
    const q: HistoryQuery = { limit: 50 }
    const since = str(v.since)
    const until = str(v.until)
    if (since !== undefined) q.since = timeOption(since, 'since')
    if (until !== undefined) q.until = timeOption(until, 'until')
    const sev = str(v.severity)
    if (sev !== undefined) {
      q.severity = sev.split(',').map((s) => {
        const n = normalizeSeverity(s.trim())
        if (n === undefined) throw new UsageError(`--severity: got ${JSON.stringify(s)}; expected info, warn or critical`, `usage: ${USAGE}`)
        return n
      }) as Severity[]
    }
    const source = str(v.source)
    if (source !== undefined) q.source = source
    const status = str(v.status)
    if (status !== undefined) {
      if (status !== 'firing' && status !== 'resolved') throw new UsageError(`--status: got ${JSON.stringify(status)}; expected firing or resolved`, `usage: ${USAGE}`)
      q.status = status
    }
    const limit = str(v.limit)
    if (limit !== undefined) q.limit = Math.min(intOption(limit, 'limit'), 10_000)

    const opts = loadConfig(ctx.global)
    const rows = withStore(opts, false, (store) => store.history(q).map((e) => ({ entry: e, receipts: store.receipts(e.id), ack: store.acked(e.id) })))
    if (bool(v.json)) {
      ctx.out(json(rows.map((r) => ({ ...r.entry, receipts: r.receipts, ...(r.ack !== undefined ? { acknowledged: r.ack } : {}) }))))
      return 0
    }
    if (rows.length === 0) {
      ctx.out('no alerts match\n')
      return 0
    }
    ctx.out(table(['time', 'severity', 'source', 'title', 'status', 'delivered to', 'id'],
      rows.map(({ entry: e, receipts, ack }) => [
        formatTime(e.timestamp), e.severity, e.source, e.title,
        e.status + (ack !== undefined ? `, acked${ack.by !== '' ? ` by ${ack.by}` : ''}` : ''),
        deliveredTo(e, receipts), e.id
      ]),
      { max: { 2: 24, 3: 60, 5: 48 } }))
    ctx.out(`\n${rows.length} alert${rows.length === 1 ? '' : 's'}, newest first${rows.length === q.limit ? ` (--limit ${q.limit}; there may be more)` : ''}\n`)
    return 0
  }
}
export default command
