/**
 * Channel modules (SPEC §14, `type: 'module'`): a channel of the user's own, imported where the alerter
 * runs. Through a real `pino.transport` in a child process (pino's worker imports the module from the
 * app's working directory), through `createAlerter`, and through the built CLI; the example
 * Mattermost channel (examples/custom-channel.js) against a local stand-in.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import type { Channel, ChannelContext, ChannelModule } from '../src/index.js'
import { ConfigError } from '../src/errors.js'
import { AlertEvent } from '../src/event.js'
import type { ChannelModuleObject } from '../src/options.js'
import { Reporter } from '../src/report.js'
import { history, receipts } from '../src/store/sqlite.js'
import { startWebhookServer, type RecordedRequest, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, runNode, tempDir, type RunResult } from './helpers/run.js'

const FIXTURES = fixture('')
const POST = fixture('channels/post-channel.mjs')
const APP = fixture('channels/app.mjs')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MAIN = join(ROOT, 'dist/cli/main.js')
const EXAMPLE = join(ROOT, 'examples/custom-channel.js')

/** What the fixture channel (post-channel.mjs) POSTs: one request per rendered message. */
interface Posted { channel: string, alerts: Array<{ id: string, title: string, body: string, severity: string }> }
const posted = (r: RecordedRequest): Posted => r.json<Posted>()
const titles = (reqs: readonly RecordedRequest[]): string[] => reqs.flatMap((r) => posted(r).alerts.map((a) => a.title))

/**
 * An app directory with the fixture packages installed in its node_modules by symbolic links (as
 * `npm link` does; a node_modules directory cannot be committed under test/fixtures).
 */
function appDir (): string {
  const dir = tempDir('pino-alerts-module-')
  mkdirSync(join(dir, 'node_modules'))
  for (const pkg of ['pino-alerts-fixture-channel', 'pino-alerts-fixture-esm-only']) {
    symlinkSync(fixture(`module-pkg/${pkg}`), join(dir, 'node_modules', pkg), 'dir')
  }
  return dir
}

/** The module channel `pager` (every critical alert goes there), console off. */
function options (module: unknown, url: string, extra: Record<string, unknown> = {}, pager: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    env: false,
    dedupe: false,
    channels: { console: { enabled: false }, pager: { type: 'module', module, options: { url }, retry: { initialMs: 50 }, ...pager } },
    routes: { critical: ['pager'] },
    ...extra
  }
}

/** The fixture app (test/fixtures/channels/app.mjs) in `cwd`: one critical alert per title, then exit. */
async function runApp (cwd: string, opts: Record<string, unknown>, alertTitles: string[]): Promise<RunResult> {
  return await runNode(APP, { APP_CWD: cwd, OPTIONS: JSON.stringify(opts), TITLES: JSON.stringify(alertTitles) })
}

let fake: WebhookServer
let backup: WebhookServer
beforeAll(async () => {
  fake = await startWebhookServer()
  backup = await startWebhookServer()
})
afterAll(async () => {
  await fake.close()
  await backup.close()
})

