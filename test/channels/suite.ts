/**
 * The suite every channel must pass (Hono's `common.case.test.ts` idea): the same questions asked of
 * each implementation of `Channel`, against a local fake of its service.
 *
 *   runChannelSuite('slack', (server) => ({ channel: create(cfgFor(server.url)), secrets: [...] }), slackFake)
 *
 * A channel plugs in with
 *  - `makeChannel(server)`: builds the channel pointed at the fake and lists every secret value of its
 *    config (tokens, webhook paths, signing secrets): none may ever show in an outcome's error;
 *  - `fake`: how to start its fake service and, where the service differs from plain HTTP, how that
 *    service says "accepted", "unavailable", "slow down (retry after N s)" and "bad request"
 *    (Telegram: `{ ok: false, parameters: { retry_after } }`, Slack: plain-text `ok`, …).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Channel, Outcome } from '../../src/channels/channel.js'
import { AlertEvent, type AlertInput } from '../../src/event.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import { startWebhookServer, type RecordedRequest, type ScriptedResponse, type WebhookServer } from '../fakes/webhook-server.js'

/** How the faked service answers; each gets the request it answers. */
export interface FakeAnswers {
  /** Delivered. Default 200 `ok`. */
  accept: (req: RecordedRequest) => ScriptedResponse
  /** Temporarily down. Default 503. */
  unavailable: (req: RecordedRequest) => ScriptedResponse
  /** Rate limited, try again in `seconds`. Default 429 with `Retry-After: seconds`. */
  rateLimited: (seconds: number, req: RecordedRequest) => ScriptedResponse
  /** The service refuses this message for good. Default 400. */
  rejected: (req: RecordedRequest) => ScriptedResponse
}

export interface ChannelFake {
  /** Starts the fake service; default: a plain `startWebhookServer()`. */
  start?: () => Promise<WebhookServer>
  answers?: Partial<FakeAnswers>
}

export interface ChannelUnderTest<M = unknown> {
  channel: Channel<M>
  /** Every secret value in the channel's config; each must never appear in any outcome's error. */
  secrets: readonly string[]
}

export type MakeChannel<M = unknown> = (server: WebhookServer) => ChannelUnderTest<M> | Promise<ChannelUnderTest<M>>

export interface ChannelSuiteOptions<M = unknown> {
  /**
   * The text of rendered messages in which the suite looks for the events' titles and their order.
   * Default: `JSON.stringify(messages)` (titles are plain words, so escaping does not hide them).
   */
  messageText?: (messages: readonly M[]) => string
}

export const defaultAnswers: FakeAnswers = {
  accept: () => ({ status: 200, body: 'ok' }),
  unavailable: () => ({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'service unavailable' }),
  rateLimited: (seconds) => ({ status: 429, headers: { 'retry-after': String(seconds), 'content-type': 'text/plain' }, body: 'rate limited' }),
  rejected: () => ({ status: 400, headers: { 'content-type': 'text/plain' }, body: 'invalid payload' })
}

/** A channel's config through the real options validation (no environment read), as the engine gets it. */
export function resolvedChannel (type: string, config: Record<string, unknown>, name = type): ResolvedChannel {
  const opts = resolveOptions({ env: false, channels: { console: { enabled: false }, [name]: name === type ? config : { type, ...config } } }, {})
  const cfg = opts.channels.find((c) => c.name === name)
  if (cfg === undefined) throw new Error(`no ${type} channel resolved`)
  return cfg
}

/** Events with distinct, greppable titles. */
export function sampleEvent (over: Partial<AlertInput> = {}): AlertEvent {
  return AlertEvent.from({
    source: 'risk_gate',
    title: 'Order blocked',
    severity: 'critical',
    body: 'position limit exceeded',
    labels: { desk: 'fx', reason: 'max_position' },
    metadata: { order: { id: 42, qty: 1000 } },
    timestamp: '2025-01-02T03:04:05.678Z',
    ...over
  })
}

const ABORT_AFTER_MS = 100
/** "Promptly": an aborted send must settle well within this, not wait for the server. */
const PROMPT_MS = 1000

