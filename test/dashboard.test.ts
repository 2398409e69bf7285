import { spawn } from 'node:child_process'
import { request, type IncomingHttpHeaders } from 'node:http'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter } from '../src/alerter.js'
import { Reporter } from '../src/report.js'
import { openStore, type AlertStore } from '../src/store/sqlite.js'
import { startDashboard, type Dashboard } from '../src/dashboard/server.js'
import { CSP } from '../src/dashboard/security.js'
import dashboardCommand, { runDashboard } from '../src/cli/dashboard.js'
import { CliError } from '../src/cli/command.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, sseReader, tempDir } from './helpers/run.js'

// ---------------------------------------------------------------------------------------------------
// Helpers

interface Res { status: number, headers: IncomingHttpHeaders, text: string, json: <T = any>() => T }

/** node:http (not fetch): full control over Host, Origin and Cookie. */
async function http (base: string, method: string, path: string, opts: { body?: unknown, headers?: Record<string, string>, raw?: string } = {}): Promise<Res> {
  const u = new URL(path, base)
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body))
  const headers: Record<string, string> = { ...(payload !== undefined && opts.raw === undefined ? { 'content-type': 'application/json' } : {}), ...(opts.headers ?? {}) }
  return await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }))
    })
    req.on('error', reject)
    if (payload !== undefined) req.write(payload)
    req.end()
  })
}

/** A same-origin change, as the page makes it. */
const sameOrigin = (d: Dashboard): Record<string, string> => ({ origin: d.url.replace(/\/$/, '') })

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * A small parser of the Prometheus text exposition format 0.0.4: every line is a HELP or TYPE
 * comment, or a sample `name{label="value",...} value`; TYPE comes before a family's samples, once;
 * a family's samples are contiguous; label values use only the \\, \" and \n escapes.
 */
function parseExposition (text: string): Map<string, { type: string, help: string, samples: Array<{ labels: Record<string, string>, value: number }> }> {
  expect(text.endsWith('\n')).toBe(true)
  const families = new Map<string, { type: string, help: string, samples: Array<{ labels: Record<string, string>, value: number }> }>()
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
  const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
  let current: string | undefined
  const closed = new Set<string>()
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ')
      expect(name, line).toMatch(NAME)
      const f = families.get(name as string) ?? { type: '', help: '', samples: [] }
      if (kind === 'TYPE') {
        expect(f.type, `TYPE twice for ${name as string}`).toBe('')
        expect(f.samples, `TYPE after samples of ${name as string}`).toHaveLength(0)
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest.join(' '))
        f.type = rest.join(' ')
      } else {
        f.help = rest.join(' ')
      }
      families.set(name as string, f)
      continue
    }
    expect(line.startsWith('#'), `unexpected comment: ${line}`).toBe(false)
    expect(line.trim(), 'no blank lines').not.toBe('')
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?\d+)?$/.exec(line)
    expect(m, `not a sample line: ${line}`).not.toBeNull()
    const [, name, , body, value] = m as RegExpExecArray
    const labels: Record<string, string> = {}
    if (body !== undefined && body !== '') {
      let rest = body
      while (rest !== '') {
        const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(rest)
        expect(lm, `bad labels in: ${line}`).not.toBeNull()
        const [all, k, v] = lm as RegExpExecArray
        expect(k).toMatch(LABEL)
        expect(labels, `label ${k as string} twice`).not.toHaveProperty(k as string)
        labels[k as string] = (v as string).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
        rest = rest.slice(all.length)
      }
    }
    const v = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value)
    expect(value === 'NaN' || !Number.isNaN(v), `bad value in: ${line}`).toBe(true)
    const f = families.get(name as string)
    expect(f?.type, `sample of ${name as string} before its TYPE`).toBeTruthy()
    if (current !== name) {
      expect(closed.has(name as string), `samples of ${name as string} are not contiguous`).toBe(false)
      if (current !== undefined) closed.add(current)
      current = name
    }
    f!.samples.push({ labels, value: v })
  }
  return families
}

const quiet = (): Reporter => new Reporter(() => {})

let dir: string
let db: string
let hook: WebhookServer
let broken: WebhookServer
let writer: Alerter
let dashboards: Dashboard[] = []
let stores: AlertStore[] = []

async function dashboard (opts: Partial<Parameters<typeof startDashboard>[0]> = {}): Promise<Dashboard> {
  const d = await startDashboard({ store: db, port: 0, ...opts })
  dashboards.push(d)
  return d
}

