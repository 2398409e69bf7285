/**
 * The delivery wrapper (§8) seen from the outside: `createAlerter` with webhook channels pointed at
 * local fakes and a file channel in a temp dir, plus unit tests of the backoff and the HTTP → outcome
 * mapping.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter, type DispatchResult } from '../src/alerter.js'
import type { Channel, Outcome } from '../src/channels/channel.js'
import { Deliverer, type DeliveryReport } from '../src/delivery/deliverer.js'
import type { HttpResponse } from '../src/http/client.js'
import { isNotSent, outcomeFromError, outcomeFromResponse, parseRetryAfter } from '../src/http/outcome.js'
import { backoffMs } from '../src/delivery/retry.js'
import { AlertEvent } from '../src/event.js'
import { resolveOptions, type AlertsOptions, type ResolvedChannel } from '../src/options.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'

const FAST_RETRY = { maxAttempts: 5, initialMs: 20, maxMs: 200 }

/** Servers, alerters and temp dirs made by a test, closed after it whatever happened. */
let servers: WebhookServer[] = []
let alerters: Alerter[] = []
let dirs: string[] = []
let stderr: string[] = []

beforeEach(() => { servers = []; alerters = []; dirs = []; stderr = [] })
afterEach(async () => {
  // Together: closing a fake drops the requests it holds, which an alerter's close may be waiting for.
  await Promise.allSettled([...alerters.map(async (a) => await a.close()), ...servers.map(async (s) => await s.close())])
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function fake (): Promise<WebhookServer> {
  const s = await startWebhookServer()
  servers.push(s)
  return s
}

function tempDir (): string {
  const d = mkdtempSync(join(tmpdir(), 'pino-alerts-delivery-'))
  dirs.push(d)
  return d
}

/** An alerter that reads no environment, prints nothing on the console channel and captures its stderr notices. */
function alerter (options: AlertsOptions): Alerter {
  const a = createAlerter({
    ...options,
    channels: { console: { enabled: false }, ...options.channels }
  }, { env: {}, reporter: new Reporter((text) => { stderr.push(text) }) })
  alerters.push(a)
  return a
}

function report (result: DispatchResult, channel: string): DeliveryReport {
  const r = result.deliveries.find((d) => d.channel === channel)
  if (r === undefined) throw new Error(`no delivery report for "${channel}" in ${JSON.stringify(result)}`)
  return r
}

const critical = { source: 'risk_gate', title: 'Order blocked', severity: 'critical' as const, labels: { desk: 'fx' } }

describe('retries through the delivery wrapper', () => {
  it('503, 503, 200 → delivered on the 3rd attempt, every attempt with the same webhook-id', async () => {
    const hook = await fake()
    hook.script({ status: 503, body: 'down' }, { status: 503, body: 'still down' }, { status: 200 })
    const a = alerter({ channels: { webhook: { url: hook.url, retry: FAST_RETRY } }, routes: { critical: ['webhook'] } })
    const result = await a.dispatch(critical)

    expect(report(result, 'webhook')).toMatchObject({ ok: true, attempts: 3 })
    expect(report(result, 'webhook').error).toBeUndefined()
    expect(hook.requests.length).toBe(3)
    const ids = hook.requests.map((r) => r.header('webhook-id'))
    expect(ids).toEqual([result.id, result.id, result.id])
    // the same body each time: a retry is the same message
    expect(new Set(hook.requests.map((r) => r.text())).size).toBe(1)
    expect(hook.requests.map((r) => r.status)).toEqual([503, 503, 200])
    expect(a.stats().channels.webhook).toMatchObject({ delivered: 1, failed: 0, retried: 2 })
  })

  it('429 with Retry-After: 1 → the next attempt waits at least 1 s (not the 20 ms backoff)', async () => {
    const hook = await fake()
    hook.script({ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' }, { status: 200 })
    const a = alerter({ channels: { webhook: { url: hook.url, retry: FAST_RETRY } }, routes: { critical: ['webhook'] } })
    const result = await a.dispatch(critical)

    expect(report(result, 'webhook')).toMatchObject({ ok: true, attempts: 2 })
    const [first, second] = await hook.waitFor(2)
    const gap = (second?.arrivedAt ?? 0) - (first?.arrivedAt ?? 0)
    // Timers have millisecond granularity: allow 1 ms of rounding, nothing more.
    expect(gap).toBeGreaterThanOrEqual(999)
    expect(gap).toBeLessThan(2500)
  })

  it('400 → one request, no retry; the failover channel stands in and writes the event', async () => {
    const hook = await fake()
    hook.setDefault({ status: 400, body: 'bad payload' })
    const file = join(tempDir(), 'nested', 'alerts.jsonl')
    const a = alerter({
      channels: { webhook: { url: hook.url, retry: FAST_RETRY }, file: { path: file } },
      routes: { critical: ['webhook'] },
      failover: ['file']
    })
    const result = await a.dispatch(critical)

    const hookReport = report(result, 'webhook')
    expect(hookReport).toMatchObject({ ok: false, attempts: 1 })
    expect(hookReport.error).toContain('400')
    expect(hookReport.standInFor).toBeUndefined()
    expect(report(result, 'file')).toMatchObject({ ok: true, attempts: 1, standInFor: 'webhook' })
    expect(result.deliveries.length).toBe(2)

    await new Promise((resolve) => setTimeout(resolve, 100)) // a retry (20 ms backoff) would have come by now
    expect(hook.requests.length).toBe(1)

    await a.close()
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string, title: string, severity: string })
    expect(lines.length).toBe(1)
    expect(lines[0]).toMatchObject({ id: result.id, title: 'Order blocked', severity: 'critical' })
    expect(a.stats()).toMatchObject({ delivered: 1, failed: 0 })
  })

  it('an attempt timeout ends a hung delivery: 2 attempts of 200 ms fail within about 1 s', async () => {
    const hook = await fake()
    hook.setDefault({ hold: true })
    const a = alerter({
      channels: { webhook: { url: hook.url, timeoutMs: 200, retry: { maxAttempts: 2, initialMs: 20, maxMs: 20 } } },
      routes: { critical: ['webhook'] }
    })
    await a.ready
    const t0 = performance.now()
    const result = await a.dispatch(critical)
    const elapsed = performance.now() - t0

    const r = report(result, 'webhook')
    expect(r).toMatchObject({ ok: false, attempts: 2 })
    expect(r.error).toMatch(/timed out after 200 ms/)
    expect(r.error).toMatch(/gave up after 2 attempts/)
    expect(elapsed).toBeGreaterThanOrEqual(2 * 200)
    expect(elapsed).toBeLessThan(1000)
    expect(hook.requests.length).toBe(2)
    // the alert was reported as undelivered on stderr
    expect(stderr.join('')).toContain(`alert ${result.id}`)
  })

  it('a channel that stays down: gives up after maxAttempts, stats count the failure', async () => {
    const hook = await fake()
    hook.setDefault({ status: 503 })
    const a = alerter({ channels: { webhook: { url: hook.url, retry: { maxAttempts: 3, initialMs: 5, maxMs: 10 } } }, routes: { critical: ['webhook'] } })
    const result = await a.dispatch(critical)
    expect(report(result, 'webhook')).toMatchObject({ ok: false, attempts: 3 })
    expect(report(result, 'webhook').error).toMatch(/HTTP 503.*gave up after 3 attempts/)
    expect(hook.requests.length).toBe(3)
    expect(a.stats()).toMatchObject({ alerts: 1, delivered: 0, failed: 1 })
    expect(a.stats().channels.webhook).toMatchObject({ received: 1, delivered: 0, failed: 1, retried: 2 })
  })
})

describe('secrets in delivery errors', () => {
  const SECRET_PATH = 'SECRETPATH123'
  const SECRET = 'whsec_' + randomBytes(24).toString('base64')

  function expectClean (texts: Array<string | undefined>): void {
    const all = texts.filter((t): t is string => t !== undefined)
    expect(all.length).toBeGreaterThan(0)
    for (const t of all) {
      expect(t).not.toContain(SECRET_PATH)
      expect(t).not.toContain(SECRET)
      expect(t).not.toContain(SECRET.slice('whsec_'.length))
    }
  }

  it.each([
    ['HTTP 500', { status: 500, body: 'internal error' }],
    ['HTTP 401', { status: 401, body: 'unauthorized' }],
    ['dropped connection', { destroy: true }]
  ] as const)('a failed delivery (%s) shows neither the webhook path nor the secret', async (_what, answer) => {
    const hook = await fake()
    hook.setDefault(answer)
    const a = alerter({
      channels: { webhook: { url: `${hook.origin}/hooks/${SECRET_PATH}`, secret: SECRET, retry: { maxAttempts: 2, initialMs: 5, maxMs: 5 } } },
      routes: { critical: ['webhook'] }
    })
    const result = await a.dispatch(critical)
    const r = report(result, 'webhook')
    expect(r.ok).toBe(false)
    expect(hook.requests.length).toBeGreaterThan(0)
    expect(hook.requests[0]?.path).toBe(`/hooks/${SECRET_PATH}`) // the path was really used
    await a.close()
    expectClean([r.error, result.error, ...stderr])
  })

  it('an unreachable webhook shows neither the path nor the secret', async () => {
    const hook = await fake()
    const url = `${hook.origin}/hooks/${SECRET_PATH}`
    await hook.close()
    const a = alerter({
      channels: { webhook: { url, secret: SECRET, retry: { maxAttempts: 2, initialMs: 5, maxMs: 5 } } },
      routes: { critical: ['webhook'] }
    })
    const result = await a.dispatch(critical)
    const r = report(result, 'webhook')
    expect(r).toMatchObject({ ok: false, attempts: 2 })
    await a.close()
    expectClean([r.error, ...stderr])
  })

  it('a timed-out webhook shows neither the path nor the secret', async () => {
    const hook = await fake()
    hook.setDefault({ hold: true })
    const a = alerter({
      channels: { webhook: { url: `${hook.origin}/hooks/${SECRET_PATH}`, secret: SECRET, timeoutMs: 100, retry: { maxAttempts: 1 } } },
      routes: { critical: ['webhook'] }
    })
    const result = await a.dispatch(critical)
    const r = report(result, 'webhook')
    expect(r).toMatchObject({ ok: false, attempts: 1 })
    expect(r.error).toMatch(/timed out/)
    await a.close()
    expectClean([r.error, ...stderr])
  })

  it('a receiver whose error page echoes the request path (Express: "Cannot POST /…") does not leak it', async () => {
    const hook = await fake()
    hook.setDefault((req) => ({ status: 404, headers: { 'content-type': 'text/html' }, body: `<pre>Cannot ${req.method} ${req.url}</pre>` }))
    const a = alerter({
      channels: { webhook: { url: `${hook.origin}/hooks/${SECRET_PATH}`, secret: SECRET, retry: FAST_RETRY } },
      routes: { critical: ['webhook'] }
    })
    const result = await a.dispatch(critical)
    const r = report(result, 'webhook')
    expect(r).toMatchObject({ ok: false, attempts: 1 })
    expect(r.error).toContain('404')
    await a.close()
    expectClean([r.error, ...stderr])
  })
})

describe('parallel delivery', () => {
  it('two slow channels (300 ms each) are served at the same time', async () => {
    const [a1, b1] = await Promise.all([fake(), fake()])
    a1.setDefault({ status: 200, delayMs: 300 })
    b1.setDefault({ status: 200, delayMs: 300 })
    const a = alerter({
      channels: {
        'hook-a': { type: 'webhook', url: a1.url },
        'hook-b': { type: 'webhook', url: b1.url }
      },
      routes: { critical: ['hook-a', 'hook-b'] }
    })
    await a.ready
    const t0 = performance.now()
    const result = await a.dispatch(critical)
    const elapsed = performance.now() - t0

    expect(report(result, 'hook-a')).toMatchObject({ ok: true, attempts: 1 })
    expect(report(result, 'hook-b')).toMatchObject({ ok: true, attempts: 1 })
    expect(a1.requests.length).toBe(1)
    expect(b1.requests.length).toBe(1)
    expect(elapsed).toBeGreaterThanOrEqual(300 - 5)
    expect(elapsed).toBeLessThan(500)
    // both requests were in flight together
    expect(Math.abs((a1.requests[0]?.arrivedAt ?? 0) - (b1.requests[0]?.arrivedAt ?? 1e9))).toBeLessThan(150)
  })
})

describe('the wrapper around any channel (Deliverer with a stub channel)', () => {
  const SECRET = 'whsec_' + randomBytes(24).toString('base64')
  const event = AlertEvent.from(critical)

  function cfgOf (extra: Record<string, unknown> = {}): ResolvedChannel {
    const opts = resolveOptions({
      env: false,
      channels: { console: { enabled: false }, stub: { type: 'webhook', url: 'http://127.0.0.1:9/x', secret: SECRET, ...extra } }
    }, {})
    const cfg = opts.channels.find((c) => c.name === 'stub')
    if (cfg === undefined) throw new Error('no stub channel')
    return cfg
  }

  /** A channel whose sends answer from a list (the last one repeats), counting calls. */
  function stub (outcomes: Array<Outcome | 'hang'>, messages = 1): Channel<string> & { calls: number } {
    const ch = {
      name: 'stub',
      type: 'webhook',
      calls: 0,
      render: (events: readonly AlertEvent[]) => Array.from({ length: messages }, (_, i) => `${i}:${events.map((e) => e.id).join(',')}`),
      send: async () => {
        const o = outcomes[Math.min(ch.calls++, outcomes.length - 1)] as Outcome | 'hang'
        // 'hang': ignores its signal and never settles
        return o === 'hang' ? await new Promise<Outcome>(() => {}) : o
      }
    }
    return ch
  }

  it('masks the channel\'s secrets in errors a channel lets slip', async () => {
    const ch = stub([{ ok: false, retryable: false, error: `stub: rejected with key ${SECRET}` }])
    const r = await new Deliverer(ch, cfgOf(), new AbortController().signal).deliver(event)
    expect(r).toMatchObject({ ok: false, attempts: 1 })
    expect(r.error).not.toContain(SECRET)
    expect(r.error).toContain('***')
    expect(r.error).toContain('permanent, not retried')
  })

  it('a channel that ignores its signal still cannot hold an attempt past timeoutMs', async () => {
    const ch = stub(['hang'])
    const t0 = performance.now()
    const r = await new Deliverer(ch, cfgOf({ timeoutMs: 100, retry: { maxAttempts: 2, initialMs: 10, maxMs: 10 } }), new AbortController().signal).deliver(event)
    const elapsed = performance.now() - t0
    expect(r).toMatchObject({ ok: false, attempts: 2 })
    expect(r.error).toMatch(/timed out after 100 ms/)
    expect(ch.calls).toBe(2)
    expect(elapsed).toBeGreaterThanOrEqual(200 - 5)
    expect(elapsed).toBeLessThan(800)
  })

  it('a channel whose render throws: not sent, attempts 0, error masked', async () => {
    const ch = stub([{ ok: true }])
    ch.render = () => { throw new Error(`cannot render with ${SECRET}`) }
    const r = await new Deliverer(ch, cfgOf(), new AbortController().signal).deliver(event)
    expect(r).toMatchObject({ ok: false, attempts: 0 })
    expect(r.error).toMatch(/could not render/)
    expect(r.error).not.toContain(SECRET)
    expect(ch.calls).toBe(0)
  })

  it('every message of a render is sent, and attempts count them all', async () => {
    const ch = stub([{ ok: false, retryable: true, error: 'stub: busy' }, { ok: true }], 3)
    const r = await new Deliverer(ch, cfgOf({ retry: { maxAttempts: 3, initialMs: 1, maxMs: 1 } }), new AbortController().signal).deliver(event)
    expect(r).toEqual({ channel: 'stub', ok: true, attempts: 4 })
    expect(ch.calls).toBe(4)
  })

  it('the circuit opens after 5 failed deliveries in a row: the channel turns unhealthy and is not called', async () => {
    const ch = stub([{ ok: false, retryable: false, error: 'stub: refused' }])
    const d = new Deliverer(ch, cfgOf(), new AbortController().signal)
    for (let i = 0; i < 5; i++) {
      expect(d.healthy).toBe(true)
      expect(await d.deliver(event)).toMatchObject({ ok: false, attempts: 1 })
    }
    expect(d.healthy).toBe(false)
    const r = await d.deliver(event)
    expect(r).toMatchObject({ ok: false, attempts: 0 })
    expect(r.error).toMatch(/circuit open/)
    expect(ch.calls).toBe(5)
    expect(d.stats()).toMatchObject({ received: 6, failed: 6, circuit: 'open' })
  })

  it('a send that throws an invalid-argument error (the alert\'s own content, nothing sent) 6 times: permanent, no retries, the circuit stays closed', async () => {
    const ch = stub([{ ok: true }])
    // What undici throws for a header value it refuses (InvalidArgumentError), and Node's http for a bad character.
    const thrown = [
      Object.assign(new Error('invalid webhook-id header'), { name: 'InvalidArgumentError', code: 'UND_ERR_INVALID_ARG' }),
      Object.assign(new TypeError('Invalid character in header content ["webhook-id"]'), { code: 'ERR_INVALID_CHAR' })
    ]
    ch.send = async () => { throw thrown[ch.calls++ % 2] as Error }
    const d = new Deliverer(ch, cfgOf({ retry: { maxAttempts: 5, initialMs: 1, maxMs: 1 } }), new AbortController().signal)
    for (let i = 0; i < 6; i++) {
      const r = await d.deliver(event)
      expect(r).toMatchObject({ ok: false, attempts: 1 })
      expect(r.error).toMatch(/permanent, not retried/)
      expect(d.circuit.state).toBe('closed')
    }
    expect(ch.calls).toBe(6)
    expect(d.healthy).toBe(true)
    expect(d.stats()).toMatchObject({ received: 6, failed: 6, retried: 0, circuit: 'closed' })
    // The channel is as healthy as it was: the next good alert goes out.
    ch.send = async () => { ch.calls++; return { ok: true } }
    expect(await d.deliver(event)).toMatchObject({ ok: true, attempts: 1 })
  })

  it('an invalid-argument error does not reset a run of service failures either (it says nothing about the service)', async () => {
    const ch = stub([{ ok: false, retryable: false, error: 'stub: refused' }])
    const send = ch.send
    const d = new Deliverer(ch, cfgOf(), new AbortController().signal)
    for (let i = 0; i < 4; i++) await d.deliver(event)
    ch.send = async () => { ch.calls++; throw Object.assign(new Error('invalid webhook-id header'), { code: 'UND_ERR_INVALID_ARG' }) }
    await d.deliver(event)
    expect(d.circuit.state).toBe('closed')
    ch.send = send
    await d.deliver(event)
    expect(d.circuit.state).toBe('open')
  })

  it('the shutdown signal cuts a long Retry-After wait short', async () => {
    const ch = stub([{ ok: false, retryable: true, retryAfterMs: 60_000, error: 'stub: slow down' }, { ok: true }])
    const stop = new AbortController()
    const d = new Deliverer(ch, cfgOf(), stop.signal)
    setTimeout(() => stop.abort(new Error('shutdown deadline reached')), 50).unref()
    const t0 = performance.now()
    const r = await d.deliver(event)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(r).toMatchObject({ ok: false, attempts: 1 })
    expect(r.error).toMatch(/shutdown deadline/)
    expect(ch.calls).toBe(1)
  })
})

describe('backoffMs', () => {
  const policy = { maxAttempts: 5, initialMs: 500, maxMs: 30_000 }

  it('doubles from initialMs, with "equal jitter" between half and all of it', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, policy, undefined, () => 0))).toEqual([250, 500, 1000, 2000])
    expect([1, 2, 3, 4].map((n) => backoffMs(n, policy, undefined, () => 1))).toEqual([500, 1000, 2000, 4000])
    expect(backoffMs(2, policy, undefined, () => 0.5)).toBe(750)
  })

  it('stays within [base/2, base] with the real random source', () => {
    for (let i = 0; i < 200; i++) {
      const v = backoffMs(3, policy)
      expect(v).toBeGreaterThanOrEqual(1000)
      expect(v).toBeLessThanOrEqual(2000)
    }
    const seen = new Set(Array.from({ length: 50 }, () => backoffMs(5, policy)))
    expect(seen.size).toBeGreaterThan(1) // jittered, not in step
  })

  it('is capped at maxMs', () => {
    expect(backoffMs(20, policy, undefined, () => 1)).toBe(30_000)
    expect(backoffMs(20, policy, undefined, () => 0)).toBe(15_000)
    expect(backoffMs(7, { maxAttempts: 9, initialMs: 100, maxMs: 1000 }, undefined, () => 1)).toBe(1000)
  })

  it('never comes before what the service asked (Retry-After)', () => {
    expect(backoffMs(1, policy, 5000, () => 1)).toBe(5000)
    expect(backoffMs(1, policy, 0, () => 1)).toBe(500)
    // a backoff already longer than Retry-After stays as it is
    expect(backoffMs(4, policy, 100, () => 1)).toBe(4000)
  })

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(backoffMs(1, { maxAttempts: 5, initialMs: 3, maxMs: 100 }, undefined, () => 0.3))).toBe(true)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T12:00:00.000Z')

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1000)
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 3 ', now)).toBe(3000)
    expect(parseRetryAfter('0', now)).toBe(0)
    expect(parseRetryAfter('1.5', now)).toBe(1500)
  })

  it('reads an HTTP date, relative to now, never negative', () => {
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000)
    expect(parseRetryAfter('Sun, 01 Jun 2025 11:59:00 GMT', now)).toBe(0)
  })

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000)
  })

  it('ignores what is absent or unreadable', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter('   ', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter([], now)).toBeUndefined()
  })
})

