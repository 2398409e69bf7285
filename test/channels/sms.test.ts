import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../../src/alerter.js'
import type { Outcome } from '../../src/channels/channel.js'
import { create, renderAlert, SMS_MAX_BODY, type SmsMessage } from '../../src/channels/sms.js'
import { AlertEvent } from '../../src/event.js'
import { Reporter } from '../../src/report.js'
import { digestHeadline } from '../../src/format/text.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import {
  basicCredentials, PERMANENT_ERRORS, smsSegments, startTwilioFake, twilioApi, twilioError, twilioTooManyRequests,
  type SentSms, type TwilioApiOptions, type TwilioFake
} from '../fakes/twilio.js'
import type { RecordedRequest } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'

// Fresh, realistic credentials per run.
const ACCOUNT_SID = 'AC' + randomBytes(16).toString('hex')
const AUTH_TOKEN = randomBytes(16).toString('hex')
const BASIC = Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')
const SECRETS = [AUTH_TOKEN, ACCOUNT_SID, BASIC]
const FROM = '+15005550006'
const SERVICE = 'MG' + randomBytes(16).toString('hex')
const TO = ['+4915112345678', '+447700900123']
const UNSUBSCRIBED = '+15005550009'
const FORBIDDEN = '+8613800000000'

const fakeOptions: TwilioApiOptions = { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, senders: [FROM, SERVICE], unsubscribed: [UNSUBSCRIBED], forbiddenRegions: [FORBIDDEN] }
const startFake = async (): Promise<TwilioFake> => await startTwilioFake(fakeOptions)

const smsConfig = (config: Record<string, unknown>, name = 'sms'): ResolvedChannel => resolvedChannel('sms', config, name)

runChannelSuite<SmsMessage>('sms', (server) => ({
  channel: create(smsConfig({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, to: TO, apiUrl: server.origin })),
  secrets: SECRETS
}), {
  start: startFake,
  answers: {
    // The fake's own validating Messages API: every message of the suite must pass it too.
    accept: twilioApi(fakeOptions),
    unavailable: () => twilioError(503, 20503, 'Service Unavailable'),
    rateLimited: (seconds) => twilioTooManyRequests(seconds),
    rejected: () => twilioError(400, 21211, "The 'To' number +1555000 is not a valid phone number.")
  }
}, {
  messageText: (messages) => messages.map((m) => m.body).join('\n')
})

/** The form fields of a recorded request, in order. */
const fields = (req: RecordedRequest | undefined): Array<[string, string]> => [...new URLSearchParams(req?.text() ?? '')]
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

