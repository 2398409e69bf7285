import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { create, renderTeams, TEAMS_BUDGET_BYTES, type TeamsMessage } from '../../src/channels/teams.js'
import type { AlertEvent } from '../../src/event.js'
import { byteLength } from '../../src/format/truncate.js'
import type { ResolvedChannel } from '../../src/options.js'
import { cardProblem, startTeamsFake, TEAMS_LIMIT_BYTES, teamsAnswers, type TeamsFake } from '../fakes/teams.js'
import type { RecordedRequest } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'
import { activeMarkdown } from '../helpers/markdown.js'

const teamsConfig = (config: Record<string, unknown>): ResolvedChannel => resolvedChannel('teams', config)

const secretsOf = (fake: TeamsFake): string[] => [fake.webhookUrl, fake.secretPath, fake.workflowId, fake.sig]

runChannelSuite<TeamsMessage>('teams', (server) => {
  const fake = server as TeamsFake
  return { channel: create(teamsConfig({ webhookUrl: fake.webhookUrl })), secrets: secretsOf(fake) }
}, { start: startTeamsFake, answers: teamsAnswers }, {
  messageText: (messages) => messages.map((m) => m.body).join('\n')
})

// ---------------------------------------------------------------------------------------------------
// What Teams receives, as the tests read it

interface Card { type: string, version: string, body: Element[], msteams?: { width?: string } }
interface Element { type: string, text?: string, style?: string, color?: string, weight?: string, size?: string, isSubtle?: boolean, items?: Element[], facts?: Array<{ title: string, value: string }> }
interface Payload { type: string, attachments: Array<{ contentType: string, contentUrl: unknown, content: Card }> }

const payloadOf = (m: TeamsMessage): Payload => JSON.parse(m.body) as Payload
const cardOf = (m: TeamsMessage): Card => (payloadOf(m).attachments[0] as { content: Card }).content
/** The alert containers of a card (a digest card starts with its headline TextBlock). */
const containersOf = (m: TeamsMessage): Element[] => cardOf(m).body.filter((e) => e.type === 'Container')
const textsOf = (c: Element): string[] => (c.items ?? []).filter((e) => e.type === 'TextBlock').map((e) => e.text ?? '')
const factsOf = (c: Element): Array<{ title: string, value: string }> => (c.items ?? []).find((e) => e.type === 'FactSet')?.facts ?? []


/** Removes the backslash escapes: the text a reader sees. */
const unescape = (s: string): string => s.replace(/\\([\s\S])/g, '$1').replace(/\u200b/g, '')

