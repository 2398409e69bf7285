import { describe, expect, it } from 'vitest'
import { ConfigError } from '../src/errors.js'
import { resolveOptions } from '../src/options.js'

function configError (options: unknown, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    resolveOptions(options, env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).code).toBe('PINO_ALERTS_INVALID_OPTIONS')
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('option validation', () => {
  it('names the path, the bad value and what is expected', () => {
    expect(configError({ routes: { critical: ['nope'] } }).message).toMatch(/routes\.critical\[0\]: got "nope"; expected a channel name/)
    expect(configError({ channels: { webhook: { url: 'x' } } }).message).toMatch(/channels\.webhook\.url: got "x"; expected an http\(s\) URL/)
    expect(configError({ shutdownTimeoutMs: '8s' }).message).toMatch(/shutdownTimeoutMs: got "8s"; expected number/)
    expect(configError({ channels: { file: { path: 'a', retry: { maxAttempts: 0 } } } }).message).toMatch(/channels\.file\.retry\.maxAttempts: got 0/)
    expect(configError({ failover: ['ghost'] }).message).toMatch(/failover\[0\]: got "ghost"/)
    expect(configError({ channels: { pager: { url: 'http://x' } } }).message).toMatch(/channels\.pager: unknown channel type "pager"/)
    expect(configError({ channels: { a: { type: 'carrier-pigeon' } } }).message).toMatch(/channels\.a\.type: got "carrier-pigeon"; expected one of: console, file, webhook/)
    expect(configError({ severityByLevel: { error: 'loud' } }).message).toMatch(/severityByLevel\.error: got "loud"/)
  })

  it('rejects unknown keys at every depth (a typo must not disable alerting)', () => {
    expect(configError({ chanels: {} }).message).toMatch(/chanels: unknown option/)
    expect(configError({ channels: { webhook: { url: 'http://127.0.0.1/', secrett: 'x' } } }).message).toMatch(/channels\.webhook\.secrett: unknown option/)
    expect(configError({ routes: { warning: ['console'] } }).message).toMatch(/routes\.warning: unknown option/)
    expect(configError({ store: { path: 'a.db', maxAge: 3 } }).message).toMatch(/store\.maxAge: unknown option/)
    expect(configError({ routes: [{ match: 'source="x"', channels: ['console'], contine: true }] }).message).toMatch(/routes\[0\]\.contine: unknown option/)
  })

  it('never shows a secret value in an error', () => {
    const msg = configError({ channels: { webhook: { url: 'http://127.0.0.1/', secret: 'not-a-whsec-TOPSECRET' } } }).message
    expect(msg).toMatch(/channels\.webhook\.secret: got \*\*\*; expected "whsec_"/)
    expect(msg).not.toContain('TOPSECRET')
  })

  it('reports every problem at once', () => {
    const e = configError({ routes: { critical: ['nope'] }, channels: { webhook: { url: 'x' } } })
    expect(e.issues.length).toBe(2)
  })
})

