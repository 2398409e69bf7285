/**
 * Message templates (SPEC §14, third bullet; issue 18 item 3): `template: { title?, body? }` at the
 * top level and per channel.
 *
 * - src/format/template.ts on its own: every name, missing values, metadata as JSON, `labels.a.b`,
 *   values never expanded again, the 1 MiB output cap, the 10 000-character template limit.
 * - Errors at start: an unknown name, `{{labels}}` without a name, an unclosed `{{` are ConfigErrors
 *   naming the template's path (createAlerter, and the CLI's exit 2).
 * - The channel's own template over the top-level one, field by field.
 * - Every built-in channel, each delivering to its local fake (console through a real pino worker in
 *   a child process): hostile label values in a template with its own words. What arrives carries the
 *   words, the channel's escaping still holds, and a template that repeats a 10 KiB body 50 times
 *   still fits every service's limit (the fakes refuse what the services refuse).
 * - Alertmanager: a title template may not name what differs between firing and resolve; with
 *   `{{labels.desk}} {{title}}` the real Alertmanager ends the alert the resolve names.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter } from '../src/alerter.js'
import type { DiscordMessage } from '../src/channels/discord.js'
import { BUILT_IN_TYPES } from '../src/channels/types.js'
import { ConfigError } from '../src/errors.js'
import { AlertEvent } from '../src/event.js'
import { applyTemplate, compileTemplate, MAX_TEMPLATE_LENGTH, renderTemplate, TEMPLATE_FIELDS, type Template } from '../src/format/template.js'
import { resolveOptions } from '../src/options.js'
import { startAlertmanager, startAlertmanagerFake, type AlertmanagerFake, type RealAlertmanager } from './fakes/alertmanager.js'
import { len, pingsOf, startDiscordFake, validateDiscordMessage, type DiscordFake } from './fakes/discord.js'
import { recordsOf, startOtlpCollector, type OtlpCollector } from './fakes/otlp.js'
import { PAGERDUTY_LIMIT_BYTES, startPagerDutyFake, type PagerDutyFake } from './fakes/pagerduty.js'
import { LIMITS as SLACK_LIMITS, startSlackFake, validateSlackPayload } from './fakes/slack.js'
import { startSmtpFake, type SmtpFake } from './fakes/smtp.js'
import { startTeamsFake, TEAMS_LIMIT_BYTES, type TeamsFake } from './fakes/teams.js'
import { MARKDOWN_V2_RESERVED, startTelegramFake, TELEGRAM_MAX_TEXT, type TelegramFake } from './fakes/telegram.js'
import { startTwilioFake, TWILIO_MAX_BODY, type TwilioFake } from './fakes/twilio.js'
import { startWebhookServer, type RecordedRequest, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, readJsonl, runNode, tempDir } from './helpers/run.js'
import { thrownBy } from './helpers/errors.js'
import { activeMarkdown } from './helpers/markdown.js'

// ---------------------------------------------------------------------------------------------------
// The risk desk's alert and template

/** Every MarkdownV2 special, in a desk name. */
const DESK = `fx${MARKDOWN_V2_RESERVED}`
/** Mentions and HTML, in a trader's name. */
const TRADER = '<!channel> @everyone @here <b>x</b> & <script>'
const TITLE_TEMPLATE = '[{{labels.desk}}] {{title}} — desk {{labels.desk}}'
const BODY_TEMPLATE = 'Order {{metadata.order.id}} by {{labels.trader}}: {{body}}'
/** What the templates make of `riskAlert()`. */
const TITLE = `[${DESK}] Order blocked — desk ${DESK}`
const BODY = `Order 1042 by ${TRADER}: position limit exceeded <!here>`

function riskAlert (over: Partial<Parameters<typeof AlertEvent.from>[0]> = {}): AlertEvent {
  return AlertEvent.from({
    source: 'risk_gate',
    title: 'Order blocked',
    severity: 'critical',
    body: 'position limit exceeded <!here>',
    labels: { desk: DESK, trader: TRADER },
    metadata: { order: { id: 1042, qty: 5_000_000 } },
    timestamp: '2025-01-02T03:04:05.678Z',
    ...over
  })
}

const compile = (source: string, path = 'template.title'): { t?: Template, issues: string[] } => {
  const issues: string[] = []
  const t = compileTemplate(source, path, issues)
  return { ...(t === undefined ? {} : { t }), issues }
}
const render = (source: string, e: AlertEvent = riskAlert()): string => {
  const { t, issues } = compile(source)
  expect(issues).toEqual([])
  return renderTemplate(t as Template, e)
}

const configError = (fn: () => unknown): ConfigError => thrownBy(ConfigError, fn)

// ---------------------------------------------------------------------------------------------------

