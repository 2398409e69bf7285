/**
 * pino-alerts/testing: `checkChannel` names each problem of deliberately broken channels (a render that
 * throws on lone surrogates and breaks its own limits, a send that ignores its signal and hangs, a send
 * that throws or resolves to a malformed outcome), finishes in bounded time even when a send never
 * settles, finds none in any built-in channel (each pointed at a local target that accepts connections
 * and never answers, so the late-abort case is real), and works from the built package under plain
 * node, without any test runner.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Channel, Outcome } from '../src/channels/channel.js'
import { createChannel } from '../src/channels/channel.js'
import { BUILT_IN_TYPES } from '../src/channels/types.js'
import type { AlertEvent } from '../src/event.js'
import { resolveOptions } from '../src/options.js'
import { checkChannel, hostileAlerts } from '../src/testing.js'
import { runNode, tempDir } from './helpers/run.js'

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const abortedOutcome = (signal: AbortSignal): Outcome => ({ ok: false, retryable: true, error: `aborted: ${String((signal.reason as Error)?.message)}` })
/** Resolves once `signal` aborts (at once when it has). */
const untilAborted = async (signal: AbortSignal): Promise<void> => {
  if (signal.aborted) return
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

/** Render broken: throws on a title with a lone surrogate; one message per call, its title uncut; a check that finds `<!channel>`. */
function badRender (): Channel<{ body: string }> {
  return {
    name: 'bad-render',
    type: 'module',
    limits: { maxMessageBytes: 64 * 1024, check: (m: { body: string }) => (m.body.includes('<!channel>') ? 'an unescaped <!channel>' : undefined) },
    render (events: readonly AlertEvent[]) {
      if (events.some((e) => LONE_SURROGATE.test(e.title))) throw new Error('lone surrogate in a title')
      return [{ body: events.map((e) => e.title).join('\n') }]
    },
    async send (_m, { signal }) {
      await untilAborted(signal)
      return abortedOutcome(signal)
    }
  }
}

/** Send broken: ignores its signal and never settles; rendering the digest takes 250 ms. */
function hangingSend (): Channel<string> {
  return {
    name: 'hanging-send',
    type: 'module',
    limits: { maxMessageLength: 100 },
    render (events: readonly AlertEvent[]) {
      if (events.length > 1) {
        const until = performance.now() + 250
        while (performance.now() < until) { /* a slow renderer */ }
      }
      return [`${events.length} alert(s)`]
    },
    async send () {
      return await new Promise<Outcome>(() => {})
    }
  }
}

interface Carried { body: string, ids: string[] }
/** Outcomes broken: send throws, then resolves to an outcome without `retryable`; acknowledge rejects; carries names an alert it was never given; close rejects. */
function badOutcomes (): Channel<Carried> {
  return {
    name: 'bad-outcomes',
    type: 'module',
    limits: { maxMessageBytes: -1 },
    render: (events) => [{ body: 'x', ids: events.slice(1).map((e) => e.id) }],
    carries: (m) => [...m.ids, 'nope'],
    send (_m, { signal }) {
      if (signal.aborted) throw new Error('boom')
      return untilAborted(signal).then(() => ({ ok: false, error: 'timed out', retryAfterMs: -1 }) as unknown as Outcome)
    },
    acknowledge: async () => await Promise.reject(new Error('no incident')),
    flush: async () => {},
    close: async () => await Promise.reject(new Error('already closed'))
  }
}

describe('checkChannel on broken channels', () => {
  it('a render that throws on lone surrogates and breaks its own limits: each alert and the digest named', async () => {
    expect(await checkChannel(badRender())).toEqual([
      'render: threw on the digest of 30 hostile alerts: lone surrogate in a title',
      'render: message 1 of 1 for hostile alert 1 (a 100 KiB run of spaces in the title) is 102403 bytes (maxMessageBytes 65536)',
      'render: threw on hostile alert 5 (lone surrogates): lone surrogate in a title',
      'render: message 1 of 1 for hostile alert 6 (Slack and Discord mentions) breaks a limit: an unescaped <!channel>',
      'render: message 1 of 1 for hostile alert 9 (a 100 KiB title) is 102400 bytes (maxMessageBytes 65536)',
      'render: message 1 of 1 for hostile alert 25 (a resolved alert) breaks a limit: an unescaped <!channel>',
      'render: threw on hostile alert 30 (everything at once): lone surrogate in a title'
    ])
  })

  it('a send that ignores its signal and hangs: both sends named, the check done within about 2 × settleMs; a slow render named', async () => {
    const started = performance.now()
    const problems = await checkChannel(hangingSend(), { lateAbort: true, renderMs: 200 })
    const ms = performance.now() - started
    expect(problems).toEqual([
      expect.stringMatching(/^render: took \d+ ms for the digest of 30 hostile alerts \(at most 200\)$/),
      'send (signal already aborted): did not settle within 1000 ms of the abort',
      'send (signal aborted 50 ms after the call): did not settle within 1000 ms of the abort'
    ])
    // 250 ms of rendering, 1000 ms for the first send, 50 + 1000 ms for the second.
    expect(ms).toBeGreaterThanOrEqual(2000)
    expect(ms).toBeLessThan(4000)
  })

  it('a send that throws, then resolves to a malformed outcome; acknowledge rejects; carries names a stranger; close rejects; a bad limit', async () => {
    expect(await checkChannel(badOutcomes(), { lateAbort: true })).toEqual([
      'limits.maxMessageBytes: not a number > 0 (-1)',
      'carries: message 1 of the digest names "nope", no alert of the digest',
      'carries: 1 alert is carried by no message of the digest ("check-0")',
      'send (signal already aborted): threw: boom',
      'send (signal aborted 50 ms after the call): resolved to a malformed outcome ("retryable" is not a boolean): {"ok":false,"error":"timed out","retryAfterMs":-1}',
      'acknowledge (signal already aborted): rejected: no incident',
      'close: rejected: already closed'
    ])
  })

  it('outcomes of any other shape are named', async () => {
    const shapes: unknown[] = [
      { ok: true, status: 200 },
      { ok: 1 },
      { ok: false, retryable: true, error: '' },
      { ok: false, retryable: true, error: 'x', retryAfterMs: Infinity },
      { ok: false, retryable: false, error: 'x', status: 99.5 },
      { ok: false, retryable: false, error: 'x', notSent: false },
      { ok: false, retryable: false, error: 'x', code: 'E' },
      'ok',
      { ok: false, retryable: true, error: 'fine', retryAfterMs: 0, status: 503, notSent: true }
    ]
    const found: string[] = []
    for (const shape of shapes) {
      const channel: Channel<string> = { name: 'shapes', type: 'module', render: () => ['m'], send: async () => shape as Outcome }
      found.push(...(await checkChannel(channel)))
    }
    expect(found).toEqual([
      'send (signal already aborted): resolved to a malformed outcome ({ ok: true } with other keys (status)): {"ok":true,"status":200}',
      'send (signal already aborted): resolved to a malformed outcome ("ok" is neither true nor false): {"ok":1}',
      'send (signal already aborted): resolved to a malformed outcome ("error" is not a non-empty string): {"ok":false,"retryable":true,"error":""}',
      'send (signal already aborted): resolved to a malformed outcome ("retryAfterMs" is not a finite number ≥ 0): {"ok":false,"retryable":true,"error":"x","retryAfterMs":null}',
      'send (signal already aborted): resolved to a malformed outcome ("status" is not an integer from 100 to 599): {"ok":false,"retryable":false,"error":"x","status":99.5}',
      'send (signal already aborted): resolved to a malformed outcome ("notSent" is neither absent nor true): {"ok":false,"retryable":false,"error":"x","notSent":false}',
      'send (signal already aborted): resolved to a malformed outcome (unknown keys (code)): {"ok":false,"retryable":false,"error":"x","code":"E"}',
      'send (signal already aborted): resolved to a malformed outcome (not an object): "ok"'
    ])
  })

  it('the hostile alerts are the same every run: 30 of them, distinct ids', () => {
    const a = hostileAlerts().map((e) => JSON.stringify(e.toJSON()))
    const b = hostileAlerts().map((e) => JSON.stringify(e.toJSON()))
    expect(a).toHaveLength(30)
    expect(a).toEqual(b)
    expect(new Set(hostileAlerts().map((e) => e.id)).size).toBe(30)
  })
})

// ---------------------------------------------------------------------------------------------------

const TWILIO = { accountSid: 'AC' + 'ab'.repeat(16), authToken: 'fake-twilio-token-0123', from: '+15005550006', to: ['+15005550010'] }

describe('checkChannel on every built-in channel', () => {
  // Accepts connections and never answers (no HTTP response, no SMTP greeting): the late abort is real.
  let silent: Server
  const sockets = new Set<Socket>()
  let port = 0
  const dir = tempDir('pino-alerts-testing-')
  beforeAll(async () => {
    silent = createServer((s) => { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)) })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    port = (silent.address() as { port: number }).port
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => silent.close(() => resolve()))
  })

  for (const type of BUILT_IN_TYPES) {
    it(`${type}: no problem (late abort against a target that never answers)`, async () => {
      const channel = await builtIn(type, `http://127.0.0.1:${port}`, dir)
      expect(channel.limits, `${type} declares its limits`).toBeDefined()
      expect(await checkChannel(channel, { lateAbort: true })).toEqual([])
    })
  }
})

