/**
 * The dashboard's throttle of wrong tokens (per client address) and the token length off loopback,
 * over real HTTP: the clients connect from two loopback addresses (127.0.0.1 and 127.0.0.2; on Linux
 * all of 127.0.0.0/8 is loopback) to a dashboard on 127.0.0.1 with a token. The throttle's window is
 * pinned with a faked Date (timers stay real, so the sockets do too).
 */
import { request, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startDashboard, type Dashboard } from '../src/dashboard/server.js'
import { AuthThrottle, clientKey } from '../src/dashboard/security.js'
import { runDashboard } from '../src/cli/dashboard.js'
import { CliError } from '../src/cli/command.js'
import { tempDir } from './helpers/run.js'

interface Res { status: number, headers: IncomingHttpHeaders, text: string }

/** One request from `from` (a local address to bind the client side to), on a connection of its own. */
async function http (base: string, from: string, method: string, path: string, opts: { headers?: Record<string, string>, raw?: string } = {}): Promise<Res> {
  const u = new URL(path, base)
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: u.port, path: u.pathname + u.search, method, headers: { host: u.host, ...(opts.headers ?? {}) }, localAddress: from, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on('error', reject)
    if (opts.raw !== undefined) req.write(opts.raw)
    req.end()
  })
}

const TOKEN = 'the-right-token-0123456789abcdef'
const A = '127.0.0.1'
const B = '127.0.0.2'
const WINDOW = 60_000
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0)

let db: string
let dashboards: Dashboard[] = []

async function dashboard (opts: Partial<Parameters<typeof startDashboard>[0]> = {}): Promise<Dashboard> {
  const d = await startDashboard({ store: db, port: 0, token: TOKEN, ...opts })
  dashboards.push(d)
  return d
}

beforeEach(() => {
  db = join(tempDir(), 'alerts.db')
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(T0)
})

afterEach(async () => {
  vi.useRealTimers()
  for (const d of dashboards) await d.close()
  dashboards = []
})

