import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../../src/alerter.js'
import { create, signStandardWebhook, type WebhookMessage } from '../../src/channels/webhook.js'
import { AlertEvent, type AlertEventJSON } from '../../src/event.js'
import type { ResolvedChannel } from '../../src/options.js'
import { startWebhookServer, type RecordedRequest, type WebhookServer } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'
import { endTransport } from '../helpers/run.js'

const SECRET = 'whsec_' + randomBytes(24).toString('base64')
const SECRET_PATH = 'hooks/T0SECRET/B0PATH/' + randomBytes(8).toString('hex')

const webhookConfig = (config: Record<string, unknown>): ResolvedChannel => resolvedChannel('webhook', config)

runChannelSuite<WebhookMessage>('webhook', (server) => ({
  channel: create(webhookConfig({ url: `${server.origin}/${SECRET_PATH}`, secret: SECRET })),
  secrets: [SECRET, SECRET.slice('whsec_'.length), SECRET_PATH, SECRET_PATH.split('/').at(-1) as string]
}), {}, {
  // The JSON body is itself a string inside the message: look at the payload the service receives.
  messageText: (messages) => messages.map((m) => m.body).join('\n')
})

/** Node's parsed headers as the flat string record `standardwebhooks` expects. */
function headerRecord (req: RecordedRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

describe('webhook channel', () => {
  let server: WebhookServer
  const signal = (): AbortSignal => AbortSignal.timeout(5000)

  beforeAll(async () => { server = await startWebhookServer() })
  afterAll(async () => { await server.close() })
  beforeEach(() => { server.reset() })

  async function sendAll (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<RecordedRequest[]> {
    const messages = channel.render(events)
    for (const m of messages) expect(await channel.send(m, { signal: signal() })).toEqual({ ok: true })
    return await server.waitFor(messages.length)
  }

  it('POSTs one event as JSON equal to AlertEvent.toJSON()', async () => {
    const channel = create(webhookConfig({ url: `${server.origin}/in/alerts?team=risk` }))
    const event = sampleEvent({ trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) } })
    const [req] = await sendAll(channel, [event])
    expect(req?.method).toBe('POST')
    expect(req?.url).toBe('/in/alerts?team=risk')
    expect(req?.header('content-type')).toMatch(/^application\/json/)
    expect(req?.json()).toEqual(event.toJSON())
    // and the receiver can rebuild the very same event
    expect(AlertEvent.fromJSON(req?.text()).toJSON()).toEqual(event.toJSON())
  })

  it('POSTs a digest as { events: [...] } with every event', async () => {
    const channel = create(webhookConfig({ url: server.url }))
    const events = [
      sampleEvent({ severity: 'warn', title: 'w' }),
      sampleEvent({ severity: 'critical', title: 'c' }),
      sampleEvent({ severity: 'info', title: 'i' })
    ]
    const reqs = await sendAll(channel, events)
    expect(reqs.length).toBe(1)
    const body = reqs[0]?.json<{ events: AlertEventJSON[] }>()
    expect(Object.keys(body ?? {})).toEqual(['events'])
    expect(body?.events.length).toBe(3)
    const byId = new Map(body?.events.map((e) => [e.id, e]))
    for (const e of events) expect(byId.get(e.id)).toEqual(e.toJSON())
  })

  it('sends the configured extra headers', async () => {
    const channel = create(webhookConfig({
      url: server.url,
      headers: { 'x-team': 'risk', authorization: 'Bearer t0k3n', 'content-type': 'text/plain', 'webhook-id': 'forged' }
    }))
    const event = sampleEvent()
    const [req] = await sendAll(channel, [event])
    expect(req?.header('x-team')).toBe('risk')
    expect(req?.header('authorization')).toBe('Bearer t0k3n')
    // extra headers never replace the ones the protocol needs
    expect(req?.header('content-type')).toMatch(/^application\/json/)
    expect(req?.header('webhook-id')).toBe(event.id)
  })

  it('webhook-id is the event id (the receivers\' idempotency key), also without a secret', async () => {
    const channel = create(webhookConfig({ url: server.url }))
    const event = sampleEvent({ id: 'evt-1234-fixed' })
    const [req] = await sendAll(channel, [event])
    expect(req?.header('webhook-id')).toBe('evt-1234-fixed')
    expect(req?.header('webhook-signature')).toBeUndefined()
  })

  it('a digest\'s webhook-id is stable for the same events (a retried digest is the same message)', () => {
    const channel = create(webhookConfig({ url: server.url }))
    const events = [sampleEvent(), sampleEvent({ severity: 'warn' })]
    const a = channel.render(events)
    const b = channel.render(events)
    expect(a[0]?.id).toBe(b[0]?.id)
    const other = channel.render([events[0] as AlertEvent, sampleEvent()])
    expect(other[0]?.id).not.toBe(a[0]?.id)
    for (const e of events) expect(a[0]?.id).not.toBe(e.id)
  })

  it('with a whsec_ secret the request is signed per Standard Webhooks and verifies', async () => {
    const channel = create(webhookConfig({ url: server.url, secret: SECRET }))
    const event = sampleEvent({ title: 'Signed alert' })
    const before = Math.floor(Date.now() / 1000)
    const [req] = await sendAll(channel, [event])
    if (req === undefined) throw new Error('no request')
    const headers = headerRecord(req)
    expect(headers['webhook-id']).toBe(event.id)
    const ts = Number(headers['webhook-timestamp'])
    expect(ts).toBeGreaterThanOrEqual(before)
    expect(ts).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)

    const verified = new Webhook(SECRET).verify(req.text(), headers)
    expect(verified).toEqual(event.toJSON())
    // the body as raw bytes verifies too
    expect(() => new Webhook(SECRET).verify(req.body, headers)).not.toThrow()
  })

  it('verification fails when the body, the id or the timestamp is tampered with, or the key is wrong', async () => {
    const channel = create(webhookConfig({ url: server.url, secret: SECRET }))
    const [req] = await sendAll(channel, [sampleEvent({ title: 'Amount 100' })])
    if (req === undefined) throw new Error('no request')
    const headers = headerRecord(req)
    const wh = new Webhook(SECRET)
    expect(() => wh.verify(req.text(), headers)).not.toThrow()
    expect(() => wh.verify(req.text().replace('Amount 100', 'Amount 900'), headers)).toThrow()
    expect(() => wh.verify(req.text(), { ...headers, 'webhook-id': 'someone-else' })).toThrow()
    expect(() => wh.verify(req.text(), { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) })).toThrow()
    expect(() => new Webhook('whsec_' + randomBytes(24).toString('base64')).verify(req.text(), headers)).toThrow()
  })

  it('a signed digest verifies too', async () => {
    const channel = create(webhookConfig({ url: server.url, secret: SECRET }))
    const [req] = await sendAll(channel, [sampleEvent(), sampleEvent({ severity: 'info' })])
    if (req === undefined) throw new Error('no request')
    expect(() => new Webhook(SECRET).verify(req.text(), headerRecord(req))).not.toThrow()
  })

  it('a receiver that answers late (held, then released) → ok', async () => {
    const channel = create(webhookConfig({ url: server.url }))
    server.script({ hold: true })
    const [message] = channel.render([sampleEvent()])
    const sending = channel.send(message as WebhookMessage, { signal: signal() })
    await server.waitFor(1)
    expect(server.held).toBe(1)
    server.release({ status: 204 })
    expect(await sending).toEqual({ ok: true })
    expect(server.held).toBe(0)
    expect(server.requests[0]?.status).toBe(204)
  })

  it('a body over the receiver\'s size limit (413) is a permanent failure', async () => {
    const small = await startWebhookServer({ maxBodyBytes: 2048 })
    try {
      const channel = create(webhookConfig({ url: small.url }))
      const [message] = channel.render([sampleEvent({ metadata: { dump: 'x'.repeat(10_000) } })])
      const out = await channel.send(message as WebhookMessage, { signal: signal() })
      expect(out).toMatchObject({ ok: false, retryable: false, status: 413 })
      expect(small.requests.length).toBe(1)
      expect(small.requests[0]?.status).toBe(413)
      // a small one still goes through
      const [ok] = channel.render([sampleEvent()])
      expect(await channel.send(ok as WebhookMessage, { signal: signal() })).toEqual({ ok: true })
    } finally {
      await small.close()
    }
  })

  it('signStandardWebhook matches the reference implementation', () => {
    const body = '{"hello":"world"}'
    const ts = 1_700_000_000
    expect(signStandardWebhook(SECRET, 'msg_1', ts, body)).toBe(new Webhook(SECRET).sign('msg_1', new Date(ts * 1000), body))
  })
})

