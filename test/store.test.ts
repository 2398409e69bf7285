import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { AlertStore, history, MIGRATIONS, openStore, receipts, SCHEMA_VERSION, summary } from '../src/store/sqlite.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer } from './fakes/webhook-server.js'
import { fixture, readJsonl, runNode, tempDir } from './helpers/run.js'

const quiet = { console: { enabled: false } }

describe('store: history, receipts, summary', () => {
  it('records every alert before delivery, each channel outcome, and answers queries with exactly what was sent', async () => {
    const dir = tempDir()
    const db = join(dir, 'alerts.db')
    const hook = await startWebhookServer()
    hook.script({ status: 400, body: 'bad' })
    const a = createAlerter({
      env: false,
      store: { path: db },
      channels: { ...quiet, file: { path: join(dir, 'a.jsonl') }, webhook: { url: hook.url } },
      routes: { info: ['file'], warn: ['file'], critical: ['webhook'] },
      failover: ['file']
    }, { env: {} })
    try {
      const r1 = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical', labels: { symbol: 'ES' }, timestamp: '2026-11-27T10:00:00.000Z' })
      const r2 = await a.dispatch({ source: 'var_gate', title: 'VaR at 90%', severity: 'warn', timestamp: '2026-11-27T10:05:00.000Z' })
      const r3 = await a.dispatch({ source: 'var_gate', title: 'VaR back to 50%', severity: 'info', timestamp: '2026-11-27T10:20:00.000Z' })
      const r4 = await a.dispatch({ source: 'kill_switch', title: 'Kill switch', severity: 'critical', timestamp: '2026-11-27T10:30:00.000Z' })
      const sent = readJsonl(join(dir, 'a.jsonl'))
      const h = a.history()
      expect(h.map((x) => x.id)).toEqual([r4.id, r3.id, r2.id, r1.id])
      // Exactly what was sent: the file channel wrote AlertEvent.toJSON(); the store holds the same.
      const byId = new Map(sent.map((e) => [e.id, e]))
      for (const x of h) {
        const { receivedAt, settled, ...event } = x
        expect(settled).toBe(true)
        expect(Date.parse(receivedAt)).toBeGreaterThan(Date.now() - 60_000)
        if (byId.has(x.id)) expect(event).toEqual(byId.get(x.id))
      }
      expect(a.history({ severity: 'critical' }).map((x) => x.title)).toEqual(['Kill switch', 'Order blocked'])
      expect(a.history({ source: 'var_gate', limit: 1 }).map((x) => x.title)).toEqual(['VaR back to 50%'])
      expect(a.history({ since: '2026-11-27T10:05:00.000Z', until: '2026-11-27T10:30:00.000Z' }).map((x) => x.title)).toEqual(['VaR back to 50%', 'VaR at 90%'])
      // Receipts: the webhook's permanent failure and the file standing in; then the webhook delivering.
      expect(a.receipts(r1.id).map(({ at, ...r }) => r)).toEqual([
        { channel: 'webhook', ok: false, attempts: 1, error: expect.stringMatching(/HTTP 400 bad \(permanent, not retried\)/) },
        { channel: 'file', ok: true, attempts: 1, standInFor: 'webhook' }
      ])
      expect(a.receipts(r4.id).map(({ at, ...r }) => r)).toEqual([{ channel: 'webhook', ok: true, attempts: 1 }])
      const s = a.summary({ since: '2026-11-27T10:00:00.000Z', until: '2026-11-27T11:00:00.000Z', bucketMs: 15 * 60_000 })
      expect(s.total).toBe(4)
      expect(s.bySeverity).toEqual({ info: 1, warn: 1, critical: 2 })
      expect(s.bySource).toEqual({ var_gate: 2, risk_gate: 1, kill_switch: 1 })
      expect(s.byChannel).toEqual({ file: { delivered: 3, failed: 0 }, webhook: { delivered: 1, failed: 1 } })
      expect(s.buckets).toEqual([
        { start: '2026-11-27T10:00:00.000Z', info: 0, warn: 1, critical: 1 },
        { start: '2026-11-27T10:15:00.000Z', info: 1, warn: 0, critical: 0 },
        { start: '2026-11-27T10:30:00.000Z', info: 0, warn: 0, critical: 1 },
        { start: '2026-11-27T10:45:00.000Z', info: 0, warn: 0, critical: 0 }
      ])
      // The same queries as plain functions over the path (another process could run them).
      expect(history(db, { limit: 2 }).map((x) => x.id)).toEqual([r4.id, r3.id])
      expect(receipts(db, r2.id).map((r) => r.channel)).toEqual(['file'])
      expect(summary(db, { since: '2026-11-27T10:00:00.000Z', until: '2026-11-27T11:00:00.000Z' }).total).toBe(4)
    } finally {
      await a.close()
      await hook.close()
    }
  })

  it('without a store, the queries say how to get one', () => {
    const a = createAlerter({ env: false, channels: quiet }, { env: {} })
    expect(() => a.history()).toThrow(/no store configured \(options\.store\.path or RISK_ALERTS_STORE\)/)
    void a.close()
  })

  it('RISK_ALERTS_STORE sets the path; options win', () => {
    const on = createAlerter({ channels: quiet }, { env: { RISK_ALERTS_STORE: '/tmp/x.db' } })
    expect(on.options.store).toEqual({ path: '/tmp/x.db', maxAgeDays: 30, maxRows: 1_000_000, leaseMs: 30_000 })
    void on.close().catch(() => {})
  })
})

