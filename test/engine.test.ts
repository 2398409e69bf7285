/**
 * The engine's losses closed in Step 12, each reproduced first (these tests failed on the engine
 * before src/engine/): a route to no channel counted delivered (7), unbounded waiting before start
 * (6), escalation steps that close() did not wait for (8), and store locks that killed alerting (2).
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { Reporter } from '../src/report.js'
import { openStore } from '../src/store/sqlite.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { readJsonl, tempDir } from './helpers/run.js'

const quiet = { console: { enabled: false } }
const servers: WebhookServer[] = []
afterEach(async () => { await Promise.all(servers.splice(0).map(async (s) => await s.close())) })
const notices = (): { lines: string[], reporter: Reporter } => {
  const lines: string[] = []
  return { lines, reporter: new Reporter((t) => { lines.push(t) }) }
}

describe('a route with no channel (failure 7)', () => {
  it('is a failure with a notice, not a delivery', async () => {
    const { lines, reporter } = notices()
    // `pagerduty` is a channel type, so the route is valid; no pagerduty channel is configured.
    const a = createAlerter({ channels: { ...quiet, file: { path: join(tempDir(), 'a.jsonl') } }, routes: { critical: ['pagerduty'] } }, { env: {}, reporter })
    const r = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
    await a.close()
    expect(r.deliveries).toEqual([])
    expect([a.stats().delivered, a.stats().failed]).toEqual([0, 1])
    expect(lines.join('')).toMatch(/alert \S+ \(critical risk_gate: Order blocked\) not delivered: its route has no enabled channel/)
  })
})

describe('before start (failure 6)', () => {
  it('alerts beyond the largest maxQueue are dropped at once, info first, critical never; the rest are delivered once up', async () => {
    const { lines, reporter } = notices()
    const path = join(tempDir(), 'a.jsonl')
    const a = createAlerter({ channels: { ...quiet, file: { path, maxQueue: 100 } }, routes: { info: ['file'], warn: ['file'], critical: ['file'] }, dedupe: false }, { env: {}, reporter })
    let settled = 0
    const results = []
    for (let i = 0; i < 1000; i++) {
      const p = a.dispatch({ source: 's', title: `t${i}`, severity: i < 5 ? 'critical' : 'info' })
      void p.then(() => { settled++ })
      results.push(p)
    }
    await new Promise((resolve) => setImmediate(resolve))
    // Held no longer than the queue allows: 900 answered at once (the rest need the file's I/O).
    expect(settled).toBe(900)
    const all = await Promise.all(results)
    await a.close()
    const dropped = all.filter((r) => /^dropped before start: queue full \(maxQueue 100\)$/.test(r.error ?? ''))
    expect(dropped.length).toBe(900)
    const titles = readJsonl(path).map((e) => e.title)
    expect(titles.length).toBe(100)
    expect(titles.slice(0, 5)).toEqual(['t0', 't1', 't2', 't3', 't4']) // criticals kept, in order
    expect(titles.slice(5)).toEqual(Array.from({ length: 95 }, (_, k) => `t${905 + k}`)) // the newest info
    expect(lines.join('')).toMatch(/dropped before start: more than 100 alerts waiting/)
  })
})

describe('escalation (failure 8)', () => {
  it('close() waits for a step its timer fired, and the store records it delivered', async () => {
    const first = await startWebhookServer()
    const slow = await startWebhookServer({ defaultResponse: { status: 200, body: 'ok', delayMs: 400 } })
    servers.push(first, slow)
    const db = join(tempDir(), 'a.db')
    const a = createAlerter({
      channels: { ...quiet, first: { type: 'webhook', url: first.url }, slow: { type: 'webhook', url: slow.url } },
      routes: [{ match: 'severity="critical"', channels: ['first'], escalate: [{ afterMs: 50, channels: ['slow'] }] }],
      store: { path: db }
    }, { env: {} })
    const r = await a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical' })
    await slow.waitFor(1) // the step fired; its receiver answers after 400 ms
    await a.close()
    expect(slow.requests[0]?.status).toBe(200)
    const s = openStore(db)
    try {
      expect(s.receipts(r.id).map((x) => [x.channel, x.ok])).toEqual([['first', true], ['slow', true]])
    } finally { s.close() }
  })
})

describe('a store another connection holds locked (failure 2)', () => {
  it('a resolve is still delivered, the lock reported, nothing thrown', async () => {
    const hook = await startWebhookServer()
    servers.push(hook)
    const db = join(tempDir(), 'a.db')
    const { lines, reporter } = notices()
    const a = createAlerter({ channels: { ...quiet, hook: { type: 'webhook', url: hook.url } }, store: { path: db } }, { env: {}, reporter })
    const t0 = Date.now()
    const fired = await a.dispatch({ source: 'var_gate', title: 'VaR 95%', severity: 'critical', fingerprint: 'var-desk-1' })
    expect(fired.deliveries[0]?.ok).toBe(true)
    const other = new Database(db, { timeout: 0 })
    other.prepare('BEGIN IMMEDIATE').run() // a writer that does not let go
    try {
      const resolved = await a.dispatch({ source: 'var_gate', title: 'VaR 95%', severity: 'critical', fingerprint: 'var-desk-1', status: 'resolved' })
      expect(resolved.deliveries.map((d) => [d.channel, d.ok])).toEqual([['hook', true]])
      expect(hook.requests.length).toBe(2)
      expect(lines.join('')).toMatch(/store: could not write the alert: database is locked/)
      // Each write gives up after 250 ms instead of holding every alert back for 5 s.
      expect(Date.now() - t0).toBeLessThan(10_000)
    } finally {
      other.prepare('ROLLBACK').run()
      other.close()
      await a.close()
    }
  }, 20_000)
})