describe('the built-in channels\' declared limits', () => {
  /** Each type's first message made to break one of its service's limits, and what checkChannel must say of it. */
  const breakers: Record<string, { spoil: (m: any) => unknown, says: RegExp }> = {
    console: { spoil: (m: string) => m.slice(0, -1) + '\x1b[2J\n', says: /^breaks a limit: control character U\+001B at \d+$/ },
    file: { spoil: (m: string) => m + 'not json\n', says: /^breaks a limit: line 31 is not JSON$/ },
    webhook: { spoil: (m) => ({ ...m, body: m.body + ' '.repeat(1024 * 1024) }), says: /^is \d+ bytes \(maxMessageBytes 1048576\)$/ },
    email: { spoil: (m) => ({ ...m, subject: m.subject + '\r\nBcc: x@evil.example' }), says: /^breaks a limit: the subject is not one line$/ },
    slack: { spoil: (m) => ({ ...m, blocks: [{ type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } }] }), says: /^breaks a limit: block 1 \(header\) text is 151 long \(at most 150\)$/ },
    telegram: { spoil: (m) => ({ ...m, text: 'a'.repeat(4090) + '\\*'.repeat(7) }), says: /^breaks a limit: the text is 4097 characters after entity parsing \(at most 4096\)$/ },
    discord: { spoil: (m) => ({ ...m, embeds: [{ ...m.embeds[0], title: '🚨'.repeat(257) }] }), says: /^breaks a limit: embed 1 title is 257 long \(at most 256\)$/ },
    teams: { spoil: (m) => ({ body: m.body + ' '.repeat(28 * 1024) }), says: /^is \d+ bytes \(maxMessageBytes 28672\)$/ },
    pagerduty: {
      spoil: (m) => { const j = JSON.parse(m.body); j.payload.summary = 'x'.repeat(1025); return { ...m, body: JSON.stringify(j) } },
      says: /^breaks a limit: payload\.summary is 1025 long \(at most 1024\)$/
    },
    alertmanager: { spoil: (m) => ({ ...m, alerts: [{ ...m.alerts[0], labels: { 'bad-name': 'x' } }] }), says: /^breaks a limit: label name "bad-name" is not a Prometheus label name$/ },
    otlp: { spoil: (m) => ({ ...m, records: 1001 }), says: /^breaks a limit: 1001 log records in one request \(at most 1000\)$/ },
    sms: { spoil: (m) => ({ ...m, body: '€'.repeat(1601) }), says: /^is 1601 characters \(maxMessageLength 1600\)$/ }
  }
  const dir = tempDir('pino-alerts-limits-')
  for (const type of BUILT_IN_TYPES) {
    it(`${type}: a message over its service's limit is named`, async () => {
      // Port 9 (discard): nothing is sent.
      const channel = await builtIn(type, 'http://127.0.0.1:9', dir)
      const breaker = breakers[type]
      if (breaker === undefined) throw new Error(`no breaker for ${type}`)
      // The built-in channel with its first message spoiled; its limits as declared.
      const spoiled: Channel = {
        name: channel.name,
        type: channel.type,
        limits: channel.limits,
        render: (events) => { const ms = channel.render(events); return [breaker.spoil(ms[0]), ...ms.slice(1)] },
        send: async () => ({ ok: false, retryable: true, error: 'not sent' })
      }
      const problems = await checkChannel(spoiled, { close: false })
      await channel.close?.()
      const first = /^render: message 1 of \d+ for the digest of 30 hostile alerts (.*)$/.exec(problems[0] ?? '')
      expect(first?.[1], problems.slice(0, 3).join('\n')).toMatch(breaker.says)
      // Every render was spoiled the same way: the digest and each of the 30 alone.
      expect(problems).toHaveLength(31)
    })
  }
})

