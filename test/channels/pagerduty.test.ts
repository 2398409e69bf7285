import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../../src/alerter.js'
import {
  create, dedupKeyOf, enqueueUrl, PAGERDUTY_BUDGET_BYTES, pagerDutyOrder, renderPagerDuty, THROTTLE_RETRY_MS, type PagerDutyMessage
} from '../../src/channels/pagerduty.js'
import type { Outcome } from '../../src/channels/channel.js'
import { AlertEvent } from '../../src/event.js'
import { byteLength } from '../../src/format/truncate.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import {
  PAGERDUTY_LIMIT_BYTES, pagerdutyAnswers, pagerdutyInvalid, startPagerDutyFake, type AcceptedEvent, type PagerDutyFake
} from '../fakes/pagerduty.js'
import type { RecordedRequest, ScriptedResponse } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'

const pdConfig = (config: Record<string, unknown>): ResolvedChannel => resolvedChannel('pagerduty', config)

runChannelSuite<PagerDutyMessage>('pagerduty', (server) => {
  const fake = server as PagerDutyFake
  return { channel: create(pdConfig({ routingKey: fake.routingKey, url: fake.origin })), secrets: [fake.routingKey] }
}, { start: startPagerDutyFake, answers: pagerdutyAnswers }, {
  messageText: (messages) => messages.map((m) => m.body).join('\n')
})

// ---------------------------------------------------------------------------------------------------

interface Sent {
  routing_key: string
  event_action: string
  dedup_key: string
  payload?: {
    summary: string
    source: string
    severity: string
    timestamp?: string
    component?: string
    group?: string
    class?: string
    custom_details: { body: string, labels: Record<string, string>, metadata: Record<string, unknown>, alert_id: string, fingerprint: string, trace_id?: string }
  }
  links?: unknown
  client?: string
}
const parsed = (m: PagerDutyMessage): Sent => JSON.parse(m.body) as Sent
const payloadOf = (m: PagerDutyMessage): NonNullable<Sent['payload']> => {
  const p = parsed(m).payload
  if (p === undefined) throw new Error(`no payload in a ${m.action} event`)
  return p
}

