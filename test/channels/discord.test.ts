import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../../src/alerter.js'
import { create, DISCORD_COLORS, type DiscordEmbed, type DiscordMessage } from '../../src/channels/discord.js'
import { AlertEvent } from '../../src/event.js'
import { digestHeadline } from '../../src/format/text.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import {
  apiVersionOf, discordAnswers, len, makeDiscordHook, pingsOf, startDiscordFake, validateDiscordMessage, type DiscordFake
} from '../fakes/discord.js'
import type { RecordedRequest } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'

const HOOK = makeDiscordHook()
const HOOKS = { [HOOK.id]: HOOK.token }
const PATH = `/api/webhooks/${HOOK.id}/${HOOK.token}`
const PATH_V10 = `/api/v10/webhooks/${HOOK.id}/${HOOK.token}`

const discordConfig = (config: Record<string, unknown>, name = 'discord'): ResolvedChannel => resolvedChannel('discord', config, name)

/** Discord shows `\x` as `x` for any punctuation x: the text a reader sees. */
const shown = (s: string): string => s.replace(/\\([^0-9A-Za-z\s])/g, '$1')

/** Every text of a message, as displayed (content, then each embed top to bottom). */
function displayText (m: DiscordMessage): string {
  const parts: string[] = []
  if (m.content !== undefined) parts.push(m.content)
  for (const e of m.embeds) {
    parts.push(e.title)
    if (e.description !== undefined) parts.push(e.description)
    for (const f of e.fields ?? []) parts.push(f.name, f.value)
    if (e.footer !== undefined) parts.push(e.footer.text)
  }
  return shown(parts.join('\n'))
}

function embedTotal (embeds: readonly DiscordEmbed[]): number {
  let n = 0
  for (const e of embeds) {
    n += len(e.title) + len(e.description ?? '') + len(e.footer?.text ?? '')
    for (const f of e.fields ?? []) n += len(f.name) + len(f.value)
  }
  return n
}

/** Asserts every limit Discord sets on one message (besides the fake's own check). */
function expectWithinLimits (m: DiscordMessage): void {
  expect(validateDiscordMessage(JSON.parse(JSON.stringify(m)))).toBeNull()
  expect(m.embeds.length).toBeGreaterThan(0)
  expect(m.embeds.length).toBeLessThanOrEqual(10)
  expect(embedTotal(m.embeds)).toBeLessThanOrEqual(6000)
  expect(len(m.content ?? '')).toBeLessThanOrEqual(2000)
  for (const e of m.embeds) {
    expect(len(e.title)).toBeLessThanOrEqual(256)
    expect(len(e.description ?? '')).toBeLessThanOrEqual(4096)
    expect(len(e.footer?.text ?? '')).toBeLessThanOrEqual(2048)
    expect((e.fields ?? []).length).toBeLessThanOrEqual(25)
    for (const f of e.fields ?? []) {
      expect(len(f.name)).toBeLessThanOrEqual(256)
      expect(len(f.value)).toBeLessThanOrEqual(1024)
      expect(f.name.trim()).not.toBe('')
      expect(f.value.trim()).not.toBe('')
    }
  }
  expect(m.allowed_mentions).toEqual({ parse: [] })
}

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

runChannelSuite<DiscordMessage>('discord', (server) => ({
  channel: create(discordConfig({ webhookUrl: `${server.origin}${PATH}` })),
  secrets: [HOOK.token, PATH, PATH_V10, `${server.origin}${PATH}`]
}), {
  start: async () => await startDiscordFake(HOOKS),
  answers: discordAnswers(HOOKS)
}, {
  messageText: (messages) => messages.map(displayText).join('\n')
})

