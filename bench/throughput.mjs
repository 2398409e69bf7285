// bench/throughput: what logging costs the app with pino-alerts attached, against pino's own
// pino/file transport measured in the same run. Each configuration runs RUNS times in a fresh
// process (1 000 000 lines, 0.1% tagged alerts delivered to a file channel); medians are compared.
//   npm run build && node bench/throughput.mjs [lines] [runs]
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const N = Number(process.argv[2] ?? 1_000_000)
const RUNS = Number(process.argv[3] ?? 5)
const app = new URL('./throughput-app.mjs', import.meta.url).pathname

function run (mode, viaCli = false) {
  const args = viaCli ? ['-c', `node ${app} stdout ${N} | node ${new URL('../dist/cli/main.js', import.meta.url).pathname} -c ${new URL('./cli-config.json', import.meta.url).pathname} > /dev/null`] : null
  const r = viaCli
    ? spawnSync('sh', args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
    : spawnSync(process.execPath, [app, mode, String(N)], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"mode"'))
  if (line === undefined) throw new Error(`${mode}: no measurement (exit ${r.status}): ${r.stderr.slice(0, 500)}`)
  const m = JSON.parse(line)
  if (mode.includes('alerts')) {
    const got = readFileSync(m.alertsFile, 'utf8').split('\n').filter(Boolean).length
    if (got !== Math.floor(N / 1000)) throw new Error(`${mode}: ${got} alerts in the file, expected ${Math.floor(N / 1000)}`)
  }
  return m
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const modes = ['pino/file', 'naive', 'pino-alerts', 'pino-alerts+destination', 'targets:file', 'targets:file+alerts@warn']
const results = Object.fromEntries(modes.map((m) => [m, []]))
for (let i = 0; i < RUNS; i++) for (const m of modes) results[m].push(run(m))   // interleaved: drift hits all alike

const base = median(results['pino/file'].map((r) => r.wall))
const baseTargets = median(results['targets:file'].map((r) => r.wall))
const pad = (s, n) => String(s).padEnd(n)
console.log(`\nthroughput: ${N} pino lines, 0.1% alerts, median of ${RUNS} runs (wall and CPU of the whole app process)\n`)
console.log(pad('set-up', 34) + pad('wall ms', 10) + pad('cpu ms', 10) + pad('× pino/file', 13) + pad('× targets:[file]', 18) + 'goal')
console.log('-'.repeat(96))
for (const m of modes) {
  const w = median(results[m].map((r) => r.wall))
  const c = median(results[m].map((r) => r.cpu))
  const vsFile = m === 'pino-alerts' || m === 'pino-alerts+destination'
  const goal = vsFile ? '≤ 1.10 × pino/file' : m === 'targets:file+alerts@warn' ? '≤ 1.10 × targets:[file]' : ''
  const ok = vsFile ? (w / base <= 1.10 ? ' ok' : ' MISSED') : m === 'targets:file+alerts@warn' ? (w / baseTargets <= 1.10 ? ' ok' : ' MISSED') : ''
  console.log(pad(m, 34) + pad(w.toFixed(0), 10) + pad(c.toFixed(0), 10) + pad((w / base).toFixed(2), 13) + pad((w / baseTargets).toFixed(2), 18) + goal + ok)
}
