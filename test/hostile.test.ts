/**
 * Hostile records (Step 13, "Log content freezes the worker"): what a log line may hold — whitespace
 * runs up to maxLineLength (1 MiB), deep nesting in metadata, control and bidi characters, lone
 * surrogates, non-Latin-1 ids and label values — sent through a real pino transport (a real app in a
 * child process: its stderr is where notices and the console channel write) to every channel type,
 * each pointed at its fake. Every alert is delivered to every channel (the fake accepted it, within
 * its service's limits) or named in a notice on stderr; the worker stays up and a normal critical
 * alert logged afterwards is delivered everywhere. Then the render time of a 1 MiB alert per channel.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChannel } from '../src/channels/channel.js'
import { BUILT_IN_TYPES } from '../src/channels/types.js'
import { AlertEvent } from '../src/event.js'
import { resolveOptions } from '../src/options.js'
import { startAlertmanagerFake, type AlertmanagerFake } from './fakes/alertmanager.js'
import { startDiscordFake, type DiscordFake } from './fakes/discord.js'
import { startOtlpCollector, type OtlpCollector } from './fakes/otlp.js'
import { startPagerDutyFake, type PagerDutyFake } from './fakes/pagerduty.js'
import { startSlackFake } from './fakes/slack.js'
import { startSmtpFake, type SmtpFake } from './fakes/smtp.js'
import { startTeamsFake, type TeamsFake } from './fakes/teams.js'
import { startTelegramFake, type TelegramFake } from './fakes/telegram.js'
import { startTwilioFake, type TwilioFake } from './fakes/twilio.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { readJsonl, runNode, tempDir } from './helpers/run.js'
import { mulberry32 as prng } from './helpers/random.js'

const SEED = 0x5eed2025
const MAX_LINE = 1024 * 1024


const WS = [' ', ' ', ' ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '\u2028']
const NASTY = ['\u202e', '\u2066', '\u2069', '\u200f', '\x1b[2J', '\x00', '\x07', '\u0085', '\u2028', '\ufeff', '\ud800', '\udfff', '\ud83d', '<!channel>', '@everyone', '`'.repeat(3), '*_~|', '{{DATE(x)}}', '&lt;', '\\']

interface Hostile { kind: string, marker: string, id: string, line: string }

/**
 * A whitespace run of about `n` JSON characters: mostly one character repeated (the case that made
 * backtracking regexes quadratic), the rest drawn from every kind of whitespace.
 */
function wsRun (rand: () => number, n: number): string {
  const main = WS[Math.floor(rand() * 3)] as string // a plain space most of the time
  const head = main.repeat(Math.floor(n * 0.9))
  let tail = ''
  while (tail.length < n * 0.05) tail += WS[Math.floor(rand() * WS.length)] as string
  return head + tail
}
function nasty (rand: () => number, n: number): string {
  let s = ''
  while (s.length < n) s += (NASTY[Math.floor(rand() * NASTY.length)] as string) + (rand() < 0.3 ? ' ' : 'w')
  return s
}