describe('src/format/template.ts', () => {
  it('renders every name: the fields, labels.NAME and metadata.PATH, spaces inside the braces allowed', () => {
    const e = riskAlert({ id: 'ord-1042', status: 'resolved', severity: 'warn' })
    expect(render(TITLE_TEMPLATE, e)).toBe(TITLE)
    expect(render(BODY_TEMPLATE, e)).toBe(BODY)
    expect(render('{{source}}|{{severity}}|{{status}}|{{id}}|{{fingerprint}}|{{timestamp}}|{{level}}', e))
      .toBe(`risk_gate|warn|resolved|ord-1042|${e.fingerprint}|2025-01-02T03:04:05.678Z|40`)
    expect(render('{{ title }} / {{  labels.desk}}', e)).toBe(`Order blocked / ${DESK}`)
    expect(render('no names at all, } and { and }} alone', e)).toBe('no names at all, } and { and }} alone')
    expect(render('', e)).toBe('')
    // The names a template uses, as written: what the alertmanager rule reads.
    expect(compile('{{labels.desk}} {{ status }} {{metadata.order.id}}').t?.names).toEqual(['labels.desk', 'status', 'metadata.order.id'])
    expect([...TEMPLATE_FIELDS]).toEqual(['source', 'severity', 'title', 'body', 'status', 'id', 'fingerprint', 'timestamp', 'level'])
  })

  it('a missing value renders empty: absent label, absent metadata path, a path through a non-object, null', () => {
    const e = riskAlert({ metadata: { order: { id: 1042, note: null }, qty: 5 } })
    expect(render('<{{labels.nope}}>', e)).toBe('<>')
    expect(render('<{{metadata.nope}}>', e)).toBe('<>')
    expect(render('<{{metadata.order.nope.deeper}}>', e)).toBe('<>')
    expect(render('<{{metadata.qty.toFixed}}>', e)).toBe('<>') // 5 is no object: no property of a number
    expect(render('<{{metadata.order.note}}>', e)).toBe('<>')
    expect(render('<{{labels.__proto__}}|{{labels.constructor}}|{{metadata.__proto__}}|{{metadata.order.constructor}}>', e)).toBe('<|||>')
    expect(render('<{{metadata.order.id}}>', riskAlert({ metadata: {} }))).toBe('<>')
  })

  it('metadata: strings as they are, numbers and booleans as text, objects and arrays as JSON, array items by index', () => {
    const e = riskAlert({ metadata: { order: { id: 1042, side: 'buy', live: true, fills: [{ px: 1.1 }, { px: 1.2 }] } } })
    expect(render('{{metadata.order.side}} {{metadata.order.id}} {{metadata.order.live}}', e)).toBe('buy 1042 true')
    expect(render('{{metadata.order.fills}}', e)).toBe('[{"px":1.1},{"px":1.2}]')
    expect(render('{{metadata.order.fills.1.px}}', e)).toBe('1.2')
    expect(render('{{metadata.order}}', e)).toBe(JSON.stringify(e.metadata.order))
  })

  it('a large metadata object is written as the start of its JSON, at most 64 KiB, quickly', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, sym: `EURUSD-${i}`, px: 1.0 + i / 1e5 }))
    const e = riskAlert({ metadata: { rows } })
    const started = performance.now()
    const out = render('{{metadata.rows}}', e)
    expect(performance.now() - started).toBeLessThan(200)
    expect(out.length).toBe(64 * 1024)
    expect(JSON.stringify(rows).startsWith(out)).toBe(true)
  })

  it('labels.a.b is the label named "a.b" (everything after "labels."), not a path', () => {
    const e = riskAlert({ labels: { 'a.b': 'dotted', a: 'plain' } })
    expect(render('{{labels.a.b}}|{{labels.a}}', e)).toBe('dotted|plain')
    expect(render('<{{labels.a.b.c}}>', e)).toBe('<>')
  })

  it('values are inserted once: a label or a body holding "{{title}}" is not expanded', () => {
    const e = riskAlert({ body: '{{title}} {{labels.desk}} {{nope}} {{', labels: { trader: '{{body}}' } })
    expect(render('{{labels.trader}} / {{body}}', e)).toBe('{{body}} / {{title}} {{labels.desk}} {{nope}} {{')
  })

  it('unknown names, {{labels}} and {{metadata}} without a name, an unclosed "{{": issues naming the path and the position', () => {
    for (const [source, expected] of [
      ['{{nope}}', 'template.title: unknown name {{nope}} at position 0; expected one of {{source}}'],
      ['x {{labels}}', 'template.title: unknown name {{labels}} at position 2'],
      ['{{labels.}}', 'template.title: unknown name {{labels.}} at position 0'],
      ['{{metadata}}', 'template.title: unknown name {{metadata}} at position 0'],
      ['{{metadata.a..b}}', 'template.title: unknown name {{metadata.a..b}} at position 0'],
      ['{{Title}}', 'template.title: unknown name {{Title}}'],
      ['{{}}', 'template.title: unknown name {{}}'],
      ['{{{title}}}', 'template.title: unknown name {{{title}}'],
      ['[{{labels.desk}}] {{title', 'template.title: "{{" at position 18 is never closed with "}}"']
    ] as const) {
      const { t, issues } = compile(source)
      expect(t, source).toBeUndefined()
      expect(issues, source).toHaveLength(1)
      expect(issues[0], source).toContain(expected)
    }
    // Every problem of a template at once.
    const { issues } = compile('{{nope}} {{title}} {{labels}} {{body', 'channels.slack.template.body')
    expect(issues).toHaveLength(3)
    for (const i of issues) expect(i.startsWith('channels.slack.template.body: ')).toBe(true)
  })

  it(`a template of more than ${MAX_TEMPLATE_LENGTH} characters is refused; ${MAX_TEMPLATE_LENGTH} is taken`, () => {
    expect(compile('x'.repeat(MAX_TEMPLATE_LENGTH)).issues).toEqual([])
    const { t, issues } = compile('{{body}}'.repeat(1251), 'template.body')
    expect(t).toBeUndefined()
    expect(issues).toEqual([`template.body: a template of 10008 characters; expected at most ${MAX_TEMPLATE_LENGTH}`])
  })

  it('output is capped at 1 MiB: {{body}} × 1250 on a 1 MiB body renders 1 MiB, in well under a second', () => {
    const body = 'ab'.repeat(512 * 1024)
    const e = riskAlert({ body })
    const { t } = compile('{{body}}'.repeat(1250))
    const started = performance.now()
    const out = renderTemplate(t as Template, e)
    const ms = performance.now() - started
    expect(out.length).toBe(1024 * 1024)
    expect(out).toBe(body)
    expect(ms).toBeLessThan(250)
    // 2 000 parts of small values stop at the cap too.
    const small = compile('{{title}} '.repeat(999)).t as Template
    expect(renderTemplate(small, riskAlert({ title: 'y'.repeat(2000) })).length).toBe(1024 * 1024)
  })

  it('the cap never splits an emoji (a surrogate pair)', () => {
    // 1 MiB - 1 units of text, then emoji: the cut falls inside the first one.
    const e = riskAlert({ body: 'x'.repeat(1024 * 1024 - 1), title: '🚨🚨' })
    const out = render('{{body}}{{title}}', e)
    expect(out.length).toBe(1024 * 1024 - 1)
    expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/) // no half emoji left at the end
    const e2 = riskAlert({ body: 'x'.repeat(1024 * 1024 - 2), title: '🚨🚨' })
    expect(render('{{body}}{{title}}', e2)).toBe('x'.repeat(1024 * 1024 - 2) + '🚨')
  })

  it('applyTemplate changes the title and body only; each template sees the alert\'s own values', () => {
    const e = riskAlert()
    const title = compile('T: {{title}} / {{body}}').t as Template
    const body = compile('B: {{title}} / {{body}}').t as Template
    const out = applyTemplate(e, { title, body })
    expect(out.title).toBe('T: Order blocked / position limit exceeded <!here>')
    expect(out.body).toBe('B: Order blocked / position limit exceeded <!here>')
    const rest = (x: AlertEvent): Record<string, unknown> => { const j: Record<string, unknown> = { ...x.toJSON() }; delete j.title; delete j.body; return j }
    expect(rest(out)).toEqual(rest(e)) // id, fingerprint, labels, metadata, status, timestamp, level: the alert's
    expect(applyTemplate(e, { body }).title).toBe('Order blocked')
    expect(applyTemplate(e, {})).toBe(e)
  })
})

