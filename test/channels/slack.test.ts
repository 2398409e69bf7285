import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { create, fitSlack, SLACK_COLORS, type SlackBlock, type SlackMessage, type SlackText } from '../../src/channels/slack.js'
import { Deliverer } from '../../src/delivery/deliverer.js'
import { ConfigError } from '../../src/errors.js'
import { AlertEvent } from '../../src/event.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import { hasLoneSurrogate, SLACK_ERROR_STATUS, slackAnswers, slackError, startSlackFake, validateSlackPayload } from '../fakes/slack.js'
import type { RecordedRequest, WebhookServer } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'

// A webhook URL's path is its credential: T<team>/B<bot>/<token>.
const TOKEN = randomBytes(12).toString('hex')
const SECRET_PATH = `/services/T0SECRET1/B0SECRET2/${TOKEN}`

const slackConfig = (config: Record<string, unknown>, name = 'slack'): ResolvedChannel => resolvedChannel('slack', config, name)

runChannelSuite<SlackMessage>('slack', (server) => ({
  channel: create(slackConfig({ webhookUrl: server.origin + SECRET_PATH })),
  secrets: [SECRET_PATH, TOKEN, server.origin + SECRET_PATH]
}), { start: startSlackFake, answers: slackAnswers })

// ---------------------------------------------------------------------------------------------------

const signal = (): AbortSignal => AbortSignal.timeout(5000)
const INJECT = '<!channel> <@U123> <http://evil|click> <!here> <#C1>'
const INJECT_ESCAPED = '&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|click&gt; &lt;!here&gt; &lt;#C1&gt;'

/** Every text object of a message, top-level and attachment blocks. */
function texts (m: SlackMessage): SlackText[] {
  const out: SlackText[] = []
  const walk = (blocks: readonly SlackBlock[]): void => {
    for (const b of blocks) {
      if (b.type === 'header') out.push(b.text)
      if (b.type === 'section') { if (b.text !== undefined) out.push(b.text); out.push(...(b.fields ?? [])) }
      if (b.type === 'context') out.push(...b.elements)
    }
  }
  walk(m.blocks)
  for (const a of m.attachments) walk(a.blocks)
  return out
}

const blockCount = (m: SlackMessage): number => m.blocks.length + m.attachments.reduce((n, a) => n + a.blocks.length, 0)

/** Slack's limits, checked on a rendered message independently of the fake. */
function expectWithinLimits (m: SlackMessage): void {
  expect(blockCount(m)).toBeLessThanOrEqual(50)
  expect(validateSlackPayload(JSON.parse(JSON.stringify(m)))).toBeUndefined()
  for (const b of [...m.blocks, ...m.attachments.flatMap((a) => a.blocks)]) {
    if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(150)
    if (b.type === 'section') {
      expect((b.text?.text.length ?? 0)).toBeLessThanOrEqual(3000)
      expect((b.fields ?? []).length).toBeLessThanOrEqual(10)
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000)
    }
    if (b.type === 'context') expect(b.elements.length).toBeLessThanOrEqual(10)
  }
  // "sensible": the whole request stays far below what Slack truncates (40k characters of text)
  expect(JSON.stringify(m).length).toBeLessThan(40_000)
}

