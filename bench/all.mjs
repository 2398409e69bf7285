// npm run bench: every benchmark in turn, each printing its table with a baseline measured in the same
// run. Exits 1 when any benchmark reports a goal missed (or fails). Run it on an otherwise idle machine.
import { spawnSync } from 'node:child_process'

const benches = ['throughput.mjs', 'latency.mjs', 'burst.mjs', 'outage.mjs', 'store.mjs']
const failed = []
for (const b of benches) {
  process.stdout.write(`\n=== bench/${b} ===\n`)
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [new URL(`./${b}`, import.meta.url).pathname], { stdio: 'inherit' })
  process.stdout.write(`(bench/${b}: ${((Date.now() - t0) / 1000).toFixed(0)} s, exit ${r.status})\n`)
  if (r.status !== 0) failed.push(b)
}
process.stdout.write(failed.length === 0 ? '\nall benchmarks met their goals\n' : `\ngoal missed or failed: ${failed.join(', ')}\n`)
process.exitCode = failed.length === 0 ? 0 : 1
