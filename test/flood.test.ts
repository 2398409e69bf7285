import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { forgetOldest } from '../src/bounded.js'
import { AlertEvent } from '../src/event.js'
import { slackRateLimited, startSlackFake } from './fakes/slack.js'
import { startWebhookServer } from './fakes/webhook-server.js'
import { endTransport, until } from './helpers/run.js'


/** The count a Slack digest header claims ("N alerts: …"), or 1 for a single alert. */
function represented (body: string): number {
  const m = /"type":"header","text":\{"type":"plain_text","text":"[^"]*?(\d+) alerts: [^"]*?(\((\d+)\/\d+\))?"/.exec(body)
  if (m === null) return 1
  return m[3] === undefined || m[3] === '1' ? Number(m[1]) : 0
}

describe('flood mode: thousands of critical alerts waiting for a rate-limited channel', () => {
  it('5000 distinct critical alerts through a real transport to a 1 msg/s Slack: every alert represented in a few messages, none refused', async () => {
    const limiter = slackRateLimited(1)
    const slack = await startSlackFake()
    slack.setDefault(limiter.responder)
    const transport = pino.transport({
      target: 'pino-alerts',
      options: { env: false, dedupe: false, channels: { console: { enabled: false }, slack: { webhookUrl: `${slack.origin}/services/T0FAKE/B0FAKE/xxxxFAKE` } }, routes: { critical: ['slack'] } }
    })
    const logger = pino(transport)
    try {
      for (let i = 0; i < 5000; i++) logger.error({ alert: { source: `desk_${i % 3}`, labels: { n: i } } }, `Order blocked (rule ${i % 4})`)
      const total = (): number => slack.requests.filter((r) => r.status === 200).reduce((n, r) => n + represented(JSON.stringify(r.json())), 0)
      await until(() => total() >= 5000, 20_000)
      expect(total()).toBe(5000)
      expect(slack.requests.length).toBeLessThanOrEqual(6)
      expect(limiter.limited()).toBe(0)
      // The flood digest lists kinds with counts: 3 sources × 4 titles.
      const last = JSON.stringify(slack.requests.at(-1)!.json())
      expect(last).toMatch(/Order blocked \(rule \d\)\*? ×\d+/)
    } finally {
      await endTransport(transport)
      await slack.close()
    }
  }, 40_000)

  it('dispatch() in a flood: each caller gets its own result, the batch travels as one digest, a resolve afterwards goes where its alert went', async () => {
    const hook = await startWebhookServer({ defaultResponse: { hold: true } })
    const a = createAlerter({
      env: false,
      dedupe: false,
      channels: { console: { enabled: false }, webhook: { url: hook.url } },
      routes: { critical: ['webhook'] }
    }, { env: {} })
    try {
      await a.ready
      // The receiver holds every request: past 1000 in flight, the rest go in a flood batch.
      const results = Array.from({ length: 1500 }, (_, i) => a.dispatch({ source: 'kill_switch', title: `breach ${i}`, severity: 'critical', labels: { n: String(i) } }))
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(a.stats().inFlight).toBe(1500)
      // A resolve for an alert of the flood waits for its batch; one for an unknown alert does not wait.
      const resolveInFlood = a.dispatch({ source: 'kill_switch', title: 'breach 1200', severity: 'critical', labels: { n: '1200' }, status: 'resolved' })
      const unrelated = await a.dispatch({ source: 'other', title: 'never fired', severity: 'critical', status: 'resolved' })
      expect(unrelated.suppressed).toBe('resolve-unknown')
      hook.setDefault({ status: 200, body: 'ok' })
      hook.release()
      const done = await Promise.all(results)
      expect((await resolveInFlood).deliveries.map((d) => [d.channel, d.ok])).toEqual([['webhook', true]])
      expect(done.every((r) => r.deliveries.length === 1 && r.deliveries[0]?.ok === true)).toBe(true)
      expect(new Set(done.map((r) => r.id)).size).toBe(1500)
      // Beyond 1000 in flight the rest travelled together: far fewer requests than alerts.
      const batched = done.filter((r) => (r.deliveries[0]?.digestOf ?? 1) > 1)
      expect(batched.length).toBeGreaterThanOrEqual(400)
      expect(hook.requests.length).toBeLessThan(1100)
      const s = a.stats()
      expect([s.alerts, s.delivered, s.failed, s.inFlight]).toEqual([1502, 1501, 0, 0])
      expect(s.channels.webhook?.delivered).toBe(1501)
      // A resolve for an alert that travelled in a flood batch finds where it went.
      const r = await a.dispatch({ source: 'kill_switch', title: 'breach 1400', severity: 'critical', labels: { n: '1400' }, status: 'resolved' })
      expect(r.suppressed).toBeUndefined()
      expect(r.deliveries.map((d) => [d.channel, d.ok])).toEqual([['webhook', true]])
    } finally {
      await a.close()
      await hook.close()
    }
  }, 30_000)

  it('with a store, every alert of a flood batch is in the history, settled, with its own receipt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pino-alerts-flood-'))
    const hook = await startWebhookServer({ defaultResponse: { hold: true } })
    const a = createAlerter({
      env: false,
      dedupe: false,
      store: { path: join(dir, 'alerts.db') },
      channels: { console: { enabled: false }, webhook: { url: hook.url } },
      routes: { critical: ['webhook'] }
    }, { env: {} })
    try {
      await a.ready
      for (let i = 0; i < 1500; i++) a.post(AlertEvent.from({ source: 'kill_switch', title: `breach ${i}`, severity: 'critical' }))
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(a.history({ limit: 2000 }).filter((e) => !e.settled)).toHaveLength(1500) // in the outbox first
      hook.setDefault({ status: 200, body: 'ok' })
      hook.release()
      await a.flush()
      const all = a.history({ limit: 2000 })
      expect(all).toHaveLength(1500)
      expect(all.filter((e) => !e.settled)).toHaveLength(0)
      const flooded = all.find((e) => e.title === 'breach 1499')!
      expect(a.receipts(flooded.id).map((r) => [r.channel, r.ok])).toEqual([['webhook', true]])
      expect(a.stats().inFlight).toBe(0)
    } finally {
      await a.close()
      await hook.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  it('post(): fire-and-forget, counted like dispatch, flushed before close', async () => {
    const hook = await startWebhookServer({ defaultResponse: { status: 200, body: 'ok' } })
    const a = createAlerter({ env: false, channels: { console: { enabled: false }, webhook: { url: hook.url } }, routes: { critical: ['webhook'] } }, { env: {} })
    await a.ready
    for (let i = 0; i < 50; i++) a.post(AlertEvent.from({ source: 's', title: `t${i}`, severity: 'critical' }))
    await a.flush()
    expect(a.stats().delivered).toBe(50)
    expect(hook.requests.length).toBe(50)
    await a.close()
    await hook.close()
  })
})

describe('forgetOldest', () => {
  it('keeps the newest entries, in order', () => {
    const m = new Map<number, number>()
    for (let i = 0; i < 200_000; i++) m.set(i, i)
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 1000; i++) m.set(200_000 + round * 1000 + i, 0)
      forgetOldest(m, 100_000)
    }
    expect(m.size).toBe(100_000)
    expect(m.keys().next().value).toBe(150_000)
    expect([...m.keys()].at(-1)).toBe(249_999)
  })
})
