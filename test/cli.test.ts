/**
 * The `pino-alerts` CLI, as users run it: the built binary (`node dist/cli/main.js`, `npm test`
 * builds first) in child processes and real shell pipelines, against local webhook fakes and a real
 * SQLite store file.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { barChart, formatDuration, parseDuration, table, visible } from '../src/cli/format.js'
import { AlertStore, openStore } from '../src/store/sqlite.js'
import { startPagerDutyFake } from './fakes/pagerduty.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { tempDir } from './helpers/run.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MAIN = join(ROOT, 'dist/cli/main.js')
const APP = fileURLToPath(new URL('./fixtures/cli-app.mjs', import.meta.url))
const BASE_ENV = { PATH: process.env.PATH ?? '', NO_COLOR: '1', TZ: 'UTC' }

interface Result { code: number | null, signal: NodeJS.Signals | null, stdout: Buffer, out: string, stderr: string }

function collect (child: ChildProcess, timeoutMs: number, what: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = []
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => out.push(d))
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${what} timed out; stderr: ${stderr}`)) }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(t)
      const stdout = Buffer.concat(out)
      resolve({ code, signal, stdout, out: stdout.toString('utf8'), stderr })
    })
  })
}

interface RunOptions { input?: Buffer | string, env?: Record<string, string>, timeoutMs?: number }

/** `node dist/cli/main.js …args`. */
function cli (args: string[], o: RunOptions = {}): Promise<Result> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...BASE_ENV, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  const done = collect(child, o.timeoutMs ?? 30_000, `pino-alerts ${args.join(' ')}`)
  child.stdin?.on('error', () => {})
  child.stdin?.end(o.input ?? '')
  return done
}

