import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter } from '../../src/alerter.js'
import { create, headerSafe, renderEmail } from '../../src/channels/email.js'
import { AlertEvent } from '../../src/event.js'
import { resolveOptions } from '../../src/options.js'
import { startSmtpFake, startSilentServer, type SmtpFake } from '../fakes/smtp.js'
import { makeTestCa, type TestCa } from '../fakes/tls.js'
import { fixture, readJsonl, runNode, tempDir } from '../helpers/run.js'

const PASSWORD = 'fake-password-123'
// A throw-away CA and a certificate for 127.0.0.1: the fake offers STARTTLS with it, a client trusts it only via tls.ca.
let ca: TestCa
beforeAll(() => { ca = makeTestCa(tempDir('pino-alerts-smtp-ca-')) })
let cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup) await f()
  cleanup = []
})

async function smtp (opts: Parameters<typeof startSmtpFake>[0] = {}): Promise<SmtpFake> {
  const s = await startSmtpFake(opts)
  cleanup.push(async () => await s.close())
  return s
}

function alerter (options: Record<string, unknown>): Alerter {
  const a = createAlerter({ env: false, ...options, channels: { console: { enabled: false }, ...(options.channels as object) } }, { env: {} })
  cleanup.unshift(async () => await a.close())
  return a
}

const email = (port: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  host: '127.0.0.1', port, from: 'alerts@example.test', to: ['desk@example.test'], retry: { initialMs: 20 }, ...extra
})