describe('store: outbox', () => {
  it('kill -9 while deliveries hang: the next start delivers all 20, each webhook-id at most twice', async () => {
    const dir = tempDir()
    const db = join(dir, 'alerts.db')
    const hook = await startWebhookServer({ defaultResponse: { hold: true } })
    try {
      const child = spawn(process.execPath, [fixture('store-app.mjs')], { env: { PATH: process.env.PATH ?? '', MODE: 'log', COUNT: '20', STORE: db, WEBHOOK_URL: hook.url }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      await hook.waitFor(8, 10_000) // the webhook channel's 8 parallel attempts, all held
      await new Promise((resolve) => setTimeout(resolve, 200))
      child.kill('SIGKILL')
      await new Promise((resolve) => child.on('close', resolve))
      expect(hook.requests.length).toBeLessThan(20)
      // Nothing was settled: every alert is still in the outbox.
      const before = openStore(db)
      expect(before.unsettled().length).toBe(20)
      before.close()

      hook.setDefault({ status: 200, body: 'ok' })
      hook.release({ status: 200, body: 'ok' })
      const r = await runNode(fixture('store-app.mjs'), { MODE: 'restart', STORE: db, WEBHOOK_URL: hook.url, STAY_MS: '1000' })
      expect(r.code, r.stderr + stderr).toBe(0)
      expect(r.stderr).toContain('delivering 20 alert(s) left undelivered by the last run')
      const answered = hook.requests.filter((q) => q.status === 200)
      const ids = new Map<string, number>()
      for (const q of hook.requests) ids.set(q.header('webhook-id')!, (ids.get(q.header('webhook-id')!) ?? 0) + 1)
      const titles = new Set(answered.map((q) => q.json<{ title: string }>().title))
      expect([...titles].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `stored alert ${i}`).sort())
      expect(ids.size).toBe(20)
      expect(Math.max(...ids.values())).toBeLessThanOrEqual(2)
      const after = openStore(db)
      try {
        expect(after.unsettled()).toEqual([])
        for (const h of after.history({ limit: 100 })) {
          expect(h.settled).toBe(true)
          expect(after.receipts(h.id)).toMatchObject([{ channel: 'webhook', ok: true }])
        }
      } finally { after.close() }
    } finally {
      await hook.close()
    }
  }, 60_000)

  it('a channel hanging past shutdownTimeoutMs at process.exit: the alert stays in the outbox and goes out at the next start', async () => {
    const dir = tempDir()
    const db = join(dir, 'alerts.db')
    const hook = await startWebhookServer({ defaultResponse: { hold: true } })
    try {
      const r1 = await runNode(fixture('store-app.mjs'), { MODE: 'log', COUNT: '1', THEN: 'exit', SHUTDOWN_MS: '1000', STORE: db, WEBHOOK_URL: hook.url })
      expect(r1.code).toBe(1)
      expect(r1.stderr).toMatch(/shutdown deadline \(1000 ms\) reached/)
      expect(hook.requests).toHaveLength(1)
      const s = openStore(db)
      expect(s.unsettled().map((u) => u.event.title)).toEqual(['stored alert 0'])
      expect(s.receipts(s.unsettled()[0]!.event.id)).toEqual([])
      s.close()
      hook.setDefault({ status: 200, body: 'ok' })
      const r2 = await runNode(fixture('store-app.mjs'), { MODE: 'restart', STORE: db, WEBHOOK_URL: hook.url, STAY_MS: '500' })
      expect(r2.code, r2.stderr).toBe(0)
      const last = hook.requests.at(-1)!
      expect(last.status).toBe(200)
      expect(last.header('webhook-id')).toBe(hook.requests[0]!.header('webhook-id'))
      expect(history(db).map((h) => [h.title, h.settled])).toEqual([['stored alert 0', true]])
    } finally {
      await hook.close()
    }
  }, 60_000)

  it('a replay goes only to the channels that had not delivered the alert', async () => {
    const dir = tempDir()
    const db = join(dir, 'alerts.db')
    const file = join(dir, 'a.jsonl')
    const hook = await startWebhookServer({ defaultResponse: { hold: true } })
    const options = { env: false, shutdownTimeoutMs: 300, store: { path: db }, channels: { ...quiet, file: { path: file }, webhook: { url: hook.url } }, routes: { critical: ['file', 'webhook'] } }
    const a = createAlerter(options, { env: {}, reporter: new Reporter(() => {}) })
    const first = a.dispatch({ source: 's', title: 'twice?', severity: 'critical' })
    await hook.waitFor(1)
    await a.close()
    const r = await first
    expect(r.deliveries.map((d) => [d.channel, d.ok])).toEqual([['file', true], ['webhook', false]])
    hook.setDefault({ status: 200, body: 'ok' })
    const b = createAlerter(options, { env: {}, reporter: new Reporter(() => {}) })
    await b.ready
    await b.flush()
    await b.close()
    expect(readJsonl(file).map((e) => e.title)).toEqual(['twice?'])
    expect(hook.requests.filter((q) => q.status === 200).map((q) => q.json<{ title: string }>().title)).toEqual(['twice?'])
    expect(receipts(db, r.id).map((x) => [x.channel, x.ok])).toEqual([['file', true], ['webhook', true]])
    await hook.close()
  })
})

describe('store: schema and files', () => {
  it('a file written by schema version 1 migrates on open, its alerts kept', () => {
    const dir = tempDir()
    const path = join(dir, 'old.db')
    const old = new Database(path)
    old.exec(MIGRATIONS[0]!)
    old.pragma('user_version = 1')
    const event = { id: 'old-1', source: 's', severity: 'warn', title: 'from v1', body: '', labels: {}, metadata: {}, timestamp: '2026-01-01T00:00:00.000Z', level: 40, fingerprint: 'f', status: 'firing' }
    old.prepare('INSERT INTO alerts (id, ts, received_at, source, severity, status, title, fingerprint, event, routes, settled) VALUES (?,?,?,?,?,?,?,?,?,?,1)')
      .run('old-1', Date.parse(event.timestamp), Date.now(), 's', 'warn', 'firing', 'from v1', 'f', JSON.stringify(event), '["file"]')
    old.close()
    const s = AlertStore.open({ path, maxAgeDays: 3650, maxRows: 100 })
    try {
      expect(s.version).toBe(SCHEMA_VERSION)
      expect(s.history({ limit: 10 }).map((h) => h.title)).toEqual(['from v1'])
    } finally { s.close() }
    const check = new Database(path, { readonly: true })
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r: any) => r.name)).toEqual(['acks', 'alerts', 'escalations', 'receipts', 'runtime_stats', 'silences'])
    check.close()
  })

  it('a corrupt store file fails the start with a clear message and is not overwritten', async () => {
    const dir = tempDir()
    const path = join(dir, 'alerts.db')
    writeFileSync(path, Buffer.concat([Buffer.from('definitely not sqlite\n'), Buffer.alloc(8192, 7)]))
    const hash = (): string => createHash('sha256').update(readFileSync(path)).digest('hex')
    const before = hash()
    const a = createAlerter({ env: false, channels: quiet, store: { path } }, { env: {}, reporter: new Reporter(() => {}) })
    await expect(a.ready).rejects.toMatchObject({ code: 'PINO_ALERTS_STORE_CORRUPT', message: expect.stringMatching(/not a pino-alerts store or corrupt .*the file was not touched/) })
    await a.close()
    expect(hash()).toBe(before)
    // Through a real pino transport: the app does not start.
    const r = await runNode(fixture('bad-options.mjs'), { OPTIONS: JSON.stringify({ env: false, store: { path } }) }, 30_000)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/not a pino-alerts store or corrupt/)
    expect(hash()).toBe(before)
  }, 40_000)

  it('retention deletes settled alerts by age and count, never unsettled ones', () => {
    const dir = tempDir()
    const s = AlertStore.open({ path: join(dir, 'r.db'), maxAgeDays: 1, maxRows: 3 })
    try {
      const now = Date.now()
      const ev = (id: string): any => ({ id, source: 's', severity: 'info', title: id, body: '', labels: {}, metadata: {}, timestamp: new Date(now).toISOString(), level: 30, fingerprint: 'f', status: 'firing' })
      s.insert(ev('old-settled'), [], now - 3 * 86_400_000); s.settle('old-settled')
      s.insert(ev('old-unsettled'), [], now - 3 * 86_400_000)
      for (const id of ['a', 'b', 'c', 'd']) { s.insert(ev(id), [], now - 1000 + id.charCodeAt(0)); s.settle(id) }
      expect(s.applyRetention(now).deleted).toBe(3)
      expect(s.history({ limit: 100 }).map((h) => h.id).sort()).toEqual(['c', 'd', 'old-unsettled'])
    } finally { s.close() }
  })
})

