/**
 * The dashboard's "Channels & routing" API (SPEC §15 last bullet, §16): two real apps (child processes,
 * each with its own pino worker) with different configurations write to one store; `/api/processes`
 * lists both with their channels and health; one app's webhook goes down and its circuit shows `open`
 * (API and live feed) within 10 s; `/api/route` shows a muted rule, a silence (from the options and
 * from the store) and an inhibition; bad questions are 400s; the token is needed; and no configured
 * secret (webhook path, signing secret, header value, bot token, password, proxy credential, file
 * path, the dashboard's token) appears in any response.
 */
import type { ChildProcess } from 'node:child_process'
import { request, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard, type Dashboard } from '../src/dashboard/server.js'
import { openStore } from '../src/store/sqlite.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, sseReader, spawnApp, tempDir, until } from './helpers/run.js'

const TOKEN = 'dash-TOKEN-SECRET-0b1c2d3e4f'
const SECRETS = {
  pathA: 'PATHSECRET_A_7q3k',
  pathB: 'PATHSECRET_B_5w1z',
  signing: 'whsec_U0lHTlNFQ1JFVF9BXzFhMmI=',
  headerA: 'HDRSECRET_A_4m2n',
  headerB: 'HDRSECRET_B_8j6p',
  botToken: '123456:TGSECRET_c3v5',
  password: 'PWSECRET_A_2x4y',
  proxy: 'PROXYSECRET_A_9t7r',
  file: 'FILESECRET_B_6h8g',
  token: TOKEN
}

interface App { child: ChildProcess, pid: number, stderr: () => string, closed: Promise<void>, log: (line: object) => void }
interface Res { status: number, headers: IncomingHttpHeaders, text: string, json: <T = any>() => T }

let dir: string
let db: string
let hookA: WebhookServer
let hookB: WebhookServer
let a: App
let b: App
let dash: Dashboard
/** Every body the dashboard answered with, for the secrets check at the end. */
const bodies: string[] = []

function app (options: object): App {
  const live = spawnApp([fixture('routing-app.mjs')], { ALERTS_OPTIONS: JSON.stringify(options) })
  return { ...live, log: live.send }
}

async function http (method: string, path: string, opts: { body?: unknown, headers?: Record<string, string> } = {}): Promise<Res> {
  const u = new URL(path, dash.url)
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...(opts.headers ?? {}) }
  return await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => {
        bodies.push(text)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) })
      })
    })
    req.on('error', reject)
    if (payload !== undefined) req.write(payload)
    req.end()
  })
}

const get = async (path: string): Promise<any> => {
  const r = await http('GET', path)
  expect(r.status, r.text).toBe(200)
  return r.json()
}