/** The records, as JSON lines of at most maxLineLength characters (pino's own fields included). */
function hostileRecords (seed: number): Hostile[] {
  const rand = prng(seed)
  const out: Hostile[] = []
  const add = (kind: string, alert: Record<string, unknown>, msg: string, extra: Record<string, unknown> = {}, raw?: (line: string) => string): void => {
    const i = out.length
    const marker = `hx${i}q`
    const id = typeof alert.id === 'string' ? alert.id : `ord-${i}-€`
    const record = { level: 60, time: 1_700_000_000_000 + i, pid: 1, hostname: 'h', name: 'hostile-app', ...extra, alert: { ...alert, id, source: 'hostile', title: `${marker} ${String(alert.title ?? '')}` }, msg }
    let line = JSON.stringify(record)
    if (raw !== undefined) line = raw(line)
    if (line.length >= MAX_LINE) throw new Error(`record ${kind} is ${line.length} characters, over maxLineLength`)
    out.push({ kind, marker, id, line })
  }
  const budget = MAX_LINE - 2048
  // One whitespace run of nearly the whole line, in each field in turn.
  // Plain spaces without a line break or tab: the run that made `\s*\n\s*` backtrack at every start.
  const spaces = (n: number): string => ' '.repeat(Math.floor(n))
  add('title: 1 MiB of spaces', { title: spaces(budget * 0.95) + 'end' }, 'short body')
  add('body: 1 MiB of spaces', { title: 'body run' }, 'start' + spaces(budget * 0.95) + 'end')
  add('title: 1 MiB of whitespace', { title: wsRun(rand, budget * 0.9) + 'end' }, 'short body')
  add('body: 1 MiB of whitespace', { title: 'body run' }, 'start' + wsRun(rand, budget * 0.9) + 'end')
  add('label values: whitespace', { title: 'label runs', labels: { a: spaces(budget * 0.3), b: 'x' + wsRun(rand, budget * 0.3) + 'y', c: wsRun(rand, budget * 0.25) } }, 'body')
  add('title, body, labels: whitespace', { title: 't' + wsRun(rand, budget * 0.25), labels: { k: wsRun(rand, budget * 0.2) } }, wsRun(rand, budget * 0.25) + 'x' + wsRun(rand, budget * 0.1))
  // Deep nesting: as deep as pino can write it, and as deep as a line can hold (written raw).
  const deep = (d: number): unknown => { let v: unknown = { leaf: 'bottom' }; for (let k = 0; k < d; k++) v = { [`k${k % 7}`]: v, s: k % 97 === 0 ? '  \n ' : 1 }; return v }
  add('metadata: 2 000 levels', { title: 'nested metadata' }, 'deep', { order: deep(2000) })
  add('metadata: 200 000 levels', { title: 'very deep metadata' }, 'deeper', { order: 0 }, (line) => line.replace('"order":0', '"order":' + '{"a":['.repeat(100_000) + '1' + ']}'.repeat(100_000)))
  add('metadata: wide and whitespace-heavy', { title: 'wide metadata' }, 'wide', { blob: Array.from({ length: 2000 }, (_, k) => ({ k, v: wsRun(rand, 200) })) })
  // Control and bidi characters, lone surrogates (written as JSON escapes: JSON.stringify keeps them).
  add('control and bidi', { title: nasty(rand, 300), labels: { '\u202ekey': nasty(rand, 100), desk: 'fx\u202e' } }, nasty(rand, 2000), { note: nasty(rand, 500) })
  add('lone surrogates', { title: 'a\ud800b\udc00c' + '\ud83d'.repeat(50), labels: { s: '\udfff'.repeat(20), pair: '🚨\ud800' } }, 'x\ud800'.repeat(500), { m: '\udc00' })
  add('non-Latin-1 ids and labels', { id: 'ord-1-€', title: 'Zürich Ω 東京 🚨', labels: { desk: 'Zürich-€', ключ: 'значение', 東京: '¥ 1 000 000', emoji: '🚨🔥' } }, 'Ордер отклонён — 注文拒否')
  // Seeded mixtures of everything.
  for (let k = 0; k < 4; k++) {
    const size = Math.floor(budget * (0.05 + rand() * 0.15))
    const labels: Record<string, string> = {}
    for (let j = 0; j < 1 + Math.floor(rand() * 8); j++) labels[nasty(rand, 4) + j] = rand() < 0.5 ? wsRun(rand, size / 4) : nasty(rand, 200)
    add(`mixture ${k}`, { id: `ord-m${k}-€\u202e`, title: nasty(rand, 40) + wsRun(rand, size), labels }, nasty(rand, 100) + wsRun(rand, size) + nasty(rand, 100), { meta: deep(50 + Math.floor(rand() * 500)) })
  }
  return out
}