const origin = (d: Dashboard): Record<string, string> => ({ origin: d.url.replace(/\/$/, '') })
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` })
async function login (d: Dashboard, from: string, token: string): Promise<Res> {
  return await http(d.url, from, 'POST', '/login', { raw: new URLSearchParams({ token }).toString(), headers: { ...origin(d), 'content-type': 'application/x-www-form-urlencoded' } })
}
async function read (d: Dashboard, from: string, headers: Record<string, string>): Promise<Res> {
  return await http(d.url, from, 'GET', '/api/alerts', { headers })
}
const cookieOf = (r: Res): string => ((r.headers['set-cookie'] ?? [])[0] as string).split(';')[0] as string

describe('dashboard throttle: wrong tokens, per client address', () => {
  it('10 wrong bearer tokens from one address: the next request is a 429 with Retry-After, even with the right token; another address is unaffected; requests without a token do not count; a dashboard without a token throttles nothing', async () => {
    const d = await dashboard()
    // No credentials at all is not a guess: 20 of them, and the right token still works.
    for (let i = 0; i < 20; i++) expect((await read(d, B, {})).status).toBe(401)
    expect((await read(d, B, bearer(TOKEN))).status).toBe(200)

    for (let i = 0; i < 10; i++) expect((await read(d, B, bearer(`wrong-${i}`))).status, `wrong token ${i + 1}`).toBe(401)
    const refused = await read(d, B, bearer(TOKEN))
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('60')
    expect(refused.text).not.toContain(TOKEN)
    expect((await read(d, B, bearer('wrong-again'))).status).toBe(429)
    expect((await http(d.url, B, 'GET', '/metrics', { headers: bearer(TOKEN) })).status).toBe(429)
    expect((await http(d.url, B, 'GET', '/events', { headers: bearer(TOKEN) })).status).toBe(429)
    // Login from the throttled address: refused too, and the form says why.
    const form = await login(d, B, TOKEN)
    expect(form.status).toBe(429)
    expect(form.headers['set-cookie']).toBeUndefined()
    expect(form.text).toMatch(/Too many failed attempts/)
    // Open to all, throttled or not.
    expect((await http(d.url, B, 'GET', '/healthz')).status).toBe(200)
    expect((await http(d.url, B, 'GET', '/app.js')).status).toBe(200)

    // The other address: its own budget.
    expect((await read(d, A, bearer(TOKEN))).status).toBe(200)
    expect((await read(d, A, bearer('wrong'))).status).toBe(401)
    const ok = await login(d, A, TOKEN)
    expect(ok.status).toBe(303)
    expect((await read(d, A, { cookie: cookieOf(ok) })).status).toBe(200)

    // Without a token nothing is throttled: there is nothing to guess.
    const open = await dashboard({ token: undefined })
    for (let i = 0; i < 15; i++) expect((await read(open, B, bearer(`wrong-${i}`))).status).toBe(200)
  })

  it('10 wrong logins from one address: the 11th login is a 429 even with the right token, and its bearer token is refused; the other address logs in and uses its cookie and bearer token', async () => {
    const d = await dashboard()
    for (let i = 0; i < 10; i++) expect((await login(d, B, `wrong-${i}`)).status, `wrong login ${i + 1}`).toBe(401)
    const refused = await login(d, B, TOKEN)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('60')
    expect(refused.headers['set-cookie']).toBeUndefined()
    expect((await read(d, B, bearer(TOKEN))).status).toBe(429)

    const ok = await login(d, A, TOKEN)
    expect(ok.status).toBe(303)
    expect((await read(d, A, { cookie: cookieOf(ok) })).status).toBe(200)
    expect((await read(d, A, bearer(TOKEN))).status).toBe(200)
    expect((await login(d, A, 'wrong')).status).toBe(401)
  })

  it('wrong logins and wrong bearer tokens share one budget; the window ends exactly 60 s after the failures (59 999 ms: still 429)', async () => {
    const d = await dashboard()
    for (let i = 0; i < 5; i++) expect((await login(d, B, `wrong-${i}`)).status).toBe(401)
    for (let i = 0; i < 5; i++) expect((await read(d, B, bearer(`wrong-${i}`))).status).toBe(401)
    expect((await read(d, B, bearer(TOKEN))).status).toBe(429)
    expect((await read(d, A, bearer(TOKEN))).status).toBe(200)

    vi.setSystemTime(T0 + 30_000)
    const half = await login(d, B, TOKEN)
    expect(half.status).toBe(429)
    expect(half.headers['retry-after']).toBe('30')
    vi.setSystemTime(T0 + WINDOW - 1)
    const last = await read(d, B, bearer(TOKEN))
    expect(last.status).toBe(429)
    expect(last.headers['retry-after']).toBe('1')
    vi.setSystemTime(T0 + WINDOW)
    expect((await read(d, B, bearer(TOKEN))).status).toBe(200)
    const ok = await login(d, B, TOKEN)
    expect(ok.status).toBe(303)
    expect((await read(d, B, { cookie: cookieOf(ok) })).status).toBe(200)
    // A fresh budget: 10 more wrong tokens before the next 429.
    for (let i = 0; i < 10; i++) expect((await read(d, B, bearer(`again-${i}`))).status).toBe(401)
    expect((await read(d, B, bearer(TOKEN))).status).toBe(429)
  })
})

describe('AuthThrottle: bounded per-address memory', () => {
  it('keeps at most maxEntries addresses: the oldest is forgotten first, expired ones are swept', () => {
    let now = 0
    const t = new AuthThrottle(2, 1000, 3, () => now)
    t.fail('a'); t.fail('a')
    expect(t.retryAfterMs('a')).toBe(1000)
    t.fail('b'); t.fail('c')
    expect(t.size).toBe(3)
    t.fail('d') // full: 'a', the oldest, goes
    expect(t.size).toBe(3)
    expect(t.retryAfterMs('a')).toBe(0)
    t.fail('b') // 'b' is now the newest; 'c' the oldest
    t.fail('e')
    expect(t.size).toBe(3)
    t.fail('b')
    expect(t.retryAfterMs('b')).toBe(1000)
    now = 999
    expect(t.retryAfterMs('b')).toBe(1)
    now = 1000
    expect(t.retryAfterMs('b')).toBe(0)
    t.fail('f') // every other entry has expired: swept
    expect(t.size).toBe(1)
    // Failures kept per address: at most `max`, however many come.
    for (let i = 0; i < 1000; i++) t.fail('g')
    expect(t.retryAfterMs('g')).toBe(1000)
  })

  it('keys IPv4 addresses as they are (IPv4-mapped ones unwrapped) and IPv6 ones by their /64', () => {
    expect(clientKey('127.0.0.2')).toBe('127.0.0.2')
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'))
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'))
    expect(clientKey('fe80::1%eth0')).toBe(clientKey('fe80::2'))
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey(undefined)).toBe('unknown')
  })
})

describe('dashboard token length off loopback', () => {
  it('off loopback a token shorter than 16 characters is refused at start, with the reason; 16 is enough; on loopback any token will do', async () => {
    await expect(startDashboard({ store: db, host: '0.0.0.0', port: 0, token: 'fifteen-chars-x' })).rejects.toThrow(/token of at least 16 characters/)
    const e = await startDashboard({ store: db, host: '0.0.0.0', port: 0, token: 'Zq7xW' }).catch((x: unknown) => x)
    expect((e as Error).message).not.toContain('Zq7xW')
    expect((e as { code: string }).code).toBe('PINO_ALERTS_DASHBOARD_SHORT_TOKEN')
    const sixteen = 'sixteen-chars-xy'
    const d = await dashboard({ host: '0.0.0.0', token: sixteen })
    expect((await http(d.url, A, 'GET', '/api/alerts', { headers: bearer(sixteen) })).status).toBe(200)
    const local = await dashboard({ token: 'short' })
    expect((await http(local.url, A, 'GET', '/api/alerts', { headers: bearer('short') })).status).toBe(200)
  })

  it('the CLI: --token shorter than 16 characters with --host 0.0.0.0 is a usage error (exit 2) naming the rule, never the token', async () => {
    const err: string[] = []
    const e = await runDashboard({
      values: { port: '0', host: '0.0.0.0', token: 'tooshort' } as never,
      positionals: [],
      global: { debug: false, store: db },
      out: () => {},
      err: (t) => { err.push(t) }
    }, async () => {}, {}).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(CliError)
    expect((e as CliError).exitCode).toBe(2)
    expect((e as CliError).message).toMatch(/token of at least 16 characters/)
    expect((e as CliError).message).not.toContain('tooshort')
    // From the environment too.
    const env = await runDashboard({ values: { port: '0', host: '0.0.0.0' } as never, positionals: [], global: { debug: false, store: db }, out: () => {}, err: () => {} },
      async () => {}, { RISK_ALERTS_DASHBOARD_TOKEN: 'tooshort' }).catch((x: unknown) => x)
    expect((env as CliError).exitCode).toBe(2)
    expect((env as CliError).message).toMatch(/token of at least 16 characters/)
  })
})