describe('slack channel', () => {
  let server: WebhookServer
  let url: string

  beforeAll(async () => {
    server = await startSlackFake()
    url = server.origin + SECRET_PATH
  })
  afterAll(async () => { await server.close() })
  beforeEach(() => {
    server.reset()
    server.setDefault(slackAnswers.accept)
  })

  const channelFor = (over: Record<string, unknown> = {}): ReturnType<typeof create> => create(slackConfig({ webhookUrl: url, ...over }))

  /** Sends every message; expects Slack (the fake) to accept each; returns what it received. */
  async function sendAll (events: AlertEvent[], channel = channelFor()): Promise<{ messages: SlackMessage[], reqs: RecordedRequest[] }> {
    const messages = channel.render(events)
    for (const m of messages) {
      const out = await channel.send(m, { signal: signal() })
      expect(out, JSON.stringify(out)).toEqual({ ok: true })
    }
    const reqs = await server.waitFor(messages.length)
    for (const r of reqs) expect(r.status).toBe(200)
    return { messages, reqs }
  }

  describe('options', () => {
    it('resolves through resolveOptions: webhookUrl, url override, username, iconEmoji; the URL path is a secret', () => {
      const cfg = slackConfig({ webhookUrl: 'https://hooks.slack.com' + SECRET_PATH, username: 'risk-bot', iconEmoji: ':rotating_light:' }, 'ops-slack')
      expect(cfg).toMatchObject({ name: 'ops-slack', type: 'slack', enabled: true, timeoutMs: 10000 })
      expect(cfg.config).toEqual({ webhookUrl: 'https://hooks.slack.com' + SECRET_PATH, username: 'risk-bot', iconEmoji: ':rotating_light:' })
      expect(cfg.secrets).toContain(SECRET_PATH)
      const channel = create(cfg)
      expect(channel.name).toBe('ops-slack')
      expect(channel.type).toBe('slack')
    })

    it('RISK_ALERTS_SLACK_WEBHOOK configures the channel from the environment', () => {
      const opts = resolveOptions({ channels: { console: { enabled: false } } }, { RISK_ALERTS_SLACK_WEBHOOK: 'https://hooks.slack.com' + SECRET_PATH })
      const cfg = opts.channels.find((c) => c.type === 'slack')
      expect(cfg?.config.webhookUrl).toBe('https://hooks.slack.com' + SECRET_PATH)
    })

    it('bad options fail with the option path', () => {
      expect(() => slackConfig({})).toThrow(ConfigError)
      expect(() => slackConfig({})).toThrow(/channels\.slack\.webhookUrl/)
      expect(() => slackConfig({ webhookUrl: url, iconEmoji: 'rocket' })).toThrow(/channels\.slack\.iconEmoji/)
      expect(() => slackConfig({ webhookUrl: url, colour: 'red' })).toThrow(/channels\.slack\.colour: unknown option/)
    })

    it('url overrides where requests go (webhookUrl still configured)', async () => {
      const channel = channelFor({ webhookUrl: 'https://hooks.slack.com/services/T9/B9/never-used', url: `${server.origin}/proxy/slack` })
      await sendAll([sampleEvent()], channel)
      expect(server.requests[0]?.url).toBe('/proxy/slack')
    })

    it('username and iconEmoji go into the payload', async () => {
      const { reqs } = await sendAll([sampleEvent()], channelFor({ username: 'risk-bot', iconEmoji: ':fire:' }))
      expect(reqs[0]?.json()).toMatchObject({ username: 'risk-bot', icon_emoji: ':fire:' })
      const { reqs: plainReqs } = await (async () => { server.reset(); return await sendAll([sampleEvent()]) })()
      const body = plainReqs[0]?.json<Record<string, unknown>>() ?? {}
      expect('username' in body).toBe(false)
      expect('icon_emoji' in body).toBe(false)
    })
  })

  describe('one alert', () => {
    it('POSTs JSON: fallback text, header with emoji, coloured attachment with title, body, label fields, metadata, context', async () => {
      const event = sampleEvent({ id: 'evt-1', trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) } })
      const { reqs } = await sendAll([event])
      const req = reqs[0] as RecordedRequest
      expect(req.method).toBe('POST')
      expect(req.url).toBe(SECRET_PATH)
      expect(req.header('content-type')).toMatch(/^application\/json/)
      const p = req.json<SlackMessage>()
      expect(p.text).toBe('[CRITICAL] risk_gate: Order blocked')
      expect(p.blocks).toEqual([{ type: 'header', text: { type: 'plain_text', text: ':rotating_light: [CRITICAL] risk_gate: Order blocked', emoji: true } }])
      expect(p.attachments.length).toBe(1)
      const a = p.attachments[0]
      expect(a?.color).toBe(SLACK_COLORS.critical)
      const [section, fields, meta, context] = a?.blocks ?? []
      expect(section).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*Order blocked*\nposition limit exceeded', verbatim: true } })
      expect(fields).toEqual({
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*desk*\nfx', verbatim: true },
          { type: 'mrkdwn', text: '*reason*\nmax_position', verbatim: true }
        ]
      })
      expect(meta?.type === 'section' ? meta.text?.text : '').toBe('```\n' + JSON.stringify({ order: { id: 42, qty: 1000 } }, null, 2) + '\n```')
      expect(context?.type).toBe('context')
      const ctx = context?.type === 'context' ? context.elements.map((e) => e.text) : []
      expect(ctx).toEqual(['*source:* risk_gate', '2025-01-02 03:04:05 UTC', 'id: evt-1', `trace: ${'a'.repeat(32)}`])
    })

    it('an alert without body, labels or metadata has no empty blocks (Slack rejects empty texts)', async () => {
      const { reqs } = await sendAll([sampleEvent({ body: '', labels: {}, metadata: {}, title: '' })])
      const p = reqs[0]?.json<SlackMessage>()
      expect(p?.attachments[0]?.blocks.map((b) => b.type)).toEqual(['section', 'context'])
      expect(p?.attachments[0]?.blocks[0]).toMatchObject({ text: { text: '*(no title)*' } })
    })

    it.each([
      ['critical', 'firing', SLACK_COLORS.critical, ':rotating_light: [CRITICAL]'],
      ['warn', 'firing', SLACK_COLORS.warn, ':warning: [WARN]'],
      ['info', 'firing', SLACK_COLORS.info, ':information_source: [INFO]'],
      ['critical', 'resolved', SLACK_COLORS.resolved, ':white_check_mark: [RESOLVED]'],
      ['warn', 'resolved', SLACK_COLORS.resolved, ':white_check_mark: [RESOLVED]']
    ] as const)('%s %s → colour bar %s, header "%s"', async (severity, status, color, head) => {
      const { reqs } = await sendAll([sampleEvent({ severity, status })])
      const p = reqs[0]?.json<SlackMessage>()
      expect(p?.attachments[0]?.color).toBe(color)
      const header = p?.blocks[0]
      expect(header?.type === 'header' ? header.text.text : '').toBe(`${head} risk_gate: Order blocked`)
      expect(p?.text.startsWith(head.slice(head.indexOf('[')))).toBe(true)
    })

    it('the four colours differ and resolved is green', () => {
      expect(new Set(Object.values(SLACK_COLORS)).size).toBe(4)
      expect(SLACK_COLORS.resolved).toMatch(/^#[0-9A-F]{2}[89A-F][0-9A-F][0-9A-F]{2}$/i)
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(SLACK_COLORS.resolved.slice(i, i + 2), 16)) as [number, number, number]
      expect(g).toBeGreaterThan(r)
      expect(g).toBeGreaterThan(b)
    })
  })

  describe('injection: user text stays inert', () => {
    const hostile = (): AlertEvent => sampleEvent({
      title: INJECT,
      body: `body ${INJECT} & AT&T &amp; done`,
      source: `src ${INJECT}`,
      labels: { [`key ${INJECT}`]: `value ${INJECT}`, team: '<!subteam^S123>' },
      metadata: { note: INJECT }
    })

    const expectInert = (raw: string): void => {
      expect(raw).not.toContain('<!')
      expect(raw).not.toContain('<@')
      expect(raw).not.toContain('<#')
      expect(raw).not.toContain('<http')
      expect(raw).not.toMatch(/[<>]/)
    }

    it('title, body, source, labels and metadata reach Slack escaped; no raw "<!" anywhere in the JSON', async () => {
      const { reqs } = await sendAll([hostile()])
      const raw = reqs[0]?.text() ?? ''
      expectInert(raw)
      const p = reqs[0]?.json<SlackMessage>() as SlackMessage
      const header = p.blocks[0]
      expect(header?.type === 'header' ? header.text.text : '').toContain('&lt;!channel&gt;')
      expect(p.text).toContain(INJECT_ESCAPED)
      const all = texts(p).map((t) => t.text).join('\n')
      expect(all).toContain(`*${INJECT_ESCAPED}*`) // title
      expect(all).toContain(`body ${INJECT_ESCAPED} &amp; AT&amp;T &amp;amp; done`) // body, & escaped exactly once
      expect(all).toContain(`*source:* src ${INJECT_ESCAPED}`)
      expect(all).toContain(`*key ${INJECT_ESCAPED}*\nvalue ${INJECT_ESCAPED}`)
      expect(all).toContain('&lt;!subteam^S123&gt;')
      expect(all).toContain(`"note": "${INJECT_ESCAPED}"`)
      // and no mrkdwn text lets Slack auto-parse names
      for (const t of texts(p)) if (t.type === 'mrkdwn') expect(t.verbatim).toBe(true)
    })

    it('a digest of hostile alerts is escaped too', async () => {
      const { reqs } = await sendAll([hostile(), sampleEvent({ severity: 'warn', title: `warn ${INJECT}` })])
      expect(reqs.length).toBe(1)
      expectInert(reqs[0]?.text() ?? '')
      expect(reqs[0]?.text()).toContain('warn &lt;!channel&gt;')
    })

    it('escaping then cutting never leaves half an entity', () => {
      const raw = 'a&<>'.repeat(100)
      for (let max = 1; max < 120; max++) {
        const s = fitSlack(raw, max)
        expect(s.length).toBeLessThanOrEqual(max)
        expect(s.replace(/&(amp|lt|gt);/g, '')).not.toMatch(/[&<>]/)
      }
    })
  })

  describe('limits', () => {
    it('long title, 10 kB body, 45 labels with 5 kB values: cut with "…" to Slack\'s limits, and accepted', async () => {
      const labels: Record<string, string> = {}
      for (let i = 0; i < 45; i++) labels[`label_${i}`] = `v${i}:` + 'x'.repeat(5000)
      const event = sampleEvent({ title: 'T'.repeat(400), body: 'B'.repeat(10_240), labels, metadata: { dump: 'm'.repeat(20_000) } })
      const { messages, reqs } = await sendAll([event])
      expect(messages.length).toBe(1)
      const p = reqs[0]?.json<SlackMessage>() as SlackMessage
      expectWithinLimits(p)
      const header = p.blocks[0]
      expect(header?.type === 'header' ? header.text.text : '').toMatch(/^:rotating_light: \[CRITICAL\] risk_gate: T+…$/)
      expect(header?.type === 'header' ? header.text.text.length : 0).toBe(150)
      const [section] = p.attachments[0]?.blocks ?? []
      const text = section?.type === 'section' ? section.text?.text ?? '' : ''
      expect(text.length).toBe(3000)
      expect(text.endsWith('B…')).toBe(true)
      const fields = p.attachments[0]?.blocks.flatMap((b) => (b.type === 'section' ? b.fields ?? [] : [])) ?? []
      expect(fields.length).toBe(30)
      expect(fields.at(-1)?.text).toBe('_…and 16 more labels_')
      for (const f of fields.slice(0, -1)) expect(f.text.endsWith('x…')).toBe(true)
    })

    it('emoji, CJK and lone surrogates render into accepted messages (lone surrogates become U+FFFD)', async () => {
      const event = sampleEvent({
        title: '🚨 注文がブロックされました \ud800 end',
        body: '건강 검진 실패 👩‍👩‍👧 \udc00 ' + '漢'.repeat(5000) + '🚨'.repeat(100),
        source: '风险_gate',
        labels: { '地域': '東京 🗼', broken: 'x\ud83dy' }
      })
      const { reqs } = await sendAll([event])
      const p = reqs[0]?.json<SlackMessage>() as SlackMessage
      expectWithinLimits(p)
      const raw = JSON.stringify(p)
      expect(hasLoneSurrogate(raw)).toBe(false)
      expect(raw).toContain('🚨 注文がブロックされました \ufffd end')
      expect(raw).toContain('건강 검진 실패 👩‍👩‍👧 \ufffd')
      expect(raw).toContain('*地域*\\n東京 🗼')
      expect(raw).toContain('x\ufffdy')
      expect(raw).toContain('风险_gate')
    })

    it('the fake rejects what Slack rejects (so the tests above can fail)', async () => {
      const channel = channelFor()
      const base = channel.render([sampleEvent()])[0] as SlackMessage
      const header = (text: string): SlackBlock => ({ type: 'header', text: { type: 'plain_text', text } })
      const cases: Array<[SlackMessage, string]> = [
        [{ ...base, blocks: [header('x'.repeat(151))] }, 'invalid_blocks'],
        [{ ...base, blocks: [header('')] }, 'invalid_blocks'],
        [{ ...base, blocks: Array.from({ length: 47 }, () => ({ type: 'divider' }) as SlackBlock) }, 'invalid_blocks'], // 47 + 4 = 51
        [{ ...base, attachments: [{ color: '#000000', fallback: 'x', blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn' as const, text: 'f' })) }] }] }, 'invalid_blocks'],
        [{ ...base, attachments: [{ color: '#000000', fallback: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3001) } }] }] }, 'invalid_blocks'],
        [{ ...base, text: 'a\ud800b' }, 'invalid_payload'],
        [{ text: '', blocks: [], attachments: [] }, 'no_text']
      ]
      for (const [message, code] of cases) {
        server.reset()
        const out = await channel.send(message, { signal: signal() })
        expect(out, code).toMatchObject({ ok: false, retryable: false, status: 400 })
        if (!out.ok) expect(out.error).toContain(code)
      }
    })
  })

  describe('digest', () => {
    const thirty = (): AlertEvent[] => Array.from({ length: 30 }, (_, i) => {
      const severity = (['info', 'warn', 'critical'] as const)[i % 3]
      const labels: Record<string, string> = {}
      for (let j = 0; j < 14; j++) labels[`label_${j}`] = `value ${i}-${j} ` + 'v'.repeat(300)
      return sampleEvent({
        id: `digest-${i}`,
        severity,
        status: i === 4 ? 'resolved' : 'firing',
        title: `Alert${String(i).padStart(2, '0')} ` + 'long title '.repeat(40),
        body: 'long body '.repeat(400),
        labels,
        timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString()
      })
    })

    it('30 long alerts → several messages, each within 50 blocks and all limits, all accepted, most severe first', async () => {
      const events = thirty()
      const { messages, reqs } = await sendAll(events)
      expect(messages.length).toBeGreaterThan(1)
      expect(reqs.length).toBe(messages.length)
      const received = reqs.map((r) => r.json<SlackMessage>())
      for (const m of received) expectWithinLimits(m)
      // each alert exactly once, in order: critical, warn, info (oldest first within a severity)
      const order = received.flatMap((m) => m.attachments.map((a) => /Alert(\d\d)/.exec(JSON.stringify(a))?.[1]))
      expect(order.length).toBe(30)
      const expected = [...events].sort((a, b) => ({ critical: 0, warn: 1, info: 2 })[a.severity] - ({ critical: 0, warn: 1, info: 2 })[b.severity] || a.timestamp.localeCompare(b.timestamp))
        .map((e) => /Alert(\d\d)/.exec(e.title)?.[1])
      expect(order).toEqual(expected)
      // headline on every part, numbered
      received.forEach((m, i) => {
        const header = m.blocks[0]
        expect(header?.type === 'header' ? header.text.text : '').toBe(`:rotating_light: 30 alerts: 10 critical, 10 warn, 10 info (1 resolved) (${i + 1}/${received.length})`)
        expect(m.text).toBe(`30 alerts: 10 critical, 10 warn, 10 info (1 resolved) (${i + 1}/${received.length})`)
      })
      // each alert's colour bar: its severity, resolved green
      const colours = received.flatMap((m) => m.attachments.map((a) => a.color))
      const sorted = expected.map((n) => events[Number(n)] as AlertEvent)
      expect(colours).toEqual(sorted.map((e) => (e.status === 'resolved' ? SLACK_COLORS.resolved : SLACK_COLORS[e.severity])))
    })

    it('30 short alerts fit the 50-block limit: 24 per message (1 header + 2 blocks each)', async () => {
      const events = Array.from({ length: 30 }, (_, i) => sampleEvent({ title: `short ${i}`, severity: i < 3 ? 'critical' : 'warn' }))
      const { messages } = await sendAll(events)
      expect(messages.map(blockCount)).toEqual([49, 13])
      expect(messages.map((m) => m.attachments.length)).toEqual([24, 6])
    })

    it('a small digest is one message with a headline and one coloured attachment per alert', async () => {
      const events = [
        sampleEvent({ severity: 'info', title: 'i1' }),
        sampleEvent({ severity: 'warn', title: 'w1' }),
        sampleEvent({ severity: 'critical', title: 'c1', status: 'resolved' })
      ]
      const { reqs } = await sendAll(events)
      expect(reqs.length).toBe(1)
      const p = reqs[0]?.json<SlackMessage>() as SlackMessage
      const header = p.blocks[0]
      // the resolved critical is no longer firing: the header shows the worst firing one
      expect(header?.type === 'header' ? header.text.text : '').toBe(':warning: 3 alerts: 1 critical, 1 warn, 1 info (1 resolved)')
      expect(p.attachments.map((a) => a.color)).toEqual([SLACK_COLORS.resolved, SLACK_COLORS.warn, SLACK_COLORS.info])
      const first = p.attachments[0]?.blocks[0]
      expect(first?.type === 'section' ? first.text?.text : '').toMatch(/^:white_check_mark: \*\[RESOLVED\] risk_gate: c1\*/)
    })
  })

  it('through the delivery wrapper: 30 alerts at once behind the rate limit → a digest split within limits, every message accepted, every alert once', async () => {
    const cfg = slackConfig({ webhookUrl: url, rateLimit: { perSecond: 20, burst: 1 }, retry: { maxAttempts: 1 } })
    const deliverer = new Deliverer(create(cfg), cfg, new AbortController().signal)
    const events = Array.from({ length: 30 }, (_, i) => sampleEvent({ id: `burst-${i}`, title: `Burst${String(i).padStart(2, '0')}`, severity: i % 2 === 0 ? 'warn' : 'critical' }))
    const reports = await Promise.all(events.map(async (e) => await deliverer.deliver(e)))
    for (const r of reports) expect(r, r.error).toMatchObject({ ok: true })
    const received = server.requests.map((r) => r.json<SlackMessage>())
    for (const [i, r] of server.requests.entries()) {
      expect(r.status, `request ${i}`).toBe(200)
      expectWithinLimits(received[i] as SlackMessage)
    }
    // what queued behind the limit travelled as a digest: more than 50 blocks' worth, so in several numbered messages
    expect(received.length).toBeGreaterThanOrEqual(2)
    expect(received.length).toBeLessThan(30)
    const headers = received.map((m) => (m.blocks[0]?.type === 'header' ? m.blocks[0].text.text : ''))
    expect(headers.some((h) => /^:rotating_light: \d+ alerts: \d+ critical, \d+ warn \(1\/\d\)$/.test(h)), headers.join('\n')).toBe(true)
    // every alert exactly once
    const seen = received.flatMap((m) => m.attachments.map((a) => /Burst(\d\d)/.exec(JSON.stringify(a))?.[1]))
    expect(seen.sort()).toEqual(events.map((e) => e.title.slice(5)).sort())
  })

  describe('answers', () => {
    const sendOne = async (channel = channelFor()) => await channel.send(channel.render([sampleEvent()])[0] as SlackMessage, { signal: signal() })

    const expectNoSecret = (error: string): void => {
      expect(error).not.toContain(SECRET_PATH)
      expect(error).not.toContain(TOKEN)
      expect(error).not.toContain('T0SECRET1/B0SECRET2')
      expect(error.startsWith('slack ')).toBe(true)
    }

    it('200 with a body other than "ok" is no delivery (permanent), the body in the error', async () => {
      server.script({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>Sign in to continue</html>' })
      const out = await sendOne()
      expect(out).toMatchObject({ ok: false, retryable: false, status: 200 })
      if (!out.ok) expect(out.error).toContain('Sign in to continue')
    })

    it('429 rate_limited → retryable after Retry-After seconds', async () => {
      server.script(slackAnswers.rateLimited(30))
      const out = await sendOne()
      expect(out).toEqual({ ok: false, retryable: true, status: 429, retryAfterMs: 30_000, error: expect.stringContaining('rate_limited') })
    })

    it.each([500, 502, 503, 504])('%i → retryable', async (status) => {
      server.script(slackError(status, 'rollup_error'))
      expect(await sendOne()).toMatchObject({ ok: false, retryable: true, status })
    })

    it.each(Object.entries(SLACK_ERROR_STATUS))('%s (HTTP %i) → permanent, the code in the error, no secret', async (code, status) => {
      server.script(slackError(status, code))
      const out = await sendOne()
      expect(out).toMatchObject({ ok: false, retryable: false, status })
      if (out.ok) return
      expect(out.error).toContain(code)
      expectNoSecret(out.error)
    })

    it('a dead webhook (404/410 no_service, archived channel) → permanent; the webhook path is never in the error', async () => {
      for (const dead of [slackAnswers.dead(), slackAnswers.dead('no_service', 410), slackAnswers.dead('channel_is_archived')]) {
        server.reset()
        server.setDefault(dead)
        const out = await sendOne()
        expect(out).toMatchObject({ ok: false, retryable: false })
        if (out.ok) continue
        expect(out.error).toMatch(/no_service|channel_is_archived/)
        expect(out.error).toMatch(/revoked|archived/) // the hint says what to do
        expectNoSecret(out.error)
      }
      // also when a proxy in front echoes the path
      server.reset()
      server.setDefault((req) => slackError(404, `no_service for ${req.url} (${encodeURIComponent(req.url)})`))
      const out = await sendOne()
      expect(out).toMatchObject({ ok: false, retryable: false })
      if (!out.ok) expectNoSecret(out.error)
    })

    it('through the delivery wrapper: 429 (Retry-After: 1) then ok → delivered on the second attempt, not before 1 s', async () => {
      const cfg = slackConfig({ webhookUrl: url, retry: { maxAttempts: 3, initialMs: 10, maxMs: 50 } })
      const deliverer = new Deliverer(create(cfg), cfg, new AbortController().signal)
      server.script(slackAnswers.rateLimited(1))
      const report = await deliverer.deliver(sampleEvent())
      expect(report).toMatchObject({ channel: 'slack', ok: true, attempts: 2 })
      const [a, b] = await server.waitFor(2)
      expect((b?.arrivedAt ?? 0) - (a?.arrivedAt ?? 0)).toBeGreaterThanOrEqual(990)
    })

    it('through the delivery wrapper: a dead webhook is tried once and reported permanent, without the path', async () => {
      const cfg = slackConfig({ webhookUrl: url, retry: { maxAttempts: 5, initialMs: 10, maxMs: 50 } })
      const deliverer = new Deliverer(create(cfg), cfg, new AbortController().signal)
      server.setDefault(slackAnswers.dead())
      const report = await deliverer.deliver(sampleEvent())
      expect(report).toMatchObject({ ok: false, attempts: 1 })
      expect(report.error).toContain('no_service')
      expect(report.error).toContain('permanent')
      expectNoSecret(report.error ?? '')
      expect(server.requests.length).toBe(1)
    })
  })
})

// Step 13: metadata is written only as far as the code block can show it. Pretty JSON of 3 000 levels
// of nesting is 18 million characters (indentation grows with depth), all of it cleaned and escaped
// before the cut; deeper nesting overflowed JSON.stringify's stack.
describe('slack: deep metadata', () => {
  it('3 000 levels render in under 100 ms; 100 000 levels render too, within the section limit', () => {
    const c = create(slackConfig({ webhookUrl: 'http://127.0.0.1:9/services/T/B/x' }))
    for (const depth of [3000, 100_000]) {
      const nested = JSON.parse('{"a":['.repeat(depth) + '1' + ']}'.repeat(depth)) as unknown
      const t = performance.now()
      const [m] = c.render([sampleEvent({ metadata: { nested } })])
      expect(performance.now() - t).toBeLessThan(100)
      const texts = JSON.stringify(m)
      expect(texts).toContain('```\\n{\\n  \\"nested\\": {\\n    \\"a\\": [\\n      {')
      expect(validateSlackPayload(m)).toBeUndefined()
    }
  })
})