describe('email channel (real SMTP server, parsed by mailparser)', () => {
  it('a logger.fatal alert through a real pino transport arrives as a complete mail', async () => {
    // Credentials, so TLS is required: the fake offers STARTTLS, the app trusts its CA through Node's own variable.
    const server = await smtp({ auth: { user: 'alerts-bot', pass: PASSWORD }, tls: ca })
    const r = await runNode(fixture('email-fatal.mjs'), { SMTP_PORT: String(server.port), NODE_EXTRA_CA_CERTS: ca.caPath })
    expect(r.code).toBe(1)
    const [got] = await server.waitFor(1)
    const { mail, envelope } = got!
    expect(got!.secure).toBe(true)
    expect(server.authAttempts).toMatchObject([{ ok: true, secure: true }])
    expect(envelope).toEqual({ from: 'alerts@example.test', to: ['desk@example.test', 'cro@example.test'] })
    expect(mail.from?.text).toBe('"Risk Alerts" <alerts@example.test>')
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe('desk@example.test, cro@example.test')
    expect(mail.subject).toBe('[prod] [CRITICAL] risk_gate: Order blocked')
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' })
    expect(mail.text).toContain('Position limit exceeded by 250 contracts')
    expect(mail.text).toContain('symbol=ES')
    expect(mail.text).toContain('"id":"o-42"')
    expect(mail.html).toContain('Order blocked')
    expect(mail.html).toContain('<th style="padding:4px 8px;border:1px solid #ddd;vertical-align:top;text-align:left;background:#f5f5f5">desk</th>')
    expect(mail.html).toMatch(/order<\/th><td[^>]*>\{\n {2}&quot;id&quot;: &quot;o-42&quot;/)
    expect(mail.html).toContain('#d32f2f')
    const id = mail.headers.get('x-alert-id') as string
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(mail.html).toContain(id)
    expect(mail.headers.get('x-alert-severity')).toBe('critical')
    expect(mail.headers.get('x-alert-fingerprint')).toMatch(/^[0-9a-f]{16}$/)
    expect(r.stderr).not.toContain(PASSWORD)
  })

  for (const method of ['PLAIN', 'LOGIN'] as const) {
    it(`AUTH ${method} with the right credentials delivers`, async () => {
      const server = await smtp({ auth: { user: 'bot', pass: PASSWORD, methods: [method] }, tls: ca })
      const a = alerter({ channels: { email: email(server.port, { user: 'bot', password: PASSWORD, tls: { ca: ca.caPem } }) } })
      const res = await a.dispatch({ source: 'var_gate', title: 'VaR at 90%', severity: 'critical' })
      expect(res.deliveries).toEqual([{ channel: 'email', ok: true, attempts: 1 }])
      expect(server.authAttempts).toEqual([{ method, ok: true, user: 'bot', password: PASSWORD, secure: true }])
      expect(server.received[0]?.mail.subject).toBe('[CRITICAL] var_gate: VaR at 90%')
    })
  }

  it('wrong credentials: permanent failure (no retry), the password never shown, the failover stand-in delivers', async () => {
    const server = await smtp({ auth: { user: 'bot', pass: PASSWORD }, tls: ca })
    const dir = tempDir()
    const notices: string[] = []
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, email: email(server.port, { user: 'bot', password: 'wrong-password-456', tls: { ca: ca.caPem } }), file: { path: join(dir, 'a.jsonl') } },
      routes: { critical: ['email'] },
      failover: ['file']
    }, { env: {}, reporter: new (await import('../../src/report.js')).Reporter((t) => notices.push(t)) })
    cleanup.unshift(async () => await a.close())
    const res = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
    expect(res.deliveries).toHaveLength(2)
    expect(res.deliveries[0]).toMatchObject({ channel: 'email', ok: false, attempts: 1 })
    expect(res.deliveries[0]?.error).toMatch(/535/)
    expect(res.deliveries[0]?.error).toMatch(/permanent/)
    expect(res.deliveries[1]).toEqual({ channel: 'file', ok: true, attempts: 1, standInFor: 'email' })
    expect(server.authAttempts.every((x) => !x.ok)).toBe(true)
    expect(readJsonl(join(dir, 'a.jsonl'))[0]?.title).toBe('Order blocked')
    expect(JSON.stringify(res) + notices.join('')).not.toContain('wrong-password-456')
  })

  it('451 to the first DATA, 250 to the second → delivered on the retry', async () => {
    const server = await smtp({ dataReplies: [451] })
    const a = alerter({ channels: { email: email(server.port) } })
    const res = await a.dispatch({ source: 's', title: 'Retry me', severity: 'critical' })
    expect(res.deliveries).toEqual([{ channel: 'email', ok: true, attempts: 2 }])
    expect(server.dataCommands).toBe(2)
    expect(server.received.map((m) => m.mail.subject)).toEqual(['[CRITICAL] s: Retry me'])
  })

  it('5xx replies (550) are permanent, 4xx (452) retried until attempts run out', async () => {
    const s550 = await smtp({ dataReplies: [550] })
    const a = alerter({ channels: { email: email(s550.port) } })
    const r1 = await a.dispatch({ source: 's', title: 't', severity: 'critical' })
    expect(r1.deliveries[0]).toMatchObject({ ok: false, attempts: 1 })
    expect(s550.dataCommands).toBe(1)
    const s452 = await smtp({ dataReplies: [452, 452, 452] })
    const b = alerter({ channels: { email: email(s452.port, { retry: { initialMs: 10, maxAttempts: 3 } }) } })
    const r2 = await b.dispatch({ source: 's', title: 't', severity: 'critical' })
    expect(r2.deliveries[0]).toMatchObject({ ok: false, attempts: 3 })
    expect(r2.deliveries[0]?.error).toMatch(/452/)
  })

  it('a server that never greets: the attempt times out within timeoutMs while other channels deliver in parallel', async () => {
    const silent = await startSilentServer()
    cleanup.push(async () => await silent.close())
    const dir = tempDir()
    const a = alerter({
      channels: { email: email(silent.port, { timeoutMs: 300, retry: { maxAttempts: 2, initialMs: 10 } }), file: { path: join(dir, 'a.jsonl') } },
      routes: { critical: ['email', 'file'] }
    })
    const started = Date.now()
    let settled = false
    const pending = a.dispatch({ source: 's', title: 'first', severity: 'critical' })
    void pending.then(() => { settled = true })
    // The file channel does not wait for the stuck SMTP attempt: it is written while the dispatch is pending.
    await expect.poll(() => readJsonl(join(dir, 'a.jsonl')).length, { timeout: 2000, interval: 10 }).toBe(1)
    expect(settled).toBe(false)
    const res = await pending
    const took = Date.now() - started
    expect(res.deliveries[0]).toMatchObject({ channel: 'email', ok: false, attempts: 2 })
    expect(res.deliveries[0]?.error).toMatch(/time/i)
    expect(took).toBeGreaterThanOrEqual(600)
    expect(took).toBeLessThan(3000)
    expect(res.deliveries[1]).toEqual({ channel: 'file', ok: true, attempts: 1 })
    // Not stuck: the next alert is handled as promptly.
    const next = await a.dispatch({ source: 's', title: 'second', severity: 'critical' })
    expect(next.deliveries[1]).toMatchObject({ channel: 'file', ok: true })
    expect(silent.connections).toBeGreaterThanOrEqual(2)
  })

  it('header injection in the title adds no header and no recipient; HTML in the body is escaped', async () => {
    const server = await smtp()
    const a = alerter({ channels: { email: email(server.port) } })
    await a.dispatch({
      source: 'evil\r\nX-Injected: 1',
      title: 'Order blocked\r\nBcc: victim@example.com\r\n\r\nfake body',
      body: '<script>alert(1)</script> & <b>bold</b>',
      labels: { note: '<img src=x onerror=alert(1)>' },
      severity: 'critical'
    })
    const [got] = await server.waitFor(1)
    expect(got!.envelope.to).toEqual(['desk@example.test'])
    expect(got!.mail.bcc).toBeUndefined()
    expect(got!.mail.headers.has('bcc')).toBe(false)
    expect(got!.mail.headers.has('x-injected')).toBe(false)
    expect(got!.mail.subject).toBe('[CRITICAL] evil X-Injected: 1: Order blocked Bcc: victim@example.com fake body')
    expect(got!.mail.html).not.toContain('<script>')
    expect(got!.mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;')
    expect(got!.mail.html).not.toContain('<img')
    expect(got!.mail.text).toContain('<script>alert(1)</script>')
  })

  it('a digest is one mail: subject "[CRITICAL] N alerts: …", a table most severe first, the ids in X-Alert-Id', async () => {
    const events = [
      AlertEvent.from({ source: 'a', title: 'info one', severity: 'info' }),
      AlertEvent.from({ source: 'b', title: 'critical one', severity: 'critical' }),
      AlertEvent.from({ source: 'c', title: 'warn one', severity: 'warn' })
    ]
    const server = await smtp()
    const cfg = resolveOptions({ env: false, channels: { email: email(server.port) } }, {}).channels.find((c) => c.name === 'email')!
    const ch = create(cfg)
    cleanup.unshift(async () => await ch.close?.())
    const [m] = ch.render(events)
    expect(await ch.send(m!, { signal: AbortSignal.timeout(5000) })).toEqual({ ok: true })
    const [got] = await server.waitFor(1)
    expect(got!.mail.subject).toBe('[CRITICAL] 3 alerts: critical one, warn one, info one')
    expect(got!.mail.headers.get('x-alert-count')).toBe('3')
    expect(got!.mail.headers.get('x-alert-id')).toBe([events[1], events[2], events[0]].map((e) => e!.id).join(', '))
    const html = got!.mail.html as string
    expect(html.indexOf('critical one')).toBeLessThan(html.indexOf('warn one'))
    expect(html.indexOf('warn one')).toBeLessThan(html.indexOf('info one'))
  })

  it('headerSafe folds control characters and truncates', () => {
    expect(headerSafe('a\r\nb\tc\u2028d')).toBe('a b c d')
    expect(headerSafe('x'.repeat(300), 10)).toBe('xxxxxxxxx…')
    expect(renderEmail([AlertEvent.from({ source: 's', title: 't', status: 'resolved' })], '').subject).toBe('[RESOLVED] s: t')
  })
})

