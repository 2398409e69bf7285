// bench/burst: 100 000 alerts in one second to a Slack-like fake that takes 1 message/s (429 +
// Retry-After otherwise): time until every alert is represented, messages sent, 429s provoked, peak
// RSS of the app process — against the same 100 000 lines through pino/file in the same run. Goal: every
// alert represented, at most 20 messages, peak RSS at most 2.0x the baseline's.
//   npm run build && node bench/burst.mjs [count]
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { once } from 'node:events'

const N = Number(process.argv[2] ?? 100_000)
const app = new URL('./burst-app.mjs', import.meta.url).pathname
let last = -Infinity
let limited = 0
let represented = 0
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

function runApp (mode, stayMs, env = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [app, mode, String(N)], { env: { ...process.env, ...env, SLACK_URL: url, STAY_MS: String(stayMs) }, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.on('data', (d) => { out += d })
    c.on('close', () => { try { resolve(JSON.parse(out.trim().split('\n').pop())) } catch (e) { reject(new Error(`no result from ${mode}: ${out}`)) } })
  })
}

const baseline = await runApp('file', 0)
/** One run to the fake, its counters from zero. */
async function burst (env) {
  last = -Infinity
  limited = 0
  represented = 0
  doneAt = 0
  messages.length = 0
  const t0 = Date.now()
  const r = await runApp('alerts', 20_000, env)
  return { ...r, t0, limited, represented, doneAt, messages: messages.length }
}
const runs = [
  ['pino-alerts → slack (digests)', await burst({})],
  // pino's `worker` option reaches the Worker constructor: a smaller young generation for the worker.
  ['  same, worker young generation 8 MB', await burst({ YOUNG_MB: '8' })]
]
const pad = (s, n) => String(s).padEnd(n)
const mb = (b) => (b / 1024 / 1024).toFixed(0)
console.log(`\nburst: ${N} alerts logged within ~1 s to a 1 msg/s Slack-like fake\n`)
console.log(pad('set-up', 40) + pad('logged in', 11) + pad('all represented after', 23) + pad('messages', 10) + pad('429s', 6) + pad('peak RSS', 18) + 'goal')
console.log('-'.repeat(120))
console.log(pad('baseline: same lines through pino/file', 40) + pad(baseline.loggedMs + ' ms', 11) + pad('-', 23) + pad('-', 10) + pad('-', 6) + pad(mb(baseline.peakRss) + ' MB (1.00x)', 18))
let ok = true
for (const [name, r] of runs) {
  const ratio = r.peakRss / baseline.peakRss
  const met = r.represented >= N && r.messages <= 20 && ratio <= 2.0
  if (name.startsWith('pino-alerts')) ok = met // the goal is on the default set-up
  console.log(pad(name, 40) + pad(r.loggedMs + ' ms', 11) + pad(r.doneAt === 0 ? `only ${r.represented}` : `${((r.doneAt - r.t0) / 1000).toFixed(1)} s`, 23) + pad(r.messages, 10) + pad(r.limited, 6) + pad(`${mb(r.peakRss)} MB (${ratio.toFixed(2)}x)`, 18) +
    `all, ≤ 20 messages, RSS ≤ 2.0x baseline: ${met ? 'ok' : 'MISSED'}`)
}
console.log(`
The second row passes pino.transport({ …, worker: { resourceLimits: { maxYoungGenerationSizeMb: 8 } } }):
fewer megabytes between the worker's garbage collections, at a little CPU.`)
server.close()
process.exitCode = ok ? 0 : 1