/** Each built-in type's config, its services at `base` (an SMTP server there too), the file channel's in `dir`. */
function configFor (type: string, base: string, dir: string): Record<string, unknown> {
  const url = new URL(base)
  const configs: Record<string, Record<string, unknown>> = {
    console: { colors: false },
    file: { path: join(dir, 'alerts.jsonl') },
    webhook: { url: `${base}/hook` },
    email: { host: url.hostname, port: Number(url.port), from: 'alerts@example.test', to: ['desk@example.test'] },
    slack: { webhookUrl: `${base}/services/T0/B0/x` },
    telegram: { botToken: '987654:FAKE-testing-token', chatId: 42, apiUrl: base },
    discord: { webhookUrl: `${base}/api/webhooks/112233445566778899/x` },
    teams: { webhookUrl: `${base}/workflows/x` },
    pagerduty: { routingKey: 'R'.repeat(32), url: base },
    alertmanager: { url: base },
    otlp: { url: base },
    sms: { ...TWILIO, apiUrl: base }
  }
  const config = configs[type]
  if (config === undefined) throw new Error(`no config for the built-in type ${type}`)
  return config
}

/** The built-in channel of `type`, created as the engine creates it (options resolved, no environment read). */
async function builtIn (type: string, base: string, dir: string): Promise<Channel> {
  const config = configFor(type, base, dir)
  const opts = resolveOptions({ env: false, channels: { console: { enabled: type === 'console', ...(type === 'console' ? config : {}) }, ...(type === 'console' ? {} : { [type]: config }) } }, {})
  const cfg = opts.channels.find((c) => c.type === type)
  if (cfg === undefined) throw new Error(`no ${type} channel`)
  return await createChannel(cfg)
}

describe('pino-alerts/testing from the built package', () => {
  it('imports by the package name under plain node (no test runner) and checks a channel', async () => {
    const app = `
import { checkChannel } from 'pino-alerts/testing'
const channel = {
  name: 'mine', type: 'module',
  limits: { maxMessageBytes: 8192 },
  render: (events) => [JSON.stringify(events.map((e) => e.title.slice(0, 50)))],
  send: async (m, { signal }) => (signal.aborted ? { ok: false, retryable: true, error: 'aborted' } : { ok: true })
}
process.stdout.write(JSON.stringify(await checkChannel(channel)))
`
    const r = await runNode(['--input-type=module', '-e', app])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    // 30 titles of at most 50 characters each (JSON-escaped): within 8192 bytes.
    expect(JSON.parse(r.stdout)).toEqual([])
  })
})