describe('discord fake (answers as Discord does, so that "accepted" means something)', () => {
  let fake: DiscordFake
  beforeAll(async () => { fake = await startDiscordFake(HOOKS) })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  const post = async (body: unknown, path = PATH_V10): Promise<{ status: number, json: any }> => {
    const res = await fetch(`${fake.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
  }
  const embed = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ title: 't', ...over })

  it('accepts a valid message with 204, and with ?wait=true answers 200 and the message', async () => {
    expect((await post({ embeds: [embed()] })).status).toBe(204)
    const waited = await post({ content: 'hi', embeds: [embed()] }, `${PATH_V10}?wait=true`)
    expect(waited.status).toBe(200)
    expect(waited.json).toMatchObject({ content: 'hi', webhook_id: HOOK.id, embeds: [{ type: 'rich', title: 't' }], mention_everyone: false })
  })

  it.each([
    ['title', { embeds: [embed({ title: 'x'.repeat(257) })] }, ['embeds', '0', 'title'], 'BASE_TYPE_MAX_LENGTH'],
    ['description', { embeds: [embed({ description: 'x'.repeat(4097) })] }, ['embeds', '0', 'description'], 'BASE_TYPE_MAX_LENGTH'],
    ['26 fields', { embeds: [embed({ fields: Array.from({ length: 26 }, () => ({ name: 'n', value: 'v' })) })] }, ['embeds', '0', 'fields'], 'BASE_TYPE_MAX_LENGTH'],
    ['field name', { embeds: [embed({ fields: [{ name: 'n'.repeat(257), value: 'v' }] })] }, ['embeds', '0', 'fields', '0', 'name'], 'BASE_TYPE_MAX_LENGTH'],
    ['field value', { embeds: [embed({ fields: [{ name: 'n', value: 'v'.repeat(1025) }] })] }, ['embeds', '0', 'fields', '0', 'value'], 'BASE_TYPE_MAX_LENGTH'],
    ['blank field value', { embeds: [embed({ fields: [{ name: 'n', value: '  ' }] })] }, ['embeds', '0', 'fields', '0', 'value'], 'BASE_TYPE_REQUIRED'],
    ['footer', { embeds: [embed({ footer: { text: 'f'.repeat(2049) } })] }, ['embeds', '0', 'footer', 'text'], 'BASE_TYPE_MAX_LENGTH'],
    ['content', { content: 'c'.repeat(2001) }, ['content'], 'BASE_TYPE_MAX_LENGTH'],
    ['11 embeds', { embeds: Array.from({ length: 11 }, () => embed()) }, ['embeds'], 'BASE_TYPE_MAX_LENGTH'],
    ['6001 in all embeds', { embeds: [embed({ title: '', description: 'd'.repeat(4000) }), embed({ title: '', description: 'd'.repeat(2001) })] }, ['embeds'], 'MAX_EMBED_SIZE_EXCEEDED'],
    ['username with "discord"', { username: 'Discord alerts', content: 'x' }, ['username'], 'USERNAME_INVALID_CONTAINS'],
    ['colour', { embeds: [embed({ color: 0x1000000 })] }, ['embeds', '0', 'color'], 'NUMBER_TYPE_MAX'],
    ['allowed_mentions', { content: 'x', allowed_mentions: { parse: ['channels'] } }, ['allowed_mentions', 'parse', '0'], 'ENUM_TYPE_COERCE'],
    ['a lone surrogate', { content: 'a\ud800b' }, ['content'], 'STRING_TYPE_INVALID']
  ])('refuses %s with 400 Invalid Form Body (50035) and Discord\'s error path', async (_what, body, path, code) => {
    const { status, json } = await post(body)
    expect(status).toBe(400)
    expect(json).toMatchObject({ code: 50035, message: 'Invalid Form Body' })
    let node = json.errors
    for (const p of path) node = node?.[p]
    expect(node?._errors?.[0]?.code).toBe(code)
  })

  it('counts code points as Discord does: 256 emoji (512 UTF-16 units) are a valid title, 257 are not', async () => {
    expect((await post({ embeds: [embed({ title: '🚨'.repeat(256) })] })).status).toBe(204)
    expect((await post({ embeds: [embed({ title: '🚨'.repeat(257) })] })).status).toBe(400)
    expect((await post({ embeds: [embed({ title: '', description: 'd'.repeat(4000) }), embed({ title: '', description: 'd'.repeat(2000) })] })).status).toBe(204)
  })

  it('refuses an empty message (50006), a wrong token (401, 50027) and an unknown webhook (404, 10015)', async () => {
    expect(await post({ embeds: [] })).toEqual({ status: 400, json: { message: 'Cannot send an empty message', code: 50006 } })
    expect(await post({ content: 'x' }, `/api/v10/webhooks/${HOOK.id}/wrong-token`)).toEqual({ status: 401, json: { message: 'Invalid Webhook Token', code: 50027 } })
    const other = makeDiscordHook()
    expect(await post({ content: 'x' }, `/api/v10/webhooks/${other.id}/${other.token}`)).toEqual({ status: 404, json: { message: 'Unknown Webhook', code: 10015 } })
  })

  it('rate limits in the API version\'s units: seconds (float) on v10, milliseconds on the unversioned (v6) path', async () => {
    fake.rateLimitNext(1.5)
    const v10 = await fetch(`${fake.origin}${PATH_V10}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content":"x"}' })
    expect(v10.status).toBe(429)
    expect(v10.headers.get('retry-after')).toBe('2')
    expect(await v10.json()).toEqual({ message: 'You are being rate limited.', retry_after: 1.5, global: false })
    fake.rateLimitNext(1.5)
    const v6 = await fetch(`${fake.origin}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content":"x"}' })
    expect(((await v6.json()) as { retry_after: number }).retry_after).toBe(1500)
    expect(apiVersionOf(PATH)).toBe(6)
  })

  it('pingsOf: without allowed_mentions an @everyone in content pings; with parse [] nobody is', () => {
    expect(pingsOf({ content: '@everyone <@123456789012345678>' })).toEqual({ everyone: true, users: ['123456789012345678'], roles: [] })
    expect(pingsOf({ content: '@everyone <@123456789012345678>', allowed_mentions: { parse: [] } })).toEqual({ everyone: false, users: [], roles: [] })
  })
})

describe('discord channel', () => {
  let fake: DiscordFake
  const signal = (): AbortSignal => AbortSignal.timeout(5000)

  beforeAll(async () => { fake = await startDiscordFake(HOOKS) })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  const channelFor = (over: Record<string, unknown> = {}): ReturnType<typeof create> =>
    create(discordConfig({ webhookUrl: fake.webhookUrl(HOOK.id), ...over }))

  /** Renders and sends; every message must be accepted. Returns the requests the fake received. */
  async function sendAll (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<{ messages: DiscordMessage[], requests: RecordedRequest[] }> {
    const messages = channel.render(events)
    for (const m of messages) expect(await channel.send(m, { signal: signal() })).toEqual({ ok: true })
    const requests = await fake.waitFor(messages.length)
    for (const r of requests) expect(r.status).toBe(r.url.includes('wait=true') ? 200 : 204)
    return { messages, requests }
  }

  it('POSTs one alert as one embed: title, body, colour, fields, footer, timestamp; to /api/v10/', async () => {
    const event = sampleEvent({ trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) } })
    const { requests } = await sendAll(channelFor(), [event])
    const req = requests[0] as RecordedRequest
    expect(req.method).toBe('POST')
    expect(req.path).toBe(PATH_V10)
    expect(req.header('content-type')).toMatch(/^application\/json/)
    const body = req.json<DiscordMessage>()
    expect(body.content).toBeUndefined()
    expect(body.allowed_mentions).toEqual({ parse: [] })
    expect(body.embeds.length).toBe(1)
    const e = body.embeds[0] as DiscordEmbed
    expect(e.title).toBe('[CRITICAL] risk\\_gate: Order blocked') // as sent: the user part escaped
    expect(shown(e.title)).toBe('[CRITICAL] risk_gate: Order blocked') // as shown
    expect(e.description).toBe('position limit exceeded')
    expect(e.color).toBe(DISCORD_COLORS.critical)
    expect(e.timestamp).toBe('2025-01-02T03:04:05.678Z')
    expect(e.footer?.text).toBe(`risk_gate · ${event.id}`)
    const fields = Object.fromEntries((e.fields ?? []).map((f) => [f.name, shown(f.value)]))
    expect(fields).toMatchObject({ Severity: 'CRITICAL', Source: 'risk_gate', desk: 'fx', reason: 'max_position' })
    expect(fields.Metadata).toMatch(/^```json\n[\s\S]*"qty": 1000[\s\S]*\n```$/)
    expect(JSON.parse((fields.Metadata as string).slice(8, -4))).toEqual({ order: { id: 42, qty: 1000 } })
    expect(fields.Trace).toBe(`${'a'.repeat(32)} / ${'b'.repeat(16)}`)
  })

  it('colours by severity (red, amber, blue) and resolved alerts read RESOLVED in green', async () => {
    const cases = [
      [sampleEvent({ severity: 'critical' }), 0xed4245, '[CRITICAL]'],
      [sampleEvent({ severity: 'warn' }), 0xfaa61a, '[WARN]'],
      [sampleEvent({ severity: 'info' }), 0x3498db, '[INFO]'],
      [sampleEvent({ severity: 'critical', status: 'resolved' }), 0x57f287, '[RESOLVED]']
    ] as const
    const channel = channelFor()
    for (const [event, color, word] of cases) {
      fake.reset()
      const { requests } = await sendAll(channel, [event])
      const e = requests[0]?.json<DiscordMessage>().embeds[0] as DiscordEmbed
      expect(e.color).toBe(color)
      expect(shown(e.title).startsWith(`${word} risk_gate: `)).toBe(true)
    }
    // and the hues are what they claim: red, amber, blue, green dominate
    const rgb = (c: number): number[] => [(c >> 16) & 255, (c >> 8) & 255, c & 255]
    const [r, g, b] = rgb(DISCORD_COLORS.critical) as [number, number, number]
    expect(r).toBeGreaterThan(g + 100); expect(r).toBeGreaterThan(b + 100)
    const [ar, ag, ab] = rgb(DISCORD_COLORS.warn) as [number, number, number]
    expect(ar).toBeGreaterThan(200); expect(ag).toBeGreaterThan(120); expect(ab).toBeLessThan(60)
    const [br, , bb] = rgb(DISCORD_COLORS.info) as [number, number, number]
    expect(bb).toBeGreaterThan(br + 100)
    const [gr, gg, gb] = rgb(DISCORD_COLORS.resolved) as [number, number, number]
    expect(gg).toBeGreaterThan(gr + 100); expect(gg).toBeGreaterThan(gb + 80)
  })

  it('@everyone, @here and <@id> in title, body and labels ping nobody and show as written', async () => {
    const bait = '@everyone @here <@123456789012345678> <@&987654321098765432>'
    const event = sampleEvent({ title: `Title ${bait}`, body: `Body ${bait}`, labels: { who: bait, [bait]: 'key' }, source: 'src @here' })
    for (const events of [[event], [event, sampleEvent({ severity: 'info', title: bait })]]) {
      fake.reset()
      const { requests } = await sendAll(channelFor({ wait: true }), events)
      for (const req of requests) {
        const body = req.json<DiscordMessage>()
        expect(body.allowed_mentions).toEqual({ parse: [] })
        expect(pingsOf(body as unknown as Record<string, unknown>)).toEqual({ everyone: false, users: [], roles: [] })
        // the message Discord created (wait=true: 200 and the message) mentions nobody either
        expect(req.status).toBe(200)
        // no raw mention survives where Discord renders markdown: each is escaped (shown as text);
        // footers render neither markdown nor mentions, so they keep the text as is
        const rendered = [body.content ?? '', ...body.embeds.flatMap((e) => [e.title, e.description ?? '', ...(e.fields ?? []).flatMap((f) => [f.name, f.value])])]
        for (const s of rendered) expect(s).not.toMatch(/(?<!\\)<|(?<!\\)@(everyone|here)/)
        // and a reader sees exactly what was logged
        expect(displayText(body)).toContain(`Body ${bait}`)
      }
    }
  })

  it('with wait=true posts to ?wait=true, accepts the 200 and its message, and keeps the URL\'s own query', async () => {
    const channel = create(discordConfig({ webhookUrl: `${fake.webhookUrl(HOOK.id)}?thread_id=1234567890123456789`, wait: true }))
    const [m] = channel.render([sampleEvent()])
    expect(await channel.send(m as DiscordMessage, { signal: signal() })).toEqual({ ok: true })
    const [req] = await fake.waitFor(1)
    expect(req?.url).toBe(`${PATH_V10}?thread_id=1234567890123456789&wait=true`)
    expect(req?.status).toBe(200)
    // without wait: 204 and no query added
    fake.reset()
    const plain = channelFor()
    expect(await plain.send(plain.render([sampleEvent()])[0] as DiscordMessage, { signal: signal() })).toEqual({ ok: true })
    const [req2] = await fake.waitFor(1)
    expect(req2?.url).toBe(PATH_V10)
    expect(req2?.status).toBe(204)
  })

  it('429 with retry_after 1.5 in the body → retryable, retryAfterMs 1500 (the body wins over Retry-After: 2)', async () => {
    const channel = channelFor()
    fake.rateLimitNext(1.5)
    const out = await channel.send(channel.render([sampleEvent()])[0] as DiscordMessage, { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 1500 })
    if (!out.ok) {
      expect(out.error).toMatch(/^discord \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\): HTTP 429 You are being rate limited\./)
      expect(out.error).not.toContain(HOOK.token)
    }
  })

  it('429 without a body field: Retry-After, else X-RateLimit-Reset-After; a global limit says so', async () => {
    const channel = channelFor()
    const m = channel.render([sampleEvent()])[0] as DiscordMessage
    fake.script({ status: 429, headers: { 'retry-after': '3' }, body: '' })
    expect(await channel.send(m, { signal: signal() })).toMatchObject({ retryable: true, retryAfterMs: 3000 })
    fake.script({ status: 429, headers: { 'x-ratelimit-reset-after': '0.25' }, body: 'slow down' })
    expect(await channel.send(m, { signal: signal() })).toMatchObject({ retryable: true, retryAfterMs: 250 })
    fake.rateLimitNext(0.4, { global: true })
    const out = await channel.send(m, { signal: signal() })
    expect(out).toMatchObject({ retryable: true, retryAfterMs: 400 })
    if (!out.ok) expect(out.error).toContain('global')
  })

  it('an explicitly v6 URL gets retry_after in milliseconds and reads it so', async () => {
    const channel = create(discordConfig({ webhookUrl: fake.webhookUrl(HOOK.id, 6) }))
    fake.rateLimitNext(1.5)
    const out = await channel.send(channel.render([sampleEvent()])[0] as DiscordMessage, { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: true, retryAfterMs: 1500 })
    expect(fake.requests[0]?.path).toBe(`/api/v6/webhooks/${HOOK.id}/${HOOK.token}`)
  })

  it('404 Unknown Webhook → permanent; neither the token nor the path shows in the error', async () => {
    const gone = makeDiscordHook()
    const channel = create(discordConfig({ webhookUrl: `${fake.origin}/api/webhooks/${gone.id}/${gone.token}` }))
    const out = await channel.send(channel.render([sampleEvent()])[0] as DiscordMessage, { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: false, status: 404 })
    if (out.ok) return
    expect(out.error).toContain('Unknown Webhook (code 10015')
    expect(out.error.startsWith('discord ')).toBe(true)
    for (const s of [gone.token, `/api/webhooks/${gone.id}/${gone.token}`, `/api/v10/webhooks/${gone.id}/${gone.token}`, `webhooks/${gone.id}`]) {
      expect(out.error).not.toContain(s)
    }
  })

  it('401 Invalid Webhook Token → permanent, the wrong token masked', async () => {
    const channel = create(discordConfig({ webhookUrl: `${fake.origin}/api/webhooks/${HOOK.id}/not-the-right-token-at-all` }))
    const out = await channel.send(channel.render([sampleEvent()])[0] as DiscordMessage, { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: false, status: 401 })
    if (!out.ok) {
      expect(out.error).toContain('Invalid Webhook Token')
      expect(out.error).not.toContain('not-the-right-token-at-all')
    }
  })

  it('a message Discord refuses (50035) → permanent, naming the field', async () => {
    const channel = channelFor()
    const bad: DiscordMessage = { embeds: [{ title: 'x'.repeat(300), color: 0, timestamp: '2025-01-01T00:00:00.000Z' }], allowed_mentions: { parse: [] } }
    const out = await channel.send(bad, { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: false, status: 400 })
    if (!out.ok) expect(out.error).toContain('Invalid Form Body (code 50035) — embeds.0.title: Must be 256 or fewer in length.')
  })

  it('5xx → retryable', async () => {
    const channel = channelFor()
    fake.script({ status: 500, headers: { 'content-type': 'application/json' }, body: { message: '500: Internal Server Error', code: 0 } })
    expect(await channel.send(channel.render([sampleEvent()])[0] as DiscordMessage, { signal: signal() }))
      .toMatchObject({ ok: false, retryable: true, status: 500 })
  })

  it('neutralises Discord markdown from log lines: masked links, emphasis, code fences, headings, quotes, tags', async () => {
    const body = [
      'see [click here](https://evil.example/phish) now',
      '**bold** __under__ ~~strike~~ ||spoiler|| `code`',
      '```js',
      'alert(1)',
      '```',
      '# Heading',
      '-# subtext',
      '> quoted',
      '- item',
      '1. first',
      '<t:1700000000:R> <#123456789012345678> <:emoji:123456789012345678> back\\slash'
    ].join('\n')
    const title = '[x](https://evil.example) **t** `c`'
    const { requests } = await sendAll(channelFor(), [sampleEvent({ title, body, labels: { link: '[l](https://evil.example)' } })])
    const e = requests[0]?.json<DiscordMessage>().embeds[0] as DiscordEmbed
    const d = e.description ?? ''
    // nothing that Discord would parse remains unescaped
    const unescaped = (re: RegExp) => (s: string) => expect(s).not.toMatch(re)
    const meta = (e.fields ?? []).find((f) => f.name === 'Metadata')?.value ?? ''
    expect(meta.startsWith('```json\n') && meta.endsWith('\n```')).toBe(true)
    expect(meta.slice(3, -3)).not.toContain('```') // nothing closes the code block early
    for (const s of [d, e.title, ...(e.fields ?? []).filter((f) => f.name !== 'Metadata').map((f) => f.value)]) {
      unescaped(/(?<!\\)\[[^\]]*(?<!\\)\]\(/)(s) // masked link
      unescaped(/(?<!\\)\*(?<!\\)\*/)(s)
      unescaped(/(?<!\\)_(?<!\\)_/)(s)
      unescaped(/(?<!\\)~/)(s)
      unescaped(/(?<!\\)\|/)(s)
      unescaped(/(?<!\\)`/)(s)
      unescaped(/(?<!\\)</)(s)
    }
    for (const line of d.split('\n')) expect(line).not.toMatch(/^\s*(#|-|>|\d+\.)/)
    // and what a reader sees is exactly what was logged
    expect(shown(d)).toBe(body)
    expect(shown(e.title)).toBe(`[CRITICAL] risk_gate: ${title}`)
    expect(shown((e.fields ?? []).find((f) => f.name === 'link')?.value ?? '')).toBe('[l](https://evil.example)')
  })

  it('10 kB bodies, emoji, CJK and lone surrogates render into accepted messages, cut with an ellipsis', async () => {
    const unit = '🚨 警報: 注文がブロックされました — ünïcödé ✓ '
    const big = unit.repeat(Math.ceil(10_240 / unit.length))
    expect(big.length).toBeGreaterThan(10_000)
    const event = sampleEvent({
      title: '取引停止 🚨 \ud800 lone' + '界'.repeat(400),
      body: big + '\udfff',
      source: 'gate\udc00',
      labels: { 'ключ\ud83d': 'значение \ude00', 地域: '東京' },
      metadata: { note: 'x\ud800y', dump: 'z'.repeat(5000) }
    })
    const { messages, requests } = await sendAll(channelFor(), [event])
    expect(messages.length).toBe(1)
    expectWithinLimits(messages[0] as DiscordMessage)
    const sent = requests[0]?.json<DiscordMessage>() as DiscordMessage
    const e = sent.embeds[0] as DiscordEmbed
    expect(len(e.description ?? '')).toBeLessThanOrEqual(4096)
    expect(len(e.description ?? '')).toBeGreaterThan(3000)
    expect(e.description?.endsWith('…')).toBe(true)
    expect(e.description?.startsWith('🚨 警報: 注文がブロックされました')).toBe(true)
    expect(len(e.title)).toBe(256)
    expect(e.title.endsWith('…')).toBe(true)
    expect(shown(e.title)).toContain('取引停止 🚨 \ufffd lone')
    // nothing ill-formed reached the service
    const raw = requests[0]?.text() ?? ''
    // JSON.stringify writes a lone surrogate as a `\\udXXX` escape (an odd run of backslashes before `u`)
    expect(raw).not.toMatch(/(^|[^\\])(\\\\)*\\ud[89a-f][0-9a-f]{2}/i)
    expect(shown((e.fields ?? []).find((f) => f.name === 'Metadata')?.value ?? '')).toContain('"note":"x\ufffdy"')
    for (const s of [e.title, e.description ?? '', e.footer?.text ?? '', ...(e.fields ?? []).flatMap((f) => [f.name, f.value])]) expect(s).not.toMatch(LONE)
    expect(e.footer?.text.startsWith('gate\ufffd · ')).toBe(true)
    expect((e.fields ?? []).map((f) => f.name)).toContain('ключ\ufffd')
  })

  it('a digest of 30 long alerts: every message within every limit, all accepted, all alerts, most severe first', async () => {
    const severities = ['info', 'warn', 'critical'] as const
    const events = Array.from({ length: 30 }, (_, i) => sampleEvent({
      severity: severities[i % 3],
      title: `Alert${String(i).padStart(2, '0')} ` + 'long title with [link](https://x.example) and *stars* '.repeat(8),
      body: `Body of ${i}: ` + 'lorem ipsum **dolor** sit amet <@123> '.repeat(200),
      labels: Object.fromEntries(Array.from({ length: 40 }, (_, j) => [`label_${j}`, `value-${j}-`.repeat(10)])),
      metadata: { i, blob: 'm'.repeat(3000) },
      timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString()
    }))
    const { messages } = await sendAll(channelFor(), events)
    expect(messages.length).toBeGreaterThan(1)
    for (const m of messages) expectWithinLimits(m)
    messages.forEach((m, i) => {
      expect(m.content).toBe(`**${digestHeadline(events)}** (part ${i + 1}/${messages.length})`)
    })
    expect(digestHeadline(events)).toBe('30 alerts: 10 critical, 10 warn, 10 info')
    // every alert once, in digest order (critical, then warn, then info; oldest first within each)
    const footers = messages.flatMap((m) => m.embeds.map((e) => e.footer?.text ?? ''))
    expect(footers.length).toBe(30)
    const order = footers.map((f) => events.findIndex((e) => f.endsWith(e.id)))
    expect(new Set(order).size).toBe(30)
    const expected = [...events].sort((a, b) => ['critical', 'warn', 'info'].indexOf(a.severity) - ['critical', 'warn', 'info'].indexOf(b.severity) || a.timestamp.localeCompare(b.timestamp))
    expect(order.map((i) => events[i]?.id)).toEqual(expected.map((e) => e.id))
    // each embed still shows its alert's title start, body start and labels
    const first = messages[0]?.embeds[0] as DiscordEmbed
    expect(shown(first.title)).toMatch(/^\[CRITICAL\] risk_gate: Alert02 long title/)
    expect(shown(first.description ?? '')).toMatch(/^Body of 2: lorem ipsum \*\*dolor\*\*/)
    expect(first.fields?.[0]?.name).toBe('Labels')
    expect(shown(first.fields?.[0]?.value ?? '')).toMatch(/^label_0=value-0-/)
  })

  it('a small digest is one message with the headline', () => {
    const events = [sampleEvent({ severity: 'warn', title: 'W' }), sampleEvent({ severity: 'critical', title: 'C' }), sampleEvent({ severity: 'info', title: 'I' })]
    const messages = channelFor().render(events)
    expect(messages.length).toBe(1)
    expect(messages[0]?.content).toBe('**3 alerts: 1 critical, 1 warn, 1 info**')
    expect(messages[0]?.embeds.map((e) => shown(e.title))).toEqual(['[CRITICAL] risk_gate: C', '[WARN] risk_gate: W', '[INFO] risk_gate: I'])
    expect(messages[0]?.embeds.map((e) => e.color)).toEqual([DISCORD_COLORS.critical, DISCORD_COLORS.warn, DISCORD_COLORS.info])
  })

  it('many labels: at most 25 fields, the rest summed up, accepted', async () => {
    const labels = Object.fromEntries(Array.from({ length: 60 }, (_, j) => [`k${j}`, `v${j}`]))
    const { messages } = await sendAll(channelFor(), [sampleEvent({ labels })])
    const e = messages[0]?.embeds[0] as DiscordEmbed
    expect(e.fields?.length).toBe(25)
    const more = e.fields?.find((f) => /^\+\d+ more labels$/.test(f.name))
    expect(more).toBeDefined()
    const inline = (e.fields ?? []).filter((f) => /^k\d+$/.test(f.name)).length
    expect(more?.name).toBe(`+${60 - inline} more labels`)
    expect(shown(more?.value ?? '')).toContain('k59=v59')
  })

  it('sends username and avatar_url when configured', async () => {
    const { requests } = await sendAll(channelFor({ username: 'Risk Alerts', avatarUrl: 'https://example.com/a.png' }), [sampleEvent()])
    expect(requests[0]?.json()).toMatchObject({ username: 'Risk Alerts', avatar_url: 'https://example.com/a.png' })
  })

  it('refuses at start a username Discord refuses, and the Slack-compatible URL', () => {
    expect(() => channelFor({ username: 'My Discord Bot' })).toThrow(/channels\.discord\.username: .*"discord"/)
    expect(() => channelFor({ username: 'here' })).toThrow(/username/)
    expect(() => create(discordConfig({ webhookUrl: `${fake.webhookUrl(HOOK.id)}/slack` }))).toThrow(/\/slack/)
  })

  it('`url` overrides where requests go; webhookUrl\'s token stays secret', async () => {
    const channel = create(discordConfig({ webhookUrl: `https://discord.com/api/webhooks/${HOOK.id}/${HOOK.token}`, url: fake.webhookUrl(HOOK.id) }))
    await sendAll(channel, [sampleEvent()])
    expect(fake.requests[0]?.path).toBe(PATH_V10)
  })

  it('resolves through resolveOptions, from options and from RISK_ALERTS_DISCORD_WEBHOOK', () => {
    const url = `https://discord.com/api/webhooks/${HOOK.id}/${HOOK.token}`
    const cfg = discordConfig({ webhookUrl: url, wait: true, username: 'Risk' }, 'ops-discord')
    expect(cfg).toMatchObject({ name: 'ops-discord', type: 'discord', enabled: true, config: { webhookUrl: url, wait: true, username: 'Risk' } })
    expect(cfg.secrets).toContain(url)
    expect(cfg.secrets).toContain(`/api/webhooks/${HOOK.id}/${HOOK.token}`)
    expect(create(cfg)).toMatchObject({ name: 'ops-discord', type: 'discord' })

    const fromEnv = resolveOptions({ channels: { console: { enabled: false } } }, { RISK_ALERTS_DISCORD_WEBHOOK: url })
    expect(fromEnv.channels.find((c) => c.type === 'discord')?.config).toMatchObject({ webhookUrl: url })

    expect(() => resolveOptions({ env: false, channels: { discord: { webhookUrl: 'not a url' } } }, {})).toThrow(/channels\.discord\.webhookUrl/)
    expect(() => resolveOptions({ env: false, channels: { discord: { webhookUrl: url, colour: 1 } } }, {})).toThrow(/colour/)
  })

  it('a huge source is cut in title and footer; the footer keeps the alert id', async () => {
    const event = sampleEvent({ source: 's'.repeat(5000), id: 'evt-0123456789' })
    for (const events of [[event], [event, sampleEvent({ severity: 'info' })]]) {
      fake.reset()
      const { messages } = await sendAll(channelFor(), events)
      for (const m of messages) expectWithinLimits(m)
      const e = messages[0]?.embeds[0] as DiscordEmbed
      expect(e.footer?.text).toMatch(/^s+… · evt-0123456789$/)
      expect(shown(e.title)).toMatch(/^\[CRITICAL\] s+…$/)
    }
  })

  it('end to end through createAlerter: a burst of alerts all arrive once, every message accepted', async () => {
    const a = createAlerter({
      env: false,
      channels: { console: { enabled: false }, discord: { webhookUrl: fake.webhookUrl(HOOK.id) } },
      routes: { warn: ['discord'], critical: ['discord'] }
    }, { env: {} })
    try {
      await a.ready
      const results = await Promise.all(Array.from({ length: 21 }, async (_, i) => await a.dispatch({
        source: 'burst', title: `Burst${i} @everyone`, severity: i % 2 === 0 ? 'critical' : 'warn', body: 'x'.repeat(3000), labels: { i: String(i) }
      })))
      await a.flush()
      for (const r of results) expect(r.deliveries).toEqual([expect.objectContaining({ channel: 'discord', ok: true })])
      const bodies = fake.requests.map((r) => { expect(r.status).toBe(204); return r.json<DiscordMessage>() })
      for (const b of bodies) expectWithinLimits(b)
      const ids = bodies.flatMap((b) => b.embeds.map((e) => e.footer?.text.split(' · ')[1]))
      expect(ids.sort()).toEqual(results.map((r) => r.id).sort())
    } finally {
      await a.close()
    }
  })

  it('an event with no body and no labels still renders a valid embed', async () => {
    const { messages } = await sendAll(channelFor(), [AlertEvent.from({ source: 's', title: '' })])
    expectWithinLimits(messages[0] as DiscordMessage)
    expect(messages[0]?.embeds[0]?.description).toBeUndefined()
  })
})

// Step 13: metadata is written only as far as the field can show it (pretty JSON of 3 000 levels is
// 18 million characters, each of them counted and split into code points before the cut).
describe('discord: deep metadata', () => {
  it('3 000 levels render in under 100 ms; 100 000 levels render too, in a valid embed', () => {
    const c = create(discordConfig({ webhookUrl: 'http://127.0.0.1:9/api/webhooks/112233445566778899/tok' }))
    for (const depth of [3000, 100_000]) {
      const nested = JSON.parse('{"a":['.repeat(depth) + '1' + ']}'.repeat(depth)) as unknown
      const t = performance.now()
      const [m] = c.render([sampleEvent({ metadata: { nested } })])
      expect(performance.now() - t).toBeLessThan(100)
      const field = (m as DiscordMessage).embeds[0]?.fields?.find((f) => f.name === 'Metadata')
      expect(field?.value).toMatch(/^```json\n\{"nested":\{"a":\[\{"a":\[/)
      // Events cut metadata at 64 levels (src/event.ts); what is left is shown, marked.
      expect(field?.value).toContain('[nested deeper than 64 levels]')
      expect(validateDiscordMessage(m)).toBeNull()
    }
  })
})
