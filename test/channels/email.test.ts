import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter } from '../../src/alerter.js'
import { create, headerSafe, renderEmail } from '../../src/channels/email.js'
import { AlertEvent } from '../../src/event.js'
import { resolveOptions } from '../../src/options.js'
import { startSmtpFake, startSilentServer, type SmtpFake } from '../fakes/smtp.js'
import { fixture, readJsonl, runNode, tempDir } from '../helpers/run.js'

const PASSWORD = 'fake-password-123'
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
    const server = await smtp({ auth: { user: 'alerts-bot', pass: PASSWORD } })
    const r = await runNode(fixture('email-fatal.mjs'), { SMTP_PORT: String(server.port) })
    expect(r.code).toBe(1)
    const [got] = await server.waitFor(1)
    const { mail, envelope } = got!
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
      const server = await smtp({ auth: { user: 'bot', pass: PASSWORD, methods: [method] } })
      const a = alerter({ channels: { email: email(server.port, { user: 'bot', password: PASSWORD }) } })
      const res = await a.dispatch({ source: 'var_gate', title: 'VaR at 90%', severity: 'critical' })
      expect(res.deliveries).toEqual([{ channel: 'email', ok: true, attempts: 1 }])
      expect(server.authAttempts).toEqual([{ method, ok: true }])
      expect(server.received[0]?.mail.subject).toBe('[CRITICAL] var_gate: VaR at 90%')
    })
  }

  it('wrong credentials: permanent failure (no retry), the password never shown, the failover stand-in delivers', async () => {
    const server = await smtp({ auth: { user: 'bot', pass: PASSWORD } })
    const dir = tempDir()
    const notices: string[] = []
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, email: email(server.port, { user: 'bot', password: 'wrong-password-456' }), file: { path: join(dir, 'a.jsonl') } },
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