/** The app: writes each hostile line into pino's transport stream, then logs a normal critical alert. */
const APP = `
import pino from 'pino'
import { readFileSync } from 'node:fs'
const { options, linesFile } = JSON.parse(process.env.HOSTILE_APP)
const transport = pino.transport({ target: ${JSON.stringify(new URL('../dist/index.js', import.meta.url).pathname)}, options })
transport.on('error', (err) => { process.stdout.write('TRANSPORT-ERROR ' + err.message + '\\n') })
const logger = pino({ name: 'hostile-app' }, transport)
for (const line of readFileSync(linesFile, 'utf8').split('\\n')) if (line !== '') transport.write(line + '\\n')
logger.fatal({ alert: { source: 'kill_switch', id: 'ord-ok-€', title: 'Kill switch triggered hxokq', labels: { reason: 'max_drawdown' } } }, 'after the hostile ones')
// Kept alive until the worker has closed (every alert delivered or given up): end() alone lets the app exit first.
const alive = setInterval(() => {}, 1000)
transport.once('close', () => { clearInterval(alive); process.stdout.write('CLOSED\\n') })
transport.end()
`


const TG_TOKEN = '987654:FAKE-hostile-token'
const TWILIO = { accountSid: 'AC' + 'ab'.repeat(16), authToken: 'fake-twilio-token-0123', from: '+15005550006', to: '+15005550010' }
const DISCORD_ID = '112233445566778899'

