// Store queries on 10 000 stored alerts: history / summary / receipts must each answer in < 50 ms
// (SPEC §9; indexes). Baseline in the same run: a full scan of the same table without indexes.
//   node bench/store.mjs [count]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Database from 'better-sqlite3'
import { AlertStore } from '../dist/store/sqlite.js'
import { AlertEvent } from '../dist/event.js'

const N = Number(process.argv[2] ?? 10_000)
const dir = mkdtempSync(join(tmpdir(), 'pino-alerts-bench-'))
const store = AlertStore.open({ path: join(dir, 'bench.db'), maxAgeDays: 3650, maxRows: 10_000_000 })
const sources = ['risk_gate', 'var_gate', 'kill_switch', 'position_limit', 'pnl_monitor']
const severities = ['info', 'warn', 'critical']
const start = Date.now() - N * 1000
const ids = []
const tWrite = performance.now()
for (let i = 0; i < N; i++) {
  const e = AlertEvent.from({
    source: sources[i % sources.length], title: `alert ${i}`, severity: severities[i % 3],
    labels: { n: String(i), desk: i % 2 === 0 ? 'fx' : 'rates' }, metadata: { order: { id: i, qty: i % 100 } },
    timestamp: new Date(start + i * 1000).toISOString()
  })
  store.insert(e.toJSON(), ['console', 'file', 'webhook'])
  store.receipt(e.id, { channel: 'file', ok: true, attempts: 1 })
  store.receipt(e.id, { channel: 'webhook', ok: i % 7 !== 0, attempts: i % 7 === 0 ? 5 : 1, error: i % 7 === 0 ? 'webhook: HTTP 503 (gave up after 5 attempts)' : undefined })
  store.settle(e.id)
  ids.push(e.id)
}
const writeMs = performance.now() - tWrite

function time (fn, runs = 20) {
  const samples = []
  let out
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    out = fn()
    samples.push(performance.now() - t)
  }
  samples.sort((a, b) => a - b)
  return { median: samples[Math.floor(runs / 2)], max: samples[runs - 1], out }
}

const mid = new Date(start + (N / 2) * 1000).toISOString()
const rows = [
  ['history() newest 100', time(() => store.history())],
  ['history({ severity: critical, source, limit 1000 })', time(() => store.history({ severity: 'critical', source: 'risk_gate', limit: 1000 }))],
  ['history({ since: midpoint, limit 1000 })', time(() => store.history({ since: mid, limit: 1000 }))],
  ['summary({ since: all, bucketMs: 1h })', time(() => store.summary({ since: start, until: Date.now(), bucketMs: 3_600_000 }))],
  ['receipts(id)', time(() => store.receipts(ids[Math.floor(N / 3)]))]
]
// Baseline: the same filter as the second row, on a copy of the table without any index.
const raw = new Database(join(dir, 'bench.db'), { readonly: true })
const baseline = time(() => raw.prepare("SELECT event FROM alerts NOT INDEXED WHERE severity = 'critical' AND source = 'risk_gate' ORDER BY ts DESC LIMIT 1000").all())

const pad = (s, n) => String(s).padEnd(n)
console.log(`\nstore queries on ${N} alerts (${(writeMs / N * 1000).toFixed(0)} µs per stored alert incl. 2 receipts and settle)\n`)
console.log(pad('query', 54) + pad('median ms', 11) + pad('max ms', 9) + pad('rows', 7) + 'goal < 50 ms')
console.log('-'.repeat(90))
let ok = true
for (const [name, r] of rows) {
  const n = Array.isArray(r.out) ? r.out.length : r.out.total ?? 1
  const pass = r.median < 50
  ok &&= pass
  console.log(pad(name, 54) + pad(r.median.toFixed(2), 11) + pad(r.max.toFixed(2), 9) + pad(n, 7) + (pass ? 'ok' : 'SLOW'))
}
console.log(pad('baseline: row 2 as raw SQL, no index, no JSON.parse', 54) + pad(baseline.median.toFixed(2), 11) + pad(baseline.max.toFixed(2), 9) + pad(baseline.out.length, 7))
raw.close()
store.close()
rmSync(dir, { recursive: true, force: true })
process.exitCode = ok ? 0 : 1
