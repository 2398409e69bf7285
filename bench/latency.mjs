// bench/latency: logger.fatal(alert) → a loopback webhook records the arrival. 10 000 alerts at
// 1 000/s; p50/p95/p99/max against a baseline measured in the same run: a direct undici POST from the
// app thread. The receiver is a process of its own (bench/latency-server.mjs). Clock:
// performance.timeOrigin + performance.now(), which agrees across threads and processes here.
//   npm run build && node bench/latency.mjs [count] [perSecond]
import { fork } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { once } from 'node:events'
import pino from 'pino'
import { request, Agent } from 'undici'

const COUNT = Number(process.argv[2] ?? 10_000)
const RATE = Number(process.argv[3] ?? 1000)
const clock = () => performance.timeOrigin + performance.now()

// The receiver runs in its own process, as a real webhook receiver does: the app's main thread only
// logs (or, for the baseline, sends).
const receiver = fork(new URL('./latency-server.mjs', import.meta.url).pathname, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const [{ port }] = await once(receiver, 'message')
const url = `http://127.0.0.1:${port}/hook`
const ask = async (what) => { receiver.send(what); return (await once(receiver, 'message'))[0] }

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

/** Waits until the receiver has n arrivals (or 60 s), then takes them. */
async function collect (n) {
  const deadline = Date.now() + 60_000
  while ((await ask('count')).count < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  return (await ask('take')).latencies
}

function stats (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { n: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] }
}

// Baseline: the app thread POSTs each alert itself (what a naive in-app notifier does).
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 8 })
await paced((i) => {
  const body = JSON.stringify({ title: `direct ${i}`, sentAt: clock() })
  request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent }).then((r) => r.body.dump(), () => {})
})
const direct = stats(await collect(COUNT))
await agent.close()

// pino-alerts: logger.fatal through the transport's worker thread, webhook channel.
const transport = pino.transport({ target: 'pino-alerts', options: { env: false, dedupe: false, channels: { console: { enabled: false }, webhook: { url } }, routes: { critical: ['webhook'] } } })
const logger = pino(transport)
await new Promise((resolve) => setTimeout(resolve, 500)) // the worker is up, as in a running app
await paced((i) => logger.fatal({ alert: { source: 'kill_switch', metadata: { sentAt: clock() } } }, `Kill switch ${i}`))
const viaAlerts = stats(await collect(COUNT))
transport.end()
receiver.send('stop')

const pad = (s, n) => String(s).padEnd(n)
const f = (x) => x.toFixed(2)
console.log(`\nlatency: ${COUNT} alerts at ${RATE}/s, log call → arrival at a loopback webhook (ms)\n`)
console.log(pad('path', 48) + pad('n', 8) + pad('p50', 8) + pad('p95', 8) + pad('p99', 8) + pad('max', 9) + 'goal')
console.log('-'.repeat(100))
console.log(pad('baseline: undici POST from the app thread', 48) + pad(direct.n, 8) + pad(f(direct.p50), 8) + pad(f(direct.p95), 8) + pad(f(direct.p99), 8) + pad(f(direct.max), 9))
const ok = viaAlerts.p50 <= 2 && viaAlerts.p99 <= 10
console.log(pad('pino-alerts: logger.fatal → worker → webhook', 48) + pad(viaAlerts.n, 8) + pad(f(viaAlerts.p50), 8) + pad(f(viaAlerts.p95), 8) + pad(f(viaAlerts.p99), 8) + pad(f(viaAlerts.max), 9) + `p50 ≤ 2, p99 ≤ 10 ${ok ? 'ok' : 'MISSED'}`)
process.exitCode = ok ? 0 : 1
