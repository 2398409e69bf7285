import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { slackRateLimited, startSlackFake } from './fakes/slack.js'
import { checkSendMessage, telegramApi, tgRateLimited } from './fakes/telegram.js'
import { startWebhookServer } from './fakes/webhook-server.js'
import type { WebhookServer } from './fakes/webhook-server.js'
import { endTransport, until } from './helpers/run.js'

/** Every text a Slack message shows: header, fallback, sections. */
function slackText (body: unknown): string {
  return JSON.stringify(body)
}


describe('bursts behind a rate limit become digests (SPEC §8)', () => {
  it('500 alerts in one second through a real pino transport reach a 1 msg/s Slack in a handful of messages, none lost, no 429 provoked', async () => {
    const limiter = slackRateLimited(1)
    const slack: WebhookServer = await startSlackFake()
    slack.setDefault(limiter.responder)
    const transport = pino.transport({
      target: 'pino-alerts',
      options: { env: false, channels: { console: { enabled: false }, slack: { webhookUrl: `${slack.origin}/services/T0FAKE/B0FAKE/xxxxFAKE` } } }
    })
    const logger = pino(transport)
    try {
      const started = Date.now()
      // Spread over the second, as a real burst is: 50 alerts every 100 ms.
      for (let i = 0; i < 500; i++) {
        logger.error({ alert: { source: 'risk_gate', labels: { n: i } } }, `burst alert #${i}#`)
        if (i % 50 === 49 && i < 499) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(Date.now() - started).toBeLessThan(1000)
      const titles = (): Set<number> => {
        const seen = new Set<number>()
        for (const r of slack.requests) {
          if (r.status !== 200) continue
          for (const m of slackText(r.json()).matchAll(/burst alert #(\d+)#/g)) seen.add(Number(m[1]))
        }
        return seen
      }
      await until(() => titles().size === 500, 15_000)
      expect(Date.now() - started).toBeLessThan(15_000)
      expect(slack.requests.length).toBeLessThanOrEqual(10)
      expect(limiter.limited()).toBe(0)
      expect(slack.requests.every((r) => r.status === 200)).toBe(true)
      // Paced: at least a second between messages (the limiter's own 5% margin included).
      const gaps = slack.requests.slice(1).map((r, i) => r.arrivedAt - slack.requests[i]!.arrivedAt)
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000)
      // Alerts that arrive together, or wait for the next token, travel as digests (headline with counts).
      expect(slack.requests.some((r) => /\d+ alerts: \d+ critical/.test(slackText(r.json())))).toBe(true)
    } finally {
      await endTransport(transport)
      await slack.close()
    }
  }, 30_000)

  it('alerter.stats() matches what the Slack fake received, exactly', async () => {
    const limiter = slackRateLimited(1)
    const slack = await startSlackFake()
    slack.setDefault(limiter.responder)
    const a = createAlerter({ env: false, channels: { console: { enabled: false }, slack: { webhookUrl: `${slack.origin}/services/T/B/x` } } }, { env: {} })
    try {
      const first = await a.dispatch({ source: 's', title: 'first', severity: 'critical' })
      // The token is spent: these 119 wait for the next one and go out together.
      const rest = await Promise.all(Array.from({ length: 119 }, async (_, i) =>
        await a.dispatch({ source: 's', title: `t${i}`, severity: i % 3 === 0 ? 'critical' : 'warn' })))
      const results = [first, ...rest]
      const s = a.stats().channels.slack!
      expect(results.every((r) => r.deliveries[0]?.ok === true)).toBe(true)
      expect(first.deliveries[0]?.digestOf).toBeUndefined()
      expect(rest.every((r) => r.deliveries[0]?.digestOf === 119)).toBe(true)
      expect(s.received).toBe(120)
      expect(s.delivered).toBe(120)
      expect(s.failed + s.dropped).toBe(0)
      expect(s.digests).toBe(1)
      expect(s.messages).toBe(slack.requests.filter((r) => r.status === 200).length)
      expect(s.messages).toBe(2)
      expect(s.attempts).toBe(slack.requests.length)
      expect(s.retried).toBe(limiter.limited())
      expect(limiter.limited()).toBe(0)
      const digest = JSON.stringify(slack.requests[1]!.json())
      for (let i = 0; i < 119; i++) expect(digest).toContain(`: t${i}*`)
    } finally {
      await a.close()
      await slack.close()
    }
  })

  it('300 alerts to a Telegram chat limited to 1 message/s: every alert represented, no message refused or over 4096 characters', async () => {
    const token = '123456:FAKE-token-for-tests'
    const opts = { token, chats: [-1001234567890] }
    const api = telegramApi(opts)
    let last = -Infinity
    let limited = 0
    const tg = await startWebhookServer({
      defaultResponse: (req) => {
        if (req.arrivedAt - last < 1000) { limited++; return tgRateLimited(1) }
        const answer = api(req)
        if (answer.status === 200) last = req.arrivedAt
        return answer
      }
    })
    const a = createAlerter({ env: false, channels: { console: { enabled: false }, telegram: { botToken: token, chatId: -1001234567890, apiUrl: tg.origin } }, routes: { warn: ['telegram'], critical: ['telegram'] } }, { env: {} })
    try {
      const started = Date.now()
      const results = []
      for (let i = 0; i < 300; i++) {
        results.push(a.dispatch({ source: 'var_gate', title: `VaR breach _${i}_ [desk*${i % 7}]`, body: 'limit 1.5M (95%) — check!', severity: i % 10 === 0 ? 'critical' : 'warn' }))
        if (i % 30 === 29) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const done = await Promise.all(results)
      expect(done.filter((r) => r.deliveries[0]?.ok !== true).map((r) => r.deliveries[0]?.error).slice(0, 3)).toEqual([])
      expect(tg.requests.every((r) => r.status === 200)).toBe(true)
      expect(limited).toBe(0)
      const sent = tg.requests.map((r) => {
        const c = checkSendMessage(r, opts)
        if ('error' in c) throw new Error('refused')
        return c.sent
      })
      for (const m of sent) expect(m.parsed.text.length).toBeLessThanOrEqual(4096)
      const seen = new Set<number>()
      for (const m of sent) for (const x of m.parsed.text.matchAll(/VaR breach _(\d+)_ \[desk\*\d\]/g)) seen.add(Number(x[1]))
      expect(seen.size).toBe(300)
      const s = a.stats().channels.telegram!
      expect([s.delivered, s.messages, s.attempts]).toEqual([300, sent.length, tg.requests.length])
      process.stdout.write(`telegram: 300 alerts in ${sent.length} messages, ${Date.now() - started} ms\n`)
    } finally {
      await a.close()
      await tg.close()
    }
  }, 60_000)
})
