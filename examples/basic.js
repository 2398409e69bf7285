// pino-alerts demo: `npm run demo` (builds, then runs this file).
//
// 1. Logs through a REAL pino transport (`targets`: pino/file + pino-alerts in pino's worker thread)
//    and shows severity routing and failover:
//      info     → console, file
//      warn     → console, file
//      critical → console, webhook — the webhook answers 503, so after its retries the file channel
//                 stands in for it (`failover: ['file']`)
//    The transport also keeps the SQLite store (`store: { path }`, embedded defaults): each alert is
//    written before delivery is attempted, and each channel's final outcome is recorded as a receipt.
// 2. Uses the library API (`createAlerter`) to dispatch one alert to two channels in parallel and
//    prints the DispatchResult per channel.
// 3. Reads ./demo-output/alerts.jsonl back and prints what was logged → what arrived.
// 4. Opens ./demo-output/alerts.db once the transport has closed (`openStore`, `history`, `receipts`
//    from 'pino-alerts') and prints what the store holds: each alert, and each channel's receipt.
//
// Exit 0 when every expected alert arrived in the file and in the store, 1 otherwise. Runs in a few
// seconds; safe to re-run. Without the optional dependency better-sqlite3 the store part is skipped
// with a notice that says how to install it.
import { once } from 'node:events'
import { mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import pino from 'pino'
import { createAlerter, history, openStore, receipts } from 'pino-alerts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, 'demo-output')
const alertsFile = join(outDir, 'alerts.jsonl')
const appLog = join(outDir, 'app.log')
const storeFile = join(outDir, 'alerts.db')
const show = (p) => relative(process.cwd(), p) || p

mkdirSync(outDir, { recursive: true })
rmSync(alertsFile, { force: true })
rmSync(appLog, { force: true })
// The store from the last run, with SQLite's write-ahead log and its index.
for (const f of [storeFile, `${storeFile}-wal`, `${storeFile}-shm`]) rmSync(f, { force: true })

// better-sqlite3 is an optional dependency (a native module): without it, the demo runs without the store.
let storeMissing
try {
  createRequire(import.meta.url)('better-sqlite3')
} catch (err) {
  storeMissing = err.message.split('\n')[0]
}

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
console.log(`  history + outbox (SQLite store):     ${storeMissing === undefined ? show(storeFile) : 'skipped: better-sqlite3 is not installed'}`)
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
        failover: ['file'],
        // History + outbox on the embedded defaults (30 days, 1 000 000 alerts).
        ...(storeMissing === undefined ? { store: { path: storeFile } } : {})
      }
    }
  ]
})
const logger = pino({ name: 'demo-app' }, transport)

// What the app logs, and what should come out of it.
const logged = [
  { call: 'info', obj: {}, msg: 'Service started', expect: null },
  { call: 'info', obj: { alert: true }, msg: 'Nightly report is ready', expect: { severity: 'info', source: 'demo-app', via: 'console, file', receipts: ['console', 'file'] } },
  { call: 'warn', obj: { userId: 42 }, msg: 'Slow login (untagged)', expect: null },
  { call: 'warn', obj: { alert: { source: 'disk', labels: { mount: '/data', used: '91%' } } }, msg: 'Disk almost full', expect: { severity: 'warn', source: 'disk', via: 'console, file', receipts: ['console', 'file'] } },
  { call: 'error', obj: { alert: { source: 'payments', title: 'Payment provider unreachable', labels: { provider: 'acme' } }, err: new Error('ECONNRESET') }, msg: 'charge failed for order 1042', expect: { severity: 'critical', source: 'payments', via: 'console, webhook ✗ (503) → file (failover)', receipts: ['console', 'file'] } }
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

// ---------------------------------------------------------------------------------------------------
// 4. What the store holds (written by pino's worker; read here after the transport has closed)
let stored = []
if (storeMissing !== undefined) {
  console.log('\n4) The SQLite store: SKIPPED, the optional dependency better-sqlite3 is not installed')
  console.log(`   (${storeMissing})`)
  console.log('   It is an optional dependency: when its install script fails, npm goes on without it. It uses a prebuilt')
  console.log('   binary where one exists, else builds from source with python3, make and g++: install those, then run')
  console.log('   "npm rebuild better-sqlite3" (npm 11: approve its install script with "npm install-scripts approve better-sqlite3").')
} else {
  console.log(`\n4) What the SQLite store holds: ${show(storeFile)} (openStore, history, receipts)\n`)
  // history(path, query) opens the file read-only, queries and closes it; newest first.
  stored = history(storeFile, { limit: 100 }).reverse()
  const store = openStore(storeFile) // read-only; for several queries on one open file
  try {
    printTable(['time', 'severity', 'source', 'title', 'settled'], stored.map((e) => [
      e.timestamp, e.severity, e.source, e.title, e.settled ? 'yes' : 'no'
    ]))
    console.log('\n   receipts: each channel\'s final outcome per alert')
    const receiptRows = []
    for (const e of stored) {
      e.receipts = store.receipts(e.id)
      e.receipts.forEach((r, i) => receiptRows.push([i === 0 ? e.title : '', r.channel, r.ok ? 'yes' : 'no', String(r.attempts), r.standInFor ?? '-']))
    }
    printTable(['alert', 'channel', 'ok', 'attempts', 'standInFor'], receiptRows)
    const s = store.summary({ since: Date.now() - 3_600_000 })
    console.log(`\n   summary() of the last hour: ${s.total} alerts (${Object.entries(s.bySeverity).map(([k, n]) => `${n} ${k}`).join(', ')}); ` +
      `per channel ${Object.entries(s.byChannel).map(([c, n]) => `${c} ${n.delivered} delivered/${n.failed} failed`).join(', ')}`)
  } finally {
    store.close()
  }
  for (const l of logged) {
    if (l.expect === null) continue
    const title = l.obj.alert?.title ?? l.msg
    const e = stored.find((x) => x.title === title)
    if (e === undefined) { failures.push(`"${title}" is missing from the store ${show(storeFile)}`); continue }
    check(e.settled, `"${title}": not settled in the store`)
    const ok = (channel) => e.receipts.find((r) => r.channel === channel && r.ok)
    for (const channel of l.expect.receipts) check(ok(channel) !== undefined, `"${title}": no successful receipt for ${channel} in the store`)
  }
  // receipts(path, id): the same over a path (opens, queries, closes).
  const critical = stored.find((e) => e.severity === 'critical')
  const criticalReceipts = critical === undefined ? [] : receipts(storeFile, critical.id)
  const hook = criticalReceipts.find((r) => r.channel === 'webhook')
  check(hook !== undefined && !hook.ok && hook.attempts === 3, 'the store should record the webhook\'s failure after 3 attempts')
  check(criticalReceipts.find((r) => r.channel === 'file')?.standInFor === 'webhook', 'the store should record that file stood in for webhook')
  check(stored.length === expected, `the store should hold ${expected} alerts, it holds ${stored.length}`)
}

console.log(`\nFiles: ${show(alertsFile)} (${events.length} alerts), ${show(appLog)} (every log line)` +
  (storeMissing === undefined ? `, ${show(storeFile)} (${stored.length} alerts with receipts).` : '.'))
if (failures.length > 0) {
  console.error(`\nDEMO FAILED:\n  - ${failures.join('\n  - ')}`)
  process.exitCode = 1
} else {
  console.log(`Demo OK: every expected alert arrived${storeMissing === undefined ? ' (file and store)' : ' (store skipped: better-sqlite3 is not installed)'}.`)
}

function printTable (head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => '   ' + cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) console.log(line(r))
}
