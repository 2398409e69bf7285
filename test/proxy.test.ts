/**
 * Network reality (SPEC §15): every HTTP channel goes through undici, which honours HTTP_PROXY /
 * HTTPS_PROXY / NO_PROXY (either case), a channel's own `proxy` (Basic credentials kept secret) and
 * `tls.ca` for private CAs. Against a real forward proxy on loopback (test/fakes/proxy.ts) and real
 * receivers; the environment cases run a real app whose pino worker inherits the variables.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { loadUndici } from '../src/http/client.js'
import { resolveOptions } from '../src/options.js'
import { Reporter } from '../src/report.js'
import { startProxy, type FakeProxy } from './fakes/proxy.js'
import { makeTestCa, startTlsReceiver, type TestCa, type TlsReceiver } from './fakes/tls.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, runNode } from './helpers/run.js'

const USER = 'alice'
const PASSWORD = 'fake-proxy-pass-7c1e'
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64')

let receiver: WebhookServer
let tlsReceiver: TlsReceiver
let ca: TestCa
let open: FakeProxy
let guarded: FakeProxy

beforeAll(async () => {
  ca = makeTestCa(mkdtempSync(join(tmpdir(), 'pino-alerts-ca-')))
  ;[receiver, tlsReceiver, open, guarded] = await Promise.all([
    startWebhookServer(), startTlsReceiver(ca), startProxy(), startProxy({ user: USER, password: PASSWORD })
  ])
})
afterAll(async () => {
  await Promise.all([receiver?.close(), tlsReceiver?.close(), open?.close(), guarded?.close()])
})

/** Runs the app with `channel` as its webhook options and these environment variables. */
async function app (channel: Record<string, unknown>, env: Record<string, string>): Promise<{ stderr: string }> {
  const r = await runNode(fixture('proxy-app.mjs'), { CHANNEL: JSON.stringify(channel), ...env })
  expect(r.code).toBe(1) // the app's own process.exit(1), after pino's worker delivered
  return r
}

const fresh = (): number => { receiver.reset(); return open.log.length }

describe('the environment: HTTP_PROXY / https_proxy / NO_PROXY, in a real pino worker', () => {
  it('HTTP_PROXY: the webhook is reached through the proxy (its log shows the request)', async () => {
    const before = fresh()
    await app({ url: receiver.url }, { HTTP_PROXY: open.url })
    const [req] = await receiver.waitFor(1)
    expect(JSON.parse(req!.text())).toMatchObject({ source: 'kill_switch', title: 'Kill switch triggered' })
    expect(open.log.slice(before)).toEqual([{ method: 'POST', target: receiver.url, allowed: true }])
  })

  it('NO_PROXY: the same target bypasses the proxy', async () => {
    const before = fresh()
    await app({ url: receiver.url }, { HTTP_PROXY: open.url, NO_PROXY: '127.0.0.1' })
    await receiver.waitFor(1)
    expect(open.log.length).toBe(before)
  })

  it('proxy: false on the channel bypasses the environment\'s proxy', async () => {
    const before = fresh()
    await app({ url: receiver.url, proxy: false }, { http_proxy: open.url })
    await receiver.waitFor(1)
    expect(open.log.length).toBe(before)
  })

  it('https_proxy (lower case): HTTPS through a CONNECT tunnel to a receiver trusted only through tls.ca (a file)', async () => {
    const before = fresh()
    const seen = tlsReceiver.requests.length
    await app({ url: tlsReceiver.url, tls: { ca: ca.caPath } }, { https_proxy: open.url })
    expect(tlsReceiver.requests.length).toBe(seen + 1)
    expect(open.log.slice(before)).toEqual([{ method: 'CONNECT', target: new URL(tlsReceiver.url).host, allowed: true }])
  })
})

describe('credentials of the environment\'s proxy are secrets too', () => {
  it('a real app whose HTTP_PROXY has wrong credentials: not delivered, and stderr never shows them', async () => {
    const wrong = 'fake-env-pass-5b2a'
    receiver.reset()
    const before = guarded.log.length
    const { stderr } = await app({ url: receiver.url }, { HTTP_PROXY: `http://${USER}:${wrong}@127.0.0.1:${guarded.port}` })
    expect(guarded.log.slice(before)).toEqual([{ method: 'POST', target: receiver.url, allowed: false }])
    expect(receiver.requests.length).toBe(0)
    expect(stderr).toMatch(/the proxy answered HTTP 407/)
    for (const secret of [wrong, Buffer.from(`${USER}:${wrong}`).toString('base64')]) expect(stderr).not.toContain(secret)
  })

  it('every HTTP channel without a proxy of its own masks them; one with proxy: false or its own does not need to', () => {
    const env = { HTTPS_PROXY: 'http://bob:fake-env-secret-1@proxy.example:3128', https_proxy: '' }
    const o = resolveOptions({ env: false, channels: { a: { type: 'webhook', url: 'http://127.0.0.1:1/x' }, b: { type: 'webhook', url: 'http://127.0.0.1:1/y', proxy: false }, file: { path: '/tmp/x.jsonl' } } }, env)
    const byName = Object.fromEntries(o.channels.map((c) => [c.name, c.secrets]))
    expect(byName.a).toEqual(expect.arrayContaining(['fake-env-secret-1', Buffer.from('bob:fake-env-secret-1').toString('base64')]))
    expect(byName.b).not.toContain('fake-env-secret-1')
    expect(byName.file).not.toContain('fake-env-secret-1')
  })
})

