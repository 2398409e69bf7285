import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { create, signStandardWebhook, type WebhookMessage } from '../../src/channels/webhook.js'
import { AlertEvent, type AlertEventJSON } from '../../src/event.js'
import type { ResolvedChannel } from '../../src/options.js'
import { startWebhookServer, type RecordedRequest, type WebhookServer } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'

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