describe('teams channel', () => {
  let fake: TeamsFake
  const signal = (): AbortSignal => AbortSignal.timeout(5000)

  beforeAll(async () => { fake = await startTeamsFake() })
  afterAll(async () => { await fake.close() })
  beforeEach(() => { fake.reset() })

  const channel = (over: Record<string, unknown> = {}): ReturnType<typeof create> => create(teamsConfig({ webhookUrl: fake.webhookUrl, ...over }))

  /** Renders and sends every message; each must be accepted. */
  async function deliver (events: AlertEvent[]): Promise<{ messages: TeamsMessage[], requests: RecordedRequest[] }> {
    const ch = channel()
    const messages = ch.render(events)
    for (const m of messages) {
      const out = await ch.send(m, { signal: signal() })
      expect(out, JSON.stringify(out)).toEqual({ ok: true })
    }
    const requests = await fake.waitFor(messages.length)
    for (const r of requests) expect(r.status).toBe(202)
    return { messages, requests }
  }

  it('resolves its options: webhookUrl and its path are secrets, url overrides the target', async () => {
    const cfg = teamsConfig({ webhookUrl: fake.webhookUrl })
    expect(cfg.type).toBe('teams')
    expect(cfg.secrets).toContain(fake.webhookUrl)
    expect(cfg.secrets).toContain(fake.secretPath)
    expect(() => teamsConfig({})).toThrow(/channels\.teams\.webhookUrl: missing/)
    expect(() => teamsConfig({ webhookUrl: 'not a url' })).toThrow(/channels\.teams\.webhookUrl: got \*\*\*; expected an http\(s\) URL/)
    expect(() => teamsConfig({ webhookUrl: fake.webhookUrl, themeColor: 'red' })).toThrow(/channels\.teams\.themeColor: unknown option/)

    // `url` (a proxy, a gateway, this test) wins over webhookUrl
    const ch = create(teamsConfig({ webhookUrl: 'https://example.invalid/workflows/x', url: fake.webhookUrl }))
    const [m] = ch.render([sampleEvent()])
    expect(await ch.send(m as TeamsMessage, { signal: signal() })).toEqual({ ok: true })
    expect(fake.requests[0]?.url).toBe(fake.secretPath)
  })

  it('POSTs the Workflows envelope: one Adaptive Card 1.4, full width, as UTF-8 JSON', async () => {
    const { requests } = await deliver([sampleEvent()])
    const req = requests[0] as RecordedRequest
    expect(req.method).toBe('POST')
    expect(req.header('content-type')).toBe('application/json; charset=utf-8')
    const p = req.json<Payload>()
    expect(p.type).toBe('message')
    expect(p.attachments).toHaveLength(1)
    expect(p.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive')
    expect(p.attachments[0]?.contentUrl).toBeNull()
    const card = p.attachments[0]?.content as Card & { $schema: string }
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', msteams: { width: 'Full' } })
    expect(fake.cards()).toHaveLength(1)
  })

  it('shows one alert as a container: title, body, labels as facts, source · time · id', async () => {
    const e = sampleEvent({ id: 'evt-123', trace: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) } })
    const { messages } = await deliver([e])
    const [c, ...rest] = containersOf(messages[0] as TeamsMessage)
    expect(rest).toHaveLength(0)
    const [title, body, subtle] = textsOf(c as Element)
    expect(title).toBe('[CRITICAL] risk_gate: Order blocked')
    expect(body).toBe('position limit exceeded')
    expect(factsOf(c as Element)).toEqual([{ title: 'desk', value: 'fx' }, { title: 'reason', value: 'max_position' }])
    expect(subtle).toBe(`risk_gate · 2025-01-02T03:04:05.678Z · id evt-123 · trace ${'a'.repeat(32)}`)
    const tb = (c?.items ?? [])
    expect(tb[0]).toMatchObject({ weight: 'Bolder', size: 'Medium', wrap: true })
    expect(tb.at(-1)).toMatchObject({ isSubtle: true, size: 'Small', wrap: true })
  })

  it('colours by severity: critical attention, warn warning, info emphasis, resolved good', async () => {
    const cases = [
      { e: sampleEvent({ severity: 'critical' }), style: 'attention', color: 'Attention', word: '[CRITICAL]' },
      { e: sampleEvent({ severity: 'warn' }), style: 'warning', color: 'Warning', word: '[WARN]' },
      { e: sampleEvent({ severity: 'info' }), style: 'emphasis', color: 'Default', word: '[INFO]' },
      { e: sampleEvent({ severity: 'critical', status: 'resolved' }), style: 'good', color: 'Good', word: '[RESOLVED]' },
      { e: sampleEvent({ severity: 'info', status: 'resolved' }), style: 'good', color: 'Good', word: '[RESOLVED]' }
    ]
    for (const { e, style, color, word } of cases) {
      fake.reset()
      const { messages } = await deliver([e])
      const c = containersOf(messages[0] as TeamsMessage)[0] as Element
      expect(c.style).toBe(style)
      const title = c.items?.[0] as Element
      expect(title.color).toBe(color)
      expect(title.text?.startsWith(`${word} risk_gate: `)).toBe(true)
    }
  })

  it('labels arrive as facts, in order, each a string title/value', async () => {
    const labels: Record<string, string> = { desk: 'fx', reason: 'max_drawdown_exceeded', region: 'eu-west', empty: '' }
    const { messages } = await deliver([sampleEvent({ labels })])
    expect(factsOf(containersOf(messages[0] as TeamsMessage)[0] as Element)).toEqual(Object.entries(labels).map(([title, value]) => ({ title, value })))
    const none = renderTeams([sampleEvent({ labels: {} })])
    expect((containersOf(none[0] as TeamsMessage)[0]?.items ?? []).some((e) => e.type === 'FactSet')).toBe(false)
  })

  it('markdown and link injection arrives neutralised, in title, body, source and labels', async () => {
    const evil = '[click](http://evil) **bold** *it* _under_ `code` ~~gone~~ {{DATE(2017-02-14T06:08:39Z, SHORT)}}'
    const e = sampleEvent({
      source: 'src [x](http://evil)',
      title: evil,
      body: `${evil}\n- list item\n1. numbered\n# heading\n> quote`,
      labels: { '[k](http://evil)': evil, 'plain_key': '**v**' }
    })
    // the checker itself sees the raw text as active
    expect(activeMarkdown(evil)).toEqual(expect.arrayContaining(['link', 'emphasis *', 'emphasis _', 'code', 'strike', 'date function']))
    const { messages } = await deliver([e])
    const c = containersOf(messages[0] as TeamsMessage)[0] as Element
    const [title, body, subtle] = textsOf(c)
    for (const t of [title, body, subtle, ...factsOf(c).flatMap((f) => [f.title, f.value])]) {
      expect(activeMarkdown(t as string), t).toEqual([])
    }
    expect(title).not.toContain('[click](http://evil)')
    expect(title).not.toContain('**bold**')
    expect(title).toContain('\\[click\\](http://evil) \\*\\*bold\\*\\*')
    // and the reader still sees every character that was logged
    expect(unescape(title as string)).toBe(`[CRITICAL] src [x](http://evil): ${evil}`)
    expect(unescape(body as string).split('\n\n')).toEqual([evil, '- list item', '1. numbered', '# heading', '> quote'])
    expect(factsOf(c)).toContainEqual({ title: 'plain_key', value: '\\*\\*v\\*\\*' })
  })

  it('a single alert with a 100 kB body stays under 28 KB, cut with an ellipsis, and is accepted', async () => {
    const long = 'The order book snapshot follows. ' + 'x'.repeat(100_000)
    const { messages, requests } = await deliver([sampleEvent({ title: 'HugeBody', body: long })])
    expect(messages).toHaveLength(1)
    expect(byteLength((messages[0] as TeamsMessage).body)).toBeLessThanOrEqual(TEAMS_BUDGET_BYTES)
    expect(requests[0]?.body.length).toBeLessThanOrEqual(TEAMS_LIMIT_BYTES)
    const [, body] = textsOf(containersOf(messages[0] as TeamsMessage)[0] as Element)
    expect(body?.startsWith('The order book snapshot follows. xxx')).toBe(true)
    expect(body?.endsWith('…')).toBe(true)
    // not cut needlessly short either: most of the budget goes to the body
    expect(body?.length).toBeGreaterThan(20_000)
  })

  it('worst-case text (all escapes, CJK, emoji, backslashes, huge labels) still fits and is accepted', async () => {
    const bodies = ['*'.repeat(100_000), '漢'.repeat(50_000), '🚨'.repeat(30_000), '\\'.repeat(60_000), '"\n'.repeat(40_000)]
    for (const body of bodies) {
      fake.reset()
      const labels = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`label_${i}_${'k'.repeat(200)}`, '漢*'.repeat(2000)]))
      const { messages } = await deliver([sampleEvent({ title: '[t]'.repeat(2000), source: '*'.repeat(1000), body, labels })])
      expect(messages).toHaveLength(1)
      expect(byteLength((messages[0] as TeamsMessage).body)).toBeLessThanOrEqual(TEAMS_BUDGET_BYTES)
    }
  })

  it('a digest of 30 long alerts: several cards, each within 28 KB, most severe first, all accepted', async () => {
    const severities = ['info', 'warn', 'critical'] as const
    const events = Array.from({ length: 30 }, (_, i) => sampleEvent({
      severity: severities[i % 3],
      status: i === 4 ? 'resolved' : 'firing',
      title: `Alert${String(i).padStart(2, '0')} ` + 'long title words '.repeat(40),
      body: 'a long body with *markdown* and [links](http://x) '.repeat(400),
      labels: Object.fromEntries(Array.from({ length: 25 }, (_, j) => [`label${j}`, `value ${j} `.repeat(30)])),
      timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString()
    }))
    const { messages, requests } = await deliver(events)
    expect(messages.length).toBeGreaterThan(1)
    for (const r of requests) expect(r.body.length).toBeLessThanOrEqual(TEAMS_LIMIT_BYTES)
    for (const m of messages) expect(byteLength(m.body)).toBeLessThanOrEqual(TEAMS_BUDGET_BYTES)

    // every card opens with the digest's headline and its part number
    messages.forEach((m, i) => {
      const head = cardOf(m).body[0] as Element
      expect(head.type).toBe('TextBlock')
      expect(head.text).toBe(`30 alerts: 10 critical, 10 warn, 10 info (part ${i + 1} of ${messages.length})`)
    })
    // every alert exactly once, critical (oldest first), then warn, then info
    const titles = messages.flatMap((m) => containersOf(m).map((c) => /Alert(\d\d)/.exec(textsOf(c)[0] ?? '')?.[1]))
    const expected = [...events].sort((a, b) => severities.indexOf(b.severity) - severities.indexOf(a.severity) || a.timestamp.localeCompare(b.timestamp))
      .map((e) => /Alert(\d\d)/.exec(e.title)?.[1])
    expect(titles).toEqual(expected)
    // the resolved one is green in the digest too
    const resolved = messages.flatMap(containersOf).find((c) => (textsOf(c)[0] ?? '').includes('Alert04'))
    expect(resolved?.style).toBe('good')
    expect(textsOf(resolved as Element)[0]?.startsWith('[RESOLVED]')).toBe(true)
    expect(fake.cards()).toHaveLength(messages.length)
  })

  it('a small digest is one card with a container per alert', () => {
    const events = [sampleEvent({ severity: 'warn', title: 'W' }), sampleEvent({ severity: 'critical', title: 'C' })]
    const messages = renderTeams(events)
    expect(messages).toHaveLength(1)
    const card = cardOf(messages[0] as TeamsMessage)
    expect(card.body[0]).toMatchObject({ type: 'TextBlock', text: '2 alerts: 1 critical, 1 warn', size: 'Large' })
    expect(containersOf(messages[0] as TeamsMessage).map((c) => c.style)).toEqual(['attention', 'warning'])
    expect(renderTeams([])).toEqual([])
  })

  it('10 kB bodies, emoji, CJK and lone surrogates render into accepted messages, whole', async () => {
    const e = sampleEvent({
      title: '🚨 注文がブロックされました \ud800 broken',
      source: 'リスク_gate',
      body: '日本語のテキスト🙂 '.repeat(350) + 'end \udc00 tail',
      labels: { '通貨': '円💴', lone: 'x\udbffy' }
    })
    expect(byteLength(e.body)).toBeGreaterThan(10_000)
    const { messages, requests } = await deliver([e])
    const text = requests[0]?.text() ?? ''
    expect(text).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\udc)|\\udc[0-9a-f]{2}/i) // no lone surrogate escapes on the wire
    const c = containersOf(messages[0] as TeamsMessage)[0] as Element
    const [title, body] = textsOf(c)
    expect(title).toBe('[CRITICAL] リスク_gate: 🚨 注文がブロックされました \ufffd broken')
    expect(body).toBe('日本語のテキスト🙂 '.repeat(350) + 'end \ufffd tail')
    expect(factsOf(c)).toEqual([{ title: '通貨', value: '円💴' }, { title: 'lone', value: 'x\ufffdy' }])

    // 10 kB of plain ASCII lines arrive whole too, one paragraph per line
    fake.reset()
    const lines = Array.from({ length: 220 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'abcdefghij'.repeat(4)}`)
    const plain = await deliver([sampleEvent({ body: lines.join('\n') })])
    expect(lines.join('\n').length).toBeGreaterThan(10_000)
    expect(textsOf(containersOf(plain.messages[0] as TeamsMessage)[0] as Element)[1]).toBe(lines.join('\n\n'))
  })

  it('202 Accepted and 200 OK are delivered', async () => {
    const ch = channel()
    const [m] = ch.render([sampleEvent()])
    expect(await ch.send(m as TeamsMessage, { signal: signal() })).toEqual({ ok: true })
    expect(fake.requests[0]?.status).toBe(202)
    fake.script({ status: 200, body: '' })
    expect(await ch.send(m as TeamsMessage, { signal: signal() })).toEqual({ ok: true })
    expect(fake.requests[1]?.status).toBe(200)
  })

  it('a deleted workflow (404) is permanent, and the error names neither the URL nor its path', async () => {
    fake.deleteWorkflow()
    const ch = channel()
    const [m] = ch.render([sampleEvent()])
    const out = await ch.send(m as TeamsMessage, { signal: signal() })
    expect(out).toMatchObject({ ok: false, retryable: false, status: 404 })
    if (out.ok) return
    expect(out.error.startsWith('teams (http://127.0.0.1:')).toBe(true)
    expect(out.error).toContain('HTTP 404 WorkflowNotFound')
    for (const s of secretsOf(fake)) expect(out.error).not.toContain(s)
    // the fake did echo the workflow id: the channel masked it
    expect(out.error).toContain("The workflow '***' could not be found")
  })

  it('401/403 (bad signature), 400 (bad card) and 413 are permanent; 429 and 5xx retryable', async () => {
    const ch = channel()
    const [m] = ch.render([sampleEvent()])
    const send = async (): Promise<ReturnType<typeof ch.send>> => await ch.send(m as TeamsMessage, { signal: signal() })

    const wrongSig = create(teamsConfig({ webhookUrl: fake.webhookUrl.replace(fake.sig, 'A'.repeat(43)) }))
    const unauthorized = await wrongSig.send(m as TeamsMessage, { signal: signal() })
    expect(unauthorized).toMatchObject({ ok: false, retryable: false, status: 401 })
    if (!unauthorized.ok) expect(unauthorized.error).not.toContain('A'.repeat(43))

    fake.script({ status: 403, body: { error: { code: 'Forbidden', message: 'no' } } })
    expect(await send()).toMatchObject({ ok: false, retryable: false, status: 403 })
    fake.script({ status: 400, body: { error: { code: 'BadRequest', message: 'Bad payload' } } })
    expect(await send()).toMatchObject({ ok: false, retryable: false, status: 400, error: expect.stringContaining('BadRequest: Bad payload') })
    fake.script({ status: 413, body: { error: { code: 'RequestEntityTooLarge', message: 'too large' } } })
    expect(await send()).toMatchObject({ ok: false, retryable: false, status: 413 })

    fake.throttle(3)
    const throttled = await send()
    expect(throttled).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 3000 })
    for (const status of [500, 502, 503, 504]) {
      fake.unavailable(status)
      expect(await send()).toMatchObject({ ok: false, retryable: true, status })
    }
    // and then it works again
    expect(await send()).toEqual({ ok: true })
  })

  it('a hung workflow endpoint ends with the attempt signal, retryable', async () => {
    fake.hang()
    const ch = channel()
    const [m] = ch.render([sampleEvent()])
    const out = await ch.send(m as TeamsMessage, { signal: AbortSignal.timeout(100) })
    expect(out).toMatchObject({ ok: false, retryable: true })
    expect(fake.held).toBe(1)
    fake.release()
  })

  describe('the fake refuses what Teams would', () => {
    const post = async (body: string, contentType = 'application/json; charset=utf-8'): Promise<{ status: number, json: { error?: { code: string, message: string } } }> => {
      const res = await fetch(fake.webhookUrl, { method: 'POST', headers: { 'content-type': contentType }, body })
      const text = await res.text()
      return { status: res.status, json: text === '' ? {} : JSON.parse(text) as { error?: { code: string, message: string } } }
    }
    const card = (body: unknown[]): Record<string, unknown> => ({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.4', body } }] })

    it('accepts a minimal card with 202, rejects malformed envelopes and cards with 400', async () => {
      expect((await post(JSON.stringify(card([{ type: 'TextBlock', text: 'hi' }])))).status).toBe(202)
      const bad: Array<[unknown, RegExp]> = [
        [{ text: 'legacy MessageCard' }, /type: expected "message"/],
        [{ type: 'message', attachments: [] }, /expected one adaptive card/],
        [{ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.teams.card.o365connector', content: {} }] }, /contentType/],
        [{ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'Card', version: '1.4', body: [] } }] }, /must be 'AdaptiveCard'/],
        [{ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', body: [] } }] }, /version/],
        [card([{ type: 'Image', url: 'x' }]), /unknown element type "Image"/],
        [card([{ type: 'Container', items: [{ type: 'FactSet', facts: [{ title: 'n', value: 3 }] }] }]), /facts\[0\]\.value: expected a string/],
        [card([{ type: 'Container', style: 'red', items: [] }]), /style/],
        [card([{ type: 'TextBlock', text: 'x', color: '#ff0000' }]), /color/],
        [card([{ type: 'TextBlock', text: 'x\ud800' }]), /lone surrogate/]
      ]
      for (const [payload, why] of bad) {
        const { status, json } = await post(JSON.stringify(payload))
        expect(status, JSON.stringify(payload)).toBe(400)
        expect(json.error?.message).toMatch(why)
      }
      expect((await post('{not json')).json.error?.code).toBe('InvalidRequestContent')
      expect(cardProblem(card([{ type: 'ColumnSet', columns: [{ type: 'Column', items: [{ type: 'TextBlock', text: 'ok' }] }] }]))).toBeUndefined()
    })

    it('rejects bodies over 28 KB with 413 RequestEntityTooLarge (UTF-16 counted without a charset)', async () => {
      const sized = (n: number): string => {
        const base = JSON.stringify(card([{ type: 'TextBlock', text: '' }]))
        return JSON.stringify(card([{ type: 'TextBlock', text: 'x'.repeat(n - byteLength(base)) }]))
      }
      expect(byteLength(sized(TEAMS_LIMIT_BYTES))).toBe(TEAMS_LIMIT_BYTES)
      expect((await post(sized(TEAMS_LIMIT_BYTES))).status).toBe(202)
      const over = await post(sized(TEAMS_LIMIT_BYTES + 1))
      expect(over.status).toBe(413)
      expect(over.json.error?.code).toBe('RequestEntityTooLarge')
      expect((await post(sized(20_000), 'application/json')).status).toBe(413)
    })

    it('answers a deleted workflow, another workflow and a wrong signature like Workflows', async () => {
      const other = fake.webhookUrl.replace(fake.workflowId, 'f'.repeat(32))
      const r1 = await fetch(other, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(r1.status).toBe(404)
      expect(await r1.text()).toContain('WorkflowNotFound')
      const r2 = await fetch(fake.webhookUrl.replace(fake.sig, 'nope'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(r2.status).toBe(401)
      expect(await r2.text()).toContain('DirectApiInvalidAuthorizationSignature')
    })
  })
})

// Step 13: log content must not freeze the worker. `\s*\n\s*` retried every start in a run of spaces
// without a line break (64 Ki spaces took seconds); only what the cuts keep is cleaned now.
describe('teams: long whitespace runs', () => {
  it('64 Ki spaces in the title, body and a label value (no line break) render in under 100 ms, cut as before', () => {
    const run = ' '.repeat(64 * 1024)
    const e = sampleEvent({ title: 'Order' + run + 'blocked', body: 'a' + run + 'b\n' + run + '\nc', labels: { desk: 'fx' + run + 'x' } })
    const t = performance.now()
    const [m] = renderTeams([e])
    const ms = performance.now() - t
    expect(ms).toBeLessThan(100)
    const text = (m as TeamsMessage).body
    // The title is cut at 500 units with `…` (the spaces kept: no line break in the run), the label value at 1000.
    expect(text).toContain(`[CRITICAL] risk_gate: Order${' '.repeat(494)}…"`)
    expect(text).toContain(`"title":"desk","value":"fx${' '.repeat(997)}…"`)
    expect(byteLength(text)).toBeLessThanOrEqual(TEAMS_BUDGET_BYTES)
  })
})
