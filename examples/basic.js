// pino-alerts demo: `npm run demo` (builds, then runs this file).
//
// 1. Logs through a REAL pino transport (`targets`: pino/file + pino-alerts in pino's worker thread)
//    and shows severity routing and failover:
//      info     → console, file
//      warn     → console, file
//      critical → console, webhook — the webhook answers 503, so after its retries the file channel
//                 stands in for it (`failover: ['file']`)
// 2. Uses the library API (`createAlerter`) to dispatch one alert to two channels in parallel and
//    prints the DispatchResult per channel.
// 3. Reads ./demo-output/alerts.jsonl back and prints what was logged → what arrived.
//
// Exit 0 when every expected alert arrived, 1 otherwise. Runs in a few seconds; safe to re-run.
import { once } from 'node:events'
import { mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import pino from 'pino'
import { createAlerter } from 'pino-alerts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, 'demo-output')
const alertsFile = join(outDir, 'alerts.jsonl')
const appLog = join(outDir, 'app.log')
const show = (p) => relative(process.cwd(), p) || p

mkdirSync(outDir, { recursive: true })
rmSync(alertsFile, { force: true })
rmSync(appLog, { force: true })

const failures = []
const check = (ok, what) => { if (!ok) failures.push(what) }

// ---------------------------------------------------------------------------------------------------
// A local stand-in for remote services: /down answers 503 to everything, /slow answers 200 after
// 400 ms. It runs in its own thread (still in this process) on purpose: `transport.end()` — like
// pino's own exit hook — blocks the main thread (Atomics.wait) until the transport's worker has
// finished delivering, so a server on the main thread could not answer while that happens.
const receiver = new Worker(`
  const http = require('node:http')
  const { parentPort } = require('node:worker_threads')
  const requests = []
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      requests.push({ path: req.url, webhookId: req.headers['webhook-id'] })
      if (req.url === '/slow') setTimeout(() => res.end('ok'), 400)
      else { res.statusCode = 503; res.end('service unavailable') }
    })
  })
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }))
  parentPort.on('message', (m) => {
    if (m === 'report') parentPort.postMessage({ requests })
    if (m === 'stop') server.close(() => parentPort.close())
  })
`, { eval: true })
const [{ port }] = await once(receiver, 'message')
const base = `http://127.0.0.1:${port}`
const askReceiver = async () => { receiver.postMessage('report'); return (await once(receiver, 'message'))[0].requests }

console.log('pino-alerts demo')
console.log(`  every log record (pino/file):        ${show(appLog)}`)
console.log(`  alerts, one JSON line each (file):   ${show(alertsFile)}`)
console.log(`  alerts on the console channel:       stderr`)
console.log(`  webhook receiver:                    ${base}/down answers 503 to everything\n`)

// ---------------------------------------------------------------------------------------------------
// 1. Through a real pino transport
console.log('1) Logging through a pino transport (targets: pino/file + pino-alerts)')
console.log('   routes: info → console, file | warn → console, file | critical → console, webhook; failover: file\n')

const transport = pino.transport({
  targets: [
    { target: 'pino/file', options: { destination: appLog } },
    {
      target: 'pino-alerts',
      level: 'info',
      options: {
        env: false, // the demo ignores RISK_ALERTS_* so that it always behaves the same
        channels: {
          console: {},
          file: { path: alertsFile },
          webhook: { url: `${base}/down`, timeoutMs: 2000, retry: { maxAttempts: 3, initialMs: 50, maxMs: 200 } }
        },
        routes: { info: ['console', 'file'], warn: ['console', 'file'], critical: ['console', 'webhook'] },
        // A stand-in must not already be in the alert's route: file is not in the critical route.
        failover: ['file']
      }
    }
  ]
})
const logger = pino({ name: 'demo-app' }, transport)

// What the app logs, and what should come out of it.
const logged = [
  { call: 'info', obj: {}, msg: 'Service started', expect: null },
  { call: 'info', obj: { alert: true }, msg: 'Nightly report is ready', expect: { severity: 'info', source: 'demo-app', via: 'console, file' } },
  { call: 'warn', obj: { userId: 42 }, msg: 'Slow login (untagged)', expect: null },
  { call: 'warn', obj: { alert: { source: 'disk', labels: { mount: '/data', used: '91%' } } }, msg: 'Disk almost full', expect: { severity: 'warn', source: 'disk', via: 'console, file' } },
  { call: 'error', obj: { alert: { source: 'payments', title: 'Payment provider unreachable', labels: { provider: 'acme' } }, err: new Error('ECONNRESET') }, msg: 'charge failed for order 1042', expect: { severity: 'critical', source: 'payments', via: 'console, webhook ✗ (503) → file (failover)' } }
]
console.log('   console channel (stderr):')
for (const l of logged) logger[l.call](l.obj, l.msg)

// Ending the transport waits for pino's worker: it closes pino-alerts, which waits for every delivery
// in flight (retries and failover included), bounded by shutdownTimeoutMs.
const t0 = Date.now()
transport.end()
await once(transport, 'close')
const transportMs = Date.now() - t0
const afterTransport = await askReceiver()
const webhookHits = afterTransport.filter((r) => r.path === '/down')
console.log(`\n   transport closed after ${transportMs} ms; the 503 webhook was tried ${webhookHits.length} times`)
check(webhookHits.length === 3, `the webhook should have been tried 3 times (retry.maxAttempts), got ${webhookHits.length}`)

// ---------------------------------------------------------------------------------------------------
// 2. Library use: createAlerter + dispatch, two channels in parallel
console.log('\n2) Library use: createAlerter().dispatch() to two channels at once')
console.log(`   ops-hook → ${base}/slow (200 after 400 ms) | backup-hook → ${base}/down (503, 3 attempts)\n`)

const alerter = createAlerter({
  env: false,
  channels: {
    console: { enabled: false },
    'ops-hook': { type: 'webhook', url: `${base}/slow` },
    'backup-hook': { type: 'webhook', url: `${base}/down`, retry: { maxAttempts: 3, initialMs: 100, maxMs: 200 } }
  },
  routes: { critical: ['ops-hook', 'backup-hook'] }
})
await alerter.ready
console.log('   (backup-hook\'s failure is also reported on stderr, as every undelivered alert is)')
const d0 = Date.now()
const result = await alerter.dispatch({ source: 'billing', title: 'Invoice run failed', severity: 'critical', labels: { run: '2024-06' } })
const dispatchMs = Date.now() - d0
await alerter.close()

console.log(`   DispatchResult for alert ${result.id} (dispatch took ${dispatchMs} ms):`)
printTable(['channel', 'delivered', 'attempts', 'standInFor', 'error'], result.deliveries.map((d) => [
  d.channel, d.ok ? 'yes' : 'no', String(d.attempts), d.standInFor ?? '-', d.error ?? '-'
]))
console.log(`   In parallel: the dispatch took about as long as the slowest channel (${dispatchMs} ms), not the sum.`)
const ops = result.deliveries.find((d) => d.channel === 'ops-hook')
const backup = result.deliveries.find((d) => d.channel === 'backup-hook')
check(ops?.ok === true && ops.attempts === 1, 'ops-hook should deliver on the first attempt')
check(backup?.ok === false && backup.attempts === 3, 'backup-hook should fail after 3 attempts')
const slowHits = (await askReceiver()).filter((r) => r.path === '/slow')
check(slowHits.length === 1 && slowHits[0].webhookId === result.id, 'the webhook-id header should be the event id')

receiver.postMessage('stop')
await once(receiver, 'exit')

// ---------------------------------------------------------------------------------------------------
// 3. What arrived in the JSONL file
console.log(`\n3) What was logged → what arrived in ${show(alertsFile)}\n`)
const lines = existsSync(alertsFile) ? readFileSync(alertsFile, 'utf8').split('\n').filter((l) => l !== '') : []
const events = lines.map((l) => JSON.parse(l))
const rows = []
for (const l of logged) {
  const what = `logger.${l.call}(${l.obj.alert === undefined ? '' : l.obj.alert === true ? 'alert: true, ' : 'alert: {…}, '}'${l.msg}')`
  if (l.expect === null) {
    rows.push([what, 'not an alert', '-', 'app.log only'])
    continue
  }
  const title = l.obj.alert?.title ?? l.msg
  const ev = events.find((e) => e.title === title)
  if (ev === undefined) {
    rows.push([what, l.expect.via, '-', 'MISSING'])
    failures.push(`"${title}" did not arrive in ${show(alertsFile)}`)
    continue
  }
  rows.push([what, l.expect.via, `${ev.severity} ${ev.source}: ${ev.title}`, 'ok'])
  check(ev.severity === l.expect.severity, `"${title}": severity ${ev.severity}, expected ${l.expect.severity}`)
  check(ev.source === l.expect.source, `"${title}": source ${ev.source}, expected ${l.expect.source}`)
}
printTable(['logged', 'routed to', 'in alerts.jsonl (severity source: title)', ''], rows)
const expected = logged.filter((l) => l.expect !== null).length
check(events.length === expected, `${show(alertsFile)} should hold ${expected} alerts, it holds ${events.length}`)

console.log(`\nFiles: ${show(alertsFile)} (${events.length} alerts), ${show(appLog)} (every log line).`)
if (failures.length > 0) {
  console.error(`\nDEMO FAILED:\n  - ${failures.join('\n  - ')}`)
  process.exitCode = 1
} else {
  console.log('Demo OK: every expected alert arrived.')
}

function printTable (head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => '   ' + cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) console.log(line(r))
}