// ---------------------------------------------------------------------------------------------------

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const quiet = { console: { enabled: false } }

describe('templates are checked at start', () => {
  it('{{nope}} in the top-level title: createAlerter throws a ConfigError naming template.title', () => {
    const err = configError(() => createAlerter({ env: false, channels: quiet, template: { title: '{{nope}}' } }, { env: {} }))
    expect(err.code).toBe('PINO_ALERTS_INVALID_OPTIONS')
    expect(err.issues).toHaveLength(1)
    expect(err.message).toContain('template.title: unknown name {{nope}} at position 0; expected one of {{source}}, {{severity}}, {{title}}')
    expect(err.message).toContain('{{labels.NAME}} or {{metadata.PATH}}')
  })

  it("a channel's {{labels}} names channels.slack.template.body; an unclosed {{title names its path; all in one error", () => {
    const err = configError(() => createAlerter({
      env: false,
      template: { body: 'Order {{metadata.order.id}}: {{title' },
      channels: {
        ...quiet,
        slack: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/x', template: { body: '{{labels}}' } },
        desk: { type: 'file', path: join(tempDir(), 'a.jsonl'), template: { title: 'x'.repeat(10_001) } }
      }
    }, { env: {} }))
    expect(err.issues).toEqual([
      'template.body: "{{" at position 29 is never closed with "}}"',
      expect.stringMatching(/^channels\.slack\.template\.body: unknown name \{\{labels\}\} at position 0; /),
      'channels.desk.template.title: a template of 10001 characters; expected at most 10000'
    ])
  })

  it('a template that is not a string, or an unknown key in it, names its path too', () => {
    const err = configError(() => resolveOptions({ env: false, template: { title: 5, subject: 'x' }, channels: { ...quiet, file: { path: '/dev/null', template: { body: ['{{body}}'] } } } }, {}))
    expect(err.message).toMatch(/template\.title: /)
    expect(err.message).toMatch(/template\.subject: unknown option/)
    expect(err.message).toMatch(/channels\.file\.template\.body: /)
  })

  it('an app whose pino transport has a bad template fails at start, naming the path', async () => {
    const options = { env: false, channels: { console: {} }, template: { body: 'Order {{metadata.order.id}} {{labels}}' } }
    const r = await runNode(fixture('bad-options.mjs'), { OPTIONS: JSON.stringify(options) }, 30_000)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('Invalid pino-alerts options')
    expect(r.stderr).toContain('template.body: unknown name {{labels}} at position 28')
    expect(r.stderr).not.toContain('never delivered') // the console channel never ran
  }, 40_000)

  it('the CLI: `pino-alerts test -c cfg.json` with a bad template exits 2 with one line naming the path', async () => {
    const dir = tempDir('pino-alerts-templates-cli-')
    const cfg = join(dir, 'cfg.json')
    writeFileSync(cfg, JSON.stringify({ channels: { file: { path: join(dir, 'alerts.jsonl'), template: { title: '[{{labels.desk}}] {{nope}}' } } } }))
    const r = await runNode([join(ROOT, 'dist/cli/main.js'), 'test', '-c', cfg], { TZ: 'UTC' }, 30_000)
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`pino-alerts: invalid config ${cfg}: `)
    expect(r.stderr).toContain('channels.file.template.title: unknown name {{nope}} at position 18')
    expect(readJsonl(join(dir, 'alerts.jsonl'))).toEqual([]) // nothing was sent

    // Fixed, the same command sends its test alert through the template.
    writeFileSync(cfg, JSON.stringify({ channels: { file: { path: join(dir, 'alerts.jsonl'), template: { title: '[{{labels.channel}}] {{title}} ({{severity}})' } } } }))
    const ok = await runNode([join(ROOT, 'dist/cli/main.js'), 'test', '-c', cfg, '--channel', 'file'], { TZ: 'UTC' }, 30_000)
    expect(ok.code, ok.stderr).toBe(0)
    expect(readJsonl(join(dir, 'alerts.jsonl')).map((e) => e.title)).toEqual(['[file] Test alert from pino-alerts (info)'])
  })
})