/** A real shell pipeline. */
function sh (script: string, o: RunOptions = {}): Promise<Result> {
  const child = spawn('sh', ['-c', script], { cwd: ROOT, env: { ...BASE_ENV, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return collect(child, o.timeoutMs ?? 30_000, script)
}

const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

function writeConfig (dir: string, config: unknown, name = 'alerts.json'): string {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(config))
  return path
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

/** Every alert to one webhook (the default matrix sends info and warn to console and file only). */
const toWebhook = (url: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  env: false,
  dedupe: false,
  channels: { console: { enabled: false }, webhook: { url } },
  routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook'] },
  ...extra
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json; npm test does)`)
})

describe('cli: formatting helpers', () => {
  it('parses and prints durations', () => {
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('2h')).toBe(7_200_000)
    expect(parseDuration('7d')).toBe(604_800_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('2')).toBeUndefined()
    expect(parseDuration('2 hours')).toBeUndefined()
    expect(formatDuration(5_400_000)).toBe('1h 30m')
    expect(formatDuration(45_000)).toBe('45s')
    expect(formatDuration(90_061_000)).toBe('1d 1h')
  })

  it('tables align columns and never pass control characters to the terminal', () => {
    const t = table(['a', 'n'], [['x\x1b[2J', 1], ['long value', 100]], { right: [1] })
    expect(t).toBe('a             n\n----------  ---\nx\\x1b[2J      1\nlong value  100\n')
    expect(visible('a\nb\x07')).toBe('a\\nb\\x07')
  })

  it('bar chart: one block per severity, scaled, a lone alert still visible', () => {
    const chart = barChart([{ label: '10:00', critical: 1, warn: 0, info: 99 }, { label: '11:00', critical: 0, warn: 0, info: 0 }], 10)
    expect(chart.split('\n')[0]).toBe('10:00  100 █░░░░░░░░░░   1 critical, 99 info')
    expect(chart.split('\n')[1]).toBe('11:00    0')
  })
})

describe('cli: usage, help, version, config errors', () => {
  const commands = ['test', 'history', 'stats', 'receipts', 'silence', 'ack', 'resolve']

  it('--help on every command exits 0 with its usage line and examples', async () => {
    const top = await cli(['--help'])
    expect(top.code).toBe(0)
    expect(top.out).toMatch(/^pino-alerts — alerts from pino logs/)
    for (const c of commands) expect(top.out).toContain(`  ${c} `)
    const results = await Promise.all(commands.map(async (c) => [c, await cli([c, '--help'])] as const))
    for (const [c, r] of results) {
      expect(r.code, c).toBe(0)
      expect(r.out, c).toMatch(new RegExp(`^usage: pino-alerts ${c}`))
      expect(r.out, c).toContain('Examples:')
      expect(r.out, c).toContain('-c, --config FILE')
      expect(r.stderr, c).toBe('')
    }
    const viaHelp = await cli(['help', 'stats'])
    expect(viaHelp.code).toBe(0)
    expect(viaHelp.out).toMatch(/^usage: pino-alerts stats/)
  })

  it('--version prints the package version', async () => {
    const r = await cli(['--version'])
    expect(r.code).toBe(0)
    expect(r.out.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version)
  })

  it('unknown flags, commands and arguments: exit 2, one error line and the usage line', async () => {
    const [flag, topFlag, command, value, missing] = await Promise.all([
      cli(['history', '--bogus']),
      cli(['--bogus']),
      cli(['frobnicate']),
      cli(['history', '--since', 'yesterday-ish', '-s', 'x.db']),
      cli(['receipts'])
    ])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toBe('pino-alerts: unknown option --bogus\nusage: pino-alerts history [-s alerts.db] [--since 1h] [--until TIME] [--severity S[,S]] [--source NAME] [--status firing|resolved] [--limit N] [--json]\n')
    expect(topFlag.code).toBe(2)
    expect(topFlag.stderr).toMatch(/^pino-alerts: unknown option --bogus\nusage: pino-alerts \[-c alerts.json\]/)
    expect(command.code).toBe(2)
    expect(command.stderr).toMatch(/^pino-alerts: unknown command "frobnicate"/)
    expect(value.code).toBe(2)
    expect(value.stderr).toMatch(/^pino-alerts: --since: got "yesterday-ish"; expected a duration ago \(90s, 15m, 2h, 7d\) or an ISO 8601 time\n/)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^pino-alerts: expected an alert id\nusage: pino-alerts receipts/)
    for (const r of [flag, topFlag, command, value, missing]) expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('a bad config file: exit 2, one line naming the option path; --debug adds the stack', async () => {
    const dir = tempDir()
    const bad = writeConfig(dir, { channels: { webhook: { url: 'not a url' } }, shutdownTimeoutMs: -1 })
    const typo = writeConfig(dir, { chanels: {} }, 'typo.json')
    writeFileSync(join(dir, 'broken.json'), '{ "channels": ')
    const [r1, r2, r3, r4, r5] = await Promise.all([
      cli(['-c', bad], { input: '{"alert":true,"msg":"x"}\n' }),
      cli(['test', '-c', typo]),
      cli(['history', '-c', join(dir, 'broken.json')]),
      cli(['-c', join(dir, 'missing.json')]),
      cli(['test', '-c', bad, '--debug'])
    ])
    expect(r1.code).toBe(2)
    expect(r1.stderr.trim().split('\n')).toHaveLength(1)
    expect(r1.stderr).toContain(`pino-alerts: invalid config ${bad}: `)
    expect(r1.stderr).toContain('channels.webhook.url: got "not a url"; expected an http(s) URL')
    expect(r1.stderr).toContain('shutdownTimeoutMs: got -1')
    expect(r1.out).toBe('')
    expect(r2.code).toBe(2)
    expect(r2.stderr).toMatch(/chanels: unknown option/)
    expect(r3.code).toBe(2)
    expect(r3.stderr).toMatch(/^pino-alerts: config .*broken\.json: not valid JSON: /)
    expect(r4.code).toBe(2)
    expect(r4.stderr).toMatch(/^pino-alerts: config .*missing\.json: no such file\n$/)
    expect(r5.code).toBe(2)
    expect(r5.stderr).toMatch(/\n\s+at /)
  })

  it('store commands without a store: exit 2 with a clear message', async () => {
    const dir = tempDir()
    const [none, missing, notAStore] = await Promise.all([
      cli(['history']),
      cli(['stats', '-s', join(dir, 'nope.db')]),
      (async () => { writeFileSync(join(dir, 'text.db'), 'not sqlite at all, just text '.repeat(100)); return await cli(['receipts', 'x', '-s', join(dir, 'text.db')]) })()
    ])
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('pino-alerts: no store: pass -s FILE, or set store.path in the config (-c FILE) or RISK_ALERTS_STORE\n')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^pino-alerts: store .*nope\.db does not exist/)
    expect(notAStore.code).toBe(2)
    expect(notAStore.stderr).toMatch(/^pino-alerts: store .*text\.db: not a pino-alerts store or corrupt/)
    // RISK_ALERTS_STORE names the store when there is no -s and no config.
    const env = await cli(['history'], { env: { RISK_ALERTS_STORE: join(dir, 'env.db') } })
    expect(env.code).toBe(2)
    expect(env.stderr).toMatch(/env\.db does not exist/)
  })
})

describe('cli: the pipeline', () => {
  let hook: WebhookServer
  beforeAll(async () => { hook = await startWebhookServer() })
  afterAll(async () => { await hook.close() })

  it('passes 100 000 mixed lines through byte for byte and delivers the alerts among them', async () => {
    hook.reset()
    const dir = tempDir()
    const cfg = writeConfig(dir, toWebhook(hook.url))
    const parts: Buffer[] = []
    const expected: string[] = []
    const line = (s: string | Buffer): void => { parts.push(Buffer.isBuffer(s) ? s : Buffer.from(s)) }
    let t = 1_795_000_000_000
    for (let i = 0; i < 100_000 - 1; i++) {
      t++
      if (i % 1000 === 500) {
        // An alert with a unicode title: multi-byte characters end up split across stdin chunks.
        const title = `Alert ${i} — VaR 91 % ✓ Grüße 漢字 🚀`
        expected.push(title)
        line(JSON.stringify({ level: 50, time: t, pid: 1, hostname: 'h', alert: { source: 'unicode', labels: { n: i } }, msg: title }) + '\n')
      } else if (i === 20_000) {
        line('{"level":50,"alert":{"source":"broken", this is not JSON\n')
      } else if (i === 20_001) {
        line('plain text, not JSON at all "alert" mentioned\n')
      } else if (i === 30_000) {
        // Invalid UTF-8 bytes must pass through unchanged.
        line(Buffer.concat([Buffer.from('{"level":30,"msg":"bad bytes '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n')]))
      } else if (i === 40_000) {
        line(`{"level":30,"msg":"${'x'.repeat(1_500_000)}"}\n`) // ≥ 1 MB, not an alert
      } else if (i === 50_000) {
        line(`{"level":50,"alert":true,"msg":"too long","pad":"${'y'.repeat(1_200_000)}"}\n`) // an alert beyond maxLineLength: skipped, counted
      } else if (i === 60_000) {
        // A long alert within maxLineLength (spans many chunks): delivered.
        expected.push('Long alert')
        line(JSON.stringify({ level: 50, time: t, alert: { source: 'long', metadata: { blob: 'z'.repeat(600_000) } }, msg: 'Long alert' }) + '\n')
      } else if (i === 70_000) {
        expected.push('CRLF alert')
        line('{"level":40,"time":1795000000000,"alert":true,"msg":"CRLF alert"}\r\n')
      } else if (i % 997 === 0) {
        line('\n')
      } else {
        line(JSON.stringify({ level: 30, time: t, pid: 1, hostname: 'h', i, msg: i % 3 === 0 ? `ünïcödé ${i} 日本語 🎉` : `order ${i} accepted` }) + '\n')
      }
    }
    // The last line has no newline, and is an alert.
    expected.push('Last line without newline')
    line('{"level":60,"time":1795000000001,"alert":{"source":"tail"},"msg":"Last line without newline"}')
    const input = Buffer.concat(parts)
    expect(input.length).toBeGreaterThan(10_000_000)

    const r = await cli(['-c', cfg], { input, timeoutMs: 60_000 })
    expect(r.code).toBe(0)
    expect(r.stdout.length).toBe(input.length)
    expect(r.stdout.equals(input)).toBe(true)
    // Both delivered before exit: the exit waited for them.
    expect(hook.requests).toHaveLength(expected.length)
    expect(hook.requests.map((x) => x.json<{ title: string }>().title).sort()).toEqual([...expected].sort())
    // Bad lines are reported aggregated (one report per window, the rest at exit).
    expect(r.stderr).toMatch(/\(3 since start\)/)
    expect(r.stderr).toMatch(/line longer than maxLineLength/)
    expect(r.stderr).toMatch(/not JSON/)
  }, 90_000)

  it('--no-passthrough: nothing on stdout, alerts still delivered', async () => {
    hook.reset()
    const dir = tempDir()
    const cfg = writeConfig(dir, toWebhook(hook.url))
    const r = await cli(['-c', cfg, '--no-passthrough'], { input: '{"level":50,"alert":true,"msg":"only an alert"}\n{"level":30,"msg":"x"}\n' })
    expect(r.code).toBe(0)
    expect(r.out).toBe('')
    expect(hook.requests.map((x) => x.json<{ title: string }>().title)).toEqual(['only an alert'])
  })

  it('a multi-byte character split between two reads is decoded whole', async () => {
    hook.reset()
    const dir = tempDir()
    const cfg = writeConfig(dir, toWebhook(hook.url))
    const child = spawn(process.execPath, [MAIN, '-c', cfg], { cwd: ROOT, env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] })
    const done = collect(child, 20_000, 'pipeline')
    const line = Buffer.from('{"level":50,"alert":true,"msg":"Grüße 🚀 done"}\n')
    const cut = line.indexOf(Buffer.from('🚀')) + 2
    child.stdin?.write(line.subarray(0, cut))
    await sleep(100)
    child.stdin?.end(line.subarray(cut))
    const r = await done
    expect(r.code).toBe(0)
    expect(r.stdout.equals(line)).toBe(true)
    expect(hook.requests.map((x) => x.json<{ title: string }>().title)).toEqual(['Grüße 🚀 done'])
  })

  it('in a real shell pipeline: node app.js | pino-alerts -c cfg.json delivers and exits 0', async () => {
    hook.reset()
    const dir = tempDir()
    const cfg = writeConfig(dir, toWebhook(hook.url))
    const r = await sh(`NOISE=500 node ${q(APP)} | node ${q(MAIN)} -c ${q(cfg)}; echo "exit=$?" >&2`)
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('exit=0')
    const lines = r.out.trimEnd().split('\n')
    expect(lines).toHaveLength(505)
    expect(JSON.parse(lines[504] as string)).toMatchObject({ msg: 'done' })
    expect(hook.requests.map((x) => x.json<{ title: string }>().title).sort()).toEqual(['Feed reconnected', 'Kill switch triggered', 'VaR at 87% of limit', 'VaR at 91% of limit'])
    const kill = hook.requests.map((x) => x.json<Record<string, any>>()).find((e) => e.source === 'kill_switch')
    expect(kill).toMatchObject({ severity: 'critical', labels: { desk: 'eq', reason: 'max_drawdown_exceeded' }, status: 'firing' })
  })

  it('downstream closes early (| head -n 1): alerts are still dispatched, pino-alerts exits 0', async () => {
    hook.reset()
    const dir = tempDir()
    const cfg = writeConfig(dir, toWebhook(hook.url))
    const rc = join(dir, 'rc')
    // 200 000 lines before the alerts: far more than the pipe buffer, so head is gone long before they come.
    const r = await sh(`NOISE=200000 node ${q(APP)} | { node ${q(MAIN)} -c ${q(cfg)}; echo $? > ${q(rc)}; } | head -n 1`, { timeoutMs: 60_000 })
    expect(r.out.split('\n').filter((l) => l !== '')).toHaveLength(1)
    expect(readFileSync(rc, 'utf8').trim()).toBe('0')
    expect(hook.requests).toHaveLength(4)
    expect(r.stderr).not.toMatch(/EPIPE|Error/)
  }, 60_000)

  it('SIGTERM: reads what is still in the pipe, waits for deliveries in flight, exits 0', async () => {
    hook.reset()
    hook.setDefault({ status: 200, body: 'ok', delayMs: 400 })
    try {
      const dir = tempDir()
      const cfg = writeConfig(dir, toWebhook(hook.url))
      const child = spawn(process.execPath, [MAIN, '-c', cfg], { cwd: ROOT, env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] })
      const done = collect(child, 20_000, 'pipeline')
      child.stdin?.on('error', () => {})
      child.stdin?.write('{"level":50,"alert":true,"msg":"before the signal"}\n')
      await hook.waitFor(1)
      child.kill('SIGTERM')
      await sleep(100)
      // Still in the pipe when the signal came: read within the grace period.
      child.stdin?.write('{"level":60,"alert":true,"msg":"right after the signal"}\n')
      const r = await done
      expect(r.code).toBe(0)
      expect(r.out).toContain('right after the signal')
      expect(hook.requests.map((x) => x.json<{ title: string }>().title)).toEqual(['before the signal', 'right after the signal'])
      expect(hook.requests.every((x) => x.status === 200)).toBe(true)
    } finally {
      hook.setDefault({ status: 200, body: 'ok' })
    }
  })

  it('progress line: only on a TTY (or --progress), \\r-rewritten at most every 200 ms', async () => {
    const dir = tempDir()
    const cfg = writeConfig(dir, { env: false, channels: { console: { enabled: false }, file: { path: join(dir, 'a.jsonl') } } })
    const child = spawn(process.execPath, [MAIN, '-c', cfg, '--progress'], { cwd: ROOT, env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] })
    const done = collect(child, 20_000, 'pipeline --progress')
    const started = Date.now()
    for (let i = 0; i < 20; i++) {
      child.stdin?.write(`{"level":30,"msg":"line ${i}"}\n{"level":50,"alert":true,"msg":"alert ${i}"}\n`)
      await sleep(60)
    }
    child.stdin?.end()
    const r = await done
    const elapsed = Date.now() - started
    expect(r.code).toBe(0)
    const draws = r.stderr.split('\r\x1b[K').filter((s) => s !== '')
    expect(draws.length).toBeGreaterThanOrEqual(3)
    expect(draws.length).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 2)
    expect(r.stderr.endsWith('\r\x1b[Kpino-alerts: 40 lines, 20 alerts, 20 delivered, 0 failed\n')).toBe(true)
    // Not a TTY, no --progress: silent.
    const quiet = await cli(['-c', cfg], { input: '{"level":50,"alert":true,"msg":"x"}\n' })
    expect(quiet.stderr).toBe('')
  })
})

describe('cli: pino-alerts test', () => {
  it('a healthy, a 500ing and an unreachable webhook: a table of results, exit 1', async () => {
    const ok = await startWebhookServer()
    const failing = await startWebhookServer({ defaultResponse: { status: 500, body: 'internal error' } })
    const gone = await closedPort()
    try {
      const dir = tempDir()
      const retry = { maxAttempts: 2, initialMs: 10, maxMs: 10 }
      const cfg = writeConfig(dir, {
        env: false,
        routes: { critical: ['console'] }, // not used by "test": it sends to each channel directly
        failover: ['healthy'],
        channels: {
          console: { enabled: false },
          healthy: { type: 'webhook', url: ok.url, retry },
          broken: { type: 'webhook', url: failing.url, retry },
          gone: { type: 'webhook', url: `http://127.0.0.1:${gone}/hook`, retry }
        }
      })
      const r = await cli(['test', '-c', cfg, '--severity', 'critical'])
      expect(r.code).toBe(1)
      const rows = r.out.split('\n')
      expect(rows[0]).toMatch(/^channel\s+type\s+result\s+attempts\s+latency\s+error$/)
      expect(rows[2]).toMatch(/^healthy\s+webhook\s+delivered\s+1\s+\d+ ms$/)
      expect(rows[3]).toMatch(/^broken\s+webhook\s+FAILED\s+2\s+\d+ ms\s+broken \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\): HTTP 500 internal error \(gave up after 2 attempts\)$/)
      expect(rows[4]).toMatch(/^gone\s+webhook\s+FAILED\s+2\s+\d+ ms\s+gone \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\): connect ECONNREFUSED 127\.0\.0\.1:\d+ \(gave up after 2 attempts\)$/)
      expect(r.out).toContain('2 of 3 channel(s) failed')
      // Directly per channel: the healthy one got exactly its own test alert (no failover stand-in for the others).
      expect(ok.requests).toHaveLength(1)
      expect(failing.requests).toHaveLength(2)
      expect(ok.requests[0]?.json()).toMatchObject({ source: 'pino-alerts', title: 'Test alert from pino-alerts', severity: 'critical', status: 'firing', labels: { test: 'true', channel: 'healthy' } })

      const one = await cli(['test', '-c', cfg, '--channel', 'healthy', '--json'])
      expect(one.code).toBe(0)
      expect(JSON.parse(one.out)).toEqual([{ channel: 'healthy', type: 'webhook', ok: true, attempts: 1, latencyMs: expect.any(Number) }])
      const noRetry = await cli(['test', '-c', cfg, '--channel', 'broken', '--no-retry'])
      expect(noRetry.code).toBe(1)
      expect(noRetry.out).toMatch(/broken\s+webhook\s+FAILED\s+1\s/)
      const unknown = await cli(['test', '-c', cfg, '--channel', 'nope'])
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toBe('pino-alerts: --channel: no channel "nope" in the configuration (channels: console, healthy, broken, gone)\n')
      const badSeverity = await cli(['test', '-c', cfg, '--severity', 'loud'])
      expect(badSeverity.code).toBe(2)
    } finally {
      await ok.close()
      await failing.close()
    }
  })
})