/** Polls `GET path` until `pred` holds for its body (bounded); returns that body. */
async function poll<T> (path: string, pred: (body: any) => T | undefined | false, ms: number): Promise<T> {
  const end = Date.now() + ms
  let last: unknown
  for (;;) {
    last = await get(path)
    const v = pred(last)
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`${path}: condition not met within ${ms} ms; last: ${JSON.stringify(last).slice(0, 2000)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const processOf = (body: any, x: App): any => body.processes.find((p: any) => p.pid === x.pid && p.process.startsWith(`${x.pid}@`))

beforeAll(async () => {
  dir = tempDir()
  db = join(dir, 'alerts.db')
  hookA = await startWebhookServer()
  hookB = await startWebhookServer()
  dash = await startDashboard({ store: db, port: 0, token: TOKEN })
  const always = [{ weekdays: ['sunday:saturday'], times: [{ start: '00:00', end: '24:00' }] }]
  a = app({
    env: false,
    store: { path: db },
    channels: {
      console: { enabled: false },
      hookA: { type: 'webhook', url: `${hookA.origin}/in/${SECRETS.pathA}?key=${SECRETS.pathA}`, secret: SECRETS.signing, headers: { 'X-Api-Key': SECRETS.headerA }, retry: { maxAttempts: 2, initialMs: 20, maxMs: 100 } },
      spare: { type: 'webhook', enabled: false, url: 'http://127.0.0.1:9/spare', proxy: `http://ops:${SECRETS.proxy}@127.0.0.1:3128` },
      pager: { type: 'telegram', enabled: false, botToken: SECRETS.botToken, chatId: '-1001', rateLimit: { perSecond: 1, burst: 3 } },
      mail: { type: 'email', enabled: false, host: 'smtp.invalid', user: 'ops', password: SECRETS.password, from: 'a@example.com', to: 'b@example.com' }
    },
    timeIntervals: {
      always,
      never: [{ years: ['1999'] }],
      business: [{ weekdays: ['monday:friday'], times: [{ start: '09:00', end: '17:00' }], location: 'Europe/Berlin' }]
    },
    routes: [
      { match: 'team="db"', channels: ['hookA'], muteTime: 'always' },
      { match: 'team="night"', channels: ['hookA'], activeTime: 'never' },
      { match: ['severity="critical"', 'team=~"web|api"'], channels: ['hookA'], activeTime: 'always', continue: true },
      { match: 'severity=~"critical|warn"', channels: ['hookA'], activeTime: 'business', continue: true },
      { match: 'severity=~"critical|warn"', channels: ['hookA'] }
    ],
    silences: [{ match: 'source="maint"', endsAt: '2999-01-01T00:00:00Z' }],
    inhibit: [{ source: ['source="dbwatch"', 'severity="critical"'], target: 'severity=~"warn|info"', equal: ['cluster'], windowMs: 600_000 }]
  })
  b = app({
    env: false,
    store: { path: db },
    channels: {
      console: { enabled: false },
      hookB: { type: 'webhook', url: `${hookB.origin}/in/${SECRETS.pathB}`, headers: { Authorization: `Bearer ${SECRETS.headerB}` }, retry: { maxAttempts: 1, initialMs: 10 } },
      archive: { type: 'file', path: join(dir, `archive-${SECRETS.file}.jsonl`) }
    },
    routes: { info: ['hookB'], warn: ['hookB'], critical: ['hookB'] },
    failover: ['archive']
  })
  // Both engines are up on the store: each has its heartbeat row with its configuration.
  await poll('/api/processes', (body) => processOf(body, a)?.channels.length > 0 && processOf(body, b)?.channels.length > 0, 15_000)
}, 30_000)

afterAll(async () => {
  for (const x of [a, b]) {
    if (x === undefined) continue
    x.child.kill('SIGKILL')
    await x.closed
  }
  await dash?.close()
  await hookA?.close()
  await hookB?.close()
})