// ---------------------------------------------------------------------------------------------------

describe('top level and per channel', () => {
  it("the channel's own template over the top-level one, field by field; a channel without one takes the top level's", async () => {
    const dir = tempDir('pino-alerts-templates-')
    const file = (name: string): string => join(dir, `${name}.jsonl`)
    const a = createAlerter({
      env: false,
      template: { title: 'TOP {{title}}', body: 'TOP BODY {{body}}' },
      channels: {
        ...quiet,
        plain: { type: 'file', path: file('plain') },
        ownTitle: { type: 'file', path: file('ownTitle'), template: { title: 'OWN [{{labels.desk}}] {{title}}' } },
        ownBody: { type: 'file', path: file('ownBody'), template: { body: 'OWN BODY {{metadata.order.id}}' } },
        both: { type: 'file', path: file('both'), template: { title: '{{severity}}: {{title}}', body: '' } }
      }
    }, { env: {} })
    try {
      const r = await a.dispatch(riskAlert({ labels: { desk: 'fx' } }))
      expect(r.deliveries.map((d) => [d.channel, d.ok])).toEqual([['plain', true], ['ownTitle', true], ['ownBody', true], ['both', true]])
    } finally {
      await a.close()
    }
    const got = (name: string): [string, string] => { const [e] = readJsonl(file(name)); return [e?.title, e?.body] }
    expect(got('plain')).toEqual(['TOP Order blocked', 'TOP BODY position limit exceeded <!here>'])
    expect(got('ownTitle')).toEqual(['OWN [fx] Order blocked', 'TOP BODY position limit exceeded <!here>'])
    expect(got('ownBody')).toEqual(['TOP Order blocked', 'OWN BODY 1042'])
    expect(got('both')).toEqual(['critical: Order blocked', ''])
  })

  it('only a body template: the title stays the alert\'s own; no template at all: the alert as logged', () => {
    const o = resolveOptions({ env: false, channels: { ...quiet, a: { type: 'file', path: '/dev/null', template: { body: '{{body}}!' } }, b: { type: 'file', path: '/dev/null' } } }, {})
    const [a, b] = [o.channels.find((c) => c.name === 'a'), o.channels.find((c) => c.name === 'b')]
    expect(a?.template?.title).toBeUndefined()
    expect(a?.template?.body?.source).toBe('{{body}}!')
    expect(b?.template).toBeUndefined()
  })
})

// ---------------------------------------------------------------------------------------------------
// Every built-in channel

const TG_TOKEN = '987654:FAKE-template-token'
const TG_CHAT = 42
const TG_CHAT_HTML = 43
const TWILIO = { accountSid: 'AC' + 'cd'.repeat(16), authToken: 'fake-twilio-token-4567', from: '+15005550006', to: '+15005550011' }
const DISCORD_ID = '223344556677889900'

/** Discord shows `\x` as `x` for any punctuation x. */
const discordShown = (s: string): string => s.replace(/\\([^0-9A-Za-z\s])/g, '$1')
/** Teams (Adaptive Card Markdown) shows `\x` as `x`; zero-width spaces break up `{{DATE(`. */
const teamsShown = (s: string): string => s.replace(/\\([\s\S])/g, '$1').replace(/\u200b/g, '')

interface Fakes {
  webhook: WebhookServer, slack: WebhookServer, telegram: TelegramFake, discord: DiscordFake, teams: TeamsFake
  pagerduty: PagerDutyFake, alertmanager: AlertmanagerFake, otlp: OtlpCollector, twilio: TwilioFake, smtp: SmtpFake
}

