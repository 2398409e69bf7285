/**
 * Secrets in errors (Step 13, item 5): a receiver that echoes the request's headers in its error
 * answer must not carry a configured header value (an API key, a bearer token) nor a URL's credentials
 * into stderr, receipts, the dashboard API or `pino-alerts test`; a ConfigError never echoes them
 * either. Before header values were secrets, the echoed `Authorization` reached every one of these.
 *
 * Also item 6: a duration beyond what a Node timer can wait is a ConfigError naming the option.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { startDashboard } from '../src/dashboard/server.js'
import { ConfigError } from '../src/errors.js'
import { resolveOptions } from '../src/options.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { tempDir } from './helpers/run.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TOKEN = 'Bearer fake-token-0123456789abcdef'
const API_KEY = 'fake-api-key-9876543210'
const URL_USER = 'fakeuser'
const URL_PASSWORD = 'fake-url-password-42'
const SECRETS = [TOKEN, 'fake-token-0123456789abcdef', API_KEY, URL_PASSWORD]

/** Answers 400 with every request header echoed back, as some receivers do in their error bodies. */
async function echoingReceiver (): Promise<WebhookServer> {
  return await startWebhookServer({ defaultResponse: (req) => ({ status: 400, body: { error: 'bad request', youSent: req.headers } }) })
}

function webhookConfig (url: string): Record<string, unknown> {
  const u = new URL(url)
  u.username = URL_USER
  u.password = URL_PASSWORD
  return {
    type: 'webhook',
    url: u.toString(),
    headers: { Authorization: TOKEN, 'X-Api-Key': API_KEY },
    retry: { maxAttempts: 1 }
  }
}

function expectNoSecret (what: string, text: string): void {
  for (const s of SECRETS) expect(text.includes(s), `${what} contains a configured secret`).toBe(false)
}

async function getJson (url: string): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { try { resolve(JSON.parse(body)) } catch (err) { reject(err) } })
    }).on('error', reject)
  })
}

let receiver: WebhookServer | undefined
afterEach(async () => { await receiver?.close(); receiver = undefined })

describe('a receiver that echoes the request headers in its 400', () => {
  it('no header value or URL credential in the result, stderr, stats, receipts or the dashboard API', async () => {
    receiver = await echoingReceiver()
    const db = join(tempDir(), 'alerts.db')
    let stderr = ''
    const alerter = createAlerter({
      env: false,
      store: { path: db },
      channels: { console: { enabled: false }, hook: webhookConfig(receiver.url) },
      routes: { critical: ['hook'] }
    }, { env: {}, reporter: new Reporter((t) => { stderr += t }) })
    await alerter.ready
    const r = await alerter.dispatch({ source: 'risk_gate', severity: 'critical', title: 'Order blocked' })
    // The receiver got the secrets (it needs them) and echoed them: the test is real.
    const [req] = await receiver.waitFor(1)
    expect(req?.header('authorization')).toBe(TOKEN)
    expect(req?.json()).toMatchObject({ title: 'Order blocked' })
    expect(r.deliveries[0]).toMatchObject({ channel: 'hook', ok: false })
    expect(r.deliveries[0]?.error).toMatch(/HTTP 400/)
    expectNoSecret('the dispatch result', JSON.stringify(r))
    expectNoSecret('stats()', JSON.stringify(alerter.stats()))
    expectNoSecret('receipts', JSON.stringify(alerter.receipts(r.id)))
    await alerter.close()
    expect(stderr).toMatch(/not delivered: .*HTTP 400/)
    expectNoSecret('stderr', stderr)

    const dash = await startDashboard({ store: db, port: 0 })
    try {
      const detail = await getJson(`${dash.url}api/alerts/${r.id}`)
      expect(JSON.stringify(detail)).toMatch(/HTTP 400/)
      expectNoSecret('GET /api/alerts/:id', JSON.stringify(detail))
      expectNoSecret('GET /api/alerts', JSON.stringify(await getJson(`${dash.url}api/alerts`)))
      expectNoSecret('GET /api/stats', JSON.stringify(await getJson(`${dash.url}api/stats`)))
    } finally {
      await dash.close()
    }
  })

  it('pino-alerts test prints the 400 without a header value or URL credential', async () => {
    receiver = await echoingReceiver()
    const cfg = join(tempDir(), 'alerts.json')
    writeFileSync(cfg, JSON.stringify({ env: false, channels: { console: { enabled: false }, hook: webhookConfig(receiver.url) } }))
    const child = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'test', '-c', cfg, '--json'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code).toBe(1)
    expect(receiver.requests.length).toBeGreaterThan(0)
    expect(out).toMatch(/HTTP 400/)
    expectNoSecret('pino-alerts test', out)
  })
})

describe('configuration errors', () => {
  const error = (options: Record<string, unknown>): ConfigError => {
    try { resolveOptions(options, {}) } catch (err) { if (err instanceof ConfigError) return err; throw err }
    throw new Error('expected a ConfigError')
  }

  it('never echo a header value, nor the credentials or path of a URL', () => {
    const e = error({
      env: false,
      channels: {
        hook: { ...webhookConfig('http://127.0.0.1:1/hooks/abc'), headers: { Authorization: `${TOKEN}\r\nX-Injected: 1` }, timeoutMs: 0 },
        slack: { webhookUrl: 'ftp://hooks.slack.com/services/T000/B000/fakeSlackPath123' },
        other: { type: 'webhook', url: `ftp://${URL_USER}:${URL_PASSWORD}@example.com/fakePath456?k=fakeQuery789` }
      }
    })
    expect(e.message).toMatch(/channels\.hook\.headers\.Authorization: got \*\*\*; expected a header value on one line/)
    expect(e.message).toMatch(/channels\.slack\.webhookUrl: got \*\*\*; expected an http\(s\) URL/)
    expect(e.message).toMatch(/channels\.hook\.timeoutMs: got 0/)
    expectNoSecret('ConfigError', e.message)
    expect(e.message).toMatch(/channels\.other\.url: got "ftp:\/\/example\.com\/\*\*\*"; expected an http\(s\) URL/)
    for (const hidden of ['fakeSlackPath123', 'fakePath456', 'fakeQuery789', URL_USER]) expect(e.message).not.toContain(hidden)
  })

  it('the credential of an Authorization-style header value is a secret on its own (a service may echo just the token)', () => {
    const o = resolveOptions({ env: false, channels: { hook: webhookConfig('http://127.0.0.1:1/hooks/abc') } }, {})
    const secrets = o.channels.find((c) => c.name === 'hook')?.secrets ?? []
    expect(secrets).toContain(TOKEN)
    expect(secrets).toContain('fake-token-0123456789abcdef')
  })

  it('a duration beyond 2147483647 ms (what a Node timer can wait) names its path', () => {
    const e = error({ env: false, channels: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/', deliveryTimeoutMs: 2_592_000_000 } }, store: { path: 'x.db', leaseMs: 2 ** 31 } })
    expect(e.message).toContain('channels.hook.deliveryTimeoutMs: got 2592000000; expected a duration of at most 2147483647 ms')
    expect(e.message).toContain('store.leaseMs: got 2147483648; expected a duration of at most 2147483647 ms')
    // The largest a timer can wait is accepted.
    expect(() => resolveOptions({ env: false, channels: { hook: { type: 'webhook', url: 'http://127.0.0.1:1/', deliveryTimeoutMs: 2_147_483_647 } } }, {})).not.toThrow()
  })
})