describe('GET /api/processes', () => {
  it('lists both processes, newest first, with their channels (type, enabled, rate limit, retry, health), routes or rules, time intervals, failover and inhibit rules', async () => {
    const body = await get('/api/processes')
    // No URL at all (no delivery has failed yet: a delivery error names the service's host, never more).
    expect(JSON.stringify(body)).not.toMatch(/https?:|127\.0\.0\.1|smtp/)
    const ats = body.processes.map((p: any) => Date.parse(p.at))
    expect([...ats].sort((x, y) => y - x)).toEqual(ats)
    const pa = processOf(body, a)
    const pb = processOf(body, b)
    for (const p of [pa, pb]) {
      expect(p).toMatchObject({ alive: true, endedAt: null, leaseMs: 30_000 })
      expect(typeof p.host).toBe('string')
      expect(Date.parse(p.startedAt)).toBeLessThanOrEqual(Date.parse(p.at))
    }
    expect(pa.channels.map((c: any) => c.name).sort()).toEqual(['console', 'hookA', 'mail', 'pager', 'spare'])
    expect(pa.channels.find((c: any) => c.name === 'hookA')).toEqual({
      name: 'hookA', type: 'webhook', enabled: true, rateLimit: null, retry: { maxAttempts: 2, initialMs: 20, maxMs: 100 },
      circuit: 'closed', queued: 0, delivered: 0, failed: 0, lastError: null, lastErrorAt: null
    })
    expect(pa.channels.find((c: any) => c.name === 'pager')).toMatchObject({ type: 'telegram', enabled: false, rateLimit: { perSecond: 1, burst: 3 }, circuit: null })
    expect(pa.routes).toBeNull()
    expect(pa.rules).toHaveLength(5)
    expect(pa.rules[0]).toEqual({ index: 0, match: ['team="db"'], channels: ['hookA'], continue: false, muteTime: 'always', activeNow: null, mutedNow: true })
    expect(pa.rules[1]).toMatchObject({ index: 1, activeTime: 'never', activeNow: false, mutedNow: true })
    expect(pa.rules[2]).toMatchObject({ index: 2, match: ['severity="critical"', 'team=~"web|api"'], continue: true, activeTime: 'always', activeNow: true, mutedNow: false })
    expect(pa.rules[4]).toMatchObject({ index: 4, activeNow: null, mutedNow: false })
    expect(pa.timeIntervals.always).toEqual({ spec: [{ weekdays: ['sunday:saturday'], times: [{ start: '00:00', end: '24:00' }] }], activeNow: true })
    expect(pa.timeIntervals.never).toEqual({ spec: [{ years: ['1999'] }], activeNow: false })
    expect(pa.timeIntervals.business.spec).toEqual([{ weekdays: ['monday:friday'], times: [{ start: '09:00', end: '17:00' }], location: 'Europe/Berlin' }])
    expect(typeof pa.timeIntervals.business.activeNow).toBe('boolean')
    expect(pa.inhibit).toEqual([{ source: ['source="dbwatch"', 'severity="critical"'], target: ['severity=~"warn|info"'], equal: ['cluster'], windowMs: 600_000 }])
    expect(pa.failover).toEqual([])

    expect(pb.channels.map((c: any) => `${c.name}:${c.type}:${String(c.enabled)}`).sort()).toEqual(['archive:file:true', 'console:console:false', 'hookB:webhook:true'])
    expect(pb.routes).toEqual({ info: ['hookB'], warn: ['hookB'], critical: ['hookB'] })
    expect(pb.rules).toBeNull()
    expect(pb.timeIntervals).toEqual({})
    expect(pb.failover).toEqual(['archive'])
  })

  it('lists a process that recorded no configuration (an older version) with no channels, and one whose record is not readable with an error; the token is needed', async () => {
    const side = openStore(db, { readonly: false })
    try { side.writeStats('legacy-process', { channels: { old: { queued: 1, circuit: 'open' } } }) } finally { side.close() }
    const raw = new Database(db)
    try {
      raw.prepare('INSERT INTO runtime_stats (process, at, stats, config) VALUES (?, ?, ?, ?)').run('hostile-1', Date.now(), '{"channels": 5', '{"v":1,"channels":[{"name":7}]}')
      raw.prepare('INSERT INTO runtime_stats (process, at, stats, config) VALUES (?, ?, ?, ?)').run('hostile-2', Date.now(), '{}', 'x'.repeat(300 * 1024))
    } finally { raw.close() }
    const body = await get('/api/processes')
    const legacy = body.processes.find((p: any) => p.process === 'legacy-process')
    expect(legacy).toMatchObject({ channels: [], routes: null, rules: null, timeIntervals: {}, failover: [], inhibit: [], alive: true, pid: null })
    expect(legacy.error).toBeUndefined()
    expect(body.processes.find((p: any) => p.process === 'hostile-1')).toMatchObject({ channels: [], error: expect.stringMatching(/not readable \(channels\.0\.name/) })
    expect(body.processes.find((p: any) => p.process === 'hostile-2')).toMatchObject({ channels: [] })
    const route = await get('/api/route?severity=critical&source=x')
    expect(route.processes.find((p: any) => p.process === 'legacy-process')).toEqual({ process: 'legacy-process', error: expect.stringMatching(/recorded no configuration/) })
    expect(route.processes.find((p: any) => p.process === 'hostile-1').error).toMatch(/not readable/)

    for (const path of ['/api/processes', '/api/route?severity=critical']) {
      const r = await http('GET', path, { headers: { authorization: '' } })
      expect(r.status).toBe(401)
      expect(r.text).not.toContain('hookA')
    }
    expect((await http('POST', '/api/processes', { body: {}, headers: { origin: dash.url.replace(/\/$/, '') } })).status).toBe(405)
  })
})

describe('GET /api/route', () => {
  it('a muted rule, an inactive rule, the matrix, a silence from the options and one from the store, and an inhibition: each shown per live process', async () => {
    const muted = await get('/api/route?severity=critical&source=shop&title=disk%20full&labels=team%3Ddb,cluster%3Deu1')
    expect(muted.alert).toEqual({ severity: 'critical', source: 'shop', title: 'disk full', labels: { team: 'db', cluster: 'eu1' } })
    const listed = await get('/api/processes')
    const paId = processOf(listed, a).process
    const pbId = processOf(listed, b).process
    expect(muted.processes.find((p: any) => p.process === paId)).toEqual({ process: paId, channels: [], routed: [], rule: 0, muted: { rule: 0, interval: 'always', why: 'muteTime' }, silencedBy: null, inhibitedBy: null })
    expect(muted.processes.find((p: any) => p.process === pbId)).toEqual({ process: pbId, channels: ['hookB'], routed: ['hookB'], rule: null, muted: null, silencedBy: null, inhibitedBy: null })

    const byA = async (query: string): Promise<any> => {
      const body = await get(`/api/route?${query}`)
      return body.processes.find((p: any) => p.process.startsWith(`${a.pid}@`))
    }
    expect(await byA('severity=warn&source=shop&labels=team%3Dnight')).toMatchObject({ channels: [], rule: 1, muted: { rule: 1, interval: 'never', why: 'activeTime' } })
    // Rule 2 continues to rule 3, muted outside business hours (Berlin): the answer says which.
    const business = processOf(listed, a).timeIntervals.business.activeNow as boolean
    expect(await byA('severity=critical&source=shop&labels=team%3Dweb')).toMatchObject({
      channels: ['hookA'], rule: 2, muted: business ? null : { rule: 3, interval: 'business', why: 'activeTime' }
    })
    expect(await byA('severity=info&source=shop')).toMatchObject({ channels: [], rule: null, muted: null })

    // A silence from the process's options.
    expect(await byA('severity=critical&source=maint')).toMatchObject({ channels: [], routed: ['hookA'], silencedBy: { id: 'options-0', match: ['source="maint"'] } })
    // A silence created through the API (in the store): every process answers with it.
    const created = await http('POST', '/api/silences', { body: { match: ['service="billing"'], durationMs: 600_000, comment: 'deploy' }, headers: { origin: dash.url.replace(/\/$/, '') } })
    expect(created.status, created.text).toBe(201)
    const silenceId = created.json().silence.id as string
    const silenced = await get('/api/route?severity=critical&source=shop&labels=service%3Dbilling')
    for (const x of [a, b]) {
      expect(silenced.processes.find((p: any) => p.process.startsWith(`${x.pid}@`))).toMatchObject({ channels: [], silencedBy: { id: silenceId, match: ['service="billing"'] } })
    }

    // An inhibition: a firing critical alert of dbwatch in cluster eu1, logged by A and stored.
    a.log({ level: 'fatal', alert: { source: 'dbwatch', labels: { cluster: 'eu1' } }, msg: 'primary down' })
    const source = await poll('/api/alerts?source=dbwatch', (body) => body.alerts[0], 10_000)
    expect(source).toMatchObject({ status: 'firing', labels: { cluster: 'eu1' } })
    expect(await byA('severity=warn&source=web&labels=cluster%3Deu1')).toMatchObject({ channels: [], routed: ['hookA'], inhibitedBy: { rule: 0, sourceAlertId: source.id } })
    expect(await byA('severity=warn&source=web&labels=cluster%3Dus2')).toMatchObject({ inhibitedBy: null })
    expect(await byA('severity=critical&source=web&labels=cluster%3Deu1')).toMatchObject({ inhibitedBy: null })
    const inB = (await get('/api/route?severity=warn&source=web&labels=cluster%3Deu1')).processes.find((p: any) => p.process.startsWith(`${b.pid}@`))
    expect(inB).toMatchObject({ channels: ['hookB'], inhibitedBy: null })
  }, 30_000)

  it('bad questions are 400s with a clear message', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/api/route', /severity: required/],
      ['/api/route?severity=loud', /severity: expected info, warn or critical/],
      ['/api/route?severity=warn&severity=info', /severity: given 2 times/],
      ['/api/route?severity=warn&labels=team', /labels: "team" is not name=value/],
      ['/api/route?severity=warn&labels=%3Dx', /is not name=value/],
      ['/api/route?severity=warn&labels=a%3D1,a%3D2', /a is given twice/],
      ['/api/route?severity=warn&labels=source%3Dx', /source is a field of its own/],
      [`/api/route?severity=warn&labels=${'k%3Dv,'.repeat(1100)}`, /labels: longer than 4000 characters/],
      [`/api/route?severity=warn&title=${'t'.repeat(1001)}`, /title: longer than 1000 characters/],
      [`/api/route?severity=warn&source=${'s'.repeat(201)}`, /source: longer than 200 characters/]
    ]
    for (const [path, message] of cases) {
      const r = await http('GET', path)
      expect(r.status, path).toBe(400)
      expect(r.json().error, path).toMatch(message)
    }
  })
})

