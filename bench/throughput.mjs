// bench/throughput: what logging costs the app with pino-alerts attached, against pino's own
// pino/file transport measured in the same run. Each configuration runs RUNS times in a fresh
// process (1 000 000 lines, 0.1% tagged alerts delivered to a file channel); medians are compared.
//   npm run build && node bench/throughput.mjs [lines] [runs]
// Also: the same stream through the CLI on stdin (against the app writing to /dev/null), and pino's
// `targets` form with and without pino-alerts in it.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const N = Number(process.argv[2] ?? 1_000_000)
const RUNS = Number(process.argv[3] ?? 5)
const app = new URL('./throughput-app.mjs', import.meta.url).pathname
const cli = new URL('../dist/cli/main.js', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'pino-alerts-bench-'))
const cliAlerts = join(dir, 'cli-alerts.jsonl')
const cliConfig = join(dir, 'cli-config.json')
writeFileSync(cliConfig, JSON.stringify({ env: false, dedupe: false, channels: { console: { enabled: false }, file: { path: cliAlerts } }, routes: { info: ['file'], warn: ['file'], critical: ['file'] } }))

// stdout / cli: the app logs to its stdout (pino.destination(1)); the shell sends it to /dev/null or
// pipes it into the CLI. The app's own wall and CPU are measured, and the whole pipeline's wall.
const shell = {
  stdout: `node ${app} stdout ${N} > /dev/null`,
  cli: `node ${app} stdout ${N} | node ${cli} -c ${cliConfig} > /dev/null`
}

function run (mode) {
  rmSync(cliAlerts, { force: true })
  const t0 = process.hrtime.bigint()
  const r = mode in shell
    ? spawnSync('sh', ['-c', shell[mode]], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
    : spawnSync(process.execPath, [app, mode, String(N)], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
  const pipeline = Number(process.hrtime.bigint() - t0) / 1e6
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"mode"'))
  if (line === undefined) throw new Error(`${mode}: no measurement (exit ${r.status}): ${r.stderr.slice(0, 500)}`)
  const m = { ...JSON.parse(line), pipeline }
  const file = mode === 'cli' ? cliAlerts : mode.includes('alerts') ? m.alertsFile : undefined
  if (file !== undefined) {
    const got = readFileSync(file, 'utf8').split('\n').filter(Boolean).length
    if (got !== Math.floor(N / 1000)) throw new Error(`${mode}: ${got} alerts in the file, expected ${Math.floor(N / 1000)}`)
  }
  return m
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ALL = ['pino/file', 'naive', 'pino-alerts', 'pino-alerts+destination', 'targets:file', 'targets:file+alerts@warn', 'targets:file+file@warn', 'stdout', 'cli']
// BENCH_MODES=stdout,cli (say) runs a subset; pino/file and targets:file always run (the baselines).
const picked = process.env.BENCH_MODES?.split(',').map((m) => m.trim()).filter(Boolean)
const modes = picked === undefined ? ALL : ALL.filter((m) => m === 'pino/file' || m === 'targets:file' || picked.includes(m) || (m === 'targets:file+file@warn' && picked.includes('targets:file+alerts@warn')) || (m === 'stdout' && picked.includes('cli')))
const results = Object.fromEntries(modes.map((m) => [m, []]))
for (let i = 0; i < RUNS; i++) {
  for (const m of modes) results[m].push(run(m)) // interleaved: drift hits all alike
  process.stderr.write(`run ${i + 1}/${RUNS} done\n`)
}
rmSync(dir, { recursive: true, force: true })

const wall = (m) => median(results[m].map((r) => r.wall))
// Ratios are paired: each round runs every set-up back to back, so a round's ratio shares the
// machine's state of the moment (on a shared machine the same run drifts by ±20% over minutes);
// the median of the rounds' ratios is reported.
const ratio = (m, against) => median(results[m].map((r, i) => r.wall / results[against][i].wall))
const pad = (s, n) => String(s).padEnd(n)
// The goals. pino-alerts+destination and cli are shown for reference (no goal of their own).
const GOALS = {
  'pino-alerts': ['pino/file', 1.10],
  'targets:file+alerts@warn': ['targets:file', 1.10]
}
console.log(`\nthroughput: ${N} pino lines, 0.1% alerts, ${RUNS} rounds (wall and CPU of the whole app process: medians; × columns: median of the rounds' paired ratios)\n`)
console.log(pad('set-up', 30) + pad('wall ms', 9) + pad('cpu ms', 9) + pad('× pino/file', 13) + pad('× targets:[file]', 18) + pad('pipeline ms', 13) + 'goal')
console.log('-'.repeat(118))
let missed = 0
for (const m of modes) {
  const w = wall(m)
  const c = median(results[m].map((r) => r.cpu))
  const p = m in shell ? median(results[m].map((r) => r.pipeline)).toFixed(0) : '-'
  let goal = m === 'cli' ? `pipeline ${median(results.cli.map((r, i) => r.pipeline / results.stdout[i].pipeline)).toFixed(2)} × stdout (reference)` : ''
  if (m in GOALS) {
    const [against, max] = GOALS[m]
    const r = ratio(m, against)
    goal = `≤ ${max.toFixed(2)} × ${against}: ${r <= max ? 'ok' : 'MISSED'}`
    if (m === 'targets:file+alerts@warn') {
      // What pino-alerts adds to pino's multistream: against the same two-target set-up without it.
      const own = ratio(m, 'targets:file+file@warn')
      goal += `; ${own.toFixed(2)} × targets:file+file@warn ${own <= max ? 'ok' : 'MISSED'}`
      if (own > max) missed++
    } else if (r > max) missed++
  }
  console.log(pad(m, 30) + pad(w.toFixed(0), 9) + pad(c.toFixed(0), 9) + pad(ratio(m, 'pino/file').toFixed(2), 13) + pad(ratio(m, 'targets:file').toFixed(2), 18) + pad(p, 13) + goal)
}
console.log(`
targets:file+file@warn has no pino-alerts in it: two pino/file targets. With two or more targets pino's
worker parses every line (JSON.parse) to route it by level; targets:file+alerts@warn pays the same.
The cheaper set-up is one target that also writes the log: { target: 'pino-alerts', options: { destination } }.`)
process.exitCode = missed === 0 ? 0 : 1
