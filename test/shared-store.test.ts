/**
 * A store shared by several processes (SPEC §15), with two real apps (child processes, each with
 * its own pino worker) on one SQLite file: an unsettled alert or a pending escalation step belongs to
 * the process that admitted it and is never delivered by another while its owner is alive; once the
 * owner is gone (SIGKILL) or silent for longer than store.leaseMs (SIGSTOP), a live process takes it
 * over within leaseMs + 5 s and delivers it once, with the same id (webhook-id).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { Reporter } from '../src/report.js'
import { AlertStore, MIGRATIONS, openStore, SCHEMA_VERSION } from '../src/store/sqlite.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, tempDir, until } from './helpers/run.js'

const LEASE_MS = 1000
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface App { child: ChildProcess, pid: number, stdout: () => string, stderr: () => string, closed: Promise<void> }

const apps: App[] = []
const servers: WebhookServer[] = []
afterEach(async () => {
  for (const a of apps.splice(0)) {
    a.child.kill('SIGKILL') // a stopped process dies of SIGKILL too
    await a.closed
  }
  for (const s of servers.splice(0)) await s.close()
})

function app (env: Record<string, string>): App {
  const child = spawn(process.execPath, [fixture('shared-app.mjs')], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', LEASE_MS: String(LEASE_MS), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()))
  const a = { child, pid: child.pid as number, stdout: () => stdout, stderr: () => stderr, closed }
  apps.push(a)
  return a
}

/** Raw rows, read the way any other process would. */
function query<T> (db: string, sql: string, ...args: unknown[]): T[] {
  if (!existsSync(db)) return []
  const d = new Database(db, { readonly: true, fileMustExist: true })
  try { return d.prepare(sql).all(...args) as T[] } catch { return [] } finally { d.close() }
}

/** Waits until `a` has written its heartbeat row (its engine is up on the store). */
async function heartbeatOf (db: string, a: App): Promise<void> {
  await until(() => query<{ process: string }>(db, 'SELECT process FROM runtime_stats').some((r) => r.process.startsWith(`${a.pid}@`)), 10_000)
}

/** A live process scans every min(leaseMs, 5 s): after this long, one that would take over has. */
const SETTLE_MS = LEASE_MS + 2 * Math.min(LEASE_MS, 5000) + 1000

