import { randomBytes, randomInt } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Outcome } from '../../src/channels/channel.js'
import { create, type TelegramMessage } from '../../src/channels/telegram.js'
import { AlertEvent, type AlertInput } from '../../src/event.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import {
  EntityParseError, parseMarkdownV2, parseTelegramHtml, parseTelegramText, startTelegramFake, telegramApi, tgError, tgRateLimited,
  type TelegramFake
} from '../fakes/telegram.js'
import { startWebhookServer, type RecordedRequest } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'
import { mulberry32 } from '../helpers/random.js'

// A fresh, realistic token per run: a 10-digit bot id and a 35-character secret.
const BOT_ID = String(randomInt(1_000_000_000, 9_999_999_999))
const TOKEN_SECRET = 'AA' + randomBytes(33).toString('base64url').slice(0, 33)
const TOKEN = `${BOT_ID}:${TOKEN_SECRET}`
const CHAT = -1001234567890
const CHANNEL = '@pino_alerts_test'
const BLOCKED = 555000111
const OLD_GROUP = -4000123
const NEW_SUPERGROUP = -1009876543210
const TOKEN_PARTS = [TOKEN, TOKEN_SECRET, BOT_ID]

const fakeOptions = { token: TOKEN, chats: [CHAT, CHANNEL, 424242], blocked: [BLOCKED], migrated: { [String(OLD_GROUP)]: NEW_SUPERGROUP } }
const startFake = async (): Promise<TelegramFake> => await startTelegramFake(fakeOptions)

const telegramConfig = (config: Record<string, unknown>, name = 'telegram'): ResolvedChannel => resolvedChannel('telegram', config, name)

/** What the reader sees: the message text after Telegram's entity parsing. */
const visible = (m: TelegramMessage): string => parseTelegramText(m.text, m.parse_mode).text

runChannelSuite<TelegramMessage>('telegram', (server) => ({
  channel: create(telegramConfig({ botToken: TOKEN, chatId: CHAT, apiUrl: server.origin })),
  secrets: TOKEN_PARTS
}), {
  start: startFake,
  answers: {
    // The fake's own validating sendMessage: the suite's messages must pass the strict parser too.
    accept: telegramApi(fakeOptions),
    unavailable: () => tgError(502, 'Bad Gateway'),
    rateLimited: (seconds) => tgRateLimited(seconds),
    rejected: () => tgError(400, 'Bad Request: chat not found')
  }
}, {
  // Escaping hides `kill_switch` as `kill\_switch` in the markup: look at what the reader sees.
  messageText: (messages) => messages.map(visible).join('\n')
})

// ---------------------------------------------------------------------------------------------------
// Seeded random text (mulberry32): a failing case is reproduced by its seed and index.


const PIECES = [
  ...'_*[]()~`>#+-=|{}.!\\'.split(''),
  '\\\\', '\\\\\\', '\\_', '\\*', '\\', '\\\n', 'end\\',
  '*bold*', '_italic_', '__underline__', '~strike~', '||spoiler||', '`code`', '```pre```', '```js\ncode\n```',
  '[link](https://example.com/a_(b))', '![👍](tg://emoji?id=5368324170671202286)', '>quote', '\n>quote', '**>expand||',
  '___italic underline___', '*bold _italic_*', '\\`', '``', '```', '[', '](', ')]',
  '<b>', '</b>', '<a href="x">', '&amp;', '&', '&lt;', '&#39;', '</pre>', '<tg-spoiler>', '"', "'",
  '🔥', '🚨', '👨‍👩‍👧‍👦', '🇩🇪', '🏳️‍🌈', 'é', 'ü', 'ß', '中文', '日本語のテキスト', '한국어', 'Ωμέγα', 'עברית', 'العربية',
  '\ud800', '\udfff', '\udc00x', 'y\ud83d', '\ud83d\ude00',
  '\n', '\n\n', '\r\n', '\t', ' ', '   ', '\u0000', '\u0007', '\u001b[31m', '\u007f', '\u0085', '\u2028', '\u200b', '\ufeff',
  'risk_gate', 'Order', 'blocked', 'limit', '1.5%', 'x=1', 'a-b', 'v1.2.3!', '(see #42)', '{json}', 'C:\\path\\file'
]

function randomText (rnd: () => number, maxPieces: number): string {
  const count = Math.floor(rnd() * maxPieces)
  let s = ''
  for (let k = 0; k < count; k++) s += PIECES[Math.floor(rnd() * PIECES.length)] as string
  return s
}