describe('outcomeFromResponse', () => {
  const res = (status: number, body = '', headers: HttpResponse['headers'] = {}): HttpResponse => ({ status, headers, body })

  it('2xx → ok', () => {
    for (const s of [200, 201, 202, 204]) expect(outcomeFromResponse(res(s), 'hook')).toEqual({ ok: true })
  })

  it('408, 429 and 5xx → retryable, with the status', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) {
      expect(outcomeFromResponse(res(s), 'hook')).toMatchObject({ ok: false, retryable: true, status: s })
    }
  })

  it('other 4xx → permanent', () => {
    for (const s of [400, 401, 403, 404, 410, 413, 422]) {
      expect(outcomeFromResponse(res(s), 'hook')).toMatchObject({ ok: false, retryable: false, status: s })
    }
  })

  it('a retryable answer carries Retry-After (seconds or date) as retryAfterMs', () => {
    expect(outcomeFromResponse(res(429, '', { 'retry-after': '7' }), 'hook')).toMatchObject({ retryable: true, retryAfterMs: 7000 })
    expect(outcomeFromResponse(res(503, '', { 'retry-after': '2' }), 'hook')).toMatchObject({ retryable: true, retryAfterMs: 2000 })
    const date = outcomeFromResponse(res(503, '', { 'retry-after': new Date(Date.now() + 10_000).toUTCString() }), 'hook')
    expect(date.ok).toBe(false)
    if (!date.ok) {
      expect(date.retryAfterMs).toBeGreaterThan(8000)
      expect(date.retryAfterMs).toBeLessThanOrEqual(10_000)
    }
    const none = outcomeFromResponse(res(503), 'hook')
    expect(none.ok === false && 'retryAfterMs' in none).toBe(false)
  })

  it('the error names what failed, the status and a short, one-line part of the body', () => {
    const out = outcomeFromResponse(res(400, '  {"error":\n  "bad field"}  ' + 'x'.repeat(5000)), 'ops-hook (http://127.0.0.1:1/***)')
    expect(out.ok).toBe(false)
    if (out.ok) return
    expect(out.error.startsWith('ops-hook (http://127.0.0.1:1/***): HTTP 400')).toBe(true)
    expect(out.error).toContain('{"error": "bad field"}')
    expect(out.error).not.toContain('\n')
    expect(out.error.length).toBeLessThan(400)
  })
})

