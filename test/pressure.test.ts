import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { TokenBucket } from '../src/delivery/rate-limit.js'
import { resolveOptions } from '../src/options.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer } from './fakes/webhook-server.js'
import { readJsonl, tempDir } from './helpers/run.js'

async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

describe('rate limit options', () => {
  it('per-type defaults, overrides and false', () => {
    const o = resolveOptions({
      env: false,
      channels: {
        hook: { type: 'webhook', url: 'http://127.0.0.1:1/' },
        slow: { type: 'webhook', url: 'http://127.0.0.1:1/', rateLimit: { perSecond: 0.5 } },
        teams: { webhookUrl: 'http://127.0.0.1:1/t' },
        free: { type: 'teams', webhookUrl: 'http://127.0.0.1:1/t', rateLimit: false }
      }
    }, {})
    const rl = Object.fromEntries(o.channels.map((c) => [c.name, c.rateLimit]))
    expect(rl).toEqual({ console: undefined, hook: undefined, slow: { perSecond: 0.5, burst: 1 }, teams: { perSecond: 4, burst: 4 }, free: undefined })
  })

  it('the token bucket paces to just under the rate and honours a pause', () => {
    let now = 0
    const b = new TokenBucket({ perSecond: 2, burst: 2 }, () => now)
    expect(b.waitMs()).toBe(0)
    void b.take(); void b.take()
    expect(b.waitMs()).toBe(525) // 500 ms per token, 5% margin
    now = 525
    expect(b.waitMs()).toBe(0)
    b.pause(3000)
    expect(b.waitMs()).toBe(3000)
  })

  it('the interval is counted from the answer: a request that reached the service late does not let the next one leave early', () => {
    let now = 0
    const b = new TokenBucket({ perSecond: 1, burst: 1 }, () => now)
    void b.take()
    now = 800 // the answer came 800 ms after the request left (a busy event loop, a slow upload)
    b.answered()
    expect(b.waitMs()).toBe(1050) // a full interval from the answer, not 250 ms
    now = 1850
    expect(b.waitMs()).toBe(0)
  })
})

describe('circuit breaker (real webhook receiver down, then back)', () => {
  it('opens after 5 failures, later alerts go to the failover file at once, the half-open probe closes it after recovery', async () => {
    const port = await freePort()
    const dir = tempDir()
    const file = join(dir, 'a.jsonl')
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, webhook: { url: `http://127.0.0.1:${port}/hook`, retry: { maxAttempts: 2, initialMs: 20, maxMs: 20 } }, file: { path: file } },
      routes: { critical: ['webhook'] },
      failover: ['file']
    }, { env: {} })
    const started = Date.now()
    try {
      // Connection refused: five failed deliveries open the circuit.
      for (let i = 0; i < 5; i++) {
        const r = await a.dispatch({ source: 's', title: `down ${i}`, severity: 'critical' })
        expect(r.deliveries[0]).toMatchObject({ channel: 'webhook', ok: false, attempts: 2 })
        expect(r.deliveries[1]).toMatchObject({ channel: 'file', ok: true, standInFor: 'webhook' })
      }
      expect(a.stats().channels.webhook?.circuit).toBe('open')
      // While open: straight to the stand-in, no attempt, well under 100 ms.
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now()
        const r = await a.dispatch({ source: 's', title: `open ${i}`, severity: 'critical' })
        expect(performance.now() - t0).toBeLessThan(100)
        expect(r.deliveries[0]).toMatchObject({ channel: 'webhook', ok: false, attempts: 0 })
        expect(r.deliveries[0]?.error).toMatch(/circuit open/)
        expect(r.deliveries[1]).toMatchObject({ channel: 'file', ok: true, standInFor: 'webhook' })
      }
      // The receiver comes back 40 s after the outage began.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 40_000 - Date.now())))
      const hook = await startWebhookServer({ port })
      try {
        // The first probe (30 s after opening) met the dead receiver and re-opened the circuit; the next,
        // 30 s later, meets the live one and closes it.
        let delivered: string | undefined
        const deadline = Date.now() + 40_000
        let n = 0
        while (Date.now() < deadline) {
          const r = await a.dispatch({ source: 's', title: `probe ${n++}`, severity: 'critical' })
          if (r.deliveries[0]?.ok === true) { delivered = r.deliveries[0].channel; break }
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
        expect(delivered).toBe('webhook')
        expect(a.stats().channels.webhook?.circuit).toBe('closed')
        const after = await a.dispatch({ source: 's', title: 'after recovery', severity: 'critical' })
        expect(after.deliveries).toEqual([{ channel: 'webhook', ok: true, attempts: 1 }])
        expect(hook.requests.map((q) => q.json<{ title: string }>().title).slice(-2)).toEqual([`probe ${n - 1}`, 'after recovery'])
        // Every alert reached the webhook or the file; the file got exactly the ones the webhook did not.
        const inFile = readJsonl(file).map((e) => e.title)
        expect(inFile.slice(0, 10)).toEqual([0, 1, 2, 3, 4].map((i) => `down ${i}`).concat([0, 1, 2, 3, 4].map((i) => `open ${i}`)))
        expect(inFile.length + hook.requests.length).toBe(10 + n + 1)
      } finally {
        await a.close()
        await hook.close()
      }
    } finally {
      await a.close()
    }
  }, 120_000)
})

