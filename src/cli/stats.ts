/** `pino-alerts stats`: counts by severity, source and channel, and alert volume per time bucket. */
import { SEVERITIES } from '../event.js'
import type { Summary } from '../store/sqlite.js'
import { bool, str, UsageError, type Command } from './command.js'
import { loadConfig, withStore } from './config.js'
import { barChart, durationOption, formatDuration, formatTime, json, table, timeOption } from './format.js'

function bucketLabel (iso: string, bucketMs: number): string {
  const t = formatTime(iso)
  return bucketMs >= 86_400_000 ? t.slice(0, 10) : t.slice(5, 16)
}

export function renderSummary (s: Summary, bucketMs: number): string {
  const parts: string[] = [`${s.total} alert${s.total === 1 ? '' : 's'} from ${formatTime(s.since)} to ${formatTime(s.until)}\n`]
  parts.push(table(['severity', 'alerts'], [...SEVERITIES].reverse().map((sev) => [sev, s.bySeverity[sev]]), { right: [1] }))
  const sources = Object.entries(s.bySource)
  if (sources.length > 0) parts.push(table(['source', 'alerts'], sources.slice(0, 20).map(([k, n]) => [k, n]), { right: [1], max: { 0: 40 } }) + (sources.length > 20 ? `(and ${sources.length - 20} more sources)\n` : ''))
  const channels = Object.entries(s.byChannel)
  if (channels.length > 0) parts.push(table(['channel', 'delivered', 'failed'], channels.map(([k, c]) => [k, c.delivered, c.failed]), { right: [1, 2] }))
  parts.push(`alerts per ${formatDuration(bucketMs)} (█ critical  ▓ warn  ░ info)\n` +
    barChart(s.buckets.map((b) => ({ label: bucketLabel(b.start, bucketMs), critical: b.critical, warn: b.warn, info: b.info }))))
  return parts.join('\n')
}

const command: Command = {
  usage: 'pino-alerts stats [-s alerts.db] [--since 24h] [--until TIME] [--bucket 1h] [--json]',
  options: {
    since: { type: 'string' },
    until: { type: 'string' },
    bucket: { type: 'string' },
    json: { type: 'boolean' }
  },
  positionals: false,
  help: `Counts the stored alerts by severity, source and channel outcome (delivered / failed), and charts
the alert volume per time bucket by severity. Times are local.

Options:
      --since WHEN    a duration ago (90s, 15m, 2h, 7d) or an ISO 8601 time (default 24h)
      --until WHEN    the same (default now)
      --bucket SIZE   the chart's bucket size (default 1h)
      --json          the summary as JSON

Examples:
  pino-alerts stats -s alerts.db
  pino-alerts stats -s alerts.db --since 7d --bucket 1d
  pino-alerts stats -c alerts.json --since 1h --bucket 5m --json`,

  async run (ctx) {
    const now = Date.now()
    const until = timeOption(str(ctx.values.until) ?? '0s', 'until', now)
    const since = timeOption(str(ctx.values.since) ?? '24h', 'since', now)
    const bucketMs = durationOption(str(ctx.values.bucket) ?? '1h', 'bucket')
    if (since >= until) throw new UsageError('--since: expected a time before --until', `usage: ${command.usage}`)
    const buckets = Math.ceil((until - since) / bucketMs)
    if (buckets > 500) throw new UsageError(`--bucket: ${buckets} buckets are too many to chart (at most 500); use a larger --bucket`, `usage: ${command.usage}`)
    const opts = loadConfig(ctx.global)
    const s = withStore(opts, false, (store) => store.summary({ since, until, bucketMs }))
    ctx.out(bool(ctx.values.json) ? json({ ...s, bucketMs }) : renderSummary(s, bucketMs))
    return 0
  }
}
export default command