describe('health, live', () => {
  it('B\'s webhook goes down: its circuit shows open in /api/processes and in the live feed within 10 s, with the last error (masked); A stays closed', async () => {
    const sse = openFeed()
    try {
      await sse.waitFor((e) => e.event === 'hello', 5000)
      // The service echoes what it was sent: the engine masks it before it is recorded anywhere.
      hookB.setDefault({ status: 500, body: `bad auth "Bearer ${SECRETS.headerB}" for /in/${SECRETS.pathB}` })
      const downAt = Date.now()
      for (let i = 0; i < 8; i++) b.log({ level: 'fatal', alert: { source: 'billing', labels: { n: String(i) } }, msg: `charge failed ${i}` })
      const hb = await poll('/api/processes', (body) => {
        const c = processOf(body, b)?.channels.find((x: any) => x.name === 'hookB')
        return c?.circuit === 'open' ? c : undefined
      }, 10_000)
      expect(Date.now() - downAt).toBeLessThan(10_000)
      expect(hb.failed).toBeGreaterThanOrEqual(5)
      expect(hb.lastError).toMatch(/500|circuit open/)
      expect(hb.lastError.length).toBeLessThanOrEqual(300)
      expect(Date.parse(hb.lastErrorAt)).toBeGreaterThanOrEqual(downAt - 1000)
      // The first failures were the service's 500, its echo masked in the receipts.
      const first = (await get('/api/alerts?source=billing&limit=100')).alerts.at(-1)
      const receipt = (await get(`/api/alerts/${first.id as string}`)).receipts.find((r: any) => r.channel === 'hookB')
      expect(receipt.error).toMatch(/500/)
      expect(receipt.error).toContain('***')
      const archive = processOf(await get('/api/processes'), b).channels.find((x: any) => x.name === 'archive')
      expect(archive.delivered).toBeGreaterThan(0) // the failover stand-in took them
      expect(processOf(await get('/api/processes'), a).channels.find((x: any) => x.name === 'hookA').circuit).toBe('closed')
      const ev = await sse.waitFor((e) => e.event === 'processes' && processOf(e.data, b)?.channels.find((x: any) => x.name === 'hookB')?.circuit === 'open', 10_000)
      expect(ev.at - downAt).toBeLessThan(10_000)
    } finally {
      sse.close()
    }
    bodies.push(sse.text())
  }, 30_000)

  it('a process that is gone (SIGKILL) is listed as not alive at once and has no answer in /api/route', async () => {
    await get('/api/stats')
    await get('/api/alerts?limit=1000')
    await get('/api/silences')
    b.child.kill('SIGKILL')
    await b.closed
    const pb = await poll('/api/processes', (body) => { const p = processOf(body, b); return p?.alive === false ? p : undefined }, 5000)
    expect(pb.channels.length).toBe(3)
    const route = await get('/api/route?severity=critical&source=x')
    expect(route.processes.some((p: any) => p.process === pb.process)).toBe(false)
    expect(route.processes.some((p: any) => p.process.startsWith(`${a.pid}@`))).toBe(true)
  }, 15_000)

  it('no configured secret appears in any response of the API or the live feed', () => {
    expect(bodies.length).toBeGreaterThan(20)
    const all = bodies.join('\n')
    expect(all).toContain('hookA') // the check reads real answers
    for (const [name, secret] of Object.entries(SECRETS)) expect(all.includes(secret), name).toBe(false)
    expect(all).not.toContain('127.0.0.1:3128')
    expect(all).not.toContain('smtp.invalid')
  })
})

/** The live feed, read as the page reads it: every event kept, with when it arrived. */
function openFeed (): { waitFor: (pred: (e: { event: string, data: any }) => boolean, ms: number) => Promise<{ event: string, data: any, at: number }>, close: () => void, text: () => string } {
  const events: Array<{ event: string, data: any, at: number }> = []
  let raw = ''
  const u = new URL('/events', dash.url)
  const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { accept: 'text/event-stream', authorization: `Bearer ${TOKEN}` } })
  req.on('response', (res) => {
    res.setEncoding('utf8')
    const read = sseReader((event, data) => { events.push({ event, data, at: Date.now() }) })
    res.on('data', (chunk: string) => {
      raw += chunk
      read(chunk)
    })
  })
  req.on('error', () => {})
  req.end()
  return {
    waitFor: async (pred, ms) => {
      let found: { event: string, data: any, at: number } | undefined
      await until(() => (found = events.find(pred)) !== undefined, ms).catch(() => {
        throw new Error(`no such event within ${ms} ms; got ${events.map((x) => x.event).join(', ')}`)
      })
      return found as { event: string, data: any, at: number }
    },
    close: () => { req.destroy() },
    text: () => raw
  }
}