describe('bounded queue', () => {
  it('50 000 info alerts against a hung channel: the queue never exceeds maxQueue, drops are counted, a later critical is delivered on recovery', async () => {
    const hook = await startWebhookServer({ defaultResponse: { hold: true } })
    const notices: string[] = []
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, webhook: { url: hook.url, maxQueue: 1000, timeoutMs: 60_000, deliveryTimeoutMs: 120_000 } },
      routes: { info: ['webhook'], critical: ['webhook'] }
    }, { env: {}, reporter: new Reporter((t) => notices.push(t)), summaryIntervalMs: 200 })
    try {
      const results: Array<Promise<unknown>> = []
      let maxQueued = 0
      for (let i = 0; i < 50_000; i++) {
        results.push(a.dispatch({ source: 'flood', title: `info ${i}`, severity: 'info' }))
        if (i % 500 === 0) {
          await new Promise((resolve) => setImmediate(resolve))
          maxQueued = Math.max(maxQueued, a.stats().channels.webhook?.queued ?? 0)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
      const s = a.stats().channels.webhook!
      maxQueued = Math.max(maxQueued, s.queued)
      expect(maxQueued).toBeLessThanOrEqual(1000)
      expect(s.queued).toBe(1000)
      expect(s.inFlight).toBe(8)
      expect(s.dropped).toBe(50_000 - 1000 - 8)
      // The periodic stderr summary (every 200 ms here) counts every drop, once.
      const summaries = notices.filter((n) => n.startsWith('pino-alerts: summary: webhook:'))
      expect(summaries.length).toBeGreaterThan(0)
      expect(summaries.reduce((sum, n) => sum + Number(/(\d+) dropped/.exec(n)?.[1]), 0)).toBe(48_992)
      // A critical alert is never dropped: it takes the place of the oldest info.
      const critical = a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical' })
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(a.stats().channels.webhook?.queued).toBe(1000)
      expect(a.stats().channels.webhook?.dropped).toBe(50_000 - 1000 - 8 + 1)
      // Recovery: the receiver answers everything, held or new.
      hook.setDefault({ status: 200, body: 'ok' })
      hook.release()
      const r = await critical
      expect(r.deliveries).toEqual([{ channel: 'webhook', ok: true, attempts: 1 }])
      await a.flush()
      const end = a.stats().channels.webhook!
      expect(end.delivered).toBe(1000 + 8)
      expect(end.messages).toBe(hook.requests.length)
      expect(end.received).toBe(50_001)
      expect(end.delivered + end.dropped + end.failed).toBe(50_001)
      expect(hook.requests.some((q) => q.json<{ title: string }>().title === 'Kill switch triggered')).toBe(true)
      await Promise.all(results)
    } finally {
      await a.close()
      await hook.close()
    }
  }, 60_000)
})