/** Mostly short, sometimes ~1 kB, sometimes ≥ 10 kB. */
function randomField (rnd: () => number): string {
  const r = rnd()
  if (r < 0.08) {
    let s = ''
    while (s.length < 10_000) s += randomText(rnd, 200)
    return s
  }
  if (r < 0.2) return randomText(rnd, 300)
  return randomText(rnd, 12)
}

function randomEvent (rnd: () => number, i: number): AlertEvent {
  const labels: Record<string, string> = {}
  const nLabels = Math.floor(rnd() * (rnd() < 0.1 ? 40 : 4))
  for (let k = 0; k < nLabels; k++) labels[randomText(rnd, 3) + String(k)] = randomField(rnd)
  const input: AlertInput = {
    source: randomField(rnd) || 'src',
    title: randomField(rnd),
    body: randomField(rnd),
    severity: (['info', 'warn', 'critical'] as const)[i % 3],
    status: rnd() < 0.2 ? 'resolved' : 'firing',
    labels,
    metadata: rnd() < 0.5 ? { note: randomField(rnd), n: i, nested: { k: randomText(rnd, 5) } } : {},
    timestamp: new Date(1_735_700_000_000 + i * 1000).toISOString()
  }
  if (rnd() < 0.1) input.trace = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }
  return AlertEvent.from(input)
}

// ---------------------------------------------------------------------------------------------------