describe('outcomeFromError: a request refused before sending', () => {
  const live = new AbortController().signal
  const err = (message: string, code: string): Error => Object.assign(new Error(message), { code })

  it('a header undici or Node refuses (the alert\'s content) → permanent and notSent', () => {
    for (const e of [
      err('invalid webhook-id header', 'UND_ERR_INVALID_ARG'),
      err('invalid header key', 'UND_ERR_INVALID_ARG'),
      err('Invalid character in header content ["webhook-id"]', 'ERR_INVALID_CHAR'),
      err('Invalid value "x" for header "a"', 'ERR_HTTP_INVALID_HEADER_VALUE')
    ]) {
      const o = outcomeFromError(e, 'hook', live)
      expect(o, e.message).toMatchObject({ ok: false, retryable: false, notSent: true })
      expect(isNotSent(o)).toBe(true)
      if (!o.ok) expect(o.error).toContain(e.message)
    }
  })

  it('the same code for a proxy\'s 407 (sent, answered) or a configuration error is no such thing', () => {
    const proxy = outcomeFromError(err('Proxy Authentication Required (407)', 'UND_ERR_INVALID_ARG'), 'hook', live)
    expect(proxy).toMatchObject({ ok: false, retryable: false })
    expect(isNotSent(proxy)).toBe(false)
    const config = outcomeFromError(err('invalid url', 'UND_ERR_INVALID_ARG'), 'hook', live)
    expect(isNotSent(config)).toBe(false)
    expect(isNotSent(outcomeFromError(err('connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'), 'hook', live))).toBe(false)
  })
})