export function runChannelSuite<M> (
  name: string,
  makeChannel: MakeChannel<M>,
  fake: ChannelFake = {},
  options: ChannelSuiteOptions<M> = {}
): void {
  const answers: FakeAnswers = { ...defaultAnswers, ...fake.answers }
  const start = fake.start ?? (async () => await startWebhookServer())
  const textOf = options.messageText ?? ((messages: readonly M[]) => JSON.stringify(messages))

  describe(`channel suite: ${name}`, () => {
    let server: WebhookServer
    let channel: Channel<M>
    let secrets: readonly string[]

    beforeAll(async () => {
      server = await start()
      const made = await makeChannel(server)
      channel = made.channel
      secrets = made.secrets
      // A suite that is handed no secret would prove nothing about leaks.
      expect(secrets.length, 'makeChannel must list the channel config secrets').toBeGreaterThan(0)
    })
    afterAll(async () => {
      await channel?.close?.()
      await server?.close()
    })
    beforeEach(() => {
      server.reset()
      server.setDefault((req) => answers.accept(req))
    })

    /** Sends every message of one event; the outcome of the last one, or the first failure. */
    const sendEvent = async (event: AlertEvent, signal = new AbortController().signal): Promise<Outcome> => {
      const messages = channel.render([event])
      expect(messages.length).toBeGreaterThan(0)
      let out: Outcome = { ok: false, retryable: false, error: 'nothing sent' }
      for (const m of messages) {
        out = await channel.send(m, { signal })
        if (!out.ok) return out
      }
      return out
    }

    const expectNoSecret = (out: Outcome, list: readonly string[] = secrets): void => {
      expect(out.ok).toBe(false)
      if (out.ok) return
      expect(typeof out.error).toBe('string')
      expect(out.error.length).toBeGreaterThan(0)
      for (const s of list) {
        expect(out.error, 'an outcome error shows a secret of the channel config').not.toContain(s)
        expect(out.error).not.toContain(encodeURIComponent(s))
      }
    }

    it('has its name and type', () => {
      expect(typeof channel.name).toBe('string')
      expect(channel.name.length).toBeGreaterThan(0)
      expect(typeof channel.type).toBe('string')
    })

    it('renders one event into messages that carry its title and source', () => {
      const e = sampleEvent({ source: 'kill_switch', title: 'SingleEventTitle' })
      const messages = channel.render([e])
      expect(messages.length).toBeGreaterThan(0)
      const text = textOf(messages)
      expect(text).toContain('SingleEventTitle')
      expect(text).toContain('kill_switch')
    })

    it('renders a digest of several events, most severe first', () => {
      const events = [
        sampleEvent({ severity: 'info', title: 'DigestInfoTitle', timestamp: '2025-01-02T03:04:01.000Z' }),
        sampleEvent({ severity: 'critical', title: 'DigestCriticalTitle', timestamp: '2025-01-02T03:04:02.000Z' }),
        sampleEvent({ severity: 'warn', title: 'DigestWarnTitle', timestamp: '2025-01-02T03:04:03.000Z' }),
        sampleEvent({ severity: 'critical', title: 'DigestLaterCriticalTitle', timestamp: '2025-01-02T03:04:04.000Z' })
      ]
      const messages = channel.render(events)
      expect(messages.length).toBeGreaterThan(0)
      const text = textOf(messages)
      const at = ['DigestCriticalTitle', 'DigestLaterCriticalTitle', 'DigestWarnTitle', 'DigestInfoTitle'].map((t) => {
        const i = text.indexOf(t)
        expect(i, `digest lacks "${t}"`).toBeGreaterThanOrEqual(0)
        return i
      })
      // critical (oldest first), then warn, then info
      expect(at).toEqual([...at].sort((a, b) => a - b))
    })

    it('a send the service accepts → { ok: true }, one request', async () => {
      const event = sampleEvent({ title: 'AcceptedTitle' })
      const out = await sendEvent(event)
      expect(out).toEqual({ ok: true })
      expect(server.requests.length).toBe(channel.render([event]).length)
      expect(server.requests[0]?.text()).toContain('AcceptedTitle')
    })

    it('service unavailable (503) → retryable', async () => {
      server.script((req) => answers.unavailable(req))
      const out = await sendEvent(sampleEvent())
      expect(out).toMatchObject({ ok: false, retryable: true })
      expectNoSecret(out)
      expect(server.requests.length).toBe(1)
    })

    it('rate limited (429 + retry after) → retryable with retryAfterMs', async () => {
      server.script((req) => answers.rateLimited(7, req))
      const out = await sendEvent(sampleEvent())
      expect(out).toMatchObject({ ok: false, retryable: true })
      if (out.ok) return
      expect(out.retryAfterMs).toBeGreaterThanOrEqual(7000)
      expect(out.retryAfterMs).toBeLessThanOrEqual(8000)
      expectNoSecret(out)
    })

    it('bad request (400) → permanent', async () => {
      server.script((req) => answers.rejected(req))
      const out = await sendEvent(sampleEvent())
      expect(out).toMatchObject({ ok: false, retryable: false })
      expectNoSecret(out)
      expect(server.requests.length).toBe(1)
    })

    it('a hung service and an aborted signal → ok:false retryable, promptly', async () => {
      server.script({ hold: true })
      const ac = new AbortController()
      const t0 = performance.now()
      setTimeout(() => ac.abort(new Error('attempt timed out after 100 ms')), ABORT_AFTER_MS).unref()
      const out = await sendEvent(sampleEvent(), ac.signal)
      const elapsed = performance.now() - t0
      expect(out).toMatchObject({ ok: false, retryable: true })
      expectNoSecret(out)
      expect(server.requests.length).toBe(1) // it did reach the service, which never answered
      expect(elapsed).toBeGreaterThanOrEqual(ABORT_AFTER_MS - 5)
      expect(elapsed).toBeLessThan(ABORT_AFTER_MS + PROMPT_MS)
      server.release()
    })

    it('a service that cannot be reached → ok:false retryable', async () => {
      // A second fake of the same kind, closed before the send: connection refused.
      const gone = await start()
      const made = await makeChannel(gone)
      await gone.close()
      try {
        const messages = made.channel.render([sampleEvent()])
        const out = await made.channel.send(messages[0] as M, { signal: AbortSignal.timeout(5000) })
        expect(out).toMatchObject({ ok: false, retryable: true })
        expectNoSecret(out, made.secrets)
      } finally {
        await made.channel.close?.()
      }
    })

    it('error texts stay short when the service answers with a huge body', async () => {
      server.script({ status: 500, headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(200_000) })
      const out = await sendEvent(sampleEvent())
      expect(out).toMatchObject({ ok: false, retryable: true })
      if (!out.ok) expect(out.error.length).toBeLessThan(2000)
    })

    it('no secret leaks through error bodies that echo the request (proxies, framework 404s)', async () => {
      // Express answers an unknown route with "Cannot POST /the/path"; gateways often echo the URL.
      const echo = (status: number) => (req: RecordedRequest): ScriptedResponse =>
        ({ status, headers: { 'content-type': 'text/plain' }, body: `Cannot ${req.method} ${req.url}` })
      for (const status of [404, 502]) {
        server.reset()
        server.script(echo(status))
        const out = await sendEvent(sampleEvent())
        expect(out).toMatchObject({ ok: false, retryable: status >= 500 })
        expectNoSecret(out)
      }
    })
  })
}