describe('webhook maxBodyBytes: every request within the cap (a receiver that answers 413 above it)', () => {
  const CAP = 64 * 1024
  const MARK = /… \[truncated\]$/
  let server: WebhookServer
  const signal = (): AbortSignal => AbortSignal.timeout(5000)

  beforeAll(async () => { server = await startWebhookServer({ maxBodyBytes: CAP }) })
  afterAll(async () => { await server.close() })
  beforeEach(() => { server.reset() })

  /** 200 alerts of about 1.3 kB each (some 260 kB in all), mixed severities, distinct times. */
  const twoHundred = (): AlertEvent[] => Array.from({ length: 200 }, (_, i) => sampleEvent({
    severity: (['info', 'warn', 'critical'] as const)[i % 3],
    title: `alert ${i}`,
    body: `body of alert ${i} with "quotes" and ünïcödé 😀 `.repeat(30),
    timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, i)).toISOString()
  }))

  /** Every request's events (a request is one alert's JSON or `{ events }`). */
  const eventsOf = (req: RecordedRequest): AlertEventJSON[] => {
    const body = req.json<AlertEventJSON | { events: AlertEventJSON[] }>()
    return 'events' in body ? body.events : [body]
  }

  async function sendAll (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<RecordedRequest[]> {
    const messages = channel.render(events)
    for (const m of messages) expect(await channel.send(m, { signal: signal() })).toEqual({ ok: true })
    const reqs = await server.waitFor(messages.length)
    for (const r of reqs) expect(r.status).toBe(200)
    return reqs
  }

  it('a digest of 200 alerts with maxBodyBytes 64 KiB arrives whole in several signed requests, each within the cap, none refused', async () => {
    const channel = create(webhookConfig({ url: server.url, secret: SECRET, maxBodyBytes: CAP }))
    const events = twoHundred()
    const messages = channel.render(events)
    expect(messages.length).toBeGreaterThan(1)
    for (const m of messages) expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(CAP)
    const reqs = await sendAll(channel, events)
    expect(reqs).toHaveLength(messages.length)
    for (const r of reqs) {
      expect(r.body.length).toBeLessThanOrEqual(CAP)
      expect(() => new Webhook(SECRET).verify(r.text(), headerRecord(r))).not.toThrow()
    }
    // every alert once, intact (nothing cut), most severe first across the requests
    const got = reqs.flatMap(eventsOf)
    expect(got).toHaveLength(200)
    const byId = new Map(events.map((e) => [e.id, e]))
    expect(new Set(got.map((e) => e.id)).size).toBe(200)
    for (const e of got) expect(e).toEqual(byId.get(e.id)?.toJSON())
    const rank = { critical: 2, warn: 1, info: 0 }
    for (let i = 1; i < got.length; i++) expect(rank[(got[i] as AlertEventJSON).severity]).toBeLessThanOrEqual(rank[(got[i - 1] as AlertEventJSON).severity])
    // each part is its own message: its own webhook-id, stable for the same events
    expect(new Set(reqs.map((r) => r.header('webhook-id'))).size).toBe(reqs.length)
    expect(channel.render(events).map((m) => m.id)).toEqual(messages.map((m) => m.id))
  })

  it('a single 2 MiB alert arrives cut within the cap, marked, the rest of it intact; it still verifies and parses', async () => {
    const channel = create(webhookConfig({ url: server.url, secret: SECRET, maxBodyBytes: CAP }))
    const big = sampleEvent({ body: 'x'.repeat(2 * 1024 * 1024) })
    const messages = channel.render([big])
    expect(messages).toHaveLength(1)
    expect(messages[0]?.id).toBe(big.id)
    const [req] = await sendAll(channel, [big])
    if (req === undefined) throw new Error('no request')
    expect(req.body.length).toBeLessThanOrEqual(CAP)
    // as much of the body as fits
    expect(req.body.length).toBeGreaterThan(CAP - 1024)
    expect(() => new Webhook(SECRET).verify(req.text(), headerRecord(req))).not.toThrow()
    const got = req.json<AlertEventJSON & { truncated?: string[] }>()
    expect(got.truncated).toEqual(['body'])
    expect(got.body).toMatch(MARK)
    expect(got.body.startsWith('xxxx')).toBe(true)
    const { body: _b, truncated: _t, ...rest } = got
    const { body: _ob, ...original } = big.toJSON()
    expect(rest).toEqual(original)
    expect(AlertEvent.fromJSON(req.text()).id).toBe(big.id)
  })

  it('without maxBodyBytes the cap is 1 MiB: a 2 MiB alert reaches a receiver that takes 1 MiB, cut', async () => {
    const mib = await startWebhookServer({ maxBodyBytes: 1024 * 1024 })
    try {
      const channel = create(webhookConfig({ url: mib.url }))
      const [m] = channel.render([sampleEvent({ body: 'é'.repeat(1024 * 1024) })])
      expect(await channel.send(m as WebhookMessage, { signal: signal() })).toEqual({ ok: true })
      const [req] = await mib.waitFor(1)
      expect(req?.status).toBe(200)
      expect(req?.body.length).toBeLessThanOrEqual(1024 * 1024)
      expect(req?.json<{ truncated: string[] }>().truncated).toEqual(['body'])
    } finally {
      await mib.close()
    }
  })

  it('an alert too big everywhere: the body, then the title, then metadata and labels give way, and it still fits', async () => {
    const cap = 8 * 1024
    const channel = create(webhookConfig({ url: server.url, maxBodyBytes: cap }))
    const e = sampleEvent({
      title: 'T'.repeat(100_000),
      body: 'B'.repeat(100_000),
      labels: Object.fromEntries(Array.from({ length: 500 }, (_, j) => [`label_${j}`, 'v'.repeat(200)])),
      metadata: { dump: 'm'.repeat(100_000), nested: { a: 1 } }
    })
    const [m] = channel.render([e])
    expect(Buffer.byteLength(m?.body ?? '')).toBeLessThanOrEqual(cap)
    const got = JSON.parse(m?.body ?? '') as AlertEventJSON & { truncated: string[] }
    expect(got.truncated).toEqual(['body', 'title', 'metadata', 'labels'])
    expect(got.body).toMatch(MARK)
    expect(got.title).toMatch(MARK)
    expect(got.id).toBe(e.id)
    expect(got.source).toBe(e.source)
    // the labels kept are the first ones, whole but perhaps the last one's value, cut
    const kept = Object.entries(got.labels)
    expect(kept.map(([k]) => k)).toEqual(Object.keys(e.labels).slice(0, kept.length))
    for (const [k, v] of kept.slice(0, -1)) expect(v).toBe(e.labels[k])
    expect(kept.length).toBeLessThan(500)
    expect(AlertEvent.fromJSON(got).id).toBe(e.id)
    // a small alert beside it is not touched
    const [small] = channel.render([sampleEvent()])
    expect(JSON.parse(small?.body ?? '')).not.toHaveProperty('truncated')
  })

  it('sizes are counted as sent: hostile text (escapes, control characters, emoji, lone surrogates) cut to any cap fits, exactly', () => {
    const hostile = 'a"\\\n\t\u0001\u007f\u2028é界😀\ud800x\udc00'.repeat(3000)
    const e = sampleEvent({ body: hostile, title: hostile, labels: { [hostile.slice(0, 50)]: hostile }, metadata: { hostile } })
    const full = Buffer.byteLength(JSON.stringify(e.toJSON()))
    for (let cap = 1500; cap < full; cap = Math.ceil(cap * 1.37)) {
      const [m] = create(webhookConfig({ url: server.url, maxBodyBytes: cap })).render([e])
      const bytes = Buffer.byteLength(m?.body ?? '')
      expect(bytes).toBeLessThanOrEqual(cap)
      // nothing is given away that was not needed: within the room kept for the flag and one character
      expect(bytes).toBeGreaterThan(cap - 120)
      const got = JSON.parse(m?.body ?? '') as AlertEventJSON
      expect(got.body.endsWith('… [truncated]')).toBe(true)
      // a pair is never split: the text before the marker ends whole
      expect(/[\ud800-\udbff]$/.test(got.body.slice(0, -'… [truncated]'.length).replace(/\ud800x$/, ''))).toBe(false)
    }
  })

  it('in a digest an alert over the cap travels alone, as its own message (the one it renders to alone), cut; the rest are packed', () => {
    const cap = 16 * 1024
    const channel = create(webhookConfig({ url: server.url, maxBodyBytes: cap }))
    const huge = sampleEvent({ severity: 'warn', body: 'h'.repeat(100_000) })
    const small = Array.from({ length: 20 }, (_, i) => sampleEvent({ severity: 'info', title: `small ${i}` }))
    const messages = channel.render([...small, huge])
    for (const m of messages) expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(cap)
    expect(messages).toHaveLength(2)
    // most severe first: the warn alert alone, exactly as render([huge]) has it
    expect(messages[0]).toEqual(channel.render([huge])[0])
    expect((JSON.parse(messages[1]?.body ?? '') as { events: AlertEventJSON[] }).events.map((e) => e.title)).toEqual(small.map((e) => e.title))
  })

  it('a digest is rendered in time linear in its size (100 000 alerts to a 64 KiB cap)', () => {
    const channel = create(webhookConfig({ url: server.url, maxBodyBytes: CAP }))
    const many = Array.from({ length: 100_000 }, (_, i) => sampleEvent({ title: `flood ${i}` }))
    const t0 = performance.now()
    const messages = channel.render(many)
    const ms = performance.now() - t0
    expect(messages.reduce((n, m) => n + (JSON.parse(m.body) as { events: unknown[] }).events.length, 0)).toBe(100_000)
    for (const m of messages) expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(CAP)
    // about 1 s on a laptop; a quadratic packer (re-serialising each part as it grows) takes minutes
    expect(ms).toBeLessThan(15_000)
  })
})