describe('pagerduty channel', () => {
  let fake: PagerDutyFake
  const signal = (): AbortSignal => AbortSignal.timeout(5000)

  beforeAll(async () => { fake = await startPagerDutyFake() })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  const channel = (over: Record<string, unknown> = {}): ReturnType<typeof create> =>
    create(pdConfig({ routingKey: fake.routingKey, url: fake.origin, ...over }))

  /** Renders and sends every message; each must be accepted (202). */
  async function deliver (events: AlertEvent[], over: Record<string, unknown> = {}): Promise<{ messages: PagerDutyMessage[], requests: RecordedRequest[] }> {
    const ch = channel(over)
    const messages = ch.render(events)
    for (const m of messages) {
      const out = await ch.send(m, { signal: signal() })
      expect(out, `${JSON.stringify(out)} for ${m.body.slice(0, 300)}`).toEqual({ ok: true })
    }
    const requests = await fake.waitFor(messages.length)
    for (const r of requests) expect(r.status).toBe(202)
    return { messages, requests }
  }

  const expectKeyMasked = (out: Outcome): void => {
    expect(out.ok).toBe(false)
    if (out.ok) return
    expect(out.error.startsWith('pagerduty (')).toBe(true)
    expect(out.error).not.toContain(fake.routingKey)
  }

  it('resolves its options (routingKey a secret, env RISK_ALERTS_PAGERDUTY_ROUTING_KEY, 2/s default)', () => {
    const cfg = pdConfig({ routingKey: fake.routingKey })
    expect(cfg.type).toBe('pagerduty')
    expect(cfg.secrets).toContain(fake.routingKey)
    expect(cfg.rateLimit).toEqual({ perSecond: 2, burst: 2 })
    expect(() => pdConfig({})).toThrow(/channels\.pagerduty\.routingKey: missing/)
    expect(() => pdConfig({ routingKey: 'short' })).toThrow(/channels\.pagerduty\.routingKey: got \*\*\*; expected the 32-character integration key/)
    expect(() => pdConfig({ routingKey: fake.routingKey, severity: 'error' })).toThrow(/channels\.pagerduty\.severity: unknown option/)

    const fromEnv = resolveOptions({ channels: { console: { enabled: false } } }, { RISK_ALERTS_PAGERDUTY_ROUTING_KEY: fake.routingKey })
    const c = fromEnv.channels.find((x) => x.name === 'pagerduty')
    expect(c?.config.routingKey).toBe(fake.routingKey)
    expect(c?.secrets).toContain(fake.routingKey)
  })

  it('POSTs one trigger event to /v2/enqueue as PagerDuty documents it', async () => {
    const e = sampleEvent({ id: 'evt-1', trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) } })
    const links = [{ href: 'https://runbooks.example.com/risk', text: 'Runbook' }, { href: 'https://grafana.example.com/d/x' }]
    const { requests } = await deliver([e], { source: 'risk-svc-1', component: 'risk_gate', group: 'trading', class: 'limit', links })
    const req = requests[0] as RecordedRequest
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/v2/enqueue')
    expect(req.header('content-type')).toMatch(/^application\/json/)
    expect(req.json()).toEqual({
      routing_key: fake.routingKey,
      event_action: 'trigger',
      dedup_key: e.fingerprint,
      payload: {
        summary: '[CRITICAL] risk_gate: Order blocked',
        source: 'risk-svc-1',
        severity: 'critical',
        timestamp: '2025-01-02T03:04:05.678Z',
        component: 'risk_gate',
        group: 'trading',
        class: 'limit',
        custom_details: {
          body: 'position limit exceeded',
          labels: { desk: 'fx', reason: 'max_position' },
          metadata: { order: { id: 42, qty: 1000 } },
          alert_id: 'evt-1',
          fingerprint: e.fingerprint,
          trace_id: 'a'.repeat(32),
          span_id: 'b'.repeat(16)
        }
      },
      links,
      client: 'pino-alerts'
    })
    expect(fake.incident(e.fingerprint)).toMatchObject({ status: 'triggered', log: ['trigger'], triggers: 1 })
  })

  it('payload.source is the alert source unless the option is set; long sources are cut to 255', async () => {
    const { messages } = await deliver([sampleEvent({ source: 'kill_switch' }), sampleEvent({ source: 's'.repeat(300), title: 'Other' })])
    const sources = messages.map((m) => payloadOf(m).source)
    expect(sources[0]).toBe('kill_switch')
    expect(sources[1]).toHaveLength(255)
    expect(sources[1]?.endsWith('…')).toBe(true)
    // the summary keeps the alert's own source
    expect(payloadOf(messages[0] as PagerDutyMessage).summary).toBe('[CRITICAL] kill_switch: Order blocked')
  })

  it('severity map: critical → critical, warn → warning, info → info (all accepted)', async () => {
    const events = (['critical', 'warn', 'info'] as const).map((severity) => sampleEvent({ severity, title: `Sev ${severity}` }))
    const { messages } = await deliver(events)
    expect(messages.map((m) => [payloadOf(m).severity, payloadOf(m).summary])).toEqual([
      ['critical', '[CRITICAL] risk_gate: Sev critical'],
      ['warning', '[WARN] risk_gate: Sev warn'],
      ['info', '[INFO] risk_gate: Sev info']
    ])
    expect(fake.incidents().map((i) => i.payload.severity)).toEqual(['critical', 'warning', 'info'])
  })

  it('1000-character titles: the summary stays within 1024 characters (cut with …) and is accepted', async () => {
    const fits = sampleEvent({ title: 'T'.repeat(1000) }) // "[CRITICAL] risk_gate: " + 1000 = 1022
    const over = sampleEvent({ title: 'U'.repeat(1010), labels: { n: '2' } })
    const huge = sampleEvent({ title: '界'.repeat(5000), labels: { n: '3' } })
    const { messages } = await deliver([fits, over, huge])
    const [a, b, c] = messages.map((m) => payloadOf(m).summary)
    expect(a).toBe('[CRITICAL] risk_gate: ' + 'T'.repeat(1000))
    expect(b).toHaveLength(1024)
    expect(b).toBe('[CRITICAL] risk_gate: ' + 'U'.repeat(1001) + '…')
    expect(c?.length).toBeLessThanOrEqual(1024)
    expect(c?.endsWith('界…')).toBe(true)
    for (const e of fake.events()) expect(e.payload?.summary.length).toBeLessThanOrEqual(1024)
  })

  it('the summary is one clean line: newlines folded, control and bidi characters replaced', async () => {
    const { messages } = await deliver([sampleEvent({ title: 'Line one\r\nline two\tand\u0007bell \u202eevil', source: 'src\nx' })])
    const p = payloadOf(messages[0] as PagerDutyMessage)
    expect(p.summary).toBe('[CRITICAL] src x: Line one line two and\ufffdbell \ufffdevil')
    expect(p.source).toBe('src x')
  })

  it('a resolved alert sends event_action resolve with the same dedup_key, and the alert is resolved', async () => {
    const firing = sampleEvent({ title: 'Drawdown' })
    const resolved = sampleEvent({ title: 'Drawdown', status: 'resolved' })
    expect(resolved.fingerprint).toBe(firing.fingerprint)
    await deliver([firing])
    expect(fake.incident(firing.fingerprint)?.status).toBe('triggered')
    const { messages } = await deliver([resolved])
    expect(messages).toHaveLength(1)
    expect(messages[0]?.action).toBe('resolve')
    expect(parsed(messages[0] as PagerDutyMessage)).toEqual({ routing_key: fake.routingKey, event_action: 'resolve', dedup_key: firing.fingerprint })
    expect(fake.incident(firing.fingerprint)).toMatchObject({ status: 'resolved', log: ['trigger', 'resolve'] })
    expect(fake.dropped()).toEqual([])

    // a new trigger after the resolve opens a new alert, as PagerDuty does
    await deliver([firing])
    expect(fake.incidents().filter((i) => i.dedupKey === firing.fingerprint).map((i) => i.status)).toEqual(['resolved', 'triggered'])
  })

  it('acknowledge() sends event_action acknowledge with the same dedup_key: triggered → acknowledged → resolved', async () => {
    const e = sampleEvent({ title: 'Needs a human' })
    await deliver([e])
    const ch = channel()
    expect(typeof ch.acknowledge).toBe('function')
    expect(await ch.acknowledge?.(e, { signal: signal() })).toEqual({ ok: true })
    expect(fake.events().at(-1)).toEqual({ routing_key: fake.routingKey, event_action: 'acknowledge', dedup_key: e.fingerprint })
    expect(fake.incident(e.fingerprint)?.status).toBe('acknowledged')
    // another trigger while acknowledged leaves it acknowledged
    await deliver([e])
    expect(fake.incident(e.fingerprint)).toMatchObject({ status: 'acknowledged', triggers: 2 })
    await deliver([sampleEvent({ title: 'Needs a human', status: 'resolved' })])
    expect(fake.incident(e.fingerprint)).toMatchObject({ status: 'resolved', log: ['trigger', 'acknowledge', 'trigger', 'resolve'] })
    // acknowledging what is no longer open: accepted, then dropped by PagerDuty
    expect(await ch.acknowledge?.(e, { signal: signal() })).toEqual({ ok: true })
    expect(fake.dropped().map((d) => d.event_action)).toEqual(['acknowledge'])
  })

  it('acknowledge() failures are outcomes too (retryable 5xx, key masked)', async () => {
    fake.unavailable(502)
    const out = await channel().acknowledge?.(sampleEvent(), { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: true, status: 502 })
    expectKeyMasked(out as Outcome)
  })

  it('dedup_key: the fingerprint; one too long or not clean for PagerDuty becomes a stable sha256', () => {
    const plain = sampleEvent()
    expect(dedupKeyOf(plain)).toBe(plain.fingerprint)
    const long = sampleEvent({ fingerprint: 'f'.repeat(300) })
    expect(dedupKeyOf(long)).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(dedupKeyOf(sampleEvent({ fingerprint: 'f'.repeat(300), status: 'resolved' }))).toBe(dedupKeyOf(long))
    expect(dedupKeyOf(sampleEvent({ fingerprint: 'g'.repeat(300) }))).not.toBe(dedupKeyOf(long))
    expect(dedupKeyOf(sampleEvent({ fingerprint: 'a\ud800b' }))).toMatch(/^sha256:/)
    expect(dedupKeyOf(sampleEvent({ fingerprint: 'a\nb' }))).toMatch(/^sha256:/)
    const [trigger] = channel().render([long])
    const [resolve] = channel().render([sampleEvent({ fingerprint: 'f'.repeat(300), status: 'resolved' })])
    expect(parsed(trigger as PagerDutyMessage).dedup_key).toBe(parsed(resolve as PagerDutyMessage).dedup_key)
    expect(parsed(trigger as PagerDutyMessage).payload?.custom_details.fingerprint).toBe('f'.repeat(300))
  })

  it('a digest is one event per alert, most severe first; a resolve never overtakes its own trigger', () => {
    const t = (s: number): string => `2025-01-02T03:04:0${s}.000Z`
    const trigger = sampleEvent({ title: 'Flapping', severity: 'warn', timestamp: t(1) })
    const other = sampleEvent({ title: 'Other', severity: 'critical', timestamp: t(2) })
    // resolved with a higher severity than its trigger: sorting alone would send it first
    const resolve = sampleEvent({ title: 'Flapping', severity: 'critical', status: 'resolved', timestamp: t(3) })
    const info = sampleEvent({ title: 'Info', severity: 'info', timestamp: t(0) })
    const ordered = pagerDutyOrder([info, trigger, other, resolve])
    // critical first (Other at :02 is older than the resolve at :03), Flapping's two events together and in order
    expect(ordered.map((e) => `${e.title}/${e.status}`)).toEqual(['Other/firing', 'Flapping/firing', 'Flapping/resolved', 'Info/firing'])
    const messages = channel().render([info, trigger, other, resolve])
    expect(messages.map((m) => m.action)).toEqual(['trigger', 'trigger', 'resolve', 'trigger'])
    expect(messages[1]?.dedupKey).toBe(messages[2]?.dedupKey)
    expect(payloadOf(messages[1] as PagerDutyMessage).severity).toBe('warning')
    expect(channel().render([])).toEqual([])
  })

  it('a digest of 30 long alerts: 30 events, each within the limits, most severe first, all accepted', async () => {
    const severities = ['info', 'warn', 'critical'] as const
    const events = Array.from({ length: 30 }, (_, i) => sampleEvent({
      severity: severities[i % 3],
      title: `Alert${String(i).padStart(2, '0')} ` + 'long title words '.repeat(80),
      body: 'a long body line with "quotes" and \\backslashes\\ 漢字 🚨\n'.repeat(2000),
      labels: Object.fromEntries(Array.from({ length: 150 }, (_, j) => [`label${j}`, `value ${j} `.repeat(200)])),
      metadata: { dump: 'x'.repeat(20_000), nested: { list: Array.from({ length: 100 }, (_, k) => ({ k, s: 'y'.repeat(100) })) } },
      timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString()
    }))
    const { messages, requests } = await deliver(events)
    expect(messages).toHaveLength(30)
    for (const r of requests) expect(r.body.length).toBeLessThanOrEqual(PAGERDUTY_LIMIT_BYTES)
    for (const m of messages) {
      expect(byteLength(m.body)).toBeLessThanOrEqual(PAGERDUTY_BUDGET_BYTES)
      const p = payloadOf(m)
      expect(p.summary.length).toBeLessThanOrEqual(1024)
      expect(p.summary.endsWith('…')).toBe(true)
      expect(p.source.length).toBeLessThanOrEqual(255)
      expect(parsed(m).dedup_key.length).toBeLessThanOrEqual(255)
      // at most 100 labels shown, the rest counted; values cut to 1024
      expect(Object.keys(p.custom_details.labels)).toHaveLength(101)
      expect(p.custom_details.labels['…']).toBe('50 more labels')
      expect(p.custom_details.labels.label0?.length).toBe(1024)
    }
    const order = messages.map((m) => /Alert(\d\d)/.exec(payloadOf(m).summary)?.[1])
    const expected = [...events].sort((a, b) => severities.indexOf(b.severity) - severities.indexOf(a.severity) || a.timestamp.localeCompare(b.timestamp))
      .map((e) => /Alert(\d\d)/.exec(e.title)?.[1])
    expect(order).toEqual(expected)
    expect(fake.incidents()).toHaveLength(30)
    expect(fake.incidents().every((i) => i.status === 'triggered')).toBe(true)
  })

  it('10 kB bodies, emoji, CJK and lone surrogates render into accepted events, whole', async () => {
    const e = sampleEvent({
      title: '🚨 注文がブロックされました \ud800 broken',
      source: 'リスク_gate',
      body: '日本語のテキスト🙂 '.repeat(350) + 'end \udc00 tail',
      labels: { '通貨': '円💴', lone: 'x\udbffy', ['k\udfff']: 'v' },
      metadata: { note: 'meta \ud83d alone', ['key\udc00']: ['🙂', '\ud800'] }
    })
    expect(byteLength(e.body)).toBeGreaterThan(10_000)
    const { messages, requests } = await deliver([e])
    expect(requests[0]?.text()).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\udc)|\\udc[0-9a-f]{2}/i)
    const p = payloadOf(messages[0] as PagerDutyMessage)
    expect(p.summary).toBe('[CRITICAL] リスク_gate: 🚨 注文がブロックされました \ufffd broken')
    expect(p.source).toBe('リスク_gate')
    expect(p.custom_details.body).toBe('日本語のテキスト🙂 '.repeat(350) + 'end \ufffd tail')
    expect(p.custom_details.labels).toEqual({ '通貨': '円💴', lone: 'x\ufffdy', 'k\ufffd': 'v' })
    expect(p.custom_details.metadata).toEqual({ note: 'meta \ufffd alone', 'key\ufffd': ['🙂', '\ufffd'] })

    // 10 kB of ASCII lines arrive whole, line breaks kept
    fake.reset()
    const lines = Array.from({ length: 220 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'abcdefghij'.repeat(4)}`).join('\n')
    const plain = await deliver([sampleEvent({ body: lines })])
    expect(payloadOf(plain.messages[0] as PagerDutyMessage).custom_details.body).toBe(lines)
  })

  it('an event over the size budget is cut: metadata first, then the body; still accepted', async () => {
    const bigMeta = sampleEvent({ title: 'BigMeta', metadata: { stack: 'at frame\n'.repeat(80_000) } })
    const { messages } = await deliver([bigMeta])
    let m = messages[0] as PagerDutyMessage
    expect(byteLength(m.body)).toBeLessThanOrEqual(PAGERDUTY_BUDGET_BYTES)
    expect(byteLength(m.body)).toBeGreaterThan(PAGERDUTY_BUDGET_BYTES - 1000) // not cut needlessly short
    let d = payloadOf(m).custom_details
    expect(d.body).toBe('position limit exceeded')
    const cut = d.metadata.truncated as string
    expect(cut.startsWith('{"stack":"at frame\\nat frame')).toBe(true)
    expect(cut.endsWith('…')).toBe(true)

    // a body bigger than the whole budget: metadata goes first, then the body is cut to fit
    fake.reset()
    const worst = sampleEvent({ title: 'Worst', body: '"\\漢'.repeat(200_000), metadata: { x: '漢'.repeat(200_000) } })
    m = (await deliver([worst])).messages[0] as PagerDutyMessage
    expect(byteLength(m.body)).toBeLessThanOrEqual(PAGERDUTY_BUDGET_BYTES)
    d = payloadOf(m).custom_details
    expect(d.body.startsWith('"\\漢"\\漢')).toBe(true)
    expect(d.body.endsWith('…')).toBe(true)
    expect(d.body.length).toBeLessThanOrEqual(64 * 1024)

    // thousands of long CJK labels: 100 shown (values cut to 1024), the rest counted, within budget
    const labels = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`l${i}_${'鍵'.repeat(300)}`, '漢'.repeat(5000)]))
    const [many] = renderPagerDuty([sampleEvent({ labels, body: '漢'.repeat(100_000) })], { routingKey: fake.routingKey })
    expect(byteLength((many as PagerDutyMessage).body)).toBeLessThanOrEqual(PAGERDUTY_BUDGET_BYTES)
    const shown = payloadOf(many as PagerDutyMessage).custom_details.labels
    expect(shown['…']).toBe('2900 more labels')
    expect(Object.keys(shown).every((k) => k.length <= 255)).toBe(true)
    expect(Object.values(shown).every((v) => v.length <= 1024)).toBe(true)
  })

  it('answers: 202 delivered; 400 permanent with PagerDuty\'s errors; 429 and 5xx retryable; other 4xx permanent', async () => {
    const ch = channel()
    const [m] = ch.render([sampleEvent()])
    const send = async (): Promise<Outcome> => await ch.send(m as PagerDutyMessage, { signal: signal() })

    expect(await send()).toEqual({ ok: true })

    fake.script(pagerdutyInvalid(["'payload.summary' is missing or blank", "'payload.source' is missing or blank"]))
    const invalid = await send()
    expect(invalid).toMatchObject({ ok: false, retryable: false, status: 400 })
    if (!invalid.ok) {
      expect(invalid.error).toBe(`pagerduty (127.0.0.1:${fake.port}): HTTP 400 invalid event: Event object is invalid: 'payload.summary' is missing or blank; 'payload.source' is missing or blank`)
    }

    fake.throttle(7)
    expect(await send()).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 7000 })
    fake.throttle()
    const bare = await send()
    expect(bare).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: THROTTLE_RETRY_MS })
    if (!bare.ok) expect(bare.error).toContain('throttle event: Requests for this service are arriving too quickly')

    for (const status of [500, 502, 503, 504]) {
      fake.unavailable(status)
      expect(await send()).toMatchObject({ ok: false, retryable: true, status })
    }
    for (const status of [401, 403, 404, 413]) {
      fake.script({ status, headers: { 'content-type': 'text/plain' }, body: 'nope' })
      expect(await send()).toMatchObject({ ok: false, retryable: false, status })
    }
    // a wrong URL (no /v2/enqueue there) is permanent
    const wrong = create(pdConfig({ routingKey: fake.routingKey, url: `${fake.origin}/v1/enqueue` }))
    expect(await wrong.send(m as PagerDutyMessage, { signal: signal() })).toMatchObject({ ok: false, retryable: false, status: 404 })
    // and then it works again
    expect(await send()).toEqual({ ok: true })
  })

  it('the routing key never shows in an error, whatever echoes it', async () => {
    const ch = channel()
    const [m] = ch.render([sampleEvent()])
    const send = async (): Promise<Outcome> => await ch.send(m as PagerDutyMessage, { signal: signal() })
    const key = fake.routingKey
    const echoes: Array<(req: RecordedRequest) => ScriptedResponse> = [
      () => pagerdutyInvalid([`Routing key ${key} is not valid`]),
      () => ({ status: 500, headers: { 'content-type': 'text/plain' }, body: `upstream failed for routing_key=${key}` }),
      () => ({ status: 429, headers: { 'content-type': 'application/json' }, body: { status: 'throttle event', message: `too many events for ${key}` } }),
      (req) => ({ status: 502, headers: { 'content-type': 'text/plain' }, body: req.text() }),
      () => ({ status: 404, headers: { 'content-type': 'text/plain' }, body: encodeURIComponent(`/x/${key}`) })
    ]
    for (const answer of echoes) {
      fake.script(answer)
      const out = await send()
      expectKeyMasked(out)
      if (!out.ok) expect(out.error).toContain('***')
    }
    // the 400's text is PagerDuty's error list, masked
    fake.script(pagerdutyInvalid([`Routing key ${key} is not valid`]))
    const out = await send()
    if (!out.ok) expect(out.error).toContain('Routing key *** is not valid')

    // network errors and timeouts
    const gone = await startPagerDutyFake()
    await gone.close()
    const refused = await create(pdConfig({ routingKey: key, url: gone.origin })).send(m as PagerDutyMessage, { signal: signal() })
    expect(refused).toMatchObject({ ok: false, retryable: true })
    expectKeyMasked(refused)
    fake.hang()
    const hung = await ch.send(m as PagerDutyMessage, { signal: AbortSignal.timeout(100) })
    expect(hung).toMatchObject({ ok: false, retryable: true })
    expectKeyMasked(hung)
    fake.release()
  })

  it('url: default Events API host, /v2/enqueue appended once', () => {
    expect(enqueueUrl('https://events.pagerduty.com')).toBe('https://events.pagerduty.com/v2/enqueue')
    expect(enqueueUrl('https://events.eu.pagerduty.com/')).toBe('https://events.eu.pagerduty.com/v2/enqueue')
    expect(enqueueUrl('https://gw.example.com/pd/v2/enqueue')).toBe('https://gw.example.com/pd/v2/enqueue')
    const ch = create(pdConfig({ routingKey: fake.routingKey }))
    expect(ch.name).toBe('pagerduty')
  })

  it('the same alert from two replicas (two processes) is one PagerDuty alert', async () => {
    // Two processes alerting the same problem (same source, title, labels) share the fingerprint.
    const a = AlertEvent.from({ source: 'risk_gate', title: 'Exchange feed stale', labels: { venue: 'xnys' }, severity: 'critical' })
    const b = AlertEvent.from({ source: 'risk_gate', title: 'Exchange feed stale', labels: { venue: 'xnys' }, severity: 'critical' })
    expect(a.id).not.toBe(b.id)
    await deliver([a])
    await deliver([b])
    expect(fake.incidents()).toHaveLength(1)
    expect(fake.incident(a.fingerprint)).toMatchObject({ status: 'triggered', triggers: 2 })
    expect(fake.events().map((e: AcceptedEvent) => e.payload?.custom_details?.alert_id)).toEqual([a.id, b.id])
  })

  describe('the fake refuses what PagerDuty would', () => {
    const post = async (body: unknown): Promise<{ status: number, json: { status?: string, message?: string, errors?: string[], dedup_key?: string } }> => {
      const res = await fetch(`${fake.origin}/v2/enqueue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
      return { status: res.status, json: await res.json() as { status?: string, message?: string, errors?: string[] } }
    }
    const trigger = (payload: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> =>
      ({ routing_key: fake.routingKey, event_action: 'trigger', payload: { summary: 's', source: 'h', severity: 'info', ...payload }, ...over })

    it('accepts a minimal trigger (generating a dedup_key) and lifecycle events', async () => {
      const ok = await post(trigger({}))
      expect(ok.status).toBe(202)
      expect(ok.json).toMatchObject({ status: 'success', message: 'Event processed' })
      expect(ok.json.dedup_key).toMatch(/^[0-9a-f]{32}$/)
      expect((await post({ routing_key: fake.routingKey, event_action: 'resolve', dedup_key: ok.json.dedup_key })).status).toBe(202)
      expect(fake.incident(ok.json.dedup_key as string)?.status).toBe('resolved')
      for (const severity of ['critical', 'error', 'warning', 'info']) expect((await post(trigger({ severity }))).status).toBe(202)
      expect((await post(trigger({ timestamp: '2015-07-17T08:42:58.315+0000' }))).status).toBe(202)
    })

    it('answers 400 invalid event with PagerDuty\'s messages', async () => {
      const bad: Array<[unknown, string]> = [
        [trigger({}, { routing_key: 'abc' }), "Length of 'routing_key' is incorrect (should be 32 characters)"],
        [trigger({}, { routing_key: undefined }), "'routing_key' is missing or blank"],
        [trigger({}, { event_action: 'open' }), "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"],
        [{ routing_key: fake.routingKey, event_action: 'resolve' }, "'dedup_key' is missing or blank"],
        [trigger({}, { dedup_key: 'k'.repeat(256) }), "'dedup_key' is too long (must be at most 255 characters)"],
        [{ routing_key: fake.routingKey, event_action: 'trigger' }, "'payload' is missing or blank"],
        [trigger({ summary: ' ' }), "'payload.summary' is missing or blank"],
        [trigger({ summary: 'x'.repeat(1025) }), "'payload.summary' is too long (must be at most 1024 characters)"],
        [trigger({ source: '' }), "'payload.source' is missing or blank"],
        [trigger({ severity: 'warn' }), "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"],
        [trigger({ severity: 'CRITICAL' }), "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"],
        [trigger({ severity: undefined }), "'payload.severity' is missing or blank"],
        [trigger({ timestamp: 'yesterday' }), "'payload.timestamp' is invalid (must be an ISO 8601 timestamp)"],
        [trigger({ custom_details: 'text' }), "'payload.custom_details' must be an object"],
        [trigger({}, { links: [{ text: 'no href' }] }), "'links[0].href' is missing or blank"]
      ]
      for (const [event, message] of bad) {
        const { status, json } = await post(event)
        expect(status, JSON.stringify(event).slice(0, 200)).toBe(400)
        expect(json).toMatchObject({ status: 'invalid event', message: 'Event object is invalid' })
        expect(json.errors).toContain(message)
      }
      const unrecognized = await post('{not json')
      expect(unrecognized).toEqual({ status: 400, json: { status: 'Unrecognized object', message: 'Event object format is unrecognized', errors: ['JSON parse error'] } })
      expect((await post('[1,2]')).status).toBe(400)
      expect((await post(trigger({ summary: 'lone \ud800' }))).json.errors).toEqual(['JSON parse error'])
      expect(fake.incidents()).toEqual([])
    })

    it('refuses bodies over 512 KB with 413, and answers only POST /v2/enqueue', async () => {
      const big = JSON.stringify(trigger({ custom_details: { x: 'x'.repeat(PAGERDUTY_LIMIT_BYTES) } }))
      expect((await fetch(`${fake.origin}/v2/enqueue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })).status).toBe(413)
      expect((await fetch(`${fake.origin}/v1/enqueue`, { method: 'POST', body: '{}' })).status).toBe(404)
      expect((await fetch(`${fake.origin}/v2/enqueue`)).status).toBe(405)
    })
  })
})

describe('pagerduty end to end through createAlerter', () => {
  let fake: PagerDutyFake
  beforeAll(async () => { fake = await startPagerDutyFake() })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  const options = (): Parameters<typeof createAlerter>[0] => ({
    channels: { console: { enabled: false }, pagerduty: { routingKey: fake.routingKey, url: fake.origin } }
  })

  it('critical alert → trigger; ack → acknowledge; the same alert resolved → resolve, one dedup_key', async () => {
    const alerter = createAlerter(options(), { env: {} })
    try {
      await alerter.ready
      const alert = { source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical', labels: { reason: 'max_drawdown_exceeded' }, body: 'drawdown 5.2%' }
      const fired = await alerter.dispatch(alert)
      expect(fired.deliveries).toEqual([expect.objectContaining({ channel: 'pagerduty', ok: true, attempts: 1 })])
      expect(fake.events().map((e) => e.event_action)).toEqual(['trigger'])
      const key = fake.events()[0]?.dedup_key as string
      expect(fake.events()[0]?.payload).toMatchObject({ summary: '[CRITICAL] kill_switch: Kill switch triggered', source: 'kill_switch', severity: 'critical' })
      expect(fake.events()[0]?.payload?.custom_details).toMatchObject({ alert_id: fired.id, labels: { reason: 'max_drawdown_exceeded' }, body: 'drawdown 5.2%' })

      expect(alerter.ack(fired.id, 'alice')).toEqual([fired.id])
      await alerter.flush()
      await fake.waitFor(2)
      expect(fake.events()[1]).toEqual({ routing_key: fake.routingKey, event_action: 'acknowledge', dedup_key: key })
      expect(fake.incident(key)?.status).toBe('acknowledged')

      const resolved = await alerter.dispatch({ ...alert, status: 'resolved' })
      expect(resolved.deliveries).toEqual([expect.objectContaining({ channel: 'pagerduty', ok: true })])
      expect(fake.events().map((e) => [e.event_action, e.dedup_key])).toEqual([['trigger', key], ['acknowledge', key], ['resolve', key]])
      expect(fake.incident(key)).toMatchObject({ status: 'resolved', log: ['trigger', 'acknowledge', 'resolve'] })
      expect(fake.incidents()).toHaveLength(1)
    } finally {
      await alerter.close()
    }
  })

  it('a throttled Events API (429 + Retry-After) is retried by the wrapper, not before the time asked', async () => {
    const alerter = createAlerter(options(), { env: {} })
    try {
      await alerter.ready
      fake.throttle(1)
      const t0 = Date.now()
      const r = await alerter.dispatch({ source: 'risk_gate', title: 'Throttled once', severity: 'critical' })
      expect(r.deliveries).toEqual([expect.objectContaining({ channel: 'pagerduty', ok: true, attempts: 2 })])
      expect(Date.now() - t0).toBeGreaterThanOrEqual(950)
      expect(fake.requests.map((q) => q.status)).toEqual([429, 202])
    } finally {
      await alerter.close()
    }
  })
})

// Step 13: a 1 MiB body of whitespace and 1 MiB of label values are cleaned only as far as their cuts.
describe('pagerduty: hostile text', () => {
  it('a 1 MiB whitespace body and label values render in under 100 ms, cut as before', () => {
    const c = create(pdConfig({ routingKey: 'R'.repeat(32), url: 'http://127.0.0.1:9' }))
    const run = ' \t'.repeat(512 * 1024)
    const t = performance.now()
    const [m] = c.render([sampleEvent({ title: 'Order' + run + 'blocked', body: 'a' + run + 'b', labels: { desk: run + 'x' } })])
    expect(performance.now() - t).toBeLessThan(100)
    const ev = JSON.parse((m as { body: string }).body) as { payload: { summary: string, custom_details: { body: string, labels: Record<string, string> } } }
    expect(ev.payload.summary).toBe('[CRITICAL] risk_gate: Order blocked')
    expect(ev.payload.custom_details.body).toBe('a' + run.slice(0, 64 * 1024 - 2) + '…')
    expect(ev.payload.custom_details.labels.desk).toBe(run.slice(0, 1023) + '…')
  })
})