/** Every built-in channel but console (stderr of this process), each at its fake; telegram twice (MarkdownV2 and HTML). */
function channelsAt (f: Fakes, file: string): Record<string, Record<string, unknown>> {
  const off = { rateLimit: false as const, retry: { maxAttempts: 1 } }
  return {
    ...quiet,
    file: { path: file, ...off },
    webhook: { url: f.webhook.url, ...off },
    email: { host: '127.0.0.1', port: f.smtp.port, from: 'alerts@example.test', to: ['desk@example.test'], ...off },
    slack: { webhookUrl: `${f.slack.origin}/services/T0/B0/fake-templates`, ...off },
    telegram: { botToken: TG_TOKEN, chatId: TG_CHAT, apiUrl: f.telegram.apiUrl, ...off },
    telegram_html: { type: 'telegram', botToken: TG_TOKEN, chatId: TG_CHAT_HTML, apiUrl: f.telegram.apiUrl, parseMode: 'HTML', ...off },
    discord: { webhookUrl: f.discord.webhookUrl(DISCORD_ID), wait: true, ...off },
    teams: { webhookUrl: f.teams.webhookUrl, ...off },
    pagerduty: { routingKey: f.pagerduty.routingKey, url: f.pagerduty.origin, ...off },
    alertmanager: { url: f.alertmanager.baseUrl, ...off },
    otlp: { url: f.otlp.baseUrl, ...off },
    sms: { accountSid: TWILIO.accountSid, authToken: TWILIO.authToken, from: TWILIO.from, to: [TWILIO.to], apiUrl: f.twilio.apiUrl, ...off }
  }
}

/** Requests the fake answered with a 2xx. */
const accepted = (s: WebhookServer): RecordedRequest[] => s.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300)