describe('webhook maxBodyBytes end to end (createAlerter, rate-limited: queued alerts become a digest)', () => {
  it('a digest split into requests: every part is sent; a 413 for one part is permanent, not retried, and the others still arrive', async () => {
    const cap = 16 * 1024
    const server = await startWebhookServer({ maxBodyBytes: cap })
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, webhook: { url: server.url, maxBodyBytes: cap, rateLimit: { perSecond: 50, burst: 1 }, retry: { initialMs: 10 } } },
      routes: { critical: ['webhook'] }
    }, { env: {} })
    try {
      await a.ready
      // The worker takes the alerts after they are all queued: one digest of 61, split into parts under
      // the cap. The second part is refused once (a receiver whose own limit is lower), the rest accepted.
      server.script({ status: 200 }, { status: 413, body: 'payload too large' })
      const results = await Promise.all(Array.from({ length: 61 }, async (_, i) =>
        await a.dispatch({ source: 'burst', title: `queued ${i}`, severity: 'critical', body: 'q'.repeat(1000) })))
      await a.flush()
      const reqs = server.requests
      expect(reqs.length).toBeGreaterThan(3)
      for (const r of reqs) expect(r.body.length).toBeLessThanOrEqual(cap)
      // the 413 is not retried (permanent): every request carried other alerts, and every alert went out once
      expect(reqs.map((r) => r.status)).toEqual([200, 413, ...Array(reqs.length - 2).fill(200)])
      const titles = reqs.flatMap((r) => { const b = r.json<AlertEventJSON | { events: AlertEventJSON[] }>(); return 'events' in b ? b.events : [b] }).map((e) => e.title)
      expect(titles).toHaveLength(61)
      expect(new Set(titles).size).toBe(61)
      // Each alert is reported by the part that carried it (the channel says which, `carries`): the
      // alerts of the refused part failed, and only they; every other alert was delivered.
      const partOf = (r: RecordedRequest): string[] => { const b = r.json<AlertEventJSON | { events: AlertEventJSON[] }>(); return ('events' in b ? b.events : [b]).map((e) => e.id) }
      const refused = new Set(partOf(reqs[1] as RecordedRequest))
      expect(refused.size).toBeGreaterThan(1)
      for (const r of results) {
        expect(r.deliveries).toHaveLength(1)
        if (refused.has(r.id)) {
          expect(r.deliveries[0]).toMatchObject({ channel: 'webhook', ok: false, attempts: 1, digestOf: refused.size })
          expect(r.deliveries[0]?.error).toMatch(/HTTP 413 payload too large \(permanent, not retried\)$/)
        } else {
          expect(r.deliveries[0]).toMatchObject({ channel: 'webhook', ok: true, attempts: 1 })
        }
      }
      expect(results.filter((r) => r.deliveries[0]?.ok === true)).toHaveLength(61 - refused.size)
      expect(a.stats().channels.webhook).toMatchObject({ delivered: 61 - refused.size, failed: refused.size })
    } finally {
      await a.close()
      await server.close()
    }
  })
})