describe('hostile records', () => {
  const dir = tempDir('pino-alerts-hostile-')
  const alertsFile = join(dir, 'alerts.jsonl')
  let webhook: WebhookServer, slack: WebhookServer, telegram: TelegramFake, discord: DiscordFake, teams: TeamsFake
  let pagerduty: PagerDutyFake, alertmanager: AlertmanagerFake, otlp: OtlpCollector, twilio: TwilioFake, smtp: SmtpFake
  beforeAll(async () => {
    ;[webhook, slack, telegram, discord, teams, pagerduty, alertmanager, otlp, twilio, smtp] = await Promise.all([
      startWebhookServer({ maxBodyBytes: 16 * 1024 * 1024 }), startSlackFake(), startTelegramFake({ token: TG_TOKEN, chats: [42] }),
      startDiscordFake({ [DISCORD_ID]: 'fake-discord-token' }), startTeamsFake(), startPagerDutyFake(), startAlertmanagerFake(),
      startOtlpCollector(), startTwilioFake({ accountSid: TWILIO.accountSid, authToken: TWILIO.authToken, senders: [TWILIO.from] }), startSmtpFake()
    ])
  })
  afterAll(async () => {
    await Promise.all([webhook, slack, telegram, discord, teams, pagerduty, alertmanager, otlp, twilio, smtp].map(async (s) => await s?.close()))
  })

  it(`seed ${SEED}: every hostile alert reaches every channel's fake or a notice naming it; the worker stays up; a normal alert after them is delivered`, async () => {
    const records = hostileRecords(SEED)
    const linesFile = join(dir, 'lines.jsonl')
    writeFileSync(linesFile, records.map((r) => r.line).join('\n') + '\n')
    const off = { rateLimit: false as const }
    const options = {
      env: false,
      shutdownTimeoutMs: 60_000,
      channels: {
        console: { ...off },
        file: { path: alertsFile, ...off },
        webhook: { url: webhook.url, ...off },
        email: { host: '127.0.0.1', port: smtp.port, from: 'alerts@example.test', to: ['desk@example.test'], ...off },
        slack: { webhookUrl: `${slack.origin}/services/T0/B0/fake-hostile`, ...off },
        telegram: { botToken: TG_TOKEN, chatId: 42, apiUrl: telegram.apiUrl, ...off },
        discord: { webhookUrl: discord.webhookUrl(DISCORD_ID), ...off },
        teams: { webhookUrl: teams.webhookUrl, ...off },
        pagerduty: { routingKey: pagerduty.routingKey, url: pagerduty.origin, ...off },
        alertmanager: { url: alertmanager.baseUrl, ...off },
        otlp: { url: otlp.baseUrl, ...off },
        sms: { accountSid: TWILIO.accountSid, authToken: TWILIO.authToken, from: TWILIO.from, to: [TWILIO.to], apiUrl: twilio.apiUrl, ...off }
      }
    }
    const started = Date.now()
    const app = await runNode(['--input-type=module', '-e', APP], { HOSTILE_APP: JSON.stringify({ options, linesFile }) }, 240_000)
    const ms = Date.now() - started
    writeFileSync(join(dir, 'app.stderr'), app.stderr)
    console.log(`hostile app: ${records.length} hostile records + 1 normal alert through 12 channels in ${ms} ms (its stderr: ${join(dir, 'app.stderr')})`)

    const why = `app stdout: ${app.stdout.slice(0, 500)}\napp stderr (notices): ${app.stderr.split('\n').filter((l) => l.startsWith('pino-alerts')).join('\n').slice(0, 3000)}`
    expect(app.stdout, why).not.toContain('TRANSPORT-ERROR')
    expect(app.stdout, why).toContain('CLOSED')
    expect(app.code, why).toBe(0)

    // What each channel's service accepted, as text to look for markers in.
    const ok = (s: WebhookServer): string[] => s.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300).map((r) => r.text())
    const stderrLines = app.stderr.split('\n')
    const received: Record<string, string[]> = {
      console: stderrLines.filter((l) => !l.startsWith('pino-alerts:')),
      file: readJsonl(alertsFile).map((e) => JSON.stringify(e)),
      webhook: ok(webhook),
      email: smtp.received.map((m) => `${m.mail.subject ?? ''}\n${m.mail.text ?? ''}`),
      slack: ok(slack),
      telegram: ok(telegram),
      discord: ok(discord),
      teams: ok(teams),
      pagerduty: ok(pagerduty),
      alertmanager: ok(alertmanager),
      otlp: ok(otlp),
      sms: twilio.delivered().map((m) => m.body)
    }
    const notices = stderrLines.filter((l) => l.startsWith('pino-alerts:'))
    const all = [...records, { kind: 'normal critical alert', marker: 'hxokq', id: 'ord-ok-€', line: '' }]
    const lost: string[] = []
    const table: string[] = []
    for (const type of BUILT_IN_TYPES) {
      const texts = received[type] ?? []
      let delivered = 0
      let reported = 0
      for (const r of all) {
        if (texts.some((t) => t.includes(r.marker))) { delivered++; continue }
        // A notice names an alert by its id and the start of its title (alertRef), and each channel that lost it.
        const named = notices.find((n) => (n.includes(`alert ${r.id.replace(/\u202e/g, '\\u202e')} `) || n.includes(`: ${r.marker} `)) && n.includes(`${type}: `))
        if (named !== undefined) { reported++; continue }
        lost.push(`${type}: ${r.kind} (${r.marker}, id ${JSON.stringify(r.id)})`)
      }
      table.push(`${type.padEnd(13)} delivered ${String(delivered).padStart(2)}  reported ${String(reported).padStart(2)}  lost ${all.length - delivered - reported}`)
    }
    console.log(table.join('\n') + (notices.length > 0 ? `\nnotices:\n${notices.map((n) => n.slice(0, 300)).join('\n')}` : ''))
    expect(lost).toEqual([])
    // The normal alert logged after the hostile ones reached every channel.
    for (const type of BUILT_IN_TYPES) expect((received[type] ?? []).some((t) => t.includes('hxokq')), type).toBe(true)
  }, 300_000)
})

// ---------------------------------------------------------------------------------------------------
// Render time: every channel's render of a 1 MiB whitespace-heavy alert

