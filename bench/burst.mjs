// bench/burst: 100 000 alerts in one second to a Slack-like fake that takes 1 message/s (429 +
// Retry-After otherwise): time until every alert is represented, messages sent, 429s provoked, peak
// RSS of the app process — against the same 100 000 lines through pino/file in the same run.
//   npm run build && node bench/burst.mjs [count]
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { once } from 'node:events'

const N = Number(process.argv[2] ?? 100_000)
const app = new URL('./burst-app.mjs', import.meta.url).pathname
let last = -Infinity
let limited = 0
let represented = 0
let firstAt = 0
let doneAt = 0
const messages = []
const server = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    const now = Date.now()
    if (now - last < 1000) { limited++; res.writeHead(429, { 'retry-after': '1' }); res.end('rate_limited'); return }
    last = now
    messages.push(body.length)
    const header = /"type":"header","text":\{"type":"plain_text","text":"[^"]*?(\d+) alerts: [^"]*?(\((\d+)\/\d+\))?"/.exec(body)
    if (header === null) represented += 1
    else if (header[3] === undefined || header[3] === '1') represented += Number(header[1])
    if (represented >= N && doneAt === 0) doneAt = now
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('ok')
  })
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const url = `http://127.0.0.1:${server.address().port}/services/T0/B0/bench`

function runApp (mode, stayMs) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [app, mode, String(N)], { env: { ...process.env, SLACK_URL: url, STAY_MS: String(stayMs) }, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.on('data', (d) => { out += d })
    c.on('close', () => { try { resolve(JSON.parse(out.trim().split('\n').pop())) } catch (e) { reject(new Error(`no result from ${mode}: ${out}`)) } })
  })
}

const baseline = await runApp('file', 0)
const t0 = Date.now()
firstAt = t0
const alerts = await runApp('alerts', 20_000)
const pad = (s, n) => String(s).padEnd(n)
const mb = (b) => (b / 1024 / 1024).toFixed(0)
console.log(`\nburst: ${N} alerts logged within ~1 s to a 1 msg/s Slack-like fake\n`)
console.log(pad('set-up', 40) + pad('logged in', 11) + pad('all represented after', 23) + pad('messages', 10) + pad('429s', 6) + pad('peak RSS', 10) + 'goal')
console.log('-'.repeat(120))
console.log(pad('baseline: same lines through pino/file', 40) + pad(baseline.loggedMs + ' ms', 11) + pad('-', 23) + pad('-', 10) + pad('-', 6) + pad(mb(baseline.peakRss) + ' MB', 10))
const ok = represented >= N && messages.length <= 20 && alerts.peakRss < 200 * 1024 * 1024
console.log(pad('pino-alerts → slack (digests)', 40) + pad(alerts.loggedMs + ' ms', 11) + pad(doneAt === 0 ? `only ${represented}` : `${((doneAt - t0) / 1000).toFixed(1)} s`, 23) + pad(messages.length, 10) + pad(limited, 6) + pad(mb(alerts.peakRss) + ' MB', 10) +
  `all, ≤ 20 messages, < 200 MB: ${ok ? 'ok' : 'MISSED'}`)
server.close()
process.exitCode = ok ? 0 : 1