describe('webhook maxBodyBytes through a real pino transport (worker thread, built package)', () => {
  it('a 900 kB alert and a burst of 200 behind a rate limit: every alert arrives, in requests within 64 KiB, none refused', async () => {
    const cap = 64 * 1024
    const server = await startWebhookServer({ maxBodyBytes: cap })
    try {
      const transport = pino.transport({
        target: 'pino-alerts',
        options: { env: false, channels: { console: { enabled: false }, webhook: { url: server.url, maxBodyBytes: cap, rateLimit: { perSecond: 20, burst: 1 } } } }
      })
      const logger = pino({ name: 'risk-svc' }, transport)
      // (a log line over 1 MiB is skipped by the transport's maxLineLength: this one stays under it)
      logger.fatal({ alert: { source: 'dump', title: 'huge' } }, 'x'.repeat(900_000))
      for (let i = 0; i < 200; i++) logger.fatal({ alert: { source: 'burst', title: `burst ${i}` } }, `body ${i} `.repeat(100))
      const titlesOf = (r: RecordedRequest): string[] => {
        const b = r.json<AlertEventJSON | { events: AlertEventJSON[] }>()
        return ('events' in b ? b.events : [b]).map((e) => e.title)
      }
      // every request is awaited as it comes; the worker waits for their answers before it ends
      let seen = 0
      while (server.requests.flatMap((r) => r.status === 200 ? titlesOf(r) : []).length < 201) {
        await server.waitFor(++seen, 10_000)
        while (server.requests[seen - 1]?.status === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      }
      await endTransport(transport)

      const reqs = server.requests
      expect(reqs.map((r) => r.status)).toEqual(reqs.map(() => 200))
      for (const r of reqs) expect(r.body.length).toBeLessThanOrEqual(cap)
      expect(reqs.length).toBeGreaterThan(2)
      const titles = reqs.flatMap(titlesOf)
      expect(titles.sort()).toEqual(['huge', ...Array.from({ length: 200 }, (_, i) => `burst ${i}`)].sort())
      const huge = reqs.map((r) => r.json<AlertEventJSON & { truncated?: string[] }>()).find((b) => b.title === 'huge')
      expect(huge?.truncated).toEqual(['body'])
      expect(huge?.body).toMatch(/^x+… \[truncated\]$/)
    } finally {
      await server.close()
    }
  })
})