describe('shared store: an alert in flight belongs to the process that admitted it (failure 4)', () => {
  async function ownerHangs (): Promise<{ db: string, hook: WebhookServer, a: App, b: App, id: string }> {
    const db = join(tempDir(), 'shared.db')
    const hook = await startWebhookServer()
    servers.push(hook)
    hook.script({ hold: true }) // A's delivery hangs; later requests are answered 200
    const a = app({ MODE: 'log', STORE: db, WEBHOOK_URL: hook.url })
    const [first] = await hook.waitFor(1, 10_000)
    const id = first!.header('webhook-id')!
    const b = app({ MODE: 'idle', STORE: db, WEBHOOK_URL: hook.url })
    await heartbeatOf(db, b)
    await sleep(SETTLE_MS)
    // B has the same channel and has been up for longer than a lease: A is alive, so B leaves it.
    expect(hook.requests, b.stderr()).toHaveLength(1)
    expect(b.stderr()).not.toMatch(/left undelivered|taking over/)
    return { db, hook, a, b, id }
  }

  /** The alert is settled, with one receipt: B's, and B owns it. */
  async function settledByB (db: string, b: App, id: string): Promise<void> {
    await until(() => query<{ settled: number }>(db, 'SELECT settled FROM alerts WHERE id = ?', id)[0]?.settled === 1, 5000)
    const s = openStore(db)
    try {
      expect(s.get(id)).toMatchObject({ title: 'shared alert 0', settled: true })
      expect(s.receipts(id).map(({ at, ...r }) => r)).toEqual([{ channel: 'webhook', ok: true, attempts: 1 }])
    } finally { s.close() }
    const [row] = query<{ pid: number }>(db, 'SELECT p.pid AS pid FROM alerts a JOIN runtime_stats p ON p.process = a.owner WHERE a.id = ?', id)
    expect(row?.pid).toBe(b.pid)
  }

  it('B does not deliver A\'s alert while A lives; SIGKILL A: B takes it over within leaseMs + 5 s and delivers it once more, same webhook-id', async () => {
    const { db, hook, a, b, id } = await ownerHangs()
    const killedAt = Date.now()
    a.child.kill('SIGKILL')
    await a.closed
    const [, second] = await hook.waitFor(2, LEASE_MS + 5000)
    expect(second!.arrivedAtEpoch - killedAt).toBeLessThan(LEASE_MS + 5000)
    expect(second!.header('webhook-id')).toBe(id)
    await settledByB(db, b, id)
    await sleep(1500)
    expect(hook.requests).toHaveLength(2) // once more, not more
    expect(b.stderr()).toMatch(/pino-alerts: taking over 1 alert\(s\) left undelivered by process \d+@/)
  }, 40_000)

  it('an owner that stops heartbeating (SIGSTOP) loses its alert after leaseMs: B takes it over then, not before', async () => {
    const { db, hook, a, b, id } = await ownerHangs()
    const stoppedAt = Date.now()
    a.child.kill('SIGSTOP')
    const [, second] = await hook.waitFor(2, LEASE_MS + 5000)
    // A's last heartbeat was at most a third of a lease before it stopped.
    expect(second!.arrivedAtEpoch - stoppedAt).toBeGreaterThanOrEqual(LEASE_MS / 2)
    expect(second!.arrivedAtEpoch - stoppedAt).toBeLessThan(LEASE_MS + 5000)
    expect(second!.header('webhook-id')).toBe(id)
    await settledByB(db, b, id)
    expect(b.stderr()).toMatch(/taking over 1 alert\(s\) left undelivered by process \d+@\S+ \(no heartbeat for \d+(\.\d)? s; store\.leaseMs \d+\)/)
  }, 40_000)

  it('escalations: B does not re-arm A\'s pending step while A lives; SIGKILL A: B fires it once', async () => {
    const db = join(tempDir(), 'shared.db')
    const hook = await startWebhookServer()
    const pager = await startWebhookServer()
    servers.push(hook, pager)
    pager.script({ hold: true }) // A's step hangs (stays pending in the store)
    const env = { STORE: db, WEBHOOK_URL: hook.url, PAGER_URL: pager.url, ESCALATE_MS: '1500' }
    const a = app({ MODE: 'log', ...env })
    await hook.waitFor(1, 10_000)
    const b = app({ MODE: 'idle', ...env })
    await heartbeatOf(db, b)
    const [step] = await pager.waitFor(1, 10_000)
    await sleep(SETTLE_MS)
    expect(pager.requests, b.stderr()).toHaveLength(1)
    expect(b.stderr()).not.toMatch(/re-armed|taking over/)
    const killedAt = Date.now()
    a.child.kill('SIGKILL')
    await a.closed
    const [, again] = await pager.waitFor(2, LEASE_MS + 5000)
    expect(again!.arrivedAtEpoch - killedAt).toBeLessThan(LEASE_MS + 5000)
    expect(again!.header('webhook-id')).toBe(step!.header('webhook-id'))
    await until(() => query<{ state: string }>(db, 'SELECT state FROM escalations')[0]?.state === 'fired', 5000)
    await sleep(1000)
    expect(pager.requests).toHaveLength(2)
    expect(hook.requests).toHaveLength(1) // the alert itself was A's, delivered and settled
    expect(b.stderr()).toMatch(/taking over 1 pending escalation step\(s\) of process \d+@/)
  }, 40_000)
})