describe('a module channel through a real pino transport', () => {
  it('a retryable outcome, then success: delivered in 2 attempts, as the receipt in the store says', async () => {
    const dir = appDir()
    const store = join(dir, 'alerts.db')
    const path = '/retry'
    fake.script({ status: 503, body: 'busy' })
    const r = await runApp(FIXTURES, options('./channels/post-channel.mjs', fake.origin + path, { store: { path: store } }), ['Kill switch triggered'])
    expect(r.code, r.stderr).toBe(0)
    const reqs = fake.requests.filter((q) => q.path === path)
    expect(reqs).toHaveLength(2)
    expect(reqs.map((q) => titles([q]))).toEqual([['Kill switch triggered'], ['Kill switch triggered']])
    const [entry] = history(store)
    expect(entry?.title).toBe('Kill switch triggered')
    expect(receipts(store, entry!.id)).toMatchObject([{ channel: 'pager', ok: true, attempts: 2 }])
  })

  it('a permanent failure: not retried, the failover channel (a webhook) stands in', async () => {
    const dir = appDir()
    const store = join(dir, 'alerts.db')
    const path = '/permanent'
    fake.script({ status: 400, body: 'bad request' })
    const opts = options('./channels/post-channel.mjs', fake.origin + path, {
      store: { path: store },
      channels: {
        console: { enabled: false },
        pager: { type: 'module', module: './channels/post-channel.mjs', options: { url: fake.origin + path }, retry: { initialMs: 50 } },
        backup: { type: 'webhook', url: backup.origin + path }
      },
      failover: ['backup']
    })
    const r = await runApp(FIXTURES, opts, ['Margin call'])
    expect(r.code, r.stderr).toBe(0)
    expect(fake.requests.filter((q) => q.path === path)).toHaveLength(1)
    const stoodIn = backup.requests.filter((q) => q.path === path)
    expect(stoodIn).toHaveLength(1)
    expect(stoodIn[0]!.text()).toContain('Margin call')
    const [entry] = history(store)
    const rs = receipts(store, entry!.id)
    expect(rs.find((x) => x.channel === 'pager')).toMatchObject({ ok: false, attempts: 1, error: expect.stringMatching(/pager: HTTP 400.*permanent/) })
    expect(rs.find((x) => x.channel === 'backup')).toMatchObject({ ok: true, attempts: 1, standInFor: 'pager' })
  })

  it('a rate limit: the alerts that waited arrive as one digest (render gets them all), each with a receipt', async () => {
    const dir = appDir()
    const store = join(dir, 'alerts.db')
    const path = '/digest'
    const sent = ['alert 1', 'alert 2', 'alert 3', 'alert 4', 'alert 5']
    const r = await runApp(FIXTURES, options('./channels/post-channel.mjs', fake.origin + path, { store: { path: store } }, { rateLimit: { perSecond: 1, burst: 1 } }), sent)
    expect(r.code, r.stderr).toBe(0)
    const reqs = fake.requests.filter((q) => q.path === path)
    // The first alert takes the one token ([1, 4]: the four behind it wait a second for the next and
    // travel together), unless all five were queued before the first token was taken ([5]).
    const sizes = reqs.map((q) => posted(q).alerts.length)
    expect(sizes.length).toBeLessThanOrEqual(2)
    expect(sizes.at(-1)).toBeGreaterThanOrEqual(4)
    expect(titles(reqs).sort()).toEqual(sent)
    for (let i = 1; i < reqs.length; i++) expect(reqs[i]!.arrivedAt - reqs[i - 1]!.arrivedAt).toBeGreaterThan(900)
    const entries = history(store)
    expect(entries).toHaveLength(5)
    for (const e of entries) expect(receipts(store, e.id)).toMatchObject([{ channel: 'pager', ok: true, attempts: 1 }])
  })

  it('the same module by relative path, by absolute path, and by package name (CommonJS-resolvable and ESM-only)', async () => {
    const dir = appDir()
    const cases = [
      ['relative', FIXTURES, './channels/post-channel.mjs'],
      ['absolute', dir, POST],
      ['package', dir, 'pino-alerts-fixture-channel'],
      ['esm-only', dir, 'pino-alerts-fixture-esm-only']
    ] as const
    const results = await Promise.all(cases.map(async ([name, cwd, module]) => await runApp(cwd, options(module, `${fake.origin}/by-${name}`), [`given by ${name}`])))
    results.forEach((r, i) => {
      const [name] = cases[i]!
      expect(r.code, r.stderr).toBe(0)
      const reqs = fake.requests.filter((q) => q.path === `/by-${name}`)
      expect(titles(reqs)).toEqual([`given by ${name}`])
      expect(posted(reqs[0]!).channel).toBe('pager')
    })
  })

  it('a module that cannot be found, has no create, or whose create throws fails the start with one stderr line naming channels.pager.module', async () => {
    const cases = [
      ['./channels/not-there.mjs', /cannot find the file "\.\/channels\/not-there\.mjs"/],
      ['./channels/no-create.mjs', /"\.\/channels\/no-create\.mjs" exports no create\(ctx\) function .*it exports: make, version/],
      ['./channels/create-throws.mjs', /create\(ctx\) of "\.\/channels\/create-throws\.mjs" threw: no url in options/]
    ] as const
    // pino's exit hook may hold a failed worker's exit up to 10 s: the three run at once.
    const results = await Promise.all(cases.map(async ([module]) => await runApp(FIXTURES, options(module, `${fake.origin}/never`), ['never delivered'])))
    results.forEach((r, i) => {
      expect(r.code).not.toBe(0)
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('pino-alerts: invalid options: channels.pager.module: '))
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(cases[i]![1])
      // The worker's error reaches the app as the ConfigError itself.
      expect(r.stderr).toContain('ConfigError: Invalid pino-alerts options')
    })
    expect(fake.requests.filter((q) => q.path === '/never')).toHaveLength(0)
  })
})

