/**
 * `/metrics` in the Prometheus text exposition format 0.0.4: counts from the store (alerts by
 * severity, final delivery outcomes by channel) and the live counters that every process writing to
 * the store leaves there every 5 s (queue lengths, circuit breakers).
 */
import type { AlertStore } from '../store/sqlite.js'

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

type Labels = Record<string, string>
interface Family { name: string, help: string, type: 'counter' | 'gauge', samples: Array<{ labels: Labels, value: number }> }

/** Label values: backslash, double quote and line feed escaped (the format's rules). */
export function escapeLabelValue (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** HELP text: backslash and line feed escaped. */
function escapeHelp (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function formatValue (n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

export function render (families: readonly Family[]): string {
  const out: string[] = []
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`)
    out.push(`# TYPE ${f.name} ${f.type}`)
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')
      out.push(`${f.name}${labels === '' ? '' : `{${labels}}`} ${formatValue(s.value)}`)
    }
  }
  return out.join('\n') + '\n'
}

interface LiveChannel { queued?: unknown, circuit?: unknown }

/** The exposition text for a store (one pass over its alerts; cheap enough for a 15 s scrape). */
export function metricsText (store: AlertStore, now = Date.now()): string {
  // The whole store: from the epoch to far in the future (clocks of other processes may run ahead).
  const far = 8_640_000_000_000_000
  const sum = store.summary({ since: 0, until: far, bucketMs: far })
  const alerts: Family = {
    name: 'pino_alerts_alerts_total',
    help: 'Alerts in the store, by severity (suppressed ones included; retention removes old ones).',
    type: 'counter',
    samples: (['info', 'warn', 'critical'] as const).map((severity) => ({ labels: { severity }, value: sum.bySeverity[severity] }))
  }
  const deliveries: Family = {
    name: 'pino_alerts_deliveries_total',
    help: 'Final delivery outcomes recorded in the store, by channel.',
    type: 'counter',
    samples: Object.entries(sum.byChannel).flatMap(([channel, c]) => [
      { labels: { channel, outcome: 'delivered' }, value: c.delivered },
      { labels: { channel, outcome: 'failed' }, value: c.failed }
    ])
  }

  // Live counters: every process that reported in the last minute; queues add up, a circuit counts
  // as open when it is open in any of them.
  const live = store.runtimeStats(60_000, now)
  const queue = new Map<string, number>()
  const circuit = new Map<string, number>()
  for (const p of live) {
    const channels = (p.stats !== null && typeof p.stats === 'object' ? (p.stats as { channels?: unknown }).channels : undefined) ?? {}
    if (channels === null || typeof channels !== 'object') continue
    for (const [name, c] of Object.entries(channels as Record<string, LiveChannel>)) {
      const q = typeof c?.queued === 'number' ? c.queued : 0
      queue.set(name, (queue.get(name) ?? 0) + q)
      circuit.set(name, Math.max(circuit.get(name) ?? 0, c?.circuit === 'open' ? 1 : 0))
    }
  }
  const names = [...queue.keys()].sort()
  const queueFamily: Family = {
    name: 'pino_alerts_queue_length',
    help: 'Alerts waiting in a channel\'s delivery queue, summed over the processes writing to the store.',
    type: 'gauge',
    samples: names.map((channel) => ({ labels: { channel }, value: queue.get(channel) ?? 0 }))
  }
  const circuitFamily: Family = {
    name: 'pino_alerts_circuit_open',
    help: 'Whether a channel\'s circuit breaker is open (1) in any process writing to the store, or not (0).',
    type: 'gauge',
    samples: names.map((channel) => ({ labels: { channel }, value: circuit.get(channel) ?? 0 }))
  }
  const processes: Family = {
    name: 'pino_alerts_processes',
    help: 'Processes that reported live counters to the store in the last 60 s.',
    type: 'gauge',
    samples: [{ labels: {}, value: live.length }]
  }
  const silences: Family = {
    name: 'pino_alerts_silences_active',
    help: 'Silences in the store that are in force now.',
    type: 'gauge',
    samples: [{ labels: {}, value: store.silences(now).filter((s) => Date.parse(s.startsAt) <= now).length }]
  }
  return render([alerts, deliveries, queueFamily, circuitFamily, processes, silences])
}