describe('defaults and routing', () => {
  it('console is always on; defaults per channel', () => {
    const o = resolveOptions({}, {})
    expect(o.channels.map((c) => c.name)).toEqual(['console'])
    const c = o.channels[0]!
    expect([c.enabled, c.timeoutMs, c.retry, c.maxQueue]).toEqual([true, 10000, { maxAttempts: 5, initialMs: 500, maxMs: 30000 }, 10000])
    expect(o.shutdownTimeoutMs).toBe(8000)
    expect(o.alertKey).toBe('alert')
    expect(resolveOptions({ channels: { console: { enabled: false } } }, {}).routes.critical).toEqual([])
  })

  it('seed matrix: info/warn → console, file (+slack for warn); critical → every enabled channel', () => {
    const o = resolveOptions({ channels: { file: { path: 'a.jsonl' }, hook: { type: 'webhook', url: 'http://127.0.0.1:1/' }, off: { type: 'webhook', url: 'http://127.0.0.1:2/', enabled: false } } }, {})
    expect(o.routes.info).toEqual(['console', 'file'])
    expect(o.routes.warn).toEqual(['console', 'file'])
    expect(o.routes.critical).toEqual(['console', 'file', 'hook'])
  })

  it('route entries match names first, then types; "*" expands; missing severities keep defaults', () => {
    const o = resolveOptions({
      channels: { file: { path: 'a' }, 'ops-hook': { type: 'webhook', url: 'http://127.0.0.1:1/' }, 'risk-hook': { type: 'webhook', url: 'http://127.0.0.1:2/' } },
      routes: { warn: ['webhook'], critical: ['ops-hook', '*'] }
    }, {})
    expect(o.routes.warn).toEqual(['ops-hook', 'risk-hook'])
    expect(o.routes.critical).toEqual(['ops-hook', 'console', 'file', 'risk-hook'])
    expect(o.routes.info).toEqual(['console', 'file'])
  })
})