/** The channel alone, configured as the alerter would (options resolved, secrets known). */
function channel (port: number, extra: Record<string, unknown> = {}): ReturnType<typeof create> {
  const cfg = resolveOptions({ env: false, channels: { email: email(port, extra) } }, {}).channels.find((c) => c.name === 'email')!
  const ch = create(cfg)
  cleanup.unshift(async () => await ch.close?.())
  return ch
}

const STRIPPED = 'the server offered no STARTTLS; the password is not sent in clear; set requireTLS: false to allow it'

describe('email: an attempt given up is cancelled for real', () => {
  it('a slow server outlasts timeoutMs in the DATA phase: the attempt\'s connection is closed, the retry delivers the mail exactly once', async () => {
    // Replies to MAIL FROM and to DATA 400 ms late each: the attempt (600 ms) times out while the
    // client waits for the DATA reply, and no single wait reaches the socket timeout (also 600 ms).
    const server = await smtp({ mailFromHoldsMs: [400], dataHoldsMs: [400] })
    const a = alerter({ channels: { email: email(server.port, { timeoutMs: 600, retry: { maxAttempts: 3, initialMs: 10 } }) } })
    const res = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
    expect(res.deliveries).toEqual([{ channel: 'email', ok: true, attempts: 2 }])
    // Both DATA commands settled: the held one either answered (a duplicate) or found its client gone.
    await server.waitUntil(() => server.dataCommands === 2, 'both DATA commands settled')
    expect(server.received.map((m) => m.mail.subject)).toEqual(['[CRITICAL] risk_gate: Order blocked'])
    expect(server.abandoned.map((m) => m.mail.subject)).toEqual(['[CRITICAL] risk_gate: Order blocked'])
  })

  for (const pool of [true, false]) {
    it(`send settles within 100 ms of its signal aborting, retryable, and the server never gets to accept that mail (pool: ${String(pool)})`, async () => {
      const server = await smtp({ dataHoldsMs: [3000] })
      const ch = channel(server.port, { pool })
      const [m] = ch.render([AlertEvent.from({ source: 's', title: 'held', severity: 'critical' })])
      const ac = new AbortController()
      const pending = ch.send(m!, { signal: ac.signal })
      await server.waitUntil(() => server.holding === 1, 'the DATA reply held')
      const started = performance.now()
      ac.abort(new Error('attempt timed out after 300 ms'))
      const out = await pending
      const took = performance.now() - started
      expect(out).toMatchObject({ ok: false, retryable: true })
      expect(out.ok ? '' : out.error).toMatch(/^email \(smtp 127\.0\.0\.1:\d+\): attempt timed out after 300 ms/)
      expect(took).toBeLessThan(100)
      await server.waitUntil(() => server.dataCommands === 1, 'the held DATA settled')
      expect(server.received).toHaveLength(0)
      expect(server.abandoned).toHaveLength(1)
      expect(server.closedConnections).toBe(1)
    })
  }

  it('aborted sends free the pool: a send after two stuck ones goes out at once, not after them', async () => {
    const server = await smtp({ dataHoldsMs: [3000, 3000] })
    const ch = channel(server.port)
    const mail = (title: string): Parameters<typeof ch.send>[0] => ch.render([AlertEvent.from({ source: 's', title, severity: 'critical' })])[0]!
    const stuck = [new AbortController(), new AbortController()]
    const first = stuck.map(async (c, i) => await ch.send(mail(`stuck ${i + 1}`), { signal: c.signal }))
    await server.waitUntil(() => server.holding === 2, 'both pooled connections held')
    for (const c of stuck) c.abort(new Error('attempt timed out after 300 ms'))
    for (const out of await Promise.all(first)) expect(out).toMatchObject({ ok: false, retryable: true })
    expect(await ch.send(mail('next'), { signal: AbortSignal.timeout(5000) })).toEqual({ ok: true })
    // Delivered while the stuck ones would still be held: nothing of theirs was accepted.
    expect(server.received.map((m) => m.mail.subject)).toEqual(['[CRITICAL] s: next'])
    await server.waitUntil(() => server.dataCommands === 3, 'every DATA settled')
    expect(server.abandoned.map((m) => m.mail.subject).sort()).toEqual(['[CRITICAL] s: stuck 1', '[CRITICAL] s: stuck 2'])
  })
})