/** Title, body, label values and metadata of about 1 MiB in all, nearly all of it whitespace runs. */
function bigEvent (rand: () => number, i: number): AlertEvent {
  // Half a plain run of spaces (no line break or tab: what made `\s*\n\s*` backtrack), half mixed whitespace.
  const run = (n: number): string => ' '.repeat(n / 2) + '.' + wsRun(rand, n / 2)
  return AlertEvent.from({
    source: 'hostile',
    severity: 'critical',
    id: `ord-${i}-€`,
    title: `hx${i}q ` + run(256 * 1024) + ' Zürich \u202e end',
    body: 'begin ' + run(448 * 1024) + ' x' + '\u00a0'.repeat(16 * 1024) + '\ud800 y ' + run(16 * 1024) + ' end',
    labels: { a: run(64 * 1024) + 'v', b: 'v' + run(64 * 1024), c: run(64 * 1024), ключ: 'значение €' },
    metadata: { blob: run(64 * 1024), nested: JSON.parse('{"a":['.repeat(1000) + '"  \\n  "' + ']}'.repeat(1000)) as unknown },
    timestamp: '2025-01-02T03:04:05.678Z'
  })
}

const RENDER_CONFIG: Record<string, Record<string, unknown>> = {
  console: { colors: false },
  file: { path: '/dev/null' },
  webhook: { url: 'http://127.0.0.1:9/hook' },
  email: { host: '127.0.0.1', port: 9, from: 'alerts@example.test', to: ['desk@example.test'] },
  slack: { webhookUrl: 'http://127.0.0.1:9/services/T0/B0/x' },
  telegram: { botToken: TG_TOKEN, chatId: 42, apiUrl: 'http://127.0.0.1:9' },
  discord: { webhookUrl: `http://127.0.0.1:9/api/webhooks/${DISCORD_ID}/x` },
  teams: { webhookUrl: 'http://127.0.0.1:9/workflows/x' },
  pagerduty: { routingKey: 'R'.repeat(32), url: 'http://127.0.0.1:9' },
  alertmanager: { url: 'http://127.0.0.1:9' },
  otlp: { url: 'http://127.0.0.1:9' },
  sms: { accountSid: TWILIO.accountSid, authToken: TWILIO.authToken, from: TWILIO.from, to: [TWILIO.to], apiUrl: 'http://127.0.0.1:9' }
}

describe('render time', () => {
  it(`seed ${SEED}: a 1 MiB whitespace-heavy alert renders in under 100 ms on every channel (median of 3)`, async () => {
    const rand = prng(SEED)
    const events = [bigEvent(rand, 0), bigEvent(rand, 1)]
    const size = (e: AlertEvent): number => e.title.length + e.body.length + Object.values(e.labels).reduce((n, v) => n + v.length, 0)
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1] as number
    const rows: string[] = [`alert: ${(size(events[0] as AlertEvent) / 1024 / 1024).toFixed(2)} MiB of text | channel       | one alert (ms) | digest of 2 (ms)`]
    const slow: string[] = []
    for (const type of BUILT_IN_TYPES) {
      const opts = resolveOptions({ env: false, channels: { console: { enabled: type === 'console', ...(type === 'console' ? RENDER_CONFIG.console : {}) }, ...(type === 'console' ? {} : { [type]: RENDER_CONFIG[type] }) } }, {})
      const cfg = opts.channels.find((c) => c.type === type)
      if (cfg === undefined) throw new Error(`no ${type} channel`)
      const channel = await createChannel(cfg)
      try {
        const one: number[] = []
        const two: number[] = []
        for (let k = 0; k < 3; k++) {
          let t = performance.now()
          const m = channel.render([events[0] as AlertEvent])
          one.push(performance.now() - t)
          expect(m.length).toBeGreaterThan(0)
          t = performance.now()
          channel.render(events)
          two.push(performance.now() - t)
        }
        rows.push(`${''.padEnd(28)} | ${type.padEnd(13)} | ${median(one).toFixed(1).padStart(14)} | ${median(two).toFixed(1).padStart(16)}`)
        if (median(one) >= 100) slow.push(`${type}: ${median(one).toFixed(1)} ms`)
      } finally {
        await channel.close?.()
      }
    }
    console.log(rows.join('\n'))
    expect(slow).toEqual([])
  }, 600_000)
})