describe('a module channel through createAlerter', () => {
  it('stats() and the dispatch result name the channel; its type is "module"; ctx carries name and options', async () => {
    const path = '/stats'
    let ctxSeen: ChannelContext | undefined
    const mod = (await import(pathToFileURL(POST).href)) as ChannelModule
    const spy: ChannelModule = { create: (ctx) => { ctxSeen = ctx; return mod.create(ctx) } }
    fake.script({ status: 503 })
    const a = createAlerter(options(spy, fake.origin + path), { env: {} })
    await a.ready
    const r = await a.dispatch({ source: 'desk', title: 'Position limit breached', severity: 'critical' })
    expect(r.deliveries).toEqual([{ channel: 'pager', ok: true, attempts: 2 }])
    expect(a.stats().channels.pager).toMatchObject({ type: 'module', received: 1, delivered: 1, attempts: 2, retried: 1, messages: 1 })
    await a.close()
    expect(ctxSeen).toEqual({ name: 'pager', options: { url: fake.origin + path } })
  })

  it('takes the module object, a default export with create, and a file: URL', async () => {
    const mod = (await import(pathToFileURL(POST).href)) as ChannelModule
    const cases: Array<[string, unknown]> = [['object', mod], ['default', { default: { create: mod.create } }], ['url', pathToFileURL(POST).href]]
    for (const [name, module] of cases) {
      const a = createAlerter(options(module, `${fake.origin}/lib-${name}`), { env: {} })
      await a.ready
      const r = await a.dispatch({ source: 'desk', title: `given as ${name}`, severity: 'critical' })
      await a.close()
      expect(r.deliveries, name).toEqual([{ channel: 'pager', ok: true, attempts: 1 }])
      expect(titles(fake.requests.filter((q) => q.path === `/lib-${name}`))).toEqual([`given as ${name}`])
    }
  })

  it('each way a module can fail is a ConfigError naming channels.<name>.module, without the secrets of its options; the other channels still deliver', async () => {
    const dir = appDir()
    const cwd = process.cwd()
    process.chdir(FIXTURES)
    const cases: Array<[string | ChannelModuleObject, RegExp]> = [
      ['./channels/not-there.mjs', /^channels\.pager\.module: cannot find the file "\.\/channels\/not-there\.mjs" \(.*not-there\.mjs: a path is relative to the working directory\)$/],
      [join(dir, 'missing.mjs'), /^channels\.pager\.module: cannot find the file ".*missing\.mjs"$/],
      ['pino-alerts-no-such-channel', /^channels\.pager\.module: cannot find the package "pino-alerts-no-such-channel" \(looked in node_modules from the working directory .* up/],
      ['./channels/import-error.mjs', /^channels\.pager\.module: cannot import "\.\/channels\/import-error\.mjs": .*pino-alerts-no-such-dependency/],
      ['./channels/no-create.mjs', /^channels\.pager\.module: "\.\/channels\/no-create\.mjs" exports no create\(ctx\) function \(named, or on the default export\); it exports: make, version$/],
      ['./channels/create-throws.mjs', /^channels\.pager\.module: create\(ctx\) of "\.\/channels\/create-throws\.mjs" threw: no url in options \(got token \*\*\*\)$/],
      [{ create: () => ({ render: () => [] }) }, /^channels\.pager\.module: create\(ctx\) of the module object returned an object without send\(\)/],
      [{ create: async () => await Promise.resolve(undefined) }, /^channels\.pager\.module: create\(ctx\) of the module object returned undefined, not a channel/]
    ]
    try {
      for (const [module, expected] of cases) {
        const notices: string[] = []
        const spare = join(dir, 'spare.jsonl')
        const a = createAlerter({
          env: false,
          channels: { console: { enabled: false }, pager: { type: 'module', module, options: { token: 'sekret-token-123' } }, spare: { type: 'file', path: spare } },
          routes: { critical: ['pager'] },
          failover: ['spare']
        }, { env: {}, reporter: new Reporter((t) => { notices.push(t) }) })
        const err = await a.ready.then(() => undefined, (e: unknown) => e)
        expect(err, String(module)).toBeInstanceOf(ConfigError)
        const ce = err as ConfigError
        expect(ce.code).toBe('PINO_ALERTS_INVALID_OPTIONS')
        expect(ce.issues).toHaveLength(1)
        expect(ce.issues[0]).toMatch(expected)
        expect(ce.message).not.toContain('sekret-token-123')
        expect(notices.join('')).toContain(`pino-alerts: invalid options: ${ce.issues[0]!}`)
        const r = await a.dispatch({ source: 's', title: 't', severity: 'critical' })
        await a.close()
        expect(r.deliveries).toEqual([
          { channel: 'pager', ok: false, attempts: 0, error: 'pager: channel could not start' },
          { channel: 'spare', ok: true, attempts: 1, standInFor: 'pager' }
        ])
      }
    } finally {
      process.chdir(cwd)
    }
  })

  it('templates apply to a module channel too: its render gets the templated title and body', async () => {
    const path = '/templated'
    const a = createAlerter(options(POST, fake.origin + path, {}, { template: { title: '[{{labels.desk}}] {{title}}', body: '{{severity}}: {{body}}' } }), { env: {} })
    await a.ready
    const r = await a.dispatch({ source: 'desk', title: 'Limit breached', body: 'at 104%', labels: { desk: 'fx' }, severity: 'critical' })
    await a.close()
    expect(r.deliveries).toEqual([{ channel: 'pager', ok: true, attempts: 1 }])
    const [req] = fake.requests.filter((q) => q.path === path)
    expect(posted(req!).alerts).toMatchObject([{ title: '[fx] Limit breached', body: 'critical: at 104%' }])
  })

  it('a channel whose render or send answers outside the contract fails that delivery, not the engine', async () => {
    const bad: Channel = {
      name: 'bad',
      type: 'bad',
      render: (events) => (events[0]?.title === 'no array' ? ({} as unknown[]) : [events.length]),
      send: async () => await Promise.resolve(undefined as never)
    }
    const a = createAlerter(options({ create: () => bad }, 'http://unused'), { env: {} })
    await a.ready
    const noArray = await a.dispatch({ source: 's', title: 'no array', severity: 'critical' })
    const noOutcome = await a.dispatch({ source: 's', title: 'no outcome', severity: 'critical' })
    await a.close()
    expect(noArray.deliveries[0]).toMatchObject({ channel: 'pager', ok: false, error: expect.stringContaining('render(events) returned an object, not an array of messages') })
    expect(noOutcome.deliveries[0]).toMatchObject({ channel: 'pager', ok: false, attempts: 1, error: expect.stringContaining('pager: send() resolved to undefined, not an Outcome') })
  })
})

describe('a module channel in the CLI', () => {
  it('pino-alerts test -c cfg.json sends its test alert through the module channel', async () => {
    const dir = tempDir()
    const cfg = join(dir, 'alerts.json')
    writeFileSync(cfg, JSON.stringify(options(POST, `${fake.origin}/cli-test`)))
    const r = await runNode([MAIN, 'test', '-c', cfg])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^pager\s+module\s+delivered\s+1\s/m)
    expect(titles(fake.requests.filter((q) => q.path === '/cli-test'))).toEqual(['Test alert from pino-alerts'])
  })

  it('a module that cannot load: exit 2 from the pipeline with the option path on stderr; pino-alerts test names it too', async () => {
    const dir = tempDir()
    const cfg = join(dir, 'alerts.json')
    writeFileSync(cfg, JSON.stringify(options(fixture('channels/no-create.mjs'), `${fake.origin}/never`)))
    const [pipeline, test] = await Promise.all([runNode([MAIN, '-c', cfg]), runNode([MAIN, 'test', '-c', cfg])])
    expect(pipeline.code).toBe(2)
    expect(pipeline.stderr).toMatch(/^pino-alerts: invalid options: channels\.pager\.module: ".*no-create\.mjs" exports no create\(ctx\) function/m)
    expect(test.code).toBe(2)
    expect(test.stderr).toMatch(/^pino-alerts: invalid options: channels\.pager\.module: ".*no-create\.mjs" exports no create\(ctx\) function/m)
  })
})