describe('telegram channel', () => {
  let fake: TelegramFake
  const signal = (): AbortSignal => AbortSignal.timeout(5000)
  const channelFor = (config: Record<string, unknown> = {}): ReturnType<typeof create> =>
    create(telegramConfig({ botToken: TOKEN, chatId: CHAT, apiUrl: fake.apiUrl, ...config }))

  beforeAll(async () => { fake = await startFake() })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  /** Sends every message; each must be accepted. */
  async function sendAll (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<TelegramMessage[]> {
    const messages = channel.render(events)
    for (const m of messages) {
      const out = await channel.send(m, { signal: signal() })
      expect(out, `rejected: ${m.text.slice(0, 300)}`).toEqual({ ok: true })
    }
    return messages
  }

  const expectNoToken = (out: Outcome): void => {
    expect(out.ok).toBe(false)
    if (out.ok) return
    for (const part of TOKEN_PARTS) {
      expect(out.error).not.toContain(part)
      expect(out.error).not.toContain(encodeURIComponent(part))
    }
  }

  describe('options', () => {
    it('resolves through resolveOptions with its defaults; the token is a secret', () => {
      const cfg = telegramConfig({ botToken: TOKEN, chatId: CHAT })
      expect(cfg.type).toBe('telegram')
      expect(cfg.config).toMatchObject({ botToken: TOKEN, chatId: CHAT })
      expect(cfg.secrets).toContain(TOKEN)
      const [m] = create(cfg).render([sampleEvent()])
      expect(m?.parse_mode).toBe('MarkdownV2')
      expect(m?.chat_id).toBe(CHAT)
      expect(m).not.toHaveProperty('disable_notification')
      expect(m).not.toHaveProperty('message_thread_id')
    })

    it('is configured from RISK_ALERTS_TELEGRAM_BOT_TOKEN and _CHAT_ID', async () => {
      const opts = resolveOptions({ channels: { console: { enabled: false } } }, {
        RISK_ALERTS_TELEGRAM_BOT_TOKEN: TOKEN,
        RISK_ALERTS_TELEGRAM_CHAT_ID: String(CHAT)
      })
      const cfg = opts.channels.find((c) => c.name === 'telegram')
      expect(cfg?.config).toMatchObject({ botToken: TOKEN, chatId: String(CHAT) })
      // A chat id from the environment is a string: the Bot API takes it as well.
      const channel = create({ ...(cfg as ResolvedChannel), config: { ...(cfg as ResolvedChannel).config, apiUrl: fake.apiUrl } })
      await sendAll(channel, [sampleEvent()])
      expect(fake.delivered()[0]?.chatId).toBe(String(CHAT))
    })

    it('rejects a malformed token or chat id without showing the token', () => {
      expect(() => telegramConfig({ botToken: 'nope', chatId: CHAT })).toThrow(/botToken: got \*\*\*; expected a bot token/)
      expect(() => telegramConfig({ botToken: TOKEN, chatId: 'general' })).toThrow(/chatId: got "general"/)
      expect(() => telegramConfig({ botToken: TOKEN, chatId: CHAT, parseMode: 'Markdown' })).toThrow(/parseMode/)
    })
  })

  describe('the request', () => {
    it('POSTs JSON to /bot<token>/sendMessage with previews off', async () => {
      await sendAll(channelFor(), [sampleEvent()])
      const req = fake.requests[0] as RecordedRequest
      expect(req.method).toBe('POST')
      expect(req.path).toBe(`/bot${TOKEN}/sendMessage`)
      expect(req.header('content-type')).toMatch(/^application\/json/)
      const body = req.json<Record<string, unknown>>()
      expect(Object.keys(body).sort()).toEqual(['chat_id', 'link_preview_options', 'parse_mode', 'text'])
      expect(body).toMatchObject({ chat_id: CHAT, parse_mode: 'MarkdownV2', link_preview_options: { is_disabled: true } })
    })

    it('posts into a forum topic and silently for non-critical alerts when asked', async () => {
      const channel = channelFor({ chatId: CHANNEL, messageThreadId: 17, disableNotification: true })
      await sendAll(channel, [sampleEvent({ severity: 'warn' })])
      await sendAll(channel, [sampleEvent({ severity: 'critical' })])
      await sendAll(channel, [sampleEvent({ severity: 'critical', status: 'resolved' })])
      await sendAll(channel, [sampleEvent({ severity: 'info' }), sampleEvent({ severity: 'critical' })])
      const bodies = fake.requests.map((r) => r.json<Record<string, unknown>>())
      expect(bodies.map((b) => b.chat_id)).toEqual([CHANNEL, CHANNEL, CHANNEL, CHANNEL])
      expect(bodies.map((b) => b.message_thread_id)).toEqual([17, 17, 17, 17])
      expect(bodies.map((b) => b.disable_notification)).toEqual([true, undefined, true, undefined])
    })

    it('a self-hosted Bot API server under a path prefix (trailing slash or not)', async () => {
      const prefixed = await startWebhookServer({
        defaultResponse: (req) => ({ status: 200, body: { ok: true, result: { message_id: 1, path: req.path } } })
      })
      try {
        for (const apiUrl of [`${prefixed.origin}/tg-gateway`, `${prefixed.origin}/tg-gateway/`]) {
          await sendAll(channelFor({ apiUrl }), [sampleEvent()])
        }
        expect(prefixed.requests.map((r) => r.path)).toEqual([`/tg-gateway/bot${TOKEN}/sendMessage`, `/tg-gateway/bot${TOKEN}/sendMessage`])
      } finally {
        await prefixed.close()
      }
    })
  })

  describe('what the reader sees', () => {
    it('one alert: bold subject with icon, body, labels, metadata as a JSON pre block, time', async () => {
      const [m] = await sendAll(channelFor(), [sampleEvent({ trace: { traceId: 'f'.repeat(32), spanId: 'e'.repeat(16) } })])
      const sent = fake.delivered()[0]
      expect(sent?.raw).toBe(m?.text)
      const { text, entities } = sent?.parsed ?? { text: '', entities: [] }
      expect(text.split('\n')[0]).toBe('🔴 [CRITICAL] risk_gate: Order blocked')
      expect(entities[0]).toMatchObject({ type: 'bold', offset: 3, length: '[CRITICAL] risk_gate: Order blocked'.length })
      expect(text).toContain('\n\nposition limit exceeded\n\n')
      expect(text).toContain('🏷 desk=fx · reason=max_position')
      const pre = entities.find((e) => e.type === 'pre')
      expect(pre?.language).toBe('json')
      expect(JSON.parse(text.slice(pre?.offset, (pre?.offset ?? 0) + (pre?.length ?? 0)))).toEqual({ order: { id: 42, qty: 1000 } })
      expect(text.endsWith(`🕒 2025-01-02T03:04:05.678Z · trace ${'f'.repeat(32)}`)).toBe(true)
      expect(entities.at(-1)).toMatchObject({ type: 'italic' })
    })

    it('a resolved alert reads RESOLVED, with a green check', async () => {
      await sendAll(channelFor(), [sampleEvent({ status: 'resolved' })])
      expect(fake.delivered()[0]?.parsed.text.split('\n')[0]).toBe('✅ [RESOLVED] risk_gate: Order blocked')
    })

    it('every reserved character arrives exactly as written, in every field', async () => {
      const nasty = 'x_y *b* [a](http://e.com) `c` ~s~ ||p|| >q #h +1 -1 =e |p {b} .d !e \\n \\\\ ```pre``` __u__ ![e](tg://emoji?id=1)'
      const event = sampleEvent({ source: nasty, title: nasty, body: nasty + '\n>start of line', labels: { 'k_[*]`.\\!': nasty }, metadata: { k: nasty } })
      for (const parseMode of ['MarkdownV2', 'HTML']) {
        fake.reset()
        await sendAll(channelFor({ parseMode }), [event])
        const { text, entities } = fake.delivered()[0]?.parsed ?? { text: '', entities: [] }
        expect(text).toContain(`[CRITICAL] ${nasty}: ${nasty}`)
        expect(text).toContain(nasty + '\n>start of line')
        expect(text).toContain('k_[*]`.\\!=' + nasty)
        expect(text).toContain(JSON.stringify(nasty).slice(1, -1))
        // no link, quote, spoiler… came out of user text: only our own bold, pre, italic
        expect(new Set(entities.map((e) => e.type))).toEqual(new Set(['bold', 'pre', 'italic']))
      }
    })

    it('HTML mode: escaped text and only Telegram tags', async () => {
      const [m] = await sendAll(channelFor({ parseMode: 'HTML' }), [sampleEvent({ title: '<b>x</b> & "y" <script>', body: 'a < b > c' })])
      expect(m?.parse_mode).toBe('HTML')
      expect(m?.text).toContain('<b>[CRITICAL] risk_gate: &lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot; &lt;script&gt;</b>')
      expect(m?.text).toContain('<pre><code class="language-json">')
      const { text, entities } = fake.delivered()[0]?.parsed ?? { text: '', entities: [] }
      expect(text.split('\n')[0]).toBe('🔴 [CRITICAL] risk_gate: <b>x</b> & "y" <script>')
      expect(text).toContain('a < b > c')
      expect(entities.find((e) => e.type === 'pre')?.language).toBe('json')
    })

    it('10 kB bodies, titles, labels and metadata: one message, cut with an ellipsis, within 4096', async () => {
      const big = 'ä.'.repeat(5_000)
      const labels: Record<string, string> = {}
      for (let k = 0; k < 50; k++) labels[`label_${k}`] = 'v-'.repeat(200)
      for (const parseMode of ['MarkdownV2', 'HTML']) {
        fake.reset()
        const messages = await sendAll(channelFor({ parseMode }), [sampleEvent({ title: big, body: big + 'TAIL', labels, metadata: { dump: big } })])
        expect(messages.length).toBe(1)
        const { text } = fake.delivered()[0]?.parsed ?? { text: '' }
        expect(text.length).toBeLessThanOrEqual(4096)
        expect(text.length).toBeGreaterThan(3800) // the room is used, not wasted
        expect(text).not.toContain('TAIL')
        expect(text).toMatch(/ä\.…\n/) // the body, cut on a character boundary, marked
        expect(text.split('\n')[0]?.endsWith('…')).toBe(true) // the title too
        expect(text).toContain('🕒 2025-01-02T03:04:05.678Z') // and the footer survives
      }
    })

    it('emoji, CJK and lone surrogates: accepted, surrogates shown as U+FFFD', async () => {
      const title = '🚨 注文がブロックされました \ud800 end \udc00 👨‍👩‍👧‍👦 🇩🇪'
      for (const parseMode of ['MarkdownV2', 'HTML']) {
        fake.reset()
        await sendAll(channelFor({ parseMode }), [sampleEvent({ title, body: '中文正文 \udbff', labels: { 'ключ\ud801': 'значение' } })])
        const { text } = fake.delivered()[0]?.parsed ?? { text: '' }
        expect(text).toContain('🚨 注文がブロックされました \ufffd end \ufffd 👨‍👩‍👧‍👦 🇩🇪')
        expect(text).toContain('中文正文 \ufffd')
        expect(text).toContain('ключ\ufffd=значение')
      }
    })

    it('the fake would refuse lone surrogates (so the test above proves the replacement)', async () => {
      const [m] = channelFor().render([sampleEvent()])
      const res = await fetch(`${fake.apiUrl}/bot${TOKEN}/sendMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...m, text: (m?.text ?? '') + '\ud800' })
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ ok: false, error_code: 400, description: 'Bad Request: strings must be encoded in UTF-8' })
    })
  })

  describe('digests', () => {
    function longAlerts (count: number): AlertEvent[] {
      const labels: Record<string, string> = {}
      for (let k = 0; k < 25; k++) labels[`label_${k}.x`] = `value-${k}_(${'*'.repeat(k)})`
      return Array.from({ length: count }, (_, i) => sampleEvent({
        severity: (['info', 'warn', 'critical'] as const)[i % 3],
        status: i % 7 === 0 ? 'resolved' : 'firing',
        title: `Digest_${String(i).padStart(2, '0')} ` + 'long title with *stars* and [brackets]. '.repeat(20),
        body: `body ${i}: ` + 'a_b.c-d!e '.repeat(1000),
        labels,
        timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString()
      }))
    }

    for (const parseMode of ['MarkdownV2', 'HTML'] as const) {
      it(`30 long alerts (${parseMode}) → several messages, each ≤ 4096 and accepted, most severe first`, async () => {
        const events = longAlerts(30)
        const messages = await sendAll(channelFor({ parseMode }), events)
        expect(messages.length).toBeGreaterThan(1)
        expect(messages.length).toBeLessThanOrEqual(3) // compact: one line per alert
        const delivered = fake.delivered()
        expect(delivered.length).toBe(messages.length)
        const texts = delivered.map((d) => d.parsed.text)
        for (const t of texts) expect(t.length).toBeLessThanOrEqual(4096)
        texts.forEach((t, i) => {
          expect(t.split('\n')[0]).toBe(`📣 30 alerts: 10 critical, 10 warn, 10 info (${i + 1}/${texts.length})`)
        })
        // every alert exactly once, critical (oldest first), then warn, then info
        const order = texts.join('\n').match(/Digest_\d\d/g) ?? []
        const expected = [2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
        expect(order).toEqual(expected.map((i) => `Digest_${String(i).padStart(2, '0')}`))
        expect(texts.join('\n')).toContain('✅ [RESOLVED] risk_gate: Digest_00')
      })
    }

    it('up to 10 alerts: detailed (body and labels), split between alerts, never inside one', async () => {
      const events = longAlerts(10)
      const messages = await sendAll(channelFor(), events)
      expect(messages.length).toBeGreaterThan(1)
      const texts = fake.delivered().map((d) => d.parsed.text)
      for (const t of texts) expect(t.length).toBeLessThanOrEqual(4096)
      const all = texts.join('\n')
      expect(all.match(/🏷 label_0\.x=value-0_\(\) · /g)?.length).toBe(10) // labels of every alert, as written
      expect(all.match(/body \d+: a_b\.c-d!e /g)?.length).toBe(10)
      // each message ends with a complete alert: its labels line (cut with an ellipsis) is the last line
      for (const t of texts) expect(t.split('\n').at(-1)).toMatch(/^🏷 label_0\.x=.*…$/)
    })

    it('a burst of 500 alerts stays a handful of messages, all accepted', async () => {
      const events = Array.from({ length: 500 }, (_, i) => sampleEvent({ title: `Burst ${i} ` + 'x'.repeat(i % 200), body: 'b_'.repeat(i % 300) }))
      const messages = await sendAll(channelFor(), events)
      expect(messages.length).toBeLessThanOrEqual(40)
      const texts = fake.delivered().map((d) => d.parsed.text)
      for (const t of texts) expect(t.length).toBeLessThanOrEqual(4096)
      expect(texts.join('\n').match(/Burst \d+/g)?.length).toBe(500)
    })

    it('a small digest is one message without a part marker', () => {
      const messages = channelFor().render([sampleEvent({ severity: 'warn' }), sampleEvent({ severity: 'critical' })])
      expect(messages.length).toBe(1)
      expect(visible(messages[0] as TelegramMessage).split('\n')[0]).toBe('📣 2 alerts: 1 critical, 1 warn')
    })
  })

  describe('fuzz: any user text renders into messages Telegram accepts', () => {
    const SEED = 0x5eed_7e1e
    for (const [parseMode, count] of [['MarkdownV2', 1000], ['HTML', 250]] as const) {
      it(`${count} random alerts in ${parseMode} (seed ${SEED.toString(16)})`, async () => {
        const rnd = mulberry32(SEED + (parseMode === 'HTML' ? 1 : 0))
        const channel = channelFor({ parseMode })
        let sent = 0
        for (let i = 0; i < count; i++) {
          const event = randomEvent(rnd, i)
          const batch = i % 25 === 24 ? [event, ...Array.from({ length: 1 + Math.floor(rnd() * 30) }, (_, k) => randomEvent(rnd, i * 100 + k))] : [event]
          const messages = channel.render(batch)
          expect(messages.length).toBeGreaterThan(0)
          for (const m of messages) {
            let parsed
            try {
              parsed = parseTelegramText(m.text, parseMode)
            } catch (err) {
              throw new Error(`seed ${SEED.toString(16)}, case ${i}: ${(err as Error).message}\n${JSON.stringify(m.text.slice(0, 500))}`)
            }
            expect(parsed.text.length, `case ${i}`).toBeLessThanOrEqual(4096)
            const out = await channel.send(m, { signal: signal() })
            expect(out, `case ${i}`).toEqual({ ok: true })
            sent++
          }
          // A plain, one-line title reaches the reader verbatim.
          if (batch.length === 1 && /^[^\s\u0000-\u001f\u007f-\u009f\ud800-\udfff]{1,100}$/.test(event.title)) {
            expect(visible(messages[0] as TelegramMessage), `case ${i}`).toContain(event.title)
          }
        }
        expect(fake.delivered().length).toBe(sent)
      })
    }
  })

  describe('answers → outcomes', () => {
    it('429 → retryable after parameters.retry_after seconds', async () => {
      fake.rateLimit(31)
      const [m] = channelFor().render([sampleEvent()])
      const out = await channelFor().send(m as TelegramMessage, { signal: signal() })
      expect(out).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 31_000 })
      if (!out.ok) expect(out.error).toMatch(/^telegram \(http:\/\/127\.0\.0\.1:\d+\/bot\*\*\*\/sendMessage\): 429 Too Many Requests: retry after 31$/)
    })

    it('429 with a Retry-After header too → the later of the two', async () => {
      const [m] = channelFor().render([sampleEvent()])
      fake.script({ ...tgRateLimited(3), headers: { 'content-type': 'application/json', 'retry-after': '9' } })
      expect(await channelFor().send(m as TelegramMessage, { signal: signal() })).toMatchObject({ retryable: true, retryAfterMs: 9000 })
      fake.script({ status: 429, headers: { 'retry-after': '4' }, body: 'slow down' }) // a proxy's 429
      expect(await channelFor().send(m as TelegramMessage, { signal: signal() })).toMatchObject({ retryable: true, retryAfterMs: 4000 })
    })

    it('5xx → retryable; an nginx 502 page too', async () => {
      const [m] = channelFor().render([sampleEvent()])
      fake.fail(500)
      expect(await channelFor().send(m as TelegramMessage, { signal: signal() })).toMatchObject({ ok: false, retryable: true, status: 500 })
      fake.script({ status: 502, headers: { 'content-type': 'text/html' }, body: '<html><center><h1>502 Bad Gateway</h1></center></html>' })
      expect(await channelFor().send(m as TelegramMessage, { signal: signal() })).toMatchObject({ ok: false, retryable: true, status: 502 })
    })

    it('a hung Bot API and an aborted signal → retryable, promptly', async () => {
      fake.hang()
      const [m] = channelFor().render([sampleEvent()])
      const t0 = performance.now()
      const out = await channelFor().send(m as TelegramMessage, { signal: AbortSignal.timeout(100) })
      expect(performance.now() - t0).toBeLessThan(1500)
      expect(out).toMatchObject({ ok: false, retryable: true })
      expectNoToken(out)
      fake.release()
    })

    const permanent: Array<[string, Record<string, unknown>, RegExp]> = [
      ['unknown chat → 400 chat not found', { chatId: -100999 }, /400 Bad Request: chat not found: check chatId/],
      ['a chat that kicked the bot → 403', { chatId: BLOCKED }, /403 Forbidden: bot was kicked from the supergroup chat: add the bot/],
      ['wrong token → 401', { botToken: `${BOT_ID}:${'B'.repeat(35)}` }, /401 Unauthorized: the bot token is wrong or was revoked/],
      ['upgraded group → names the new chat id', { chatId: OLD_GROUP }, new RegExp(`upgraded to a supergroup chat: the group became a supergroup; set chatId to ${NEW_SUPERGROUP}`)]
    ]
    for (const [what, config, message] of permanent) {
      it(`${what}: permanent, through the fake's own checks`, async () => {
        const channel = channelFor(config)
        const [m] = channel.render([sampleEvent()])
        const out = await channel.send(m as TelegramMessage, { signal: signal() })
        expect(out).toMatchObject({ ok: false, retryable: false })
        if (!out.ok) expect(out.error).toMatch(message)
        expect(fake.requests[0]?.status).toBe(out.ok ? 200 : (out as { status: number }).status)
      })
    }

    it("can't parse entities (never for our messages) → permanent, flagged as a bug", async () => {
      fake.script(tgError(400, "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"))
      const [m] = channelFor().render([sampleEvent()])
      const out = await channelFor().send(m as TelegramMessage, { signal: signal() })
      expect(out).toMatchObject({ ok: false, retryable: false, status: 400 })
      if (!out.ok) expect(out.error).toMatch(/can't parse entities.*escaping bug/)
    })

    it('an unknown forum topic → permanent with a hint', async () => {
      const topics = await startTelegramFake({ ...fakeOptions, threads: [3] })
      try {
        const channel = create(telegramConfig({ botToken: TOKEN, chatId: CHAT, apiUrl: topics.apiUrl, messageThreadId: 4 }))
        const [m] = channel.render([sampleEvent()])
        const out = await channel.send(m as TelegramMessage, { signal: signal() })
        expect(out).toMatchObject({ ok: false, retryable: false, status: 400 })
        if (!out.ok) expect(out.error).toMatch(/message thread not found: check messageThreadId/)
      } finally {
        await topics.close()
      }
    })
  })

  describe('the token never leaks', () => {
    const cases: Array<[string, () => Promise<Outcome>]> = [
      ['401 (wrong token; the path carries it)', async () => {
        const channel = create(telegramConfig({ botToken: `${BOT_ID}:${TOKEN_SECRET.slice(0, -1)}${TOKEN_SECRET.endsWith('X') ? 'Y' : 'X'}` /* a wrong token even when the random one ends in X (1 in 64) */, chatId: CHAT, apiUrl: fake.apiUrl }))
        return await channel.send(channel.render([sampleEvent()])[0] as TelegramMessage, { signal: signal() })
      }],
      ['404 (wrong apiUrl path)', async () => {
        const channel = channelFor({ apiUrl: `${fake.apiUrl}/not-the-api` })
        return await channel.send(channel.render([sampleEvent()])[0] as TelegramMessage, { signal: signal() })
      }],
      ['a proxy that echoes the URL, plain and URL-encoded', async () => {
        fake.script((req) => ({ status: 404, body: `Cannot POST ${req.url} (${encodeURIComponent(req.url)})` }))
        const channel = channelFor()
        return await channel.send(channel.render([sampleEvent()])[0] as TelegramMessage, { signal: signal() })
      }],
      ['a token echoed right where the error text is cut (Bot API JSON)', async () => {
        // "Bad Request: " + 180 + the token: a cut at 200 would keep the first 7 digits of the bot id.
        fake.script(tgError(400, 'Bad Request: ' + 'y'.repeat(180) + TOKEN))
        const channel = channelFor()
        const out = await channel.send(channel.render([sampleEvent()])[0] as TelegramMessage, { signal: signal() })
        if (!out.ok) expect(out.error).not.toContain(BOT_ID.slice(0, 7))
        return out
      }],
      ['a token echoed right where the error text is cut (proxy text)', async () => {
        fake.script({ status: 403, body: 'x'.repeat(192) + TOKEN })
        const channel = channelFor()
        const out = await channel.send(channel.render([sampleEvent()])[0] as TelegramMessage, { signal: signal() })
        if (!out.ok) expect(out.error).not.toContain(BOT_ID.slice(0, 8))
        return out
      }],
      ['a network error (nothing listening)', async () => {
        const gone = await startWebhookServer()
        await gone.close()
        const channel = channelFor({ apiUrl: gone.origin })
        return await channel.send(channel.render([sampleEvent()])[0] as TelegramMessage, { signal: signal() })
      }]
    ]
    for (const [what, run] of cases) {
      it(what, async () => {
        const out = await run()
        expect(out.ok).toBe(false)
        expectNoToken(out)
        if (!out.ok) {
          expect(out.error).toMatch(/^telegram \(http:\/\/127\.0\.0\.1:\d+(\/\*\*\*)?\/bot\*\*\*\/sendMessage\): /)
          expect(out.error.length).toBeLessThan(400)
        }
      })
    }
  })
})

describe('the strict MarkdownV2 validator (what makes the fuzz test mean something)', () => {
  const rejects = (text: string, why: RegExp): void => {
    expect(() => parseMarkdownV2(text), JSON.stringify(text)).toThrow(EntityParseError)
    expect(() => parseMarkdownV2(text)).toThrow(why)
  }

  it('accepts the spec examples and parses them like Telegram', () => {
    const r = parseMarkdownV2('*bold \\*text*\n_italic \\*text_\n__underline__\n~strike~\n||spoiler||\n[inline URL](http://www.example.com/)\n`code`\n```python\nprint(1)\n```\n>quote\n>more')
    expect(r.text).toBe('bold *text\nitalic *text\nunderline\nstrike\nspoiler\ninline URL\ncode\nprint(1)\n\nquote\nmore')
    expect(r.entities.map((e) => e.type)).toEqual(['bold', 'italic', 'underline', 'strikethrough', 'spoiler', 'text_link', 'code', 'pre', 'blockquote'])
    expect(r.entities.find((e) => e.type === 'pre')?.language).toBe('python')
    expect(r.entities.find((e) => e.type === 'text_link')?.url).toBe('http://www.example.com/')
    expect(parseMarkdownV2('`a\\`b\\\\c`').text).toBe('a`b\\c')
    expect(parseMarkdownV2('*bold _italic bold ~strike~ __underline__ _ bold*').entities.length).toBe(4)
  })

  it('rejects every unescaped reserved character outside entities', () => {
    for (const c of '.!#+-={}()]>|'.split('')) rejects(`a ${c} b`, /reserved and must be escaped/)
    expect(parseMarkdownV2('a \\. \\! \\# \\+ \\- \\= \\{ \\} \\( \\) \\] \\> \\| \\[ \\_ \\* \\~ \\` \\\\').text).toBe('a . ! # + - = { } ( ) ] > | [ _ * ~ ` \\')
  })

  it('rejects unbalanced entities, bad escapes, bad nesting', () => {
    rejects('*bold', /Can't find end of Bold entity/)
    rejects('_it', /Can't find end of Italic entity/)
    rejects('__u_', /Can't find end of/)
    rejects('`code', /Can't find end of Code entity/)
    rejects('```pre', /Can't find end of Pre entity/)
    rejects('*a _b* c_', /Can't find end of/)
    rejects('[text](http://x', /Can't find end of a URL/)
    rejects('trailing \\', /bad escape/)
    rejects('emoji \\🔥', /bad escape/)
    rejects('```\na ` b```', /reserved/)
    rejects('[a [b](http://x)](http://y)', /can't be nested/)
  })

  it('HTML: only supported tags, balanced, known entities', () => {
    expect(parseTelegramHtml('<b>a &lt; b</b> <pre><code class="language-js">x</code></pre> &#128293;').text).toBe('a < b x 🔥')
    for (const [bad, why] of [['<br>', /Unsupported start tag "br"/], ['<b>x', /Can't find end tag/], ['<b><i>x</b></i>', /Unmatched end tag/],
      ['a & b', /Unsupported HTML entity/], ['a < b', /Unsupported start tag/], ['<span>x</span>', /tg-spoiler/], ['<code><b>x</b></code>', /can't be nested/]] as const) {
      expect(() => parseTelegramHtml(bad)).toThrow(why)
    }
  })

  it('the fake answers as the Bot API for empty and too long texts', async () => {
    const fake = await startFake()
    try {
      const post = async (text: string): Promise<unknown> => await (await fetch(`${fake.apiUrl}/bot${TOKEN}/sendMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: CHAT, text, parse_mode: 'MarkdownV2' })
      })).json()
      expect(await post(' *\\ * ')).toEqual({ ok: false, error_code: 400, description: 'Bad Request: message text is empty' })
      expect(await post('a'.repeat(4097))).toEqual({ ok: false, error_code: 400, description: 'Bad Request: message is too long' })
      expect(await post('\\.'.repeat(4096))).toMatchObject({ ok: true }) // 8192 raw, 4096 after parsing
      expect(await post('x.')).toEqual({ ok: false, error_code: 400, description: "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'" })
    } finally {
      await fake.close()
    }
  })
})

// Step 13: metadata is written only as far as the `pre` block can show it, and a label line only as
// far as its cut (a log line may carry 3 000 levels of nesting: 18 million characters of pretty JSON).
describe('telegram: hostile metadata and labels', () => {
  it('3 000 levels of metadata and 20 000 labels render in under 100 ms, within 4096 characters', () => {
    const c = create(telegramConfig({ botToken: '123456:abc', chatId: 1, apiUrl: 'http://127.0.0.1:9' }))
    const nested = JSON.parse('{"a":['.repeat(3000) + '1' + ']}'.repeat(3000)) as unknown
    const labels: Record<string, string> = {}
    for (let i = 0; i < 20_000; i++) labels[`k${i}`] = ' '.repeat(50) + 'v'
    const t = performance.now()
    const [m] = c.render([sampleEvent({ metadata: { nested }, labels })])
    expect(performance.now() - t).toBeLessThan(100)
    const text = (m as TelegramMessage).text
    expect(text).toContain('```json\n{\n  "nested": {\n    "a": [')
    expect(text).toContain('🏷 k0\\=v · k1\\=v')
    expect(text.length).toBeLessThan(2 * 4096)
  })
})