describe('cli: store commands round trip (history, stats, receipts, silence, ack, resolve)', () => {
  let hook: WebhookServer
  let dir: string
  let db: string
  let cfg: string
  const run = (args: string[], o: RunOptions = {}): Promise<Result> => cli([...args, '-c', cfg], o)
  const historyJson = async (...args: string[]): Promise<Array<Record<string, any>>> => {
    const r = await run(['history', '--json', ...args])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.out)
  }

  beforeAll(async () => {
    hook = await startWebhookServer()
    dir = tempDir()
    db = join(dir, 'alerts.db')
    cfg = writeConfig(dir, {
      env: false,
      dedupe: false,
      store: { path: join(dir, 'from-config.db') }, // -s below wins
      channels: { console: { enabled: false }, webhook: { url: hook.url } },
      routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook'] }
    })
    const r = await sh(`node ${q(APP)} | node ${q(MAIN)} -c ${q(cfg)} -s ${q(db)} > /dev/null`)
    expect(r.code, r.stderr).toBe(0)
    expect(hook.requests).toHaveLength(4)
    expect(existsSync(db)).toBe(true)
    expect(existsSync(join(dir, 'from-config.db'))).toBe(false)
    cfg = writeConfig(dir, {
      env: false,
      dedupe: false,
      store: { path: db },
      channels: { console: { enabled: false }, webhook: { url: hook.url } },
      routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook'] }
    })
  })
  afterAll(async () => { await hook.close() })

  it('history: a table with where each alert went, filters, --json', async () => {
    const r = await run(['history'])
    expect(r.code).toBe(0)
    const rows = r.out.split('\n')
    expect(rows[0]).toMatch(/^time\s+severity\s+source\s+title\s+status\s+delivered to\s+id$/)
    expect(rows.slice(2, 6).map((l) => l.replace(/^\S+ \S+\s+/, '').replace(/\s+[0-9a-f-]{36}$/, '').split(/\s{2,}/))).toEqual([
      ['info', 'heartbeat', 'Feed reconnected', 'firing', 'webhook'],
      ['warn', 'var_gate', 'VaR at 87% of limit', 'firing', 'webhook'],
      ['warn', 'var_gate', 'VaR at 91% of limit', 'firing', 'webhook'],
      ['critical', 'kill_switch', 'Kill switch triggered', 'firing', 'webhook']
    ])
    expect(r.out).toContain('4 alerts, newest first')
    expect((await historyJson('--severity', 'critical')).map((e) => e.title)).toEqual(['Kill switch triggered'])
    expect((await historyJson('--source', 'var_gate', '--limit', '1')).map((e) => e.title)).toEqual(['VaR at 87% of limit'])
    expect(await historyJson('--since', '1h', '--severity', 'warn,info')).toHaveLength(3)
    expect(await historyJson('--until', '1h')).toEqual([])
    const all = await historyJson()
    expect(all[0]?.receipts).toEqual([{ channel: 'webhook', ok: true, attempts: 1, at: expect.any(String) }])
    const none = await run(['history', '--status', 'resolved'])
    expect(none.out).toBe('no alerts match\n')
  })

  it('stats: counts by severity, source, channel and a volume chart; --json', async () => {
    const r = await run(['stats', '--since', '2h', '--bucket', '1h'])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^4 alerts from /)
    expect(r.out).toMatch(/critical\s+1\n/)
    expect(r.out).toMatch(/var_gate\s+2\n/)
    expect(r.out).toMatch(/webhook\s+4\s+0\n/)
    expect(r.out).toContain('alerts per 1h (█ critical  ▓ warn  ░ info)')
    expect(r.out).toMatch(/ 4 █+▓+░+\s+1 critical, 2 warn, 1 info\n/)
    const j = await run(['stats', '--json', '--since', '1d'])
    const s = JSON.parse(j.out)
    expect(s).toMatchObject({ total: 4, bySeverity: { info: 1, warn: 2, critical: 1 }, bySource: { var_gate: 2, kill_switch: 1, heartbeat: 1 }, byChannel: { webhook: { delivered: 4, failed: 0 } }, bucketMs: 3_600_000 })
  })

  it('receipts: the alert and its per-channel outcome; unknown id exits 1', async () => {
    const kill = (await historyJson('--source', 'kill_switch'))[0] as Record<string, any>
    const r = await run(['receipts', kill.id])
    expect(r.code).toBe(0)
    expect(r.out).toContain(`alert        ${kill.id}`)
    expect(r.out).toContain('title        Kill switch triggered')
    expect(r.out).toContain('labels       desk="eq" reason="max_drawdown_exceeded"')
    expect(r.out).toMatch(/\nwebhook\s+delivered\s+1\s+\d{4}-/)
    const missing = await run(['receipts', 'no-such-id'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe('pino-alerts: no alert with id no-such-id in the store\n')
  })

  it('silence add/list/expire, seen by the next pipeline run', async () => {
    const add = await run(['silence', 'add', 'source="var_gate"', 'desk=~"e.*"', '--for', '2h', '--comment', 'deploy', '--by', 'alice', '--json'])
    expect(add.code, add.stderr).toBe(0)
    const s = JSON.parse(add.out)
    expect(s).toMatchObject({ match: ['source="var_gate"', 'desk=~"e.*"'], comment: 'deploy', createdBy: 'alice' })
    expect(Date.parse(s.endsAt) - Date.parse(s.startsAt)).toBe(7_200_000)
    const list = await run(['silence', 'list'])
    expect(list.out).toMatch(new RegExp(`${s.id}\\s+source="var_gate", desk=~"e\\.\\*"\\s+.*active, (1h 59m|2h) left\\s+alice\\s+deploy`))

    // The next pipeline run: the eq desk's VaR warning is silenced, the fx one is not.
    hook.reset()
    const r = await sh(`NOISE=0 node ${q(APP)} | node ${q(MAIN)} -c ${q(cfg)} > /dev/null`)
    expect(r.code, r.stderr).toBe(0)
    expect(hook.requests.map((x) => x.json<{ title: string }>().title).sort()).toEqual(['Feed reconnected', 'Kill switch triggered', 'VaR at 87% of limit'])
    const h = await run(['history', '--source', 'var_gate', '--limit', '2'])
    expect(h.out).toMatch(/VaR at 91% of limit\s+firing\s+not sent: silence/)

    const expire = await run(['silence', 'expire', s.id])
    expect(expire.code).toBe(0)
    expect(expire.out).toBe(`silence ${s.id} expired\n`)
    const again = await run(['silence', 'expire', s.id])
    expect(again.code).toBe(1)
    expect((await run(['silence', 'list'])).out).toBe('no active silences\n')
    expect((await run(['silence', 'list', '--all'])).out).toMatch(new RegExp(`${s.id}.*expired`))
    const bad = await run(['silence', 'add', 'source=~"(unclosed"', '--for', '1h'])
    expect(bad.code).toBe(2)
    const noEnd = await run(['silence', 'add', 'source="x"'])
    expect(noEnd.code).toBe(2)
    expect(noEnd.stderr).toMatch(/expected --for DURATION or --until TIME/)
  })

  it('ack by id: recorded with who; again: already acknowledged; unknown: exit 1', async () => {
    const kill = (await historyJson('--source', 'kill_switch', '--limit', '1'))[0] as Record<string, any>
    const r = await run(['ack', kill.id, '--by', 'bob', '--comment', 'on it'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.out).toBe(`${kill.id}  Kill switch triggered: acknowledged by bob\n`) // the webhook keeps no incident state: nothing to tell
    const after = (await historyJson('--source', 'kill_switch', '--limit', '1'))[0] as Record<string, any>
    expect(after.acknowledged).toMatchObject({ by: 'bob', comment: 'on it' })
    expect((await run(['history', '--source', 'kill_switch', '--limit', '1'])).out).toMatch(/firing, acked by bob/)
    const again = await run(['ack', kill.id, '--by', 'carol'])
    expect(again.out).toMatch(/already acknowledged .* by bob/)
    const unknown = await run(['ack', 'nothing-like-this'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe('pino-alerts: no alert with id or fingerprint nothing-like-this in the store\n')
  })

  it('resolve: a resolved copy goes to the channels that carried the firing alert', async () => {
    const fx = (await historyJson('--source', 'var_gate')).find((e) => e.labels.desk === 'fx') as Record<string, any>
    hook.reset()
    const r = await run(['resolve', fx.id, '--comment', 'back under 50%'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.out).toMatch(new RegExp(`^resolved ${fx.id} \\(warn var_gate: VaR at 87% of limit\\) as [0-9a-f-]{36}\\n`))
    expect(r.out).toMatch(/\nwebhook\s+delivered\s+1\n/)
    expect(hook.requests).toHaveLength(1)
    const sent = hook.requests[0]?.json<Record<string, any>>()
    expect(sent).toMatchObject({ status: 'resolved', source: 'var_gate', title: 'VaR at 87% of limit', severity: 'warn', labels: { desk: 'fx' }, fingerprint: fx.fingerprint })
    expect(sent?.id).not.toBe(fx.id)
    expect(sent?.body).toMatch(/^back under 50%\n\nFiring for /)
    const resolved = await historyJson('--status', 'resolved')
    expect(resolved.map((e) => e.fingerprint)).toEqual([fx.fingerprint])
    // A resolved notification cannot be resolved; an unknown id is exit 1.
    const twice = await run(['resolve', resolved[0]?.id])
    expect(twice.code).toBe(1)
    expect((await run(['resolve', 'nope'])).code).toBe(1)
  })
})

describe('cli: ack and resolve reach a channel with incident state (PagerDuty fake)', () => {
  it('pipeline triggers, "ack" acknowledges, "resolve" resolves the same PagerDuty alert', async () => {
    const pd = await startPagerDutyFake()
    try {
      const dir = tempDir()
      const cfg = writeConfig(dir, {
        env: false,
        store: { path: join(dir, 'alerts.db') },
        channels: { console: { enabled: false }, pagerduty: { routingKey: pd.routingKey, url: pd.origin } },
        routes: { info: [], warn: [], critical: ['pagerduty'] }
      })
      const piped = await cli(['-c', cfg], { input: '{"level":60,"time":1795000000000,"alert":{"source":"kill_switch","labels":{"desk":"eq"}},"msg":"Kill switch triggered"}\n' })
      expect(piped.code, piped.stderr).toBe(0)
      expect(pd.incidents().map((i) => i.status)).toEqual(['triggered'])
      const [alert] = JSON.parse((await cli(['history', '--json', '-c', cfg])).out) as Array<Record<string, any>>

      const ack = await cli(['ack', alert?.fingerprint, '-c', cfg, '--by', 'dana'])
      expect(ack.code, ack.stderr).toBe(0)
      expect(ack.out).toBe(`${alert?.id as string}  Kill switch triggered: acknowledged by dana\n  pagerduty: told\n`)
      expect(pd.incidents().map((i) => [i.status, i.log])).toEqual([['acknowledged', ['trigger', 'acknowledge']]])

      const res = await cli(['resolve', alert?.id, '-c', cfg])
      expect(res.code, res.stderr).toBe(0)
      expect(res.out).toMatch(/\npagerduty\s+delivered\s+1\n/)
      expect(pd.incidents().map((i) => [i.status, i.log])).toEqual([['resolved', ['trigger', 'acknowledge', 'resolve']]])
    } finally {
      await pd.close()
    }
  })
})

describe('cli: tools beside the app never apply retention, nor add a process row for nothing (failures 5, 10)', () => {
  it('resolve and history leave a 60-day-old alert of an app that keeps 365 days; only a command that wrote adds a row', async () => {
    const hook = await startWebhookServer()
    try {
      const dir = tempDir()
      const db = join(dir, 'alerts.db')
      const now = Date.now()
      const ev = (id: string, ts: number): any => ({ id, source: 'var_gate', severity: 'warn', title: `alert ${id}`, body: '', labels: {}, metadata: {}, timestamp: new Date(ts).toISOString(), level: 40, fingerprint: `fp-${id}`, status: 'firing' })
      // The app's store: it keeps a year (maxAgeDays 365); one alert is 60 days old, one recent.
      const s = AlertStore.open({ path: db, maxAgeDays: 365, maxRows: 1_000_000 })
      s.insert(ev('old', now - 60 * 86_400_000), ['webhook'], now - 60 * 86_400_000)
      s.receipt('old', { channel: 'webhook', ok: true, attempts: 1 }, now - 60 * 86_400_000)
      s.settle('old', now - 60 * 86_400_000)
      s.insert(ev('recent', now - 1000), ['webhook'], now - 1000)
      s.receipt('recent', { channel: 'webhook', ok: true, attempts: 1 })
      s.settle('recent')
      s.close()
      const rows = (): string[] => {
        const d = new Database(db, { readonly: true })
        try { return (d.prepare('SELECT process FROM runtime_stats').all() as Array<{ process: string }>).map((r) => r.process) } finally { d.close() }
      }
      // The tool's config does not say maxAgeDays (its default would be 30).
      const cfg = writeConfig(dir, { env: false, channels: { console: { enabled: false }, webhook: { url: hook.url } }, routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook'] } })
      for (const args of [['history'], ['stats'], ['receipts', 'old'], ['silence', 'list']]) {
        const r = await cli([...args, '-c', cfg, '-s', db])
        expect(r.code, r.stderr).toBe(0)
      }
      expect(rows()).toEqual([])
      const r = await cli(['resolve', 'recent', '-c', cfg, '-s', db])
      expect(r.code, r.stderr).toBe(0)
      expect(hook.requests.map((q) => q.json<{ status: string }>().status)).toEqual(['resolved'])
      const after = openStore(db)
      try {
        expect(after.get('old')).toMatchObject({ title: 'alert old', settled: true })
        expect(after.receipts('old')).toHaveLength(1)
      } finally { after.close() }
      // resolve wrote an alert: one row, marked ended when it closed.
      expect(rows()).toHaveLength(1)
      const d = new Database(db, { readonly: true })
      try {
        expect(d.prepare('SELECT ended_at FROM runtime_stats').get()).toMatchObject({ ended_at: expect.any(Number) })
        expect(d.prepare('SELECT count(*) AS n FROM alerts WHERE settled = 0').get()).toEqual({ n: 0 })
      } finally { d.close() }
    } finally {
      await hook.close()
    }
  })
})