describe('examples/custom-channel.js (Mattermost incoming webhook) against a local stand-in', () => {
  interface MattermostModule extends ChannelModule { escapeMarkdown: (text: string) => string }
  let mattermost: WebhookServer
  let example: MattermostModule
  beforeAll(async () => {
    mattermost = await startWebhookServer({ defaultResponse: { status: 200, body: 'ok' } })
    example = (await import(pathToFileURL(EXAMPLE).href)) as MattermostModule
  })
  afterAll(async () => { await mattermost.close() })

  const alerter = (): ReturnType<typeof createAlerter> => createAlerter(options(EXAMPLE, `${mattermost.origin}/hooks/abc`, {}, { retry: { initialMs: 50, maxAttempts: 3 } }), { env: {} })

  it('200 "ok" delivers; a 429 is retried after its Retry-After; a 5xx is retried; a 400 is permanent', async () => {
    const a = alerter()
    await a.ready
    mattermost.script({ status: 429, headers: { 'retry-after': '1' }, body: 'too many requests' })
    const limited = await a.dispatch({ source: 'kill_switch', title: 'Kill switch @channel **now** [x](http://evil.example)', body: 'ping @all and @here', severity: 'critical' })
    const [first, second] = mattermost.requests.slice(-2)
    mattermost.script({ status: 502, body: 'bad gateway' })
    const flaky = await a.dispatch({ source: 'var_gate', title: 'VaR at 91%', severity: 'critical' })
    mattermost.script({ status: 400, body: 'Unable to parse incoming data' })
    const refused = await a.dispatch({ source: 'var_gate', title: 'VaR at 95%', severity: 'critical' })
    await a.close()

    expect(limited.deliveries).toEqual([{ channel: 'pager', ok: true, attempts: 2 }])
    expect(second!.arrivedAt - first!.arrivedAt).toBeGreaterThan(950)
    const { text } = second!.json<{ text: string }>()
    expect(second!.header('content-type')).toBe('application/json')
    expect(text).toContain('Kill switch @\u200bchannel \\*\\*now\\*\\* \\[x\\]\\(http\\://evil.example\\)')
    expect(text).toContain('ping @\u200ball and @\u200bhere')
    expect(text).not.toMatch(/@(channel|all|here)/)
    expect(flaky.deliveries).toEqual([{ channel: 'pager', ok: true, attempts: 2 }])
    expect(refused.deliveries).toEqual([{ channel: 'pager', ok: false, attempts: 1, error: 'pager: HTTP 400 Unable to parse incoming data (permanent, not retried)' }])
  })

  it('renders one post per alert, and a digest into one post listing every alert', async () => {
    const channel = await example.create({ name: 'mm', options: { url: 'https://chat.example.com/hooks/x' } })
    const events = ['one', 'two', 'three'].map((t) => AlertEvent.from({ source: 'desk_a', title: `VaR ${t}`, severity: 'warn' }))
    expect(channel.render(events.slice(0, 1))).toHaveLength(1)
    const digest = channel.render(events) as Array<{ text: string }>
    expect(digest).toHaveLength(1)
    expect(digest[0]!.text.split('\n')).toEqual(['**3 alerts**', ...events.map((e) => `- :warning: **${e.title}** (desk\\_a)`)])
    expect(() => example.create({ name: 'mm', options: {} })).toThrow(/options\.url/)
  })

  it('its demo (node examples/custom-channel.js) runs against its own stand-in and exits 0', async () => {
    const r = await runNode(EXAMPLE)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('The stand-in got 2 posts (the first answered 429)')
  })
})