beforeEach(async () => {
  dir = tempDir()
  db = join(dir, 'alerts.db')
  hook = await startWebhookServer()
  broken = await startWebhookServer({ defaultResponse: { status: 500, body: 'down' } })
  writer = createAlerter({
    env: false,
    store: { path: db },
    channels: {
      console: { enabled: false },
      webhook: { url: hook.url },
      broken: { type: 'webhook', url: broken.url, retry: { maxAttempts: 2, initialMs: 10, maxMs: 20 } }
    },
    routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook', 'broken'] }
  }, { env: {}, reporter: quiet() })
  await writer.ready
})

afterEach(async () => {
  for (const d of dashboards) await d.close()
  dashboards = []
  for (const s of stores) s.close()
  stores = []
  await writer.close()
  await hook.close()
  await broken.close()
})

async function seed (): Promise<Record<string, string>> {
  const ids: Record<string, string> = {}
  const t = Date.now()
  ids.info = (await writer.dispatch({ source: 'feed', title: 'Feed lagging', severity: 'info', timestamp: t - 3000 })).id
  ids.warn = (await writer.dispatch({ source: 'var_gate', title: 'VaR at 90% of limit', body: 'desk fx over budget', severity: 'warn', labels: { desk: 'fx' }, timestamp: t - 2000 })).id
  ids.critical = (await writer.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical', labels: { desk: 'fx' }, metadata: { drawdown: 0.12 }, timestamp: t - 1000 })).id
  return ids
}

// ---------------------------------------------------------------------------------------------------

describe('dashboard API', () => {
  it('GET /api/alerts: newest first, with filters (severity, source, status, q, since, limit)', async () => {
    const ids = await seed()
    const d = await dashboard()
    const list = async (q: string): Promise<string[]> => {
      const r = await http(d.url, 'GET', `/api/alerts${q}`)
      expect(r.status, r.text).toBe(200)
      expect(r.headers['content-type']).toMatch(/^application\/json/)
      return r.json<{ alerts: Array<{ id: string }> }>().alerts.map((a) => a.id)
    }
    expect(await list('')).toEqual([ids.critical, ids.warn, ids.info])
    expect(await list('?severity=warn,critical')).toEqual([ids.critical, ids.warn])
    expect(await list('?severity=info&severity=critical')).toEqual([ids.critical, ids.info])
    expect(await list('?source=var_gate')).toEqual([ids.warn])
    expect(await list('?q=BUDGET')).toEqual([ids.warn]) // the body, case-insensitive
    expect(await list('?q=kill')).toEqual([ids.critical])
    expect(await list('?limit=1')).toEqual([ids.critical])
    expect(await list(`?since=${new Date(Date.now() - 1500).toISOString()}`)).toEqual([ids.critical])
    expect(await list('?status=resolved')).toEqual([])
    expect(await list('?status=failed')).toEqual([ids.critical]) // "broken" failed, no stand-in
    expect(await list('?status=unacked')).toEqual([ids.critical, ids.warn, ids.info])

    const item = (await http(d.url, 'GET', '/api/alerts?source=kill_switch')).json().alerts[0]
    expect(item).toMatchObject({ id: ids.critical, severity: 'critical', settled: true, acked: null, delivery: 'failed', labels: { desk: 'fx' } })
    expect(item.channels).toEqual(expect.arrayContaining([{ channel: 'webhook', ok: true }, { channel: 'broken', ok: false }]))

    for (const bad of ['?severity=loud', '?status=nope', '?limit=0', '?since=yesterday']) {
      const r = await http(d.url, 'GET', `/api/alerts${bad}`)
      expect(r.status, bad).toBe(400)
      expect(r.json().error).toBeTruthy()
    }
  })

  it('GET /api/alerts/:id: the alert, its receipts per channel (attempts, errors) and ack state; 404 for unknown ids', async () => {
    const ids = await seed()
    const d = await dashboard()
    const r = await http(d.url, 'GET', `/api/alerts/${ids.critical as string}`)
    expect(r.status).toBe(200)
    const body = r.json()
    expect(body.alert).toMatchObject({ id: ids.critical, title: 'Kill switch triggered', metadata: { drawdown: 0.12 } })
    expect(body.acked).toBeNull()
    const byChannel = Object.fromEntries(body.receipts.map((x: { channel: string }) => [x.channel, x]))
    expect(byChannel.webhook).toMatchObject({ ok: true, attempts: 1 })
    expect(byChannel.broken).toMatchObject({ ok: false, attempts: 2 })
    expect(byChannel.broken.error).toMatch(/500/)
    expect((await http(d.url, 'GET', '/api/alerts/nope')).status).toBe(404)
  })

  it('ack round trip: recorded in the store (which every process checks before escalating), shown by the API, idempotent', async () => {
    const ids = await seed()
    const d = await dashboard()
    const r = await http(d.url, 'POST', `/api/alerts/${ids.critical as string}/ack`, { body: { by: 'alice', comment: 'on it' }, headers: sameOrigin(d) })
    expect(r.status, r.text).toBe(200)
    expect(r.json().acked).toMatchObject({ by: 'alice', comment: 'on it' })
    const other = openStore(db)
    stores.push(other)
    expect(other.acked(ids.critical as string)).toMatchObject({ by: 'alice', comment: 'on it' })
    expect((await http(d.url, 'GET', `/api/alerts/${ids.critical as string}`)).json().acked).toMatchObject({ by: 'alice' })
    expect((await http(d.url, 'GET', '/api/alerts?status=acked')).json().alerts.map((a: { id: string }) => a.id)).toEqual([ids.critical])
    const again = await http(d.url, 'POST', `/api/alerts/${ids.critical as string}/ack`, { body: { by: 'bob' }, headers: sameOrigin(d) })
    expect(again.json()).toMatchObject({ already: true, acked: { by: 'alice' } })
    expect((await http(d.url, 'POST', '/api/alerts/nope/ack', { body: {}, headers: sameOrigin(d) })).status).toBe(404)
    expect((await http(d.url, 'POST', `/api/alerts/${ids.warn as string}/ack`, { body: { by: 42 }, headers: sameOrigin(d) })).status).toBe(400)
  })

  it('silence round trip: bad matchers are a 400 with the parser\'s message; a silence stops the next matching alert of another writer; expire ends it', async () => {
    await seed()
    const d = await dashboard()
    const bad = await http(d.url, 'POST', '/api/silences', { body: { match: ['source=~"('], durationMs: 60_000 }, headers: sameOrigin(d) })
    expect(bad.status).toBe(400)
    expect(bad.json().error).toMatch(/bad matcher 'source=~"\('/)
    expect((await http(d.url, 'POST', '/api/silences', { body: { match: 'source="x"' }, headers: sameOrigin(d) })).json().error).toMatch(/durationMs or endsAt/)
    expect((await http(d.url, 'POST', '/api/silences', { body: { match: 'source="x"', durationMs: -5 }, headers: sameOrigin(d) })).status).toBe(400)

    const preview = await http(d.url, 'GET', `/api/silences/preview?match=${encodeURIComponent('source="var_gate"')}&match=${encodeURIComponent('desk=fx')}`)
    expect(preview.json()).toMatchObject({ valid: true, match: ['source="var_gate"', 'desk="fx"'], recent: { matching: 1, examples: [{ title: 'VaR at 90% of limit' }] } })
    const typo = await http(d.url, 'GET', `/api/silences/preview?match=${encodeURIComponent('desk~fx')}`)
    expect(typo.status).toBe(200)
    expect(typo.json()).toMatchObject({ valid: false, error: expect.stringMatching(/^bad matcher 'desk~fx' at position 4/) })
    expect((await http(d.url, 'GET', '/api/silences/preview')).status).toBe(400)

    const created = await http(d.url, 'POST', '/api/silences', { body: { match: ['source="var_gate"', 'desk="fx"'], durationMs: 3_600_000, comment: 'deploy', createdBy: 'alice' }, headers: sameOrigin(d) })
    expect(created.status, created.text).toBe(201)
    const silence = created.json().silence
    expect(silence).toMatchObject({ match: ['source="var_gate"', 'desk="fx"'], comment: 'deploy', createdBy: 'alice' })
    expect(Date.parse(silence.endsAt) - Date.parse(silence.startsAt)).toBe(3_600_000)
    const listed = (await http(d.url, 'GET', '/api/silences')).json().silences
    expect(listed).toEqual([expect.objectContaining({ id: silence.id, active: true, origin: 'store' })])

    // The writer re-reads the store's silences at most once a second.
    await sleep(1100)
    const silenced = await writer.dispatch({ source: 'var_gate', title: 'VaR at 95% of limit', severity: 'warn', labels: { desk: 'fx' } })
    expect(silenced.suppressed).toBe('silence')
    const otherDesk = await writer.dispatch({ source: 'var_gate', title: 'VaR at 95% of limit', severity: 'warn', labels: { desk: 'eq' } })
    expect(otherDesk.suppressed).toBeUndefined()
    expect((await http(d.url, 'GET', '/api/alerts?status=suppressed')).json().alerts.map((a: { id: string }) => a.id)).toEqual([silenced.id])

    expect((await http(d.url, 'DELETE', `/api/silences/${silence.id as string}`, { headers: sameOrigin(d) })).status).toBe(200)
    expect((await http(d.url, 'GET', '/api/silences')).json().silences).toEqual([])
    expect((await http(d.url, 'GET', '/api/silences?expired=1')).json().silences).toEqual([expect.objectContaining({ id: silence.id, active: false })])
    expect((await http(d.url, 'DELETE', `/api/silences/${silence.id as string}`, { headers: sameOrigin(d) })).status).toBe(404)
  })

  it('resolve without an alerter: a resolved copy with the same fingerprint is recorded, and the answer says no channel was notified', async () => {
    const ids = await seed()
    const d = await dashboard()
    const r = await http(d.url, 'POST', `/api/alerts/${ids.warn as string}/resolve`, { body: { by: 'alice', comment: 'fixed' }, headers: sameOrigin(d) })
    expect(r.status, r.text).toBe(200)
    const body = r.json()
    expect(body).toMatchObject({ ok: true, resolves: ids.warn, notified: [] })
    expect(body.note).toMatch(/no channel was notified/)
    const resolved = (await http(d.url, 'GET', `/api/alerts/${body.id as string}`)).json().alert
    const firing = (await http(d.url, 'GET', `/api/alerts/${ids.warn as string}`)).json()
    expect(resolved).toMatchObject({ status: 'resolved', fingerprint: firing.alert.fingerprint, source: 'var_gate', title: 'VaR at 90% of limit', body: 'fixed', labels: { desk: 'fx' }, settled: true })
    expect(resolved.metadata).toMatchObject({ resolvedBy: 'alice', resolvesAlertId: ids.warn })
    expect(firing.resolvedBy).toMatchObject({ id: body.id })
    expect(hook.requests.filter((q) => q.json<{ status: string }>().status === 'resolved')).toHaveLength(0)
    // A resolve cannot be resolved.
    expect((await http(d.url, 'POST', `/api/alerts/${body.id as string}/resolve`, { body: {}, headers: sameOrigin(d) })).status).toBe(409)
  })

  it('resolve with an alerter: dispatched through it, so the channels that carried the alert get RESOLVED', async () => {
    const ids = await seed()
    const d = await dashboard({ alerter: writer })
    const before = hook.requests.length
    const r = await http(d.url, 'POST', `/api/alerts/${ids.warn as string}/resolve`, { body: { by: 'alice' }, headers: sameOrigin(d) })
    expect(r.status, r.text).toBe(200)
    expect(r.json()).toMatchObject({ ok: true, notified: ['webhook'] })
    expect(r.json().note).toBeUndefined()
    const sent = (await hook.waitFor(before + 1)).at(-1)!.json<{ status: string, title: string, metadata: { firingAlertId: string } }>()
    expect(sent).toMatchObject({ status: 'resolved', title: 'VaR at 90% of limit', metadata: { firingAlertId: ids.warn } })
    // The alerter writes to the same store: recorded once, with its receipt.
    const resolved = (await http(d.url, 'GET', '/api/alerts?status=resolved')).json().alerts
    expect(resolved).toHaveLength(1)
    expect(resolved[0]).toMatchObject({ id: r.json().id, delivery: 'delivered' })
  })

  it('GET /api/stats: store summary in buckets and the live counters of the writing processes', async () => {
    await seed()
    const d = await dashboard()
    const r = await http(d.url, 'GET', `/api/stats?since=${Date.now() - 600_000}&bucketMs=60000`)
    expect(r.status).toBe(200)
    const s = r.json()
    expect(s.summary).toMatchObject({ total: 3, bySeverity: { info: 1, warn: 1, critical: 1 }, bucketMs: 60_000 })
    expect(s.summary.buckets.length).toBeGreaterThanOrEqual(10)
    expect(s.summary.byChannel.broken).toEqual({ delivered: 0, failed: 1 })
    expect(Array.isArray(s.runtime)).toBe(true)
    expect((await http(d.url, 'GET', '/healthz')).json()).toEqual({ ok: true })
  })

  it('GET /metrics: valid Prometheus text format 0.0.4 with alerts, deliveries, queue lengths and circuits', async () => {
    await seed()
    const side = openStore(db, { readonly: false })
    stores.push(side)
    side.writeStats('other-process', { channels: { slack: { queued: 7, circuit: 'open' }, 'we"ird\\name': { queued: 1, circuit: 'closed' } } })
    side.writeStats('third-process', { channels: { slack: { queued: 2, circuit: 'closed' } } })
    const d = await dashboard()
    const r = await http(d.url, 'GET', '/metrics')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    const m = parseExposition(r.text)
    const val = (name: string, labels: Record<string, string>): number | undefined => m.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value
    expect(m.get('pino_alerts_alerts_total')).toMatchObject({ type: 'counter' })
    expect(m.get('pino_alerts_alerts_total')?.help).not.toBe('')
    expect(val('pino_alerts_alerts_total', { severity: 'info' })).toBe(1)
    expect(val('pino_alerts_alerts_total', { severity: 'warn' })).toBe(1)
    expect(val('pino_alerts_alerts_total', { severity: 'critical' })).toBe(1)
    expect(m.get('pino_alerts_deliveries_total')?.type).toBe('counter')
    expect(val('pino_alerts_deliveries_total', { channel: 'webhook', outcome: 'delivered' })).toBe(3)
    expect(val('pino_alerts_deliveries_total', { channel: 'broken', outcome: 'failed' })).toBe(1)
    expect(val('pino_alerts_deliveries_total', { channel: 'broken', outcome: 'delivered' })).toBe(0)
    expect(m.get('pino_alerts_queue_length')?.type).toBe('gauge')
    expect(val('pino_alerts_queue_length', { channel: 'slack' })).toBe(9)
    expect(val('pino_alerts_circuit_open', { channel: 'slack' })).toBe(1)
    expect(val('pino_alerts_queue_length', { channel: 'we"ird\\name' })).toBe(1) // escaped and parsed back
    expect(val('pino_alerts_circuit_open', { channel: 'we"ird\\name' })).toBe(0)
    expect(m.get('pino_alerts_circuit_open')?.type).toBe('gauge')
  })
})

describe('dashboard live feed (SSE)', () => {
  it('delivers an alert written to the store by another process within a second, and acks and silence changes', async () => {
    const d = await dashboard()
    const events: Array<{ event: string, data: any, at: number }> = []
    const u = new URL('/events', d.url)
    const sse = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { accept: 'text/event-stream' } })
    const opened = new Promise<IncomingHttpHeaders>((resolve, reject) => {
      sse.on('response', (res) => {
        res.setEncoding('utf8')
        res.on('data', sseReader((event, data) => { events.push({ event, data, at: Date.now() }) }))
        resolve(res.headers)
      })
      sse.on('error', reject)
    })
    sse.end()
    try {
      const headers = await opened
      expect(headers['content-type']).toMatch(/^text\/event-stream/)
      expect(headers['content-security-policy']).toBe(CSP)
      const waitFor = async (pred: (e: { event: string, data: any }) => boolean, ms: number): Promise<{ event: string, data: any, at: number }> => {
        const end = Date.now() + ms
        for (;;) {
          const e = events.find(pred)
          if (e !== undefined) return e
          if (Date.now() > end) throw new Error(`no such event within ${ms} ms; got ${events.map((x) => x.event).join(', ')}`)
          await sleep(10)
        }
      }
      await waitFor((e) => e.event === 'hello', 2000)

      // Another process: a real app logging through the pino transport into the same store.
      const child = spawn(process.execPath, [fixture('store-app.mjs')], {
        env: { PATH: process.env.PATH ?? '', STORE: db, WEBHOOK_URL: hook.url, MODE: 'log', COUNT: '1', THEN: 'exit' },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      const exited = new Promise((resolve) => child.on('close', resolve))
      const stored = await (async () => {
        // Wait for the row itself (written by the child's worker thread), then measure from there.
        const s = openStore(db)
        stores.push(s)
        const end = Date.now() + 15_000
        while (Date.now() < end) {
          if (s.lastRowId() > 0) return Date.now()
          await sleep(5)
        }
        throw new Error('the child never stored its alert')
      })()
      const got = await waitFor((e) => e.event === 'alert', 1000)
      expect(got.at - stored).toBeLessThan(1000)
      expect(got.data).toMatchObject({ source: 'store_test', title: 'stored alert 0', severity: 'critical' })
      await exited

      const ack = await http(d.url, 'POST', `/api/alerts/${got.data.id as string}/ack`, { body: { by: 'alice' }, headers: sameOrigin(d) })
      expect(ack.status).toBe(200)
      expect((await waitFor((e) => e.event === 'ack', 1000)).data).toMatchObject({ id: got.data.id, acked: { by: 'alice' } })

      // A silence created by another process (the CLI) shows up too.
      const cli = openStore(db, { readonly: false })
      stores.push(cli)
      cli.addSilence({ id: 'from-cli', match: ['source="store_test"'], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString(), comment: '', createdBy: 'cli', createdAt: new Date().toISOString() })
      const sil = await waitFor((e) => e.event === 'silences' && e.data.silences.some((s: { id: string }) => s.id === 'from-cli'), 2000)
      expect(sil.data.silences[0]).toMatchObject({ id: 'from-cli', active: true })
    } finally {
      sse.destroy()
    }
  })
})

describe('dashboard security', () => {
  it('refuses to bind a non-loopback address without a token', async () => {
    await expect(startDashboard({ store: db, host: '0.0.0.0', port: 0 })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without a token/)
    await expect(startDashboard({ store: db, host: '192.168.1.10', port: 0, token: '' })).rejects.toThrow(/without a token/)
    const d = await dashboard({ host: '0.0.0.0', token: 'a-long-secret-token-0123456789' })
    expect(d.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/)
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      const ok = await dashboard({ host })
      expect(ok.port).toBeGreaterThan(0)
    }
  })

  it('changes need a same-origin request: a missing or foreign Origin is a 403; reads need none', async () => {
    const ids = await seed()
    const d = await dashboard()
    const path = `/api/alerts/${ids.warn as string}/ack`
    const none = await http(d.url, 'POST', path, { body: { by: 'x' } })
    expect(none.status).toBe(403)
    expect(none.json().error).toMatch(/same-origin/)
    expect((await http(d.url, 'POST', path, { body: { by: 'x' }, headers: { origin: 'http://evil.example' } })).status).toBe(403)
    expect((await http(d.url, 'POST', path, { body: { by: 'x' }, headers: { origin: d.url.replace(/\/$/, '').replace('127.0.0.1', 'localhost') } })).status).toBe(403)
    expect((await http(d.url, 'POST', path, { body: { by: 'x' }, headers: { ...sameOrigin(d), 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
    expect((await http(d.url, 'DELETE', '/api/silences/whatever', { headers: { origin: 'null' } })).status).toBe(403)
    expect((await http(d.url, 'POST', '/api/silences', { body: { match: 'a="b"', durationMs: 1000 } })).status).toBe(403)
    // A form post (not JSON) is refused even from the right origin.
    expect((await http(d.url, 'POST', path, { raw: 'by=x', headers: { ...sameOrigin(d), 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(415)
    const other = openStore(db)
    stores.push(other)
    expect(other.acked(ids.warn as string)).toBeUndefined()
    expect((await http(d.url, 'POST', path, { body: { by: 'x' }, headers: sameOrigin(d) })).status).toBe(200)
    expect((await http(d.url, 'GET', '/api/alerts')).status).toBe(200)
  })

  it('without a token, only loopback Host names are answered (DNS rebinding)', async () => {
    const d = await dashboard()
    const r = await http(d.url, 'GET', '/api/alerts', { headers: { host: `rebind.evil.example:${d.port}` } })
    expect(r.status).toBe(403)
    expect((await http(d.url, 'GET', '/api/alerts', { headers: { host: `localhost:${d.port}` } })).status).toBe(200)
  })

  it('with a token: every read and change needs it (bearer or login cookie); a read without it is a 401, a change a 403 that changes nothing; it is never echoed', async () => {
    const ids = await seed()
    const token = 's3cret-T0ken-for-the-dashboard-test'
    const d = await dashboard({ token })
    const seen: Res[] = []
    const call = async (...a: Parameters<typeof http>): Promise<Res> => { const r = await http(...a); seen.push(r); return r }
    const bearer = { authorization: `Bearer ${token}` }

    for (const path of ['/api/alerts', `/api/alerts/${ids.warn as string}`, '/api/silences', '/api/stats', '/metrics', '/events']) {
      const r = await call(d.url, 'GET', path)
      expect(r.status, path).toBe(401)
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/)
      expect((await call(d.url, 'GET', path, { headers: { authorization: 'Bearer wrong' } })).status, path).toBe(401)
    }
    expect((await call(d.url, 'GET', '/api/alerts', { headers: bearer })).status).toBe(200)
    expect((await call(d.url, 'GET', '/metrics', { headers: bearer })).status).toBe(200)
    // The page itself: to the login form.
    const page = await call(d.url, 'GET', '/')
    expect(page.status).toBe(303)
    expect(page.headers.location).toBe('/login')
    expect((await call(d.url, 'GET', '/healthz')).status).toBe(200)
    expect((await call(d.url, 'GET', '/app.js')).status).toBe(200)

    // Changes: the token and a same-origin request.
    const ack = `/api/alerts/${ids.warn as string}/ack`
    expect((await call(d.url, 'POST', ack, { body: { by: 'x' }, headers: sameOrigin(d) })).status).toBe(403)
    expect((await call(d.url, 'POST', ack, { body: { by: 'x' }, headers: { ...sameOrigin(d), authorization: 'Bearer nope' } })).status).toBe(403)
    expect((await call(d.url, 'POST', ack, { body: { by: 'x' }, headers: bearer })).status).toBe(403)
    expect((await call(d.url, 'POST', ack, { body: { by: 'x' }, headers: { ...bearer, ...sameOrigin(d) } })).status).toBe(200)

    // The login form sets an HttpOnly, SameSite=Strict cookie that is not the token.
    const form = (t: string): string => new URLSearchParams({ token: t }).toString()
    const login = await call(d.url, 'GET', '/login')
    expect(login.status).toBe(200)
    expect(login.text).toContain('<form method="post" action="/login">')
    const wrong = await call(d.url, 'POST', '/login', { raw: form('wrong'), headers: { ...sameOrigin(d), 'content-type': 'application/x-www-form-urlencoded' } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers['set-cookie']).toBeUndefined()
    expect((await call(d.url, 'POST', '/login', { raw: form(token), headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(403) // login CSRF
    const ok = await call(d.url, 'POST', '/login', { raw: form(token), headers: { ...sameOrigin(d), 'content-type': 'application/x-www-form-urlencoded' } })
    expect(ok.status).toBe(303)
    const cookie = (ok.headers['set-cookie'] ?? [])[0] as string
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    const pair = cookie.split(';')[0] as string
    expect(pair).not.toContain(token)
    expect((await call(d.url, 'GET', '/api/alerts', { headers: { cookie: pair } })).status).toBe(200)
    expect((await call(d.url, 'GET', '/', { headers: { cookie: pair } })).status).toBe(200)
    expect((await call(d.url, 'POST', `/api/alerts/${ids.info as string}/ack`, { body: {}, headers: { cookie: pair } })).status).toBe(403)
    expect((await call(d.url, 'POST', `/api/alerts/${ids.info as string}/ack`, { body: {}, headers: { cookie: pair, ...sameOrigin(d) } })).status).toBe(200)
    expect((await call(d.url, 'GET', '/api/alerts', { headers: { cookie: pair.replace(/=.*/, '=forged') } })).status).toBe(401)

    for (const r of seen) {
      expect(r.text).not.toContain(token)
      expect(JSON.stringify(r.headers)).not.toContain(token)
    }
  })

  it('every response has the CSP and the other security headers', async () => {
    const ids = await seed()
    const d = await dashboard()
    for (const [method, path] of [['GET', '/'], ['GET', '/app.js'], ['GET', '/style.css'], ['GET', '/api/alerts'], ['GET', `/api/alerts/${ids.warn as string}`], ['GET', '/metrics'], ['GET', '/healthz'], ['GET', '/nope'], ['GET', '/api/nope'], ['POST', `/api/alerts/${ids.warn as string}/ack`]] as const) {
      const r = await http(d.url, method, path)
      expect(r.headers['content-security-policy'], path).toBe(CSP)
      expect(r.headers['x-content-type-options'], path).toBe('nosniff')
      expect(r.headers['referrer-policy'], path).toBe('no-referrer')
      expect(r.headers['x-frame-options'], path).toBe('DENY')
    }
    expect(CSP).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
  })

  it('an alert title with HTML is returned as JSON data, never as HTML; the page has no inline script or style and never uses innerHTML', async () => {
    const payload = '<img src=x onerror=alert(1)>'
    const { id } = await writer.dispatch({ source: '<script>alert(2)</script>', title: payload, body: '<b>bold</b>', severity: 'critical', labels: { x: '"><svg onload=alert(3)>' } })
    const d = await dashboard()
    const list = await http(d.url, 'GET', '/api/alerts')
    expect(list.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(list.json().alerts[0]).toMatchObject({ id, title: payload, body: '<b>bold</b>' })
    const one = await http(d.url, 'GET', `/api/alerts/${id}`)
    expect(one.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(one.json().alert.title).toBe(payload)
    // The page is static: no data in it.
    const page = await http(d.url, 'GET', '/')
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.text).not.toContain('onerror')
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)/) // every script is external
    expect(page.text).not.toMatch(/\sstyle=/)
    expect(page.text).not.toMatch(/\son[a-z]+=/)
    const app = readFileSync(new URL('../src/dashboard/public/app.js', import.meta.url), 'utf8')
    expect(app).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
    const login = readFileSync(new URL('../src/dashboard/public/login.html', import.meta.url), 'utf8')
    expect(login).not.toMatch(/<script|\sstyle=|\son[a-z]+=/)
  })
})

describe('pino-alerts dashboard (CLI command)', () => {
  const ctx = (values: Record<string, unknown>, out: string[], err: string[]): Parameters<typeof runDashboard>[0] => ({
    values: values as never,
    positionals: [],
    global: { debug: false, store: db },
    out: (t) => { out.push(t) },
    err: (t) => { err.push(t) }
  })

  it('prints the URL (never the token), serves until stopped; a non-loopback host without a token is a usage error (exit 2)', async () => {
    const out: string[] = []
    const err: string[] = []
    const token = 'env-token-0123456789abcdef'
    let url = ''
    const code = await runDashboard(ctx({ port: '0' }, out, err), async (dash) => {
      url = dash.url
      const r = await http(dash.url, 'GET', '/api/alerts', { headers: { authorization: `Bearer ${token}` } })
      expect(r.status).toBe(200)
      expect((await http(dash.url, 'GET', '/api/alerts')).status).toBe(401)
    }, { RISK_ALERTS_DASHBOARD_TOKEN: token })
    expect(code).toBe(0)
    expect(out.join('')).toContain(`pino-alerts dashboard: ${url}`)
    expect(out.join('')).toContain('token from RISK_ALERTS_DASHBOARD_TOKEN')
    expect(out.join('') + err.join('')).not.toContain(token)

    const e = await runDashboard(ctx({ port: '0', host: '0.0.0.0' }, [], []), async () => {}, {}).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(CliError)
    expect((e as CliError).exitCode).toBe(2)
    expect((e as CliError).message).toMatch(/without a token/)
    const badPort = await runDashboard(ctx({ port: 'http' }, [], []), async () => {}, {}).catch((x: unknown) => x)
    expect((badPort as CliError).exitCode).toBe(2)
    expect(dashboardCommand.usage).toMatch(/^pino-alerts dashboard /)
  })

  it('--notify: the alerter beside the app applies no retention (a 60-day-old alert stays) and adds no process row until it writes (failures 5, 10)', async () => {
    const own = join(tempDir(), 'app.db')
    const now = Date.now()
    const s = openStore(own, { readonly: false })
    const old = { id: 'old', source: 'var_gate', severity: 'warn' as const, title: 'sixty days ago', body: '', labels: {}, metadata: {}, timestamp: new Date(now - 60 * 86_400_000).toISOString(), level: 40, fingerprint: 'fp-old', status: 'firing' as const }
    s.insert(old, ['webhook'], now - 60 * 86_400_000)
    s.settle('old', now - 60 * 86_400_000)
    s.close()
    // The app keeps 365 days; the dashboard's config (-c) does not say, and -s points at the app's store.
    const cfg = join(tempDir(), 'alerts.json')
    writeFileSync(cfg, JSON.stringify({ env: false, channels: { console: { enabled: false }, webhook: { url: hook.url } } }))
    const code = await runDashboard({
      values: { port: '0', notify: true } as never,
      positionals: [],
      global: { debug: false, store: own, config: cfg },
      out: () => {},
      err: () => {}
    }, async (dash) => {
      expect((await http(dash.url, 'GET', '/api/alerts/old')).status).toBe(200)
    }, {})
    expect(code).toBe(0)
    const after = openStore(own)
    stores.push(after)
    expect(after.get('old')).toMatchObject({ title: 'sixty days ago', settled: true })
    expect(after.runtimeStats(Number.MAX_SAFE_INTEGER)).toEqual([])
    const raw = new Database(own, { readonly: true })
    try {
      expect(raw.prepare('SELECT count(*) AS n FROM runtime_stats').get()).toEqual({ n: 0 })
    } finally { raw.close() }
  })

  it('the built command runs until SIGTERM and exits 0', async () => {
    const script = `const { default: cmd } = await import(${JSON.stringify(new URL('../dist/cli/dashboard.js', import.meta.url).href)});
      const code = await cmd.run({ values: { port: '0' }, positionals: [], global: { debug: false, store: process.env.STORE }, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
      process.exit(code)`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', STORE: db }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 10_000)
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString()
        const m = /pino-alerts dashboard: (http:\/\/\S+)/.exec(stdout)
        if (m !== null) { clearTimeout(t); resolve(m[1] as string) }
      })
    })
    expect((await http(url, 'GET', '/healthz')).json()).toEqual({ ok: true })
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await closed).toBe(0)
  })
})