describe('templates on every built-in channel, at its fake', () => {
  let f: Fakes
  beforeAll(async () => {
    const [webhook, slack, telegram, discord, teams, pagerduty, alertmanager, otlp, twilio, smtp] = await Promise.all([
      startWebhookServer({ maxBodyBytes: 16 * 1024 * 1024 }), startSlackFake(), startTelegramFake({ token: TG_TOKEN, chats: [TG_CHAT, TG_CHAT_HTML] }),
      startDiscordFake({ [DISCORD_ID]: 'fake-discord-template-token' }), startTeamsFake(), startPagerDutyFake(), startAlertmanagerFake(),
      startOtlpCollector(), startTwilioFake({ accountSid: TWILIO.accountSid, authToken: TWILIO.authToken, senders: [TWILIO.from] }), startSmtpFake()
    ])
    f = { webhook, slack, telegram, discord, teams, pagerduty, alertmanager, otlp, twilio, smtp }
  })
  afterAll(async () => { await Promise.all(Object.values(f ?? {}).map(async (s: { close: () => Promise<void> }) => await s.close())) })

  const reset = (): void => {
    for (const s of [f.webhook, f.slack, f.telegram, f.discord, f.teams, f.pagerduty, f.alertmanager, f.otlp, f.twilio]) s.reset()
    f.smtp.received.length = 0
  }

  /** One alert through createAlerter to every channel; every delivery must succeed (the fakes validate). */
  async function deliverEverywhere (template: { title?: string, body?: string }, event: AlertEvent, file: string): Promise<void> {
    reset()
    const a: Alerter = createAlerter({ env: false, template, channels: channelsAt(f, file) }, { env: {} })
    try {
      const r = await a.dispatch(event)
      expect(r.deliveries.filter((d) => !d.ok), JSON.stringify(r.deliveries)).toEqual([])
      expect(r.deliveries.map((d) => d.channel).sort()).toEqual(Object.keys(channelsAt(f, file)).filter((n) => n !== 'console').sort())
    } finally {
      await a.close()
    }
  }

  it('the risk desk\'s template with hostile labels: every channel shows the template\'s words, and its escaping holds', async () => {
    const file = join(tempDir('pino-alerts-templates-'), 'alerts.jsonl')
    await deliverEverywhere({ title: TITLE_TEMPLATE, body: BODY_TEMPLATE }, riskAlert(), file)

    // file and webhook: records, not markup: the templated title and body exactly, everything else the alert's.
    const [record] = readJsonl(file)
    expect(record).toMatchObject({ title: TITLE, body: BODY, labels: { desk: DESK, trader: TRADER }, source: 'risk_gate' })
    const [hook] = accepted(f.webhook)
    expect(hook?.json()).toMatchObject({ title: TITLE, body: BODY, id: record?.id, fingerprint: record?.fingerprint })

    // email: the subject is one clean line; the HTML part escapes the template's output; the text part is as written.
    const [mail] = await f.smtp.waitFor(1)
    expect(mail?.mail.subject).toBe(`[CRITICAL] risk_gate: ${TITLE}`)
    const html = mail?.mail.html === false ? '' : mail?.mail.html ?? ''
    expect(html).toContain('Order 1042 by &lt;!channel&gt; @everyone @here &lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;: position limit exceeded &lt;!here&gt;')
    expect(html).toContain('— desk fx_*[]()~`&gt;#+-=|{}.!')
    expect(html).not.toMatch(/<script|<b>x|<!channel|<!here/)
    expect(mail?.mail.text).toContain(BODY)

    // slack: the words arrive; `<`, `>`, `&` are entities everywhere, so no <!channel> or <!here> broadcast.
    const [slackReq] = accepted(f.slack)
    const slackJson = slackReq?.text() ?? ''
    expect(validateSlackPayload(slackReq?.json())).toBeUndefined()
    expect(slackJson).not.toMatch(/<!|<b>|<script/)
    const slackMsg = slackReq?.json<{ blocks: Array<{ type: string, text?: { text: string } }>, attachments: Array<{ blocks: Array<{ text?: { text: string } }> }> }>()
    expect(slackMsg?.blocks.find((b) => b.type === 'header')?.text?.text).toContain('[CRITICAL] risk_gate: [fx_*[]()~`&gt;#+-=|{}.!] Order blocked — desk fx_*[]()~`&gt;#+-=|{}.!')
    const slackTexts = (slackMsg?.attachments ?? []).flatMap((a) => a.blocks.map((b) => b.text?.text ?? ''))
    expect(slackTexts.some((t) => t.includes('Order 1042 by &lt;!channel&gt; @everyone @here &lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;: position limit exceeded &lt;!here&gt;'))).toBe(true)

    // telegram: the fake parses the markup as Telegram does (it refuses a bad escape): every special arrives
    // exactly as written, and no entity comes out of the template's output, in MarkdownV2 and in HTML.
    const tg = f.telegram.delivered()
    expect(tg.map((m) => m.chatId).sort()).toEqual([String(TG_CHAT), String(TG_CHAT_HTML)])
    for (const m of tg) {
      expect(m.parsed.text.split('\n')[0], m.parseMode).toBe(`🔴 [CRITICAL] risk_gate: ${TITLE}`)
      expect(m.parsed.text, m.parseMode).toContain(`\n\n${BODY}\n\n`)
      expect(new Set(m.parsed.entities.map((e) => e.type)), m.parseMode).toEqual(new Set(['bold', 'pre', 'italic']))
      expect(m.parsed.entities[0], m.parseMode).toMatchObject({ type: 'bold', offset: 3, length: `[CRITICAL] risk_gate: ${TITLE}`.length })
    }
    expect(tg.find((m) => m.parseMode === 'MarkdownV2')?.raw).toContain('\\[fx\\_\\*\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\!\\] Order blocked — desk')
    expect(tg.find((m) => m.parseMode === 'HTML')?.raw).toContain('Order 1042 by &lt;!channel&gt; @everyone @here &lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;')

    // discord: nobody is pinged (allowed_mentions parse [], and Discord's own answer mentions no one);
    // no raw mention or markup is left where Discord renders markdown; a reader sees the template's text.
    const [dReq] = accepted(f.discord)
    const d = dReq?.json<DiscordMessage>() as DiscordMessage
    expect(d.allowed_mentions).toEqual({ parse: [] })
    expect(pingsOf(d as unknown as Record<string, unknown>)).toEqual({ everyone: false, users: [], roles: [] })
    expect(dReq?.status).toBe(200) // wait=true: Discord's answer is the message it made, checked by the fake
    const [embed] = d.embeds
    for (const s of [embed?.title ?? '', embed?.description ?? '']) {
      expect(s).not.toMatch(/(?<!\\)<|(?<!\\)@(everyone|here)|(?<!\\)[*_~`|]/)
    }
    expect(discordShown(embed?.title ?? '')).toBe(`[CRITICAL] risk_gate: ${TITLE}`)
    expect(discordShown(embed?.description ?? '')).toBe(BODY)

    // teams: Adaptive Card TextBlocks with the template's text, markdown inert, within 28 KB.
    const [card] = f.teams.cards() as Array<{ body: Array<{ type: string, items?: Array<{ type: string, text?: string }> }> }>
    const texts = (card?.body.find((e) => e.type === 'Container')?.items ?? []).filter((e) => e.type === 'TextBlock').map((e) => e.text ?? '')
    expect(teamsShown(texts[0] ?? '')).toBe(`[CRITICAL] risk_gate: ${TITLE}`)
    expect(teamsShown(texts[1] ?? '')).toBe(BODY)
    for (const t of texts) expect(activeMarkdown(t), t).toEqual([])
    expect(accepted(f.teams)[0]?.body.length).toBeLessThanOrEqual(TEAMS_LIMIT_BYTES)

    // pagerduty: the summary is the templated subject on one line; the body in custom_details.
    const [pd] = f.pagerduty.events()
    expect(pd?.payload?.summary).toBe(`[CRITICAL] risk_gate: ${TITLE}`)
    expect(pd?.payload?.custom_details?.body).toBe(BODY)

    // alertmanager: the templated title is the alertname, the body the description.
    const [am] = f.alertmanager.posted
    expect(am?.labels.alertname).toBe(TITLE)
    expect(am?.labels).toMatchObject({ source: 'risk_gate', severity: 'critical', desk: DESK, trader: TRADER })
    expect(am?.annotations).toMatchObject({ summary: TITLE, description: BODY })

    // otlp: the record's body is the templated subject and body.
    const [rec] = recordsOf(accepted(f.otlp)[0] as RecordedRequest)
    expect(rec?.body?.stringValue).toBe(`[CRITICAL] risk_gate: ${TITLE} — ${BODY}`)

    // sms: one line, the template's words.
    const [sms] = f.twilio.delivered()
    expect(sms?.body).toBe(`[CRITICAL] risk_gate: ${TITLE} - ${BODY}`)
  }, 60_000)

  it('{{body}} × 50 of a 10 KiB body and {{title}} × 50 of a 1 KiB title: every channel still fits its service\'s limit', async () => {
    const file = join(tempDir('pino-alerts-templates-'), 'alerts.jsonl')
    const body = ('Margin call <!channel> @everyone _*[]~` <b>ä</b> 注文 🚨 ').repeat(200).slice(0, 10 * 1024)
    const title = `${DESK} ${TRADER} `.repeat(20).slice(0, 1024)
    const template = { title: '{{title}} — desk {{labels.desk}} '.repeat(50), body: 'Order {{metadata.order.id}}: {{body}} '.repeat(50) }
    const event = riskAlert({ title, body })
    const bigBody = renderTemplate(compile(template.body).t as Template, event)
    expect(bigBody.length).toBeGreaterThan(500_000)
    // Every delivery succeeded: each fake refuses what its service refuses (sizes included).
    await deliverEverywhere(template, event, file)

    const [slack] = accepted(f.slack)
    expect(validateSlackPayload(slack?.json())).toBeUndefined()
    const slackMsg = slack?.json<{ blocks: Array<{ type: string, text?: { text: string } }> }>()
    expect(slackMsg?.blocks.find((b) => b.type === 'header')?.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.header)
    expect(slack?.text()).not.toMatch(/<!|<b>/)

    expect(f.telegram.delivered().map((m) => m.parseMode).sort()).toEqual(['HTML', 'MarkdownV2'])
    for (const m of f.telegram.delivered()) {
      expect(m.parsed.text.length, m.parseMode).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT)
      expect(m.parsed.text.length, m.parseMode).toBeGreaterThan(3500) // the room is used
      expect(m.parsed.text, m.parseMode).toContain('Order 1042: Margin call <!channel> @everyone _*[]~` <b>ä</b> 注文 🚨')
      expect(new Set(m.parsed.entities.map((e) => e.type)), m.parseMode).toEqual(new Set(['bold', 'pre', 'italic']))
    }

    const [discord] = accepted(f.discord)
    const d = discord?.json<DiscordMessage>() as DiscordMessage
    expect(validateDiscordMessage(d)).toBeNull()
    expect(d.allowed_mentions).toEqual({ parse: [] })
    for (const e of d.embeds) {
      expect(len(e.title)).toBeLessThanOrEqual(256)
      expect(len(e.description ?? '')).toBeLessThanOrEqual(4096)
    }
    expect(discordShown(d.embeds[0]?.description ?? '')).toContain('Order 1042: Margin call <!channel> @everyone')

    expect(accepted(f.teams)[0]?.body.length).toBeLessThanOrEqual(TEAMS_LIMIT_BYTES)
    expect(accepted(f.pagerduty)[0]?.body.length).toBeLessThanOrEqual(PAGERDUTY_LIMIT_BYTES)
    expect((f.pagerduty.events()[0]?.payload?.summary ?? '').length).toBeLessThanOrEqual(1024)

    const [sms] = f.twilio.delivered()
    expect(sms?.body.length).toBeLessThanOrEqual(TWILIO_MAX_BODY)
    expect(sms?.body).not.toContain('\n')

    const [am] = f.alertmanager.posted
    expect(am?.labels.alertname?.length).toBeLessThanOrEqual(1024)
    expect(am?.annotations.description?.length).toBeLessThanOrEqual(16 * 1024)
    expect(accepted(f.alertmanager)[0]?.body.length).toBeLessThanOrEqual(1024 * 1024)

    expect(accepted(f.webhook)[0]?.body.length).toBeLessThanOrEqual(1024 * 1024)
    expect(accepted(f.webhook)[0]?.json<{ body: string }>().body).toBe(bigBody)
    expect(accepted(f.otlp)[0]?.body.length).toBeLessThanOrEqual(1024 * 1024)
    expect(readJsonl(file)[0]?.body).toBe(bigBody)
    expect(await f.smtp.waitFor(1)).toHaveLength(1)
    const sizes = [f.webhook, f.slack, f.telegram, f.discord, f.teams, f.pagerduty, f.alertmanager, f.otlp, f.twilio]
      .map((s, i) => `${['webhook', 'slack', 'telegram', 'discord', 'teams', 'pagerduty', 'alertmanager', 'otlp', 'sms'][i] ?? ''} ${accepted(s).map((r) => r.body.length).join('+')} B`)
    console.log(`a ${bigBody.length}-character templated body, as each service received it: ${sizes.join(', ')}`)
  }, 60_000)

  it('console, through a real pino transport in an app: the templated line on stderr, control characters and all', async () => {
    const dir = tempDir('pino-alerts-templates-console-')
    const app = `
import pino from 'pino'
const transport = pino.transport({ target: ${JSON.stringify(join(ROOT, 'dist/index.js'))}, options: JSON.parse(process.env.TEMPLATE_OPTIONS) })
const logger = pino({ name: 'risk-svc' }, transport)
logger.fatal({ alert: { source: 'risk_gate', title: 'Order blocked', labels: { desk: ${JSON.stringify(DESK)}, trader: ${JSON.stringify(TRADER + '\x1b[2J\u202e')} } }, order: { id: 1042 } }, 'position limit exceeded')
// Kept alive until the worker has closed (every alert delivered): end() alone lets the app exit first.
const alive = setInterval(() => {}, 1000)
transport.once('close', () => { clearInterval(alive); process.stdout.write('CLOSED\\n') })
transport.end()
`
    const options = {
      env: false,
      template: { title: TITLE_TEMPLATE, body: BODY_TEMPLATE },
      channels: { console: { colors: false }, file: { path: join(dir, 'alerts.jsonl') } }
    }
    const r = await runNode(['--input-type=module', '-e', app], { TEMPLATE_OPTIONS: JSON.stringify(options) }, 30_000)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('CLOSED')
    const lines = r.stderr.split('\n').filter((l) => l.includes('risk_gate'))
    expect(lines).toHaveLength(1)
    const line = lines[0] as string
    expect(line).toContain(`[CRITICAL] risk_gate: ${TITLE} — Order 1042 by <!channel> @everyone @here <b>x</b> & <script>`)
    expect(line).toContain(': position limit exceeded {')
    expect(line).not.toContain('\x1b') // the label's terminal escape sequence is not passed on
    expect(readJsonl(join(dir, 'alerts.jsonl'))[0]).toMatchObject({ title: TITLE, body: `Order 1042 by ${TRADER}\x1b[2J\u202e: position limit exceeded` })
  }, 40_000)

  it('covers every built-in type', () => {
    const covered = new Set(['console', ...Object.entries(channelsAt(f, '/dev/null')).map(([name, c]) => (c.type as string | undefined) ?? name)])
    covered.delete('console')
    expect([...covered, 'console'].sort()).toEqual([...BUILT_IN_TYPES].sort())
  })
})

// ---------------------------------------------------------------------------------------------------

describe('alertmanager: the title is the alertname', () => {
  it('a title template naming {{status}} (or timestamp, id, body, level, metadata) is a ConfigError naming its path', () => {
    const url = 'http://127.0.0.1:9093'
    const own = configError(() => resolveOptions({ env: false, channels: { ...quiet, alertmanager: { url, template: { title: '{{title}} {{status}}' } } } }, {}))
    expect(own.issues).toEqual([
      'channels.alertmanager.template.title: {{status}} in an alertmanager title: the title is the alertname label, which must be the same for an alert\'s firing and resolved events (use a body template for these)'
    ])
    const top = configError(() => resolveOptions({ env: false, template: { title: '{{timestamp}} {{id}} {{body}} {{level}} {{metadata.order.id}}' }, channels: { ...quiet, am: { type: 'alertmanager', url } } }, {}))
    expect(top.issues).toEqual([expect.stringMatching(/^template\.title: \{\{timestamp\}\}, \{\{id\}\}, \{\{body\}\}, \{\{level\}\}, \{\{metadata\.order\.id\}\} in an alertmanager title: /)])
    // The same top-level title is fine for every other channel, and for alertmanager with a title of its own.
    expect(() => resolveOptions({ env: false, template: { title: '{{status}}: {{title}}' }, channels: { ...quiet, am: { type: 'alertmanager', url, template: { title: '{{labels.desk}} {{title}}' } }, file: { path: '/dev/null' } } }, {})).not.toThrow()
    // In the body, anything goes.
    expect(() => resolveOptions({ env: false, channels: { ...quiet, alertmanager: { url, template: { title: '{{labels.desk}} {{title}} {{severity}} {{source}} {{fingerprint}}', body: '{{status}} at {{timestamp}}: {{body}}' } } } }, {})).not.toThrow()
  })

  it('{{labels.desk}} {{title}}: the firing and the resolve carry the same alertname (fake), and the real Alertmanager ends the alert', async () => {
    const fake = await startAlertmanagerFake()
    let real: RealAlertmanager | undefined
    let a: Alerter | undefined
    try {
      real = await startAlertmanager()
      const title = `Order blocked ${process.pid}-${Date.now()}`
      a = createAlerter({
        env: false,
        channels: {
          ...quiet,
          fake: { type: 'alertmanager', url: fake.baseUrl, rateLimit: false },
          real: { type: 'alertmanager', url: real.url, rateLimit: false }
        },
        template: { title: '{{labels.desk}} {{title}}', body: '{{status}} at {{timestamp}}: {{body}}' }
      }, { env: {} })
      const alert = { source: 'risk_gate', title, severity: 'critical' as const, labels: { desk: 'fx' }, body: 'position limit exceeded' }
      const firing = await a.dispatch(alert)
      expect(firing.deliveries.map((d) => [d.channel, d.ok])).toEqual([['fake', true], ['real', true]])
      const name = `fx ${title}`
      const [live] = await real.waitForAlerts([`alertname=${JSON.stringify(name)}`], (l) => l.length === 1, 10_000)
      expect(live?.annotations.description).toMatch(/^firing at \d{4}-\d\d-\d\dT.*Z: position limit exceeded$/)

      const resolved = await a.dispatch({ ...alert, status: 'resolved', body: 'back under the limit' })
      expect(resolved.deliveries.map((d) => [d.channel, d.ok])).toEqual([['fake', true], ['real', true]])
      await real.waitForAlerts([`alertname=${JSON.stringify(name)}`], (l) => l.length === 0, 10_000)

      const posted = fake.posted
      expect(posted).toHaveLength(2)
      expect(posted[0]?.labels).toEqual(posted[1]?.labels)
      expect(posted.map((p) => p.labels.alertname)).toEqual([name, name])
      expect(posted[0]?.endsAt).toBeUndefined()
      expect(posted[1]?.endsAt).toBeDefined()
      expect(posted[1]?.annotations.description).toMatch(/^resolved at \d{4}-\d\d-\d\dT.*Z: back under the limit/)
    } finally {
      await a?.close()
      await real?.stop()
      await fake.close()
    }
  }, 60_000)
})