describe('sms channel', () => {
  let fake: TwilioFake
  const signal = (): AbortSignal => AbortSignal.timeout(5000)
  const channelFor = (over: Record<string, unknown> = {}): ReturnType<typeof create> =>
    create(smsConfig({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, to: TO, apiUrl: fake.apiUrl, ...over }))

  beforeAll(async () => { fake = await startFake() })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  /** Sends every message; each must be accepted. What Twilio accepted, in order. */
  async function sendAll (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<SentSms[]> {
    const messages = channel.render(events)
    for (const m of messages) expect(await channel.send(m, { signal: signal() })).toEqual({ ok: true })
    expect(fake.requests.every((r) => r.status === 201)).toBe(true)
    return fake.delivered()
  }

  async function sendOne (channel: ReturnType<typeof create>, event = sampleEvent()): Promise<Outcome> {
    const [m] = channel.render([event])
    return await channel.send(m as SmsMessage, { signal: signal() })
  }

  it('POSTs one form-encoded Messages.json request per recipient, with Basic auth', async () => {
    const sent = await sendAll(channelFor(), [sampleEvent()])
    expect(fake.requests.length).toBe(2)
    for (const [i, req] of fake.requests.entries()) {
      expect(req.method).toBe('POST')
      expect(req.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`)
      expect(req.header('content-type')).toMatch(/^application\/x-www-form-urlencoded/)
      expect(basicCredentials(req.header('authorization'))).toEqual({ user: ACCOUNT_SID, password: AUTH_TOKEN })
      expect(fields(req)).toEqual([['To', TO[i]], ['From', FROM], ['Body', '[CRITICAL] risk_gate: Order blocked - position limit exceeded']])
    }
    expect(sent.map((s) => [s.to, s.from, s.messagingServiceSid])).toEqual([[TO[0], FROM, null], [TO[1], FROM, null]])
    expect(sent.every((s) => /^SM[0-9a-f]{32}$/.test(s.sid))).toBe(true)
  })

  it('three recipients: an alert is three requests with the same text, and so is a digest', async () => {
    const three = ['+4915112345678', '+447700900123', '+15005550010']
    const channel = channelFor({ to: three.join(', ') }) // the comma-separated form
    const one = await sendAll(channel, [sampleEvent({ title: 'Three phones' })])
    expect(one.map((s) => s.to)).toEqual(three)
    expect(new Set(one.map((s) => s.body)).size).toBe(1)
    fake.reset()
    const digest = await sendAll(channel, [sampleEvent({ title: 'A' }), sampleEvent({ title: 'B', severity: 'warn' }), sampleEvent({ title: 'C', severity: 'info' })])
    expect(fake.requests.length).toBe(3)
    expect(digest.map((s) => s.to)).toEqual(three)
    expect(digest.map((s) => s.body)).toEqual(Array(3).fill('3 alerts: 1 critical, 1 warn, 1 info\n[CRITICAL] risk_gate: A\n[WARN] risk_gate: B\n[INFO] risk_gate: C'))
  })

  it('a Messaging Service SID (MG…) as "from" is sent as MessagingServiceSid, not From', async () => {
    const sent = await sendAll(channelFor({ from: SERVICE, to: [TO[0]] }), [sampleEvent()])
    expect(fields(fake.requests[0]).map(([k]) => k)).toEqual(['To', 'MessagingServiceSid', 'Body'])
    expect(fields(fake.requests[0])[1]).toEqual(['MessagingServiceSid', SERVICE])
    expect(sent[0]).toMatchObject({ to: TO[0], from: null, messagingServiceSid: SERVICE })
  })

  it('the text: "[SEVERITY] source: title - body"; resolved reads RESOLVED; a plain alert is one GSM-7 segment', async () => {
    expect(renderAlert(sampleEvent())).toBe('[CRITICAL] risk_gate: Order blocked - position limit exceeded')
    expect(renderAlert(sampleEvent({ body: '' }))).toBe('[CRITICAL] risk_gate: Order blocked')
    expect(renderAlert(sampleEvent({ severity: 'warn', status: 'resolved' }))).toBe('[RESOLVED] risk_gate: Order blocked - position limit exceeded')
    expect(renderAlert(sampleEvent({ severity: 'info' }))).toMatch(/^\[INFO\] /)
    // Labels and metadata stay on the other channels: every character here is paid for.
    expect(renderAlert(sampleEvent())).not.toContain('desk')
    const sent = await sendAll(channelFor({ to: [TO[0]] }), [sampleEvent({ body: 'position limit exceeded on EURUSD, 12.5M vs 10M allowed; orders blocked until reset' })])
    expect(sent[0]?.body.length).toBeGreaterThan(120)
    expect(smsSegments(sent[0]?.body ?? '')).toEqual({ encoding: 'GSM-7', segments: 1 })
    expect(sent[0]).toMatchObject({ encoding: 'GSM-7', segments: 1 })
  })

  it('untrusted text: line breaks, control and bidi characters cannot forge lines or rewrite the display', async () => {
    const event = sampleEvent({
      source: 'risk\ngate',
      title: 'Order blocked\n[RESOLVED] risk_gate: all clear\u202e\u0007',
      body: 'line one\r\n\r\nline two\u001b[31m\u2066x'
    })
    const text = renderAlert(event)
    expect(text).toBe('[CRITICAL] risk gate: Order blocked [RESOLVED] risk_gate: all clear\ufffd\ufffd - line one line two\ufffd[31m\ufffdx')
    const sent = await sendAll(channelFor({ to: [TO[0]] }), [event])
    expect(sent[0]?.body).toBe(text)
  })

  it('10 kB bodies, emoji, CJK and lone surrogates: cut to 1600 code units with "...", never mid-character, and accepted', async () => {
    const channel = channelFor({ to: [TO[0]] })
    const subjectLine = '[CRITICAL] risk_gate: Order blocked - '
    const cases: Array<[string, string, 'GSM-7' | 'UCS-2']> = [
      ['10 kB ASCII', 'x'.repeat(10_000), 'GSM-7'],
      ['emoji', '🚨'.repeat(5_000), 'UCS-2'],
      // one more unit before the emoji moves the cut into the middle of a pair
      ['emoji, odd offset', 'y' + '🚨'.repeat(5_000), 'UCS-2'],
      ['CJK', '警报：仓位超限'.repeat(1_500), 'UCS-2'],
      ['lone surrogates', 'a\ud800b\udc00c'.repeat(2_000), 'UCS-2'],
      ['mixed', '👨‍👩‍👧‍👦 中文 é\ud83d '.repeat(800), 'UCS-2']
    ]
    for (const [what, body, encoding] of cases) {
      fake.reset()
      const [message] = channel.render([sampleEvent({ body })])
      const text = message?.body ?? ''
      expect(text.length, what).toBeLessThanOrEqual(SMS_MAX_BODY)
      expect(text.length, what).toBeGreaterThanOrEqual(SMS_MAX_BODY - 4)
      expect(text.startsWith(subjectLine), what).toBe(true)
      expect(text.endsWith('...'), what).toBe(true)
      expect(LONE_SURROGATE.test(text), what).toBe(false)
      expect(await channel.send(message as SmsMessage, { signal: signal() }), what).toEqual({ ok: true })
      expect(fake.delivered()[0]?.body, what).toBe(text) // what the phone shows is what was rendered
      expect(fake.delivered()[0]?.encoding, what).toBe(encoding)
    }
    expect(renderAlert(sampleEvent({ body: 'x'.repeat(10_000) })).length).toBe(SMS_MAX_BODY)
    expect(renderAlert(sampleEvent({ body: 'a\ud800b' }))).toBe(subjectLine + 'a\ufffdb')
  })

  it('a 10 kB title or source still leaves a readable subject within the limit', () => {
    const longTitle = renderAlert(sampleEvent({ title: 'T'.repeat(10_000) }))
    expect(longTitle.length).toBe(SMS_MAX_BODY)
    expect(longTitle).toMatch(/^\[CRITICAL\] risk_gate: TTTT.*\.\.\.$/)
    const longSource = renderAlert(sampleEvent({ source: 's'.repeat(10_000) }))
    expect(longSource).toBe(`[CRITICAL] ${'s'.repeat(97)}...: Order blocked - position limit exceeded`)
  })

  it('a digest of 30 long alerts is ONE short SMS per recipient: headline, most severe first, "+N more", accepted', async () => {
    const events = Array.from({ length: 30 }, (_, i) => {
      const labels: Record<string, string> = {}
      for (let k = 0; k < 40; k++) labels[`label_${k}`] = `value ${k} `.repeat(20)
      return sampleEvent({
        severity: (['info', 'warn', 'critical'] as const)[i % 3],
        title: `Alert ${String(i).padStart(2, '0')} ` + 'very long title '.repeat(30),
        body: 'b'.repeat(10_000),
        labels,
        timestamp: new Date(1_735_700_000_000 + i * 1000).toISOString()
      })
    })
    const channel = channelFor()
    const messages = channel.render(events)
    expect(messages.map((m) => m.to)).toEqual(TO)
    const text = messages[0]?.body ?? ''
    expect(messages[1]?.body).toBe(text)
    expect(text.length).toBeLessThanOrEqual(SMS_MAX_BODY)
    const lines = text.split('\n')
    expect(lines[0]).toBe(digestHeadline(events))
    expect(lines[0]).toBe('30 alerts: 10 critical, 10 warn, 10 info')
    const listed = lines.slice(1, -1)
    const more = /^\+(\d+) more$/.exec(lines.at(-1) ?? '')
    expect(more).not.toBeNull()
    expect(listed.length + Number(more?.[1])).toBe(30)
    expect(listed.length).toBeGreaterThanOrEqual(9) // as many as fit, not just one
    for (const line of listed) expect(line.length).toBeLessThanOrEqual(160)
    // most severe first, oldest first within a severity
    const order = listed.map((l) => /Alert (\d\d)/.exec(l)?.[1])
    const expected = [...events].sort((a, b) => b.level - a.level || a.timestamp.localeCompare(b.timestamp)).map((e) => /Alert (\d\d)/.exec(e.title)?.[1]).slice(0, listed.length)
    expect(order).toEqual(expected)
    expect(listed.every((l) => l.startsWith('[CRITICAL] '))).toBe(true)
    const sent = await sendAll(channel, events)
    expect(sent.map((s) => s.body)).toEqual([text, text])
  })

  it('a small digest lists every alert and says nothing of more', () => {
    const events = [sampleEvent({ title: 'one', severity: 'info' }), sampleEvent({ title: 'two', status: 'resolved' })]
    const [m] = channelFor().render(events)
    expect(m?.body).toBe('2 alerts: 1 critical, 1 info\n[RESOLVED] risk_gate: two\n[INFO] risk_gate: one')
    expect(channelFor().render([])).toEqual([])
  })

  describe('answers → outcomes', () => {
    const retryable: Array<[string, () => void, number | undefined, number]> = [
      ['429 / 20429 with Retry-After', () => fake.rateLimit(3), 3000, 429],
      ['429 / 20429 without Retry-After', () => fake.rateLimit(), undefined, 429],
      ['500 / 20500', () => fake.fail(500), undefined, 500],
      ['503 / 20503', () => fake.fail(503), undefined, 503],
      ['429 with another Twilio code', () => fake.script(twilioError(429, 14107, 'SMS send rate limit exceeded')), undefined, 429],
      ['400 / 21611: the sender\'s queue is full', () => fake.script(twilioError(400, 21611, "This 'From' number has exceeded the maximum number of queued messages")), undefined, 400],
      ['a gateway\'s 429 page', () => fake.script({ status: 429, headers: { 'retry-after': '2' }, body: 'slow down' }), 2000, 429],
      ['a gateway\'s 502 page', () => fake.script({ status: 502, body: '<html>Bad Gateway</html>' }), undefined, 502]
    ]
    for (const [what, arrange, retryAfterMs, status] of retryable) {
      it(`${what} → retryable`, async () => {
        arrange()
        const out = await sendOne(channelFor())
        expect(out).toMatchObject({ ok: false, retryable: true, status })
        if (out.ok) return
        expect(out.retryAfterMs).toBe(retryAfterMs)
        expect(out.error.startsWith(`sms (to ${TO[0]}): HTTP ${status}`)).toBe(true)
      })
    }

    for (const code of [20003, 21211, 21408, 21606, 21610, 21617]) {
      it(`Twilio error ${code} → permanent, with the code and a hint`, async () => {
        fake.reject(code)
        const out = await sendOne(channelFor())
        const status = PERMANENT_ERRORS[code]?.status
        expect(out).toMatchObject({ ok: false, retryable: false, status })
        if (out.ok) return
        expect(out.error).toMatch(new RegExp(`^sms \\(to \\${TO[0]}\\): HTTP ${status} Twilio error ${code}: .+ \\(.+\\)$`))
        expect(out.error.length).toBeLessThan(400)
      })
    }

    it('the fake\'s own refusals: wrong token (20003), unsubscribed (21610), region (21408), foreign sender (21606)', async () => {
      const cases: Array<[Record<string, unknown>, number, RegExp]> = [
        [{ authToken: 'wrong-token-0123456789' }, 20003, /check accountSid and authToken/],
        [{ to: [UNSUBSCRIBED] }, 21610, /reply START/],
        [{ to: [FORBIDDEN] }, 21408, /Geo permissions/],
        [{ from: '+15005550001' }, 21606, /SMS-capable/]
      ]
      for (const [over, code, hint] of cases) {
        fake.reset()
        const out = await sendOne(channelFor(over))
        expect(out, String(code)).toMatchObject({ ok: false, retryable: false })
        if (out.ok) continue
        expect(out.error).toContain(`Twilio error ${code}`)
        expect(out.error).toMatch(hint)
        expect(fake.requests[0]?.status).toBe(code === 20003 ? 401 : 400)
        expect(fake.delivered()).toEqual([])
      }
    })

    it('the auth token, the account SID and the Basic credentials never appear in an error', async () => {
      const echo = `token=${AUTH_TOKEN} sid=${ACCOUNT_SID} Authorization: Basic ${BASIC} url=/2010-04-01/Accounts/${encodeURIComponent(ACCOUNT_SID)}/Messages.json`
      fake.script(
        twilioError(400, 21211, echo),
        twilioError(401, 20003, echo),
        twilioError(500, 20500, echo),
        twilioTooManyRequests(1),
        { status: 502, body: echo },
        { status: 404, body: { code: 20404, message: `The requested resource /2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json was not found`, status: 404 } }
      )
      const channel = channelFor({ to: [TO[0]] })
      for (let i = 0; i < 6; i++) {
        const out = await sendOne(channel)
        expect(out.ok).toBe(false)
        if (out.ok) continue
        for (const s of SECRETS) expect(out.error).not.toContain(s)
        if (i !== 3) expect(out.error).toContain('***')
      }
      // A refused connection names the recipient, nothing else.
      const gone = await startFake()
      await gone.close()
      const out = await sendOne(create(smsConfig({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, to: TO, apiUrl: gone.apiUrl })))
      expect(out).toMatchObject({ ok: false, retryable: true })
      if (!out.ok) for (const s of SECRETS) expect(out.error).not.toContain(s)
    })
  })

  describe('the fake refuses what Twilio refuses', () => {
    const post = async (body: string, headers: Record<string, string> = {}, path = `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`): Promise<{ status: number, json: { code?: number, status?: number, sid?: string } }> => {
      const res = await fetch(fake.apiUrl + path, {
        method: 'POST',
        headers: { authorization: `Basic ${BASIC}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body
      })
      return { status: res.status, json: await res.json() as { code?: number } }
    }
    const form = (o: Record<string, string>): string => new URLSearchParams(o).toString()

    it('answers 201 with the message resource, and Twilio\'s errors otherwise', async () => {
      const ok = await post(form({ To: TO[0] as string, From: FROM, Body: 'x'.repeat(1600) }))
      expect(ok.status).toBe(201)
      expect(ok.json).toMatchObject({ status: 'queued', to: TO[0], from: FROM, num_segments: '11' })
      expect(ok.json.sid).toMatch(/^SM[0-9a-f]{32}$/)
      const refusals: Array<[string, string, Record<string, string>, number, number]> = [
        ['1601 characters', form({ To: TO[0] as string, From: FROM, Body: 'x'.repeat(1601) }), {}, 400, 21617],
        ['801 emoji (1602 units)', form({ To: TO[0] as string, From: FROM, Body: '🚨'.repeat(801) }), {}, 400, 21617],
        ['a raw lone surrogate', `To=${encodeURIComponent(TO[0] as string)}&From=${encodeURIComponent(FROM)}&Body=a%ED%A0%80b`, {}, 400, 20001],
        ['no To', form({ From: FROM, Body: 'x' }), {}, 400, 21604],
        ['To not E.164', form({ To: '015112345678', From: FROM, Body: 'x' }), {}, 400, 21211],
        ['no From', form({ To: TO[0] as string, Body: 'x' }), {}, 400, 21603],
        ['From not the account\'s', form({ To: TO[0] as string, From: '+15005550001', Body: 'x' }), {}, 400, 21606],
        ['unknown Messaging Service', form({ To: TO[0] as string, MessagingServiceSid: 'MG' + '0'.repeat(32), Body: 'x' }), {}, 400, 21701],
        ['no Body', form({ To: TO[0] as string, From: FROM }), {}, 400, 21602],
        ['JSON instead of a form', JSON.stringify({ To: TO[0], From: FROM, Body: 'x' }), { 'content-type': 'application/json' }, 400, 21604],
        ['wrong token', form({ To: TO[0] as string, From: FROM, Body: 'x' }), { authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:nope`).toString('base64')}` }, 401, 20003],
        ['no credentials', form({ To: TO[0] as string, From: FROM, Body: 'x' }), { authorization: '' }, 401, 20003]
      ]
      for (const [what, body, headers, status, code] of refusals) {
        const r = await post(body, headers)
        expect([r.status, r.json.code, r.json.status], what).toEqual([status, code, status])
      }
      const other = await post(form({ To: TO[0] as string, From: FROM, Body: 'x' }), {}, `/2010-04-01/Accounts/AC${'0'.repeat(32)}/Messages.json`)
      expect([other.status, other.json.code]).toEqual([404, 20404])
      expect(fake.delivered().length).toBe(1)
    })

    it('counts segments as carriers bill them', () => {
      expect(smsSegments('x'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1 })
      expect(smsSegments('x'.repeat(161))).toEqual({ encoding: 'GSM-7', segments: 2 })
      expect(smsSegments('{'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1 }) // extension: two septets each
      expect(smsSegments('{'.repeat(81))).toEqual({ encoding: 'GSM-7', segments: 2 })
      expect(smsSegments('x'.repeat(69) + '—')).toEqual({ encoding: 'UCS-2', segments: 1 })
      expect(smsSegments('x'.repeat(70) + '…')).toEqual({ encoding: 'UCS-2', segments: 2 })
    })
  })

  describe('configuration', () => {
    it('resolves through resolveOptions: a list or a comma string of E.164 numbers, secrets listed', () => {
      const cfg = smsConfig({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: SERVICE, to: ' +4915112345678 ,+447700900123,' })
      // A default rate limit (Step 13): every SMS costs money, and critical: ['*'] includes SMS; a burst becomes digests.
      expect(cfg).toMatchObject({ type: 'sms', enabled: true, rateLimit: { perSecond: 1, burst: 1 } })
      expect(cfg.config).toEqual({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: SERVICE, to: TO })
      expect(cfg.secrets).toContain(AUTH_TOKEN)
    })

    it('bad values fail the start with the option path, and never show the token', () => {
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ accountSid: 'AC123' }, /channels\.sms\.accountSid: got "AC123"; expected a Twilio Account SID/],
        [{ from: '015112345678' }, /channels\.sms\.from: .*expected an E\.164 number/],
        [{ to: ['+4915112345678', '0151 1234'] }, /channels\.sms\.to/],
        [{ to: [] }, /channels\.sms\.to/],
        [{ apiUrl: 'ftp://example.com' }, /channels\.sms\.apiUrl/],
        [{ authToken: undefined }, /channels\.sms\.authToken: missing/],
        [{ extra: 1 }, /channels\.sms\.extra: unknown option/]
      ]
      for (const [over, message] of bad) {
        const config = { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, to: TO, ...over }
        let thrown: Error | undefined
        try { smsConfig(config) } catch (err) { thrown = err as Error }
        expect(thrown?.message, JSON.stringify(over)).toMatch(message)
        expect(thrown?.message).not.toContain(AUTH_TOKEN)
      }
    })

    it('reads RISK_ALERTS_TWILIO_ACCOUNT_SID, _TWILIO_AUTH_TOKEN, _SMS_FROM, _SMS_TO; options win; partly set stays off', () => {
      const env = {
        RISK_ALERTS_TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        RISK_ALERTS_TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        RISK_ALERTS_SMS_FROM: FROM,
        RISK_ALERTS_SMS_TO: TO.join(',')
      }
      const quiet = { console: { enabled: false } }
      const full = resolveOptions({ channels: quiet }, env)
      const sms = full.channels.find((c) => c.name === 'sms')
      expect(sms?.config).toEqual({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, to: TO })
      expect(full.warnings).toEqual([])
      // critical goes everywhere, warn does not go to sms
      expect(full.routes.critical).toContain('sms')
      expect(full.routes.warn).not.toContain('sms')

      const mixed = resolveOptions({ channels: { ...quiet, sms: { to: ['+15005550010'] } } }, env)
      expect(mixed.channels.find((c) => c.name === 'sms')?.config.to).toEqual(['+15005550010'])

      const partial = resolveOptions({ channels: quiet }, { ...env, RISK_ALERTS_SMS_TO: '' })
      expect(partial.channels.find((c) => c.name === 'sms')).toBeUndefined()
      expect(partial.warnings).toEqual([expect.stringMatching(/channel "sms" stays off: RISK_ALERTS_SMS_TO not set/)])
      expect(partial.warnings.join('')).not.toContain(AUTH_TOKEN)

      const prefixed = resolveOptions({ channels: quiet, envPrefix: 'APP_' }, Object.fromEntries(Object.entries(env).map(([k, v]) => [k.replace('RISK_ALERTS_', 'APP_'), v])))
      expect(prefixed.channels.map((c) => c.name)).toContain('sms')
      expect(resolveOptions({ channels: quiet, env: false }, env).channels.map((c) => c.name)).not.toContain('sms')
    })
  })

  describe('through createAlerter', () => {
    const smsOptions = (): Record<string, unknown> => ({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, to: TO, apiUrl: fake.apiUrl })

    it('default routes: a critical alert is texted to every recipient, a warn alert is not', async () => {
      const a = createAlerter({ channels: { console: { enabled: false }, sms: smsOptions() } }, { env: {} })
      try {
        await a.ready
        const critical = await a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical', body: 'max drawdown exceeded' })
        expect(critical.deliveries).toEqual([{ channel: 'sms', ok: true, attempts: 2 }])
        expect(fake.delivered().map((s) => [s.to, s.body])).toEqual(TO.map((t) => [t, '[CRITICAL] kill_switch: Kill switch triggered - max drawdown exceeded']))
        const warn = await a.dispatch({ source: 'var_gate', title: 'VaR at 90%', severity: 'warn' })
        const info = await a.dispatch({ source: 'heartbeat', title: 'ok', severity: 'info' })
        expect(warn.deliveries).toEqual([])
        expect(info.deliveries).toEqual([])
        await a.flush()
        expect(fake.requests.length).toBe(2)
      } finally {
        await a.close()
      }
    })

    it('routes can send more: warn routed to sms is texted too', async () => {
      const a = createAlerter({ channels: { console: { enabled: false }, sms: smsOptions() }, routes: { warn: ['sms'] } }, { env: {} })
      try {
        const warn = await a.dispatch({ source: 'var_gate', title: 'VaR at 90%', severity: 'warn' })
        expect(warn.deliveries).toEqual([{ channel: 'sms', ok: true, attempts: 2 }])
        expect(fake.delivered().map((s) => s.body)).toEqual(['[WARN] var_gate: VaR at 90%', '[WARN] var_gate: VaR at 90%'])
      } finally {
        await a.close()
      }
    })

    it('a 429 is retried after Retry-After; a permanent error is not retried', async () => {
      const stderr: string[] = []
      const a = createAlerter({ channels: { console: { enabled: false }, sms: { ...smsOptions(), to: TO.slice(0, 1), retry: { initialMs: 10 } } } }, { env: {}, reporter: new Reporter((t) => { stderr.push(t) }) })
      try {
        fake.rateLimit(1)
        const t0 = Date.now()
        const r = await a.dispatch({ source: 's', title: 'retried', severity: 'critical' })
        expect(r.deliveries).toEqual([{ channel: 'sms', ok: true, attempts: 2 }])
        expect(Date.now() - t0).toBeGreaterThanOrEqual(990)
        fake.reject(21610)
        const p = await a.dispatch({ source: 's', title: 'refused', severity: 'critical' })
        expect(p.deliveries).toMatchObject([{ channel: 'sms', ok: false, attempts: 1 }])
        expect(p.deliveries[0]?.error).toMatch(/^sms \(to \+4915112345678\): HTTP 400 Twilio error 21610: .*\(permanent, not retried\)$/)
        for (const s of SECRETS) expect(JSON.stringify(p)).not.toContain(s)
      } finally {
        await a.close()
      }
      // the undelivered alert is reported on stderr, without a secret
      expect(stderr.join('')).toMatch(/not delivered: sms \(to \+4915112345678\): HTTP 400 Twilio error 21610/)
      for (const s of SECRETS) expect(stderr.join('')).not.toContain(s)
    })

    it('by default (1 SMS a second): 10 critical alerts at once go out as a digest, fewer than 10 requests, every alert represented, each body within 1600', async () => {
      const a = createAlerter({ channels: { console: { enabled: false }, sms: smsOptions() } }, { env: {} })
      try {
        await a.ready
        // long titles: ten subject lines do not all fit one SMS, so the last are counted ("+N more")
        const titles = Array.from({ length: 10 }, (_, i) => `Burst ${i} ` + 'x'.repeat(300))
        const results = await Promise.all(titles.map(async (title, i) =>
          await a.dispatch({ source: 'risk_gate', title, severity: 'critical', body: 'b'.repeat(2000), timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, i)).toISOString() })))
        await a.flush()
        expect(results.every((r) => r.deliveries.length === 1 && r.deliveries[0]?.ok === true)).toBe(true)
        const requests = fake.requests
        expect(requests.length).toBeLessThan(10)
        expect(requests.every((r) => r.status === 201)).toBe(true)
        const sent = fake.delivered()
        for (const s of sent) expect(s.body.length).toBeLessThanOrEqual(SMS_MAX_BODY)
        // every recipient got the same texts; each alert is in one of them, listed or counted
        const bodies = sent.filter((s) => s.to === TO[0]).map((s) => s.body)
        expect(sent.filter((s) => s.to === TO[1]).map((s) => s.body)).toEqual(bodies)
        let represented = 0
        for (const body of bodies) {
          const lines = body.split('\n')
          if (lines.length === 1) { represented++; continue }
          const n = Number(/^(\d+) alerts: /.exec(lines[0] ?? '')?.[1])
          const listed = lines.slice(1).filter((l) => l.startsWith('[CRITICAL] risk_gate: Burst ')).length
          const more = Number(/^\+(\d+) more$/.exec(lines.at(-1) ?? '')?.[1] ?? 0)
          expect(listed + more).toBe(n)
          represented += n
        }
        expect(represented).toBe(10)
        // most severe first, then oldest first: the listed ones are the first alerts
        const digest = bodies.find((b) => b.includes('\n')) ?? ''
        expect(digest).toMatch(/^\d+ alerts: \d+ critical\n\[CRITICAL\] risk_gate: Burst \d x+\.\.\.\n/)
      } finally {
        await a.close()
      }
    })

    it('with a rate limit, a burst goes out as one digest SMS per recipient', async () => {
      const a = createAlerter({ channels: { console: { enabled: false }, sms: { ...smsOptions(), rateLimit: { perSecond: 5, burst: 2 } } } }, { env: {} })
      try {
        const first = await a.dispatch({ source: 'risk_gate', title: 'Burst 0', severity: 'critical' })
        // Both tokens are spent on the first alert's two messages: these 11 wait and go out together.
        const rest = await Promise.all(Array.from({ length: 11 }, async (_, i) =>
          await a.dispatch({ source: 'risk_gate', title: `Burst ${i + 1}`, severity: 'critical' })))
        expect([first, ...rest].every((r) => r.deliveries[0]?.ok === true)).toBe(true)
        expect(rest.every((r) => r.deliveries[0]?.digestOf === 11)).toBe(true)
        const bodies = fake.delivered().map((s) => s.body)
        // the first alert alone (2 recipients), then the 11 that waited, as one digest (2 recipients)
        expect(bodies.length).toBe(4)
        expect(bodies[0]).toBe('[CRITICAL] risk_gate: Burst 0')
        expect(bodies[2]).toMatch(/^11 alerts: 11 critical\n/)
        expect(bodies[2]?.split('\n').slice(1).sort()).toEqual(Array.from({ length: 11 }, (_, i) => `[CRITICAL] risk_gate: Burst ${i + 1}`).sort())
        expect(bodies[3]).toBe(bodies[2])
      } finally {
        await a.close()
      }
    })
  })
})