describe('email: credentials go only over TLS (requireTLS)', () => {
  it('with user/password, a server without STARTTLS never gets the password: permanent failure naming requireTLS', async () => {
    const server = await smtp({ auth: { user: 'bot', pass: PASSWORD } })
    const notices: string[] = []
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, email: email(server.port, { user: 'bot', password: PASSWORD }) }
    }, { env: {}, reporter: new (await import('../../src/report.js')).Reporter((t) => notices.push(t)) })
    cleanup.unshift(async () => await a.close())
    const res = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
    expect(res.deliveries).toHaveLength(1)
    expect(res.deliveries[0]).toMatchObject({ channel: 'email', ok: false, attempts: 1 })
    expect(res.deliveries[0]?.error).toContain(STRIPPED)
    expect(res.deliveries[0]?.error).toMatch(/^email \(smtp 127\.0\.0\.1:\d+\): .*\(permanent, not retried\)$/)
    expect(server.authAttempts).toEqual([])
    expect(server.received).toEqual([])
    expect(server.dataCommands).toBe(0)
    expect(JSON.stringify(res) + notices.join('')).not.toContain(PASSWORD)
  })

  it('requireTLS: false explicitly allows AUTH in clear (the password reaches the server); the default on the same server refuses', async () => {
    const server = await smtp({ auth: { user: 'bot', pass: PASSWORD } })
    const refused = await channel(server.port, { user: 'bot', password: PASSWORD }).send(renderEmail([AlertEvent.from({ source: 's', title: 'default' })], ''), { signal: AbortSignal.timeout(5000) })
    expect(refused).toMatchObject({ ok: false, retryable: false })
    expect(refused.ok ? '' : refused.error).toContain(STRIPPED)
    expect(server.authAttempts).toEqual([])
    const a = alerter({ channels: { email: email(server.port, { user: 'bot', password: PASSWORD, requireTLS: false }) } })
    const res = await a.dispatch({ source: 's', title: 'opted out', severity: 'critical' })
    expect(res.deliveries).toEqual([{ channel: 'email', ok: true, attempts: 1 }])
    expect(server.authAttempts).toEqual([{ method: 'PLAIN', ok: true, user: 'bot', password: PASSWORD, secure: false }])
    expect(server.received.map((m) => [m.mail.subject, m.secure])).toEqual([['[CRITICAL] s: opted out', false]])
  })

  it('with user/password the mail goes over STARTTLS: upgraded when the certificate is trusted via tls.ca; untrusted or stripped, the password is never sent', async () => {
    const tlsServer = await smtp({ auth: { user: 'bot', pass: PASSWORD }, tls: ca })
    const a = alerter({ channels: { email: email(tlsServer.port, { user: 'bot', password: PASSWORD, tls: { ca: ca.caPem } }) } })
    const res = await a.dispatch({ source: 's', title: 'over TLS', severity: 'critical' })
    expect(res.deliveries).toEqual([{ channel: 'email', ok: true, attempts: 1 }])
    expect(tlsServer.authAttempts).toEqual([{ method: 'PLAIN', ok: true, user: 'bot', password: PASSWORD, secure: true }])
    expect(tlsServer.received.map((m) => [m.mail.subject, m.secure])).toEqual([['[CRITICAL] s: over TLS', true]])

    const message = renderEmail([AlertEvent.from({ source: 's', title: 'not sent' })], '')
    // Without tls.ca the throw-away certificate is not trusted: the upgrade fails, permanently.
    const untrusted = await channel(tlsServer.port, { user: 'bot', password: PASSWORD }).send(message, { signal: AbortSignal.timeout(5000) })
    expect(untrusted).toMatchObject({ ok: false, retryable: false })
    expect(untrusted.ok ? '' : untrusted.error).toMatch(/certificate/)
    expect(untrusted.ok ? '' : untrusted.error).not.toContain(PASSWORD)
    // The same config against a server that offers no STARTTLS.
    const stripped = await smtp({ auth: { user: 'bot', pass: PASSWORD } })
    const out = await channel(stripped.port, { user: 'bot', password: PASSWORD, tls: { ca: ca.caPem } }).send(message, { signal: AbortSignal.timeout(5000) })
    expect(out).toMatchObject({ ok: false, retryable: false })
    expect(out.ok ? '' : out.error).toContain(STRIPPED)
    expect(tlsServer.authAttempts).toHaveLength(1)
    expect(stripped.authAttempts).toEqual([])
    expect(stripped.received).toEqual([])
  })
})