describe('shared store: take-over rules', () => {
  it('three processes: A dies holding 20 alerts; B and C both alive: each alert is delivered once more, by one of them', async () => {
    const db = join(tempDir(), 'shared.db')
    const hook = await startWebhookServer()
    servers.push(hook)
    hook.script(...Array.from({ length: 8 }, () => ({ hold: true }))) // A's 8 parallel attempts hang; 12 wait behind them
    const a = app({ MODE: 'log', COUNT: '20', STORE: db, WEBHOOK_URL: hook.url })
    await hook.waitFor(8, 10_000)
    const b = app({ MODE: 'idle', STORE: db, WEBHOOK_URL: hook.url })
    const c = app({ MODE: 'idle', STORE: db, WEBHOOK_URL: hook.url })
    await heartbeatOf(db, b)
    await heartbeatOf(db, c)
    await sleep(SETTLE_MS)
    expect(hook.requests).toHaveLength(8)
    a.child.kill('SIGKILL')
    await a.closed
    await hook.waitFor(28, LEASE_MS + 5000)
    await until(() => query<{ n: number }>(db, 'SELECT count(*) AS n FROM alerts WHERE settled = 1')[0]?.n === 20, 5000)
    await sleep(1500)
    const after = hook.requests.slice(8)
    expect(after).toHaveLength(20)
    expect(new Set(after.map((q) => q.header('webhook-id'))).size).toBe(20)
    const owners = query<{ pid: number }>(db, 'SELECT p.pid AS pid FROM alerts a JOIN runtime_stats p ON p.process = a.owner').map((r) => r.pid)
    expect(owners).toHaveLength(20)
    for (const pid of owners) expect([b.pid, c.pid]).toContain(pid)
  }, 40_000)

  it('a store of schema 4 opens and migrates; its unsettled alert (no owner) goes to the first process that has its channel, not to one that lacks it', async () => {
    const db = join(tempDir(), 'v4.db')
    const old = new Database(db)
    for (const m of MIGRATIONS.slice(0, 4)) old.exec(m)
    old.pragma('user_version = 4')
    const event = { id: 'v4-1', source: 's', severity: 'critical', title: 'from schema 4', body: '', labels: {}, metadata: {}, timestamp: new Date().toISOString(), level: 60, fingerprint: 'f', status: 'firing' }
    old.prepare('INSERT INTO alerts (id, ts, received_at, source, severity, status, title, fingerprint, event, routes, settled) VALUES (?,?,?,?,?,?,?,?,?,?,0)')
      .run(event.id, Date.parse(event.timestamp), Date.now(), 's', 'critical', 'firing', event.title, 'f', JSON.stringify(event), '["pager"]')
    old.close()
    const hook = await startWebhookServer()
    servers.push(hook)
    const notices: string[] = []
    const reporter = (): Reporter => new Reporter((t) => { notices.push(t) })
    const options = (channels: Record<string, unknown>): Record<string, unknown> => ({ env: false, store: { path: db }, channels: { console: { enabled: false }, ...channels } })
    const lacking = createAlerter(options({ webhook: { url: hook.url } }), { env: {}, reporter: reporter() })
    try {
      await lacking.ready
      expect(notices.join('')).toContain(`pino-alerts: 1 undelivered alert(s) in store ${db} need channel(s) this process does not have (pager); left for a process that has them`)
      const s = AlertStore.open({ path: db, maxAgeDays: 30, maxRows: 100, readonly: true })
      try {
        expect(s.version).toBe(SCHEMA_VERSION)
        expect(s.unsettled().map((u) => u.event.id)).toEqual(['v4-1'])
      } finally { s.close() }
      const having = createAlerter(options({ pager: { type: 'webhook', url: hook.url } }), { env: {}, reporter: reporter() })
      await having.ready
      await having.flush()
      await having.close()
      expect(notices.join('')).toContain('pino-alerts: delivering 1 alert(s) left undelivered by the last run')
      expect(hook.requests.map((q) => q.header('webhook-id'))).toEqual(['v4-1'])
      const after = openStore(db)
      try { expect(after.get('v4-1')?.settled).toBe(true) } finally { after.close() }
    } finally { await lacking.close() }
  })
})
