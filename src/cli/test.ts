/**
 * `pino-alerts test`: one clearly marked test alert per configured channel, sent to that channel
 * alone (no routing, failover, dedupe, grouping, silences or store), and a table of what happened.
 */
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createAlerter } from '../alerter.js'
import { ConfigError } from '../errors.js'
import { normalizeSeverity } from '../event.js'
import type { CompiledRule, ResolvedChannel, ResolvedOptions } from '../options.js'
import { bool, CliError, str, UsageError, type Command } from './command.js'
import { loadConfig } from './config.js'
import { commandReporter } from './engine.js'
import { formatLatency, json, table } from './format.js'

const USAGE = 'pino-alerts test [-c alerts.json] [--channel NAME] [--severity info|warn|critical] [--no-retry] [--json]'

interface Row { channel: string, type: string, ok: boolean, attempts: number, latencyMs: number, error?: string }

/** Options that send an alert labelled `channel=<name>` to that channel and nowhere else. */
export function testOptions (opts: ResolvedOptions, channels: ResolvedChannel[]): ResolvedOptions {
  const rules: CompiledRule[] = channels.map((c, index) => ({
    index,
    matchers: [{ name: 'channel', op: '=', value: c.name, text: `channel=${JSON.stringify(c.name)}` }],
    channels: [c.name],
    continue: false,
    activeTime: undefined,
    muteTime: undefined,
    escalate: []
  }))
  return {
    ...opts,
    channels,
    routes: { info: [], warn: [], critical: [] },
    rules,
    dedupe: undefined,
    group: undefined,
    silences: [],
    inhibit: [],
    failover: [],
    store: undefined
  }
}

const command: Command = {
  usage: USAGE,
  options: {
    channel: { type: 'string' },
    severity: { type: 'string' },
    'no-retry': { type: 'boolean' },
    json: { type: 'boolean' }
  },
  positionals: false,
  help: `Sends a test alert (source "pino-alerts", title "Test alert from pino-alerts", label test="true")
to each enabled channel of the configuration, or to one, directly: no routing, failover, dedupe or
store. Prints one row per channel; exits 1 when any channel failed. Retries follow each channel's
retry policy (--no-retry: one attempt each).

Options:
      --channel NAME       only this channel
      --severity SEVERITY  info (default), warn or critical
      --no-retry           one attempt per channel
      --json               the results as JSON

Examples:
  pino-alerts test -c alerts.json
  pino-alerts test -c alerts.json --channel ops-slack --severity critical
  RISK_ALERTS_WEBHOOK_URL=https://example.com/hook pino-alerts test --no-retry`,

  async run (ctx) {
    const opts = loadConfig(ctx.global)
    const severityText = str(ctx.values.severity) ?? 'info'
    const severity = normalizeSeverity(severityText)
    if (severity === undefined) throw new UsageError(`--severity: got ${JSON.stringify(severityText)}; expected info, warn or critical`, `usage: ${USAGE}`)
    const enabled = opts.channels.filter((c) => c.enabled)
    const only = str(ctx.values.channel)
    let selected = enabled
    if (only !== undefined) {
      const c = opts.channels.find((x) => x.name === only)
      if (c === undefined) throw new CliError(`--channel: no channel "${only}" in the configuration (channels: ${opts.channels.map((x) => x.name).join(', ')})`, 2)
      if (!c.enabled) throw new CliError(`--channel: channel "${only}" is disabled ("enabled": false)`, 2)
      selected = [c]
    }
    if (selected.length === 0) throw new CliError('no enabled channel to test (configure channels with -c FILE or RISK_ALERTS_* variables)', 2)
    if (bool(ctx.values['no-retry'])) selected = selected.map((c) => ({ ...c, retry: { ...c.retry, maxAttempts: 1 } }))

    const alerter = createAlerter(testOptions(opts, selected), { reporter: commandReporter() })
    // A channel that cannot start is reported by the alerter and shows as failed below.
    try {
      await alerter.ready
    } catch (err) {
      // A channel module that cannot load is a configuration error (exit 2, like any invalid option);
      // any other channel that cannot start shows as FAILED below.
      if (err instanceof ConfigError) { await alerter.close(); throw new CliError(err.message, 2, true) }
    }
    const host = hostname()
    const rows: Row[] = await Promise.all(selected.map(async (c) => {
      const started = performance.now()
      const result = await alerter.dispatch({
        source: 'pino-alerts',
        title: 'Test alert from pino-alerts',
        severity,
        body: `A test of channel "${c.name}" (${c.type}) sent by "pino-alerts test" on ${host}. No action needed.`,
        labels: { test: 'true', channel: c.name }
      })
      const latencyMs = performance.now() - started
      const d = result.deliveries.find((x) => x.channel === c.name)
      const row: Row = { channel: c.name, type: c.type, ok: d?.ok === true, attempts: d?.attempts ?? 0, latencyMs }
      const error = d?.error ?? result.error ?? (d === undefined ? `not sent${result.suppressed !== undefined ? ` (${result.suppressed})` : ''}` : undefined)
      if (!row.ok && error !== undefined) row.error = error
      return row
    }))
    await alerter.close()

    if (bool(ctx.values.json)) {
      ctx.out(json(rows.map((r) => ({ ...r, latencyMs: Math.round(r.latencyMs) }))))
    } else {
      ctx.out(table(['channel', 'type', 'result', 'attempts', 'latency', 'error'],
        rows.map((r) => [r.channel, r.type, r.ok ? 'delivered' : 'FAILED', r.attempts, formatLatency(r.latencyMs), r.error ?? '']),
        { right: [3, 4], max: { 5: 100 } }))
      const failed = rows.filter((r) => !r.ok).length
      ctx.out(failed === 0 ? `\nall ${rows.length} channel(s) delivered\n` : `\n${failed} of ${rows.length} channel(s) failed\n`)
    }
    return rows.some((r) => !r.ok) ? 1 : 0
  }
}
export default command
