/**
 * `proxy` and `tls` of the HTTP channels (and `tls.ca` of email), as options: validation, masking of a
 * proxy's credentials in errors, reading of CA files, and the secrets a proxy URL adds (SPEC §15).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../src/errors.js'
import { resolveOptions, type ResolvedChannel } from '../src/options.js'
import { redact } from '../src/redact.js'
import { programPath } from '../scripts/programs.mjs'

const PASSWORD = 's3cr3t-proxy-pass'
const PROXY = `http://alice:${PASSWORD}@127.0.0.1:3128`

/** A minimal valid config of each HTTP channel type. */
const HTTP_CHANNELS: Record<string, Record<string, unknown>> = {
  webhook: { url: 'http://127.0.0.1:9/h' },
  slack: { webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXX' },
  telegram: { botToken: '123456:ABC-DEF', chatId: -1001 },
  discord: { webhookUrl: 'https://discord.com/api/webhooks/1/tok' },
  teams: { webhookUrl: 'https://example.logic.azure.com/workflows/abc' },
  pagerduty: { routingKey: 'a'.repeat(32) },
  alertmanager: { url: 'http://127.0.0.1:9093' },
  otlp: { url: 'http://127.0.0.1:4318' },
  sms: { accountSid: 'AC' + 'a'.repeat(32), authToken: 'tok-tok', from: '+15005550006', to: '+15005550006' }
}
const EMAIL = { host: 'smtp.example.com', from: 'alerts@example.com', to: 'ops@example.com' }

function configError (options: unknown): ConfigError {
  try {
    resolveOptions(options, {})
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

function channel (options: unknown, name: string): ResolvedChannel {
  const found = resolveOptions(options, {}).channels.find((c) => c.name === name)
  if (found === undefined) throw new Error(`no channel ${name}`)
  return found
}

const webhook = (extra: Record<string, unknown>): unknown => ({ channels: { webhook: { ...HTTP_CHANNELS.webhook, ...extra } } })

let dir: string
let pem: string
let pemPath: string
let pem2: string
let pem2Path: string

function selfSigned (cn: string): string {
  // A real certificate; the key is thrown away.
  return execFileSync(programPath('openssl'), ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null', '-subj', `/CN=${cn}`, '-days', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pino-alerts-options-net-'))
  pem = selfSigned('127.0.0.1')
  pem2 = selfSigned('localhost')
  pemPath = join(dir, 'ca.pem')
  pem2Path = join(dir, 'ca2.pem')
  writeFileSync(pemPath, pem)
  writeFileSync(pem2Path, pem2)
  writeFileSync(join(dir, 'not-pem.txt'), 'just some text, no certificate\n')
  writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n')
})

afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('proxy', () => {
  it('a proxy URL or false is accepted and kept as given; absent stays absent', () => {
    expect(channel(webhook({ proxy: 'http://proxy.internal:3128' }), 'webhook').config.proxy).toBe('http://proxy.internal:3128')
    expect(channel(webhook({ proxy: 'https://proxy.internal:8443' }), 'webhook').config.proxy).toBe('https://proxy.internal:8443')
    expect(channel(webhook({ proxy: PROXY }), 'webhook').config.proxy).toBe(PROXY)
    expect(channel(webhook({ proxy: false }), 'webhook').config.proxy).toBe(false)
    expect('proxy' in channel(webhook({}), 'webhook').config).toBe(false)
  })

  it('every HTTP channel type takes proxy and tls', () => {
    for (const [type, cfg] of Object.entries(HTTP_CHANNELS)) {
      const c = channel({ channels: { [type]: { ...cfg, proxy: false, tls: { ca: pem, rejectUnauthorized: false } } } }, type)
      expect(c.config.proxy, type).toBe(false)
      expect(c.config.tls, type).toEqual({ ca: [pem], rejectUnauthorized: false })
    }
  })

  it.each([
    ['ftp://alice:s3cr3t-proxy-pass@proxy:2121', '"ftp://***@proxy:2121"'],
    ['socks5://alice:s3cr3t-proxy-pass@proxy:1080', '"socks5://***@proxy:1080"'],
    ['not a url', '"not a url"'],
    ['http//alice:s3cr3t-proxy-pass@proxy', '***'],
    [true, 'true'],
    [3128, '3128'],
    [null, 'null']
  ])('a bad proxy %j is an error naming channels.webhook.proxy, credentials never shown', (proxy, shown) => {
    const msg = configError(webhook({ proxy })).message
    expect(msg).toContain(`channels.webhook.proxy: got ${shown}; expected an http(s) proxy URL`)
    expect(msg).not.toContain(PASSWORD)
    expect(msg).not.toContain('alice')
  })

  it('proxy is an unknown option of console, file and email', () => {
    expect(configError({ channels: { console: { proxy: false } } }).message).toMatch(/channels\.console\.proxy: unknown option/)
    expect(configError({ channels: { file: { path: 'a.jsonl', proxy: 'http://p:3128' } } }).message).toMatch(/channels\.file\.proxy: unknown option/)
    expect(configError({ channels: { email: { ...EMAIL, proxy: 'http://p:3128' } } }).message).toMatch(/channels\.email\.proxy: unknown option/)
    expect(configError({ channels: { console: { tls: {} } } }).message).toMatch(/channels\.console\.tls: unknown option/)
  })

  it("a proxy's credentials are secrets: URL, user, password, and the Basic value", () => {
    const { secrets } = channel(webhook({ proxy: PROXY }), 'webhook')
    const basic = Buffer.from(`alice:${PASSWORD}`).toString('base64')
    expect(secrets).toEqual(expect.arrayContaining([PROXY, PASSWORD, 'alice', basic]))
    const leak = `proxy ${PROXY}/ said 407 to Basic ${basic} (user alice, password ${PASSWORD})`
    const masked = redact(leak, secrets)
    for (const s of [PASSWORD, basic, 'alice']) expect(masked).not.toContain(s)
  })

  it('percent-encoded credentials are secrets as written and decoded', () => {
    const proxy = 'http://ops%40corp:p%40ss%3Aw0rd!@proxy:3128'
    const { secrets } = channel(webhook({ proxy }), 'webhook')
    expect(secrets).toEqual(expect.arrayContaining([proxy, 'p%40ss%3Aw0rd!', 'p@ss:w0rd!', 'ops%40corp', 'ops@corp', Buffer.from('ops@corp:p@ss:w0rd!').toString('base64')]))
  })

  it('a proxy without credentials adds no secrets', () => {
    expect(channel(webhook({ proxy: 'http://proxy:3128' }), 'webhook').secrets).toEqual(channel(webhook({}), 'webhook').secrets)
  })
})

describe('tls', () => {
  it('ca as inline PEM, as a file path (absolute or relative to the working directory), as a list: always PEM texts', () => {
    expect(channel(webhook({ tls: { ca: pem } }), 'webhook').config.tls).toEqual({ ca: [pem] })
    expect(channel(webhook({ tls: { ca: pemPath } }), 'webhook').config.tls).toEqual({ ca: [pem] })
    expect(channel(webhook({ tls: { ca: relative(process.cwd(), pemPath) } }), 'webhook').config.tls).toEqual({ ca: [pem] })
    expect(channel(webhook({ tls: { ca: [pemPath, pem2] } }), 'webhook').config.tls).toEqual({ ca: [pem, pem2] })
    expect(channel(webhook({ tls: { ca: [pem2Path], rejectUnauthorized: true } }), 'webhook').config.tls).toEqual({ ca: [pem2], rejectUnauthorized: true })
  })

  it('rejectUnauthorized alone; tls absent stays absent', () => {
    expect(channel(webhook({ tls: { rejectUnauthorized: false } }), 'webhook').config.tls).toEqual({ rejectUnauthorized: false })
    expect('tls' in channel(webhook({}), 'webhook').config).toBe(false)
  })

  it('an unreadable ca file is an error naming the option and the path', () => {
    const missing = join(dir, 'missing.pem')
    const msg = configError(webhook({ tls: { ca: missing } })).message
    expect(msg).toContain(`channels.webhook.tls.ca: cannot read ${JSON.stringify(missing)}: ENOENT`)
    expect(configError(webhook({ tls: { ca: [pem, missing] } })).message).toContain(`channels.webhook.tls.ca[1]: cannot read ${JSON.stringify(missing)}`)
    expect(configError(webhook({ tls: { ca: dir } })).message).toMatch(/channels\.webhook\.tls\.ca: cannot read .*EISDIR/)
  })

  it('content without a certificate is an error saying a PEM certificate was expected', () => {
    expect(configError(webhook({ tls: { ca: join(dir, 'not-pem.txt') } })).message).toMatch(/channels\.webhook\.tls\.ca: ".*not-pem\.txt" holds no "-----BEGIN CERTIFICATE-----"; expected a PEM certificate/)
    expect(configError(webhook({ tls: { ca: join(dir, 'key.pem') } })).message).toMatch(/channels\.webhook\.tls\.ca: ".*key\.pem" holds no "-----BEGIN CERTIFICATE-----"; expected a PEM certificate/)
    const inline = configError(webhook({ tls: { ca: [pem, '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n'] } })).message
    expect(inline).toMatch(/channels\.webhook\.tls\.ca\[1\]: got PEM text without "-----BEGIN CERTIFICATE-----"; expected a PEM certificate/)
    expect(inline).not.toContain('MIIEvQ')
  })

  it.each([[5], [''], [[]], [['']], [[pem, 5]], [{ path: 'x' }]])('ca %j is an error saying what ca takes', (ca) => {
    expect(configError(webhook({ tls: { ca } })).message).toMatch(/channels\.webhook\.tls\.ca(\[\d\])?: got .*; expected PEM text \("-----BEGIN CERTIFICATE-----…"\), the path of a PEM file, or a non-empty list of them/)
  })

  it('rejectUnauthorized must be a boolean; unknown keys inside tls are errors', () => {
    expect(configError(webhook({ tls: { rejectUnauthorized: 'no' } })).message).toMatch(/channels\.webhook\.tls\.rejectUnauthorized: got "no"; expected boolean/)
    expect(configError(webhook({ tls: { cert: pem } })).message).toMatch(/channels\.webhook\.tls\.cert: unknown option/)
    expect(configError(webhook({ tls: true })).message).toMatch(/channels\.webhook\.tls: got true; expected object/)
  })

  it('email takes tls.ca too, resolved the same way, rejectUnauthorized kept', () => {
    const c = channel({ channels: { email: { ...EMAIL, tls: { ca: pemPath, rejectUnauthorized: false } } } }, 'email')
    expect(c.config.tls).toEqual({ ca: [pem], rejectUnauthorized: false })
    expect(channel({ channels: { email: { ...EMAIL, tls: { rejectUnauthorized: true } } } }, 'email').config.tls).toEqual({ rejectUnauthorized: true })
    expect(configError({ channels: { email: { ...EMAIL, tls: { ca: join(dir, 'nope.pem') } } } }).message).toMatch(/channels\.email\.tls\.ca: cannot read/)
  })

  it('every problem is reported in one run', () => {
    const e = configError({
      channels: {
        webhook: { ...HTTP_CHANNELS.webhook, proxy: 'ftp://x' },
        slack: { ...HTTP_CHANNELS.slack, tls: { ca: join(dir, 'missing.pem') } },
        otlp: { ...HTTP_CHANNELS.otlp, tls: { rejectUnauthorized: 1 } }
      }
    })
    expect(e.issues).toHaveLength(3)
  })
})
