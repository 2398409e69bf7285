// bench/latency: logger.fatal(alert) → a loopback webhook records the arrival. 10 000 alerts at
// 1 000/s; p50/p95/p99/max against a baseline measured in the same run: a direct undici POST from the
// app thread. Clock: performance.timeOrigin + performance.now() (shared by the worker thread).
//   npm run build && node bench/latency.mjs [count] [perSecond]
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'
import { once } from 'node:events'
import pino from 'pino'
import { request, Agent } from 'undici'

const COUNT = Number(process.argv[2] ?? 10_000)
const RATE = Number(process.argv[3] ?? 1000)
const clock = () => performance.timeOrigin + performance.now()

let latencies = []
const server = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    const at = clock()
    try {
      const sentAt = JSON.parse(body).metadata?.sentAt ?? JSON.parse(body).sentAt
      latencies.push(at - sentAt)
    } catch {}
    res.end('ok')
  })
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const url = `http://127.0.0.1:${server.address().port}/hook`

async function paced (send) {
  const perTick = Math.max(1, Math.round(RATE / 200)) // every 5 ms
  let sent = 0
  while (sent < COUNT) {
    const tick = clock()
    for (let i = 0; i < perTick && sent < COUNT; i++) send(sent++)
    const wait = 5 - (clock() - tick)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)))
  }
}

async function until (n) {
  const deadline = Date.now() + 60_000
  while (latencies.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

function stats (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] }
}

// Baseline: the app thread POSTs each alert itself (what a naive in-app notifier does).
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 8 })
latencies = []
await paced((i) => {
  const body = JSON.stringify({ title: `direct ${i}`, sentAt: clock() })
  request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent }).then((r) => r.body.dump(), () => {})
})
await until(COUNT)
const direct = stats(latencies)
await agent.close()

// pino-alerts: logger.fatal through the transport's worker thread, webhook channel.
latencies = []
const transport = pino.transport({ target: 'pino-alerts', options: { env: false, dedupe: false, channels: { console: { enabled: false }, webhook: { url } }, routes: { critical: ['webhook'] } } })
const logger = pino(transport)
await new Promise((resolve) => setTimeout(resolve, 500)) // the worker is up, as in a running app
await paced((i) => logger.fatal({ alert: { source: 'kill_switch', metadata: { sentAt: clock() } } }, `Kill switch ${i}`))
await until(COUNT)
const viaAlerts = stats(latencies)
transport.end()
server.close()

const pad = (s, n) => String(s).padEnd(n)
const f = (x) => x.toFixed(2)
console.log(`\nlatency: ${COUNT} alerts at ${RATE}/s, log call → arrival at a loopback webhook (ms)\n`)
console.log(pad('path', 48) + pad('n', 8) + pad('p50', 8) + pad('p95', 8) + pad('p99', 8) + pad('max', 9) + 'goal')
console.log('-'.repeat(100))
console.log(pad('baseline: undici POST from the app thread', 48) + pad(direct.n, 8) + pad(f(direct.p50), 8) + pad(f(direct.p95), 8) + pad(f(direct.p99), 8) + pad(f(direct.max), 9))
const ok = viaAlerts.p50 <= 2 && viaAlerts.p99 <= 10
console.log(pad('pino-alerts: logger.fatal → worker → webhook', 48) + pad(viaAlerts.n, 8) + pad(f(viaAlerts.p50), 8) + pad(f(viaAlerts.p95), 8) + pad(f(viaAlerts.p99), 8) + pad(f(viaAlerts.max), 9) + `p50 ≤ 2, p99 ≤ 10 ${ok ? 'ok' : 'MISSED'}`)
process.exitCode = ok ? 0 : 1