describe('environment (RISK_ALERTS_*)', () => {
  it('configures file and webhook from the environment', () => {
    const o = resolveOptions({}, { RISK_ALERTS_FILE: '/tmp/x.jsonl', RISK_ALERTS_WEBHOOK_URL: 'http://127.0.0.1:9/h', RISK_ALERTS_WEBHOOK_SECRET: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' })
    const byName = Object.fromEntries(o.channels.map((c) => [c.name, c.config]))
    expect(byName.file).toEqual({ path: '/tmp/x.jsonl' })
    expect(byName.webhook).toEqual({ url: 'http://127.0.0.1:9/h', secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' })
    expect(o.warnings).toEqual([])
  })

  it('options win over the environment, key by key; env: false ignores it; envPrefix renames', () => {
    const env = { RISK_ALERTS_WEBHOOK_URL: 'http://127.0.0.1:9/env', RISK_ALERTS_WEBHOOK_SECRET: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0', APP_FILE: 'p.jsonl' }
    const o = resolveOptions({ channels: { webhook: { url: 'http://127.0.0.1:9/opt' } } }, env)
    expect(o.channels.find((c) => c.name === 'webhook')?.config).toEqual({ url: 'http://127.0.0.1:9/opt', secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' })
    expect(resolveOptions({ env: false }, env).channels.map((c) => c.name)).toEqual(['console'])
    expect(resolveOptions({ envPrefix: 'APP_' }, env).channels.map((c) => c.name)).toEqual(['console', 'file'])
  })

  it('a partly configured channel stays off with one warning naming what is missing, secret not shown', () => {
    const o = resolveOptions({}, { RISK_ALERTS_WEBHOOK_SECRET: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0' })
    expect(o.channels.map((c) => c.name)).toEqual(['console'])
    expect(o.warnings).toHaveLength(1)
    expect(o.warnings[0]).toMatch(/"webhook" stays off: RISK_ALERTS_WEBHOOK_URL not set/)
    expect(o.warnings[0]).not.toContain('c2VjcmV0')
  })

  it('RISK_ALERTS_SMTP_REQUIRE_TLS: false allows AUTH without TLS from the environment; a word other than true/false is refused', () => {
    const env = { RISK_ALERTS_SMTP_HOST: 'smtp.example.com', RISK_ALERTS_SMTP_USER: 'alerts', RISK_ALERTS_SMTP_PASSWORD: 'fake-password', RISK_ALERTS_EMAIL_FROM: 'a@example.com', RISK_ALERTS_EMAIL_TO: 'b@example.com' }
    const email = (extra: Record<string, string>): Record<string, unknown> | undefined => resolveOptions({}, { ...env, ...extra }).channels.find((c) => c.name === 'email')?.config
    expect(email({})?.requireTLS).toBeUndefined() // the channel's default: required, with a password
    expect(email({ RISK_ALERTS_SMTP_REQUIRE_TLS: 'false' })?.requireTLS).toBe(false)
    expect(email({ RISK_ALERTS_SMTP_REQUIRE_TLS: 'true' })?.requireTLS).toBe(true)
    expect(configError({}, { ...env, RISK_ALERTS_SMTP_REQUIRE_TLS: 'no' }).message).toMatch(/channels\.email\.requireTLS: got "no"; expected boolean/)
  })

  it('bad environment values fail the start like bad options', () => {
    expect(configError({}, { RISK_ALERTS_WEBHOOK_URL: 'not a url' }).message).toMatch(/channels\.webhook\.url: got "not a url"/)
  })
})

describe('error wording (zod v3 underneath, the words users know)', () => {
  const issues = (options: unknown): readonly string[] => configError(options).issues
  it.each<[unknown, string]>([
    [{ shutdownTimeoutMs: 0 }, 'shutdownTimeoutMs: got 0; expected number to be >0'],
    [{ shutdownTimeoutMs: 1.5 }, 'shutdownTimeoutMs: got 1.5; expected int'],
    [{ shutdownTimeoutMs: Infinity }, 'shutdownTimeoutMs: got null; expected number'],
    [{ shutdownTimeoutMs: 2 ** 60 }, 'shutdownTimeoutMs: got 1152921504606847000; expected a duration of at most 2147483647 ms (about 24.8 days: Node timers cannot wait longer)'],
    [{ shutdownTimeoutMs: 2 ** 31 }, 'shutdownTimeoutMs: got 2147483648; expected a duration of at most 2147483647 ms (about 24.8 days: Node timers cannot wait longer)'],
    [{ destination: -1 }, 'destination: got -1; expected number to be >=0'],
    [{ channels: { webhook: { url: 'http://127.0.0.1:1/', maxBodyBytes: 512 } } }, 'channels.webhook.maxBodyBytes: got 512; expected at least 1024 bytes (an alert cut to its bare fields must fit)'],
    [{ destination: true }, 'destination: got true; expected Invalid input'],
    [{ store: {} }, 'store.path: missing (required); expected string'],
    [{ group: { by: [] } }, 'group.by: got []; expected array to have >=1 items'],
    [{ group: { by: [''] } }, 'group.by[0]: got ""; expected string to have >=1 characters'],
    [{ channels: [] }, 'channels: got []; expected record'],
    [{ timeIntervals: { '': [] } }, 'timeIntervals.: got []; expected Invalid key in record'],
    [{ match: 'x' }, 'match: got "x"; expected object'],
    [{ channels: { email: { host: 'h', from: 'a@b.c', to: 'x@y.z', port: 70000 } } }, 'channels.email.port: got 70000; expected number to be <=65535'],
    [{ channels: { telegram: { botToken: '1:a', chatId: 1, parseMode: 'md' } } }, 'channels.telegram.parseMode: got "md"; expected one of "MarkdownV2"|"HTML"'],
    [{ channels: { telegram: { botToken: '1:a', chatId: 1, parseMode: 5 } } }, 'channels.telegram.parseMode: got 5; expected one of "MarkdownV2"|"HTML"'],
    [{ channels: { discord: { webhookUrl: 'http://127.0.0.1:1/', username: 'x'.repeat(81) } } }, `channels.discord.username: got "${'x'.repeat(76)}...; expected string to have <=80 characters`],
    [{ channels: { console: { colors: 'yes' } } }, 'channels.console.colors: got "yes"; expected Invalid input'],
    [{ channels: { email: { host: 'h', from: 'a@b.c', to: 'x@y.z', user: 'u' } } }, 'channels.email.password: missing (required); expected user and password together (or neither)'],
    [{ channels: { console: { rateLimit: { perSecond: Infinity } } } }, 'channels.console.rateLimit.perSecond: got null; expected number']
  ])('%j', (options, message) => {
    expect(issues(options)).toEqual([message])
  })
})