describe('email options and environment', () => {
  it('reads RISK_ALERTS_SMTP_* and _EMAIL_*; options win', () => {
    const env = {
      RISK_ALERTS_SMTP_HOST: 'smtp.example.test', RISK_ALERTS_SMTP_PORT: '2525', RISK_ALERTS_SMTP_USER: 'u',
      RISK_ALERTS_SMTP_PASSWORD: 'p-secret', RISK_ALERTS_EMAIL_FROM: 'a@example.test', RISK_ALERTS_EMAIL_TO: 'x@example.test, y@example.test'
    }
    const o = resolveOptions({ channels: { email: { port: 587 } } }, env)
    const c = o.channels.find((ch) => ch.name === 'email')!
    expect(c.config).toEqual({ host: 'smtp.example.test', port: 587, user: 'u', password: 'p-secret', from: 'a@example.test', to: ['x@example.test', 'y@example.test'] })
    expect(c.secrets).toContain('p-secret')
  })

  it('partly set: the channel stays off with one warning naming what is missing (user without password too)', () => {
    const o = resolveOptions({}, { RISK_ALERTS_SMTP_HOST: 'smtp.example.test', RISK_ALERTS_SMTP_USER: 'u' })
    expect(o.channels.map((c) => c.name)).toEqual(['console'])
    expect(o.warnings).toEqual(['pino-alerts: channel "email" stays off: RISK_ALERTS_SMTP_PASSWORD, RISK_ALERTS_EMAIL_FROM, RISK_ALERTS_EMAIL_TO not set (RISK_ALERTS_SMTP_HOST, RISK_ALERTS_SMTP_USER set)'])
  })

  it('bad addresses and a lone user are errors naming the path; the password is never shown', () => {
    expect(() => resolveOptions({ env: false, channels: { email: { host: 'h', from: 'not-an-address', to: ['a@b.c'] } } }, {})).toThrow(/channels\.email\.from: got "not-an-address"/)
    expect(() => resolveOptions({ env: false, channels: { email: { host: 'h', from: 'a@b.c', to: 'a@b.c\r\nBcc: v@x.y' } } }, {})).toThrow(/channels\.email\.to/)
    let msg = ''
    try { resolveOptions({ env: false, channels: { email: { host: 'h', from: 'a@b.c', to: 'a@b.c', password: 'lonely-secret' } } }, {}) } catch (e) { msg = (e as Error).message }
    expect(msg).toMatch(/channels\.email\.password: got \*\*\*; expected user and password together/)
    expect(msg).not.toContain('lonely-secret')
  })
})
