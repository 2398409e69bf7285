// bench/outage: every remote channel down while alerts keep coming — 100 alerts/s for 10 minutes,
// accelerated (same count, sent as fast as RATE allows) — then the services return. Reports RSS at
// start, end and peak of the app process, and whether every critical alert reached a service or the
// failover file. Baseline in the same run: the same alerts with every service up.
//   npm run build && node bench/outage.mjs [alerts=60000] [rate=3000]
import { createServer } from 'node:http'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAlerter } from '../dist/index.js'

const N = Number(process.argv[2] ?? 60_000)
const RATE = Number(process.argv[3] ?? 3000)

async function service () {
  let up = false
  const seen = new Set()
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      if (!up) { res.destroy(); return } // down: the connection is dropped
      try { const j = JSON.parse(body); for (const e of j.events ?? [j]) seen.add(e.id) } catch {}
      res.end('ok')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${server.address().port}/hook`, seen, setUp: (v) => { up = v }, close: () => server.close() }
}

async function run (down) {
  const hookA = await service()
  const hookB = await service()
  hookA.setUp(!down); hookB.setUp(!down)
  const dir = mkdtempSync(join(tmpdir(), 'pino-alerts-outage-'))
  const file = join(dir, 'failover.jsonl')
  const a = createAlerter({
    env: false,
    dedupe: false,
    channels: {
      console: { enabled: false },
      ops: { type: 'webhook', url: hookA.url, retry: { maxAttempts: 3, initialMs: 50, maxMs: 200 }, timeoutMs: 1000 },
      desk: { type: 'webhook', url: hookB.url, retry: { maxAttempts: 3, initialMs: 50, maxMs: 200 }, timeoutMs: 1000, rateLimit: { perSecond: 5 } },
      file: { path: file }
    },
    routes: { info: ['ops'], warn: ['ops', 'desk'], critical: ['ops', 'desk'] },
    failover: ['file']
  }, { env: {}, reporter: { notice () {}, summary () {}, badLine () {}, flush () {}, badLines: 0 } })
  await a.ready
  const rss = { start: process.memoryUsage().rss, peak: 0, end: 0 }
  const sample = setInterval(() => { rss.peak = Math.max(rss.peak, process.memoryUsage().rss) }, 50)
  const criticalIds = []
  const t0 = Date.now()
  const pending = []
  for (let i = 0; i < N; i++) {
    const severity = i % 100 === 0 ? 'critical' : i % 10 === 0 ? 'warn' : 'info'
    const p = a.dispatch({ source: `svc_${i % 20}`, title: `outage alert ${i}`, severity, labels: { n: String(i) } })
    if (severity === 'critical') pending.push(p.then((r) => criticalIds.push(r.id)))
    if (i % Math.max(1, Math.round(RATE / 100)) === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const sentMs = Date.now() - t0
  hookA.setUp(true); hookB.setUp(true) // the services return
  await Promise.all(pending)
  await a.flush()
  const stats = a.stats()
  await a.close()
  clearInterval(sample)
  rss.end = process.memoryUsage().rss
  const inFile = new Set((existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l).id))
  const lost = criticalIds.filter((id) => !hookA.seen.has(id) && !hookB.seen.has(id) && !inFile.has(id))
  hookA.close(); hookB.close()
  return { sentMs, rss, criticals: criticalIds.length, lost: lost.length, circuit: [stats.channels.ops.circuit, stats.channels.desk.circuit], dropped: stats.channels.ops.dropped + stats.channels.desk.dropped, failedOver: inFile.size }
}

const baseline = await run(false)
global.gc?.()
const outage = await run(true)
const mb = (b) => (b / 1024 / 1024).toFixed(0) + ' MB'
const pad = (s, n) => String(s).padEnd(n)
console.log(`\noutage: ${N} alerts (= 100/s for ${(N / 100 / 60).toFixed(0)} min, sent at up to ${RATE}/s), 1% critical; two webhooks, failover to a file\n`)
console.log(pad('run', 30) + pad('sent in', 10) + pad('RSS start', 11) + pad('RSS peak', 10) + pad('RSS end', 10) + pad('to file', 9) + pad('dropped', 9) + 'criticals lost')
console.log('-'.repeat(104))
for (const [name, r] of [['baseline: services up', baseline], ['outage: both services down', outage]]) {
  console.log(pad(name, 30) + pad(r.sentMs + ' ms', 10) + pad(mb(r.rss.start), 11) + pad(mb(r.rss.peak), 10) + pad(mb(r.rss.end), 10) + pad(r.failedOver, 9) + pad(r.dropped, 9) + `${r.lost} of ${r.criticals}`)
}
process.exitCode = outage.lost === 0 ? 0 : 1