describe('a channel\'s own proxy, with Basic credentials', () => {
  const collected: string[] = []
  const run = async (channel: { url: string } & Record<string, unknown>): Promise<{ ok: boolean, attempts: number, error: string | undefined }> => {
    const a = createAlerter({ channels: { console: { enabled: false }, hook: { type: 'webhook', retry: { maxAttempts: 1 }, ...channel } } },
      { env: {}, reporter: new Reporter((t) => { collected.push(t) }) })
    try {
      const r = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
      const d = r.deliveries[0]
      return { ok: d?.ok ?? false, attempts: d?.attempts ?? 0, error: d?.error }
    } finally {
      await a.close()
    }
  }
  const withCredentials = (password = PASSWORD): string => `http://${USER}:${password}@127.0.0.1:${guarded.port}`

  it('plain HTTP: forwarded with Proxy-Authorization', async () => {
    receiver.reset()
    const before = guarded.log.length
    const r = await run({ url: receiver.url, proxy: withCredentials() })
    expect(r).toMatchObject({ ok: true })
    expect(guarded.log.slice(before)).toEqual([{ method: 'POST', target: receiver.url, allowed: true }])
    expect((await receiver.waitFor(1))[0]!.header('proxy-authorization')).toBeUndefined() // not passed on to the service
  })

  it('HTTPS: a CONNECT tunnel with Proxy-Authorization, the receiver trusted through tls.ca (PEM text)', async () => {
    const before = guarded.log.length
    const seen = tlsReceiver.requests.length
    const r = await run({ url: tlsReceiver.url, proxy: withCredentials(), tls: { ca: ca.caPem } })
    expect(r).toMatchObject({ ok: true })
    expect(tlsReceiver.requests.length).toBe(seen + 1)
    expect(guarded.log.slice(before)).toEqual([{ method: 'CONNECT', target: new URL(tlsReceiver.url).host, allowed: true }])
  })

  it('wrong credentials fail at once with the proxy\'s answer (not retried), and no credential appears in any error or notice', async () => {
    const wrong = 'fake-wrong-pass-91d0'
    const plain = await run({ url: receiver.url, proxy: withCredentials(wrong), retry: { maxAttempts: 3, initialMs: 10 } })
    const tunnel = await run({ url: tlsReceiver.url, proxy: withCredentials(wrong), tls: { ca: ca.caPem }, retry: { maxAttempts: 3, initialMs: 10 } })
    for (const r of [plain, tunnel]) {
      expect(r).toMatchObject({ ok: false, attempts: 1 })
      expect(r.error).toMatch(/the proxy answered HTTP 407 Proxy Authentication Required/)
    }
    const text = JSON.stringify([plain, tunnel, collected])
    for (const secret of [wrong, Buffer.from(`${USER}:${wrong}`).toString('base64'), PASSWORD, BASIC]) expect(text).not.toContain(secret)
  })
})

describe('tls', () => {
  it('without tls.ca the private CA is not trusted: a permanent certificate error, nothing delivered', async () => {
    const seen = tlsReceiver.requests.length
    const a = createAlerter({ channels: { console: { enabled: false }, hook: { type: 'webhook', url: tlsReceiver.url, proxy: false } } }, { env: {}, reporter: new Reporter(() => {}) })
    const r = await a.dispatch({ source: 's', title: 't', severity: 'critical' })
    await a.close()
    expect(r.deliveries[0]).toMatchObject({ ok: false, attempts: 1 })
    expect(r.deliveries[0]?.error).toMatch(/certificate/i)
    expect(r.deliveries[0]?.error).toMatch(/tls\.ca/)
    expect(tlsReceiver.requests.length).toBe(seen)
  })

  it('tls.rejectUnauthorized: false accepts it (direct connection)', async () => {
    const seen = tlsReceiver.requests.length
    const a = createAlerter({ channels: { console: { enabled: false }, hook: { type: 'webhook', url: tlsReceiver.url, proxy: false, tls: { rejectUnauthorized: false } } } }, { env: {} })
    const r = await a.dispatch({ source: 's', title: 't', severity: 'critical' })
    await a.close()
    expect(r.deliveries[0]).toMatchObject({ ok: true })
    expect(tlsReceiver.requests.length).toBe(seen + 1)
  })
})

it('the parts of undici the client loads are undici\'s own (a moved file would load the whole package instead)', async () => {
  const undici = await import('undici')
  const parts = loadUndici()
  expect([parts.Agent, parts.ProxyAgent, parts.EnvHttpProxyAgent]).toEqual([undici.Agent, undici.ProxyAgent, undici.EnvHttpProxyAgent])
  expect(parts.request).toBe(undici.Dispatcher.prototype.request)
})