describe('store: process rows (failure 10)', () => {
  const rows = (db: string): string[] => {
    const d = new Database(db, { readonly: true })
    try { return (d.prepare('SELECT process FROM runtime_stats ORDER BY process').all() as Array<{ process: string }>).map((r) => r.process) } finally { d.close() }
  }
  const options = (db: string): Record<string, unknown> => ({ env: false, store: { path: db, maxAgeDays: 365 }, channels: quiet })

  it('a tool that writes nothing adds no row and deletes none; the owning engine deletes the rows of processes silent for a day', async () => {
    const db = join(tempDir(), 'rows.db')
    const now = Date.now()
    const seed = openStore(db, { readonly: false })
    seed.writeStats('gone-two-days-ago', {}, now - 2 * 86_400_000)
    seed.writeStats('seen-a-minute-ago', {}, now - 60_000)
    seed.close()
    const tool = createAlerter(options(db), { env: {}, replay: false, reporter: new Reporter(() => {}) })
    await tool.ready
    await tool.close()
    expect(rows(db)).toEqual(['gone-two-days-ago', 'seen-a-minute-ago'])

    const app = createAlerter(options(db), { env: {}, reporter: new Reporter(() => {}) })
    try {
      await app.ready
      const left = rows(db)
      expect(left).not.toContain('gone-two-days-ago')
      expect(left).toContain('seen-a-minute-ago')
      expect(left.filter((p) => p.startsWith(`${process.pid}@`))).toHaveLength(1) // the app's own
    } finally { await app.close() }
  })

  it('beyond 1000 rows of processes that ended, the oldest go', () => {
    const db = join(tempDir(), 'many.db')
    const s = AlertStore.open({ path: db, maxAgeDays: 30, maxRows: 1000 })
    try {
      const now = Date.now()
      const d = new Database(db)
      const put = d.prepare('INSERT INTO runtime_stats (process, at, stats, ended_at) VALUES (?, ?, \'{}\', ?)')
      d.transaction(() => { for (let i = 0; i < 1200; i++) put.run(`cli-${String(i).padStart(4, '0')}`, now - 100_000 + i, now - 100_000 + i) })()
      put.run('live', now, null)
      d.close()
      s.applyRetention(now)
      const left = rows(db)
      expect(left).toHaveLength(1001)
      expect(left).toContain('live')
      expect(left).toContain('cli-1199')
      expect(left).not.toContain('cli-0199')
    } finally { s.close() }
  })
})
