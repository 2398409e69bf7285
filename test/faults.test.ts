/**
 * Faults from outside the alerting path that must not stop it (Step 13):
 * - a full disk under the `destination` option (real pino worker in a child process, /dev/full);
 * - alert ids that cannot travel in an HTTP header (real pino worker, real undici, local webhook fake);
 * - SIGTERM while a delivery waits on its retry (child process, with and without the README's handler).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter } from '../src/alerter.js'
import { AlertEvent, fromRecord } from '../src/event.js'
import { recordContext } from '../src/levels.js'
import { resolveOptions } from '../src/options.js'
import { Reporter } from '../src/report.js'
import { openStore } from '../src/store/sqlite.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { endTransport, fixture, tempDir } from './helpers/run.js'

/** A fixture app in a child process, its output collected, with waits on what it prints. */
interface App {
  child: ChildProcessWithoutNullStreams
  readonly stdout: string
  readonly stderr: string
  /** Resolves once `pattern` appears on stdout or stderr; rejects when the app exits first or after `ms`. */
  printed: (pattern: RegExp, ms?: number) => Promise<void>
  /** Resolves with how the app ended. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  send: (line: string) => void
}

const apps: App[] = []

function start (script: string, env: Record<string, string>): App {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); for (const l of [...listeners]) l() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); for (const l of [...listeners]) l() })
  let done = false
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => { done = true; for (const l of [...listeners]) l(); resolve({ code, signal }) })
  })
  const app: App = {
    child,
    get stdout () { return stdout },
    get stderr () { return stderr },
    exited,
    send: (line) => { child.stdin.write(line + '\n') },
    printed: async (pattern, ms = 10_000) => {
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stdout) || pattern.test(stderr)) { cleanup(); resolve(); return }
          if (done) { cleanup(); reject(new Error(`the app exited before printing ${String(pattern)}; stdout: ${stdout}; stderr: ${stderr}`)) }
        }
        const timer = setTimeout(() => { cleanup(); reject(new Error(`the app did not print ${String(pattern)} within ${ms} ms; stdout: ${stdout}; stderr: ${stderr}`)) }, ms)
        const cleanup = (): void => { clearTimeout(timer); listeners.delete(check) }
        listeners.add(check)
        check()
      })
    }
  }
  apps.push(app)
  return app
}

let hook: WebhookServer
beforeEach(async () => { hook = await startWebhookServer() })
afterEach(async () => {
  for (const a of apps.splice(0)) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL')
  await hook.close()
})

describe('a full disk under `destination` (child process, real pino worker, /dev/full)', () => {
  it('ENOSPC is reported once on stderr, lines are dropped and counted, and a critical alert is still delivered', async () => {
    const app = start(fixture('full-disk-app.mjs'), { WEBHOOK_URL: hook.url })
    // The first line fails with ENOSPC: one report, and the worker lives on.
    await app.printed(/destination \/dev\/full/)
    // More lines while it is broken: dropped and counted, never reported again line by line.
    app.send('lines')
    await app.printed(/lines logged/)
    app.send('alert')
    const [req] = await hook.waitFor(1)
    expect(req!.json()).toMatchObject({ source: 'disk', severity: 'critical', title: 'Kill switch triggered after ENOSPC' })
    app.send('exit')
    expect(await app.exited).toEqual({ code: 0, signal: null })
    const lines = app.stderr.split('\n').filter((l) => l.includes('destination'))
    // One report when it broke, one count of what was lost when the transport closed.
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^pino-alerts: destination \/dev\/full: cannot write \(ENOSPC[^)]*\); its lines are dropped and counted, alerting goes on; retried every 1 to 30 s$/)
    // Dropped: the 1000 plain lines and the alert's (the first line, which failed, was kept for the retries).
    expect(lines[1]).toMatch(/^pino-alerts: destination \/dev\/full: still failing at close \(ENOSPC\); 1001 lines \(\d+ bytes\) were dropped$/)
    expect(app.stderr).not.toMatch(/worker has exited|Unhandled|ERR_/)
  })

  it('a destination that cannot be opened is retried: once it can, it is written again and stderr says how many lines were dropped', async () => {
    const dir = tempDir()
    // A file where the destination's directory should be: mkdir fails (EEXIST) until the file is gone.
    const blocker = join(dir, 'logs')
    writeFileSync(blocker, 'not a directory')
    const log = join(blocker, 'app.log')
    const app = start(fixture('full-disk-app.mjs'), { WEBHOOK_URL: hook.url, DESTINATION: log })
    await app.printed(/destination .*cannot open/)
    app.send('lines')
    await app.printed(/lines logged/)
    app.send('alert')
    await hook.waitFor(1)
    rmSync(blocker)
    // The retry (1 s after the failure) opens the file now.
    await app.printed(/writable again/)
    app.send('lines')
    await app.printed(/lines logged\n.*lines logged/s)
    app.send('exit')
    expect(await app.exited).toEqual({ code: 0, signal: null })
    const lines = app.stderr.split('\n').filter((l) => l.includes('destination'))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toContain(`pino-alerts: destination ${log}: cannot open (EEXIST`)
    // The first line, the 1000 plain ones and the alert's.
    expect(lines[1]).toMatch(new RegExp(`^pino-alerts: destination ${log}: writable again after \\d+ s; 1002 lines \\(\\d+ bytes\\) were dropped meanwhile \\(EEXIST\\)$`))
    const written = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '')
    expect(written).toHaveLength(1000)
    expect(JSON.parse(written[0]!)).toMatchObject({ i: 0, msg: 'a plain line the destination cannot take' })
  })
})

describe('alert ids that cannot travel in an HTTP header', () => {
  it('5 alerts with id "ord-N-€" and then a normal one through a real transport: all 6 reach the webhook', async () => {
    const transport = pino.transport({
      target: 'pino-alerts',
      options: { env: false, channels: { console: { enabled: false }, webhook: { url: hook.url, retry: { maxAttempts: 5, initialMs: 20, maxMs: 100 } } } }
    })
    const logger = pino(transport)
    for (let n = 1; n <= 5; n++) logger.fatal({ alert: { id: `ord-${n}-€`, source: 'orders' } }, `order ${n} blocked`)
    logger.fatal({ alert: { id: 'ord-6', source: 'orders' } }, 'order 6 blocked')
    const got = await hook.waitFor(6)
    await endTransport(transport)
    expect(hook.requests).toHaveLength(6)
    const byTitle = new Map(got.map((r) => [r.json<{ title: string }>().title, r]))
    for (let n = 1; n <= 5; n++) {
      const r = byTitle.get(`order ${n} blocked`)!
      const body = r.json<{ id: string, metadata: Record<string, unknown> }>()
      // A header-safe id in place of the bad one; the original kept in the metadata.
      expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(r.header('webhook-id')).toBe(body.id)
      expect(body.metadata.originalId).toBe(`ord-${n}-€`)
    }
    expect(byTitle.get('order 6 blocked')!.header('webhook-id')).toBe('ord-6')
  })

  it('events that still carry such an id (AlertEvent.fromJSON) fail for good without retries and leave the circuit closed', async () => {
    const notices: string[] = []
    const alerter: Alerter = createAlerter({
      env: false,
      channels: { console: { enabled: false }, webhook: { url: hook.url, retry: { maxAttempts: 5, initialMs: 20, maxMs: 100 } } }
    }, { env: {}, reporter: new Reporter((t) => { notices.push(t) }) })
    try {
      await alerter.ready
      const base = AlertEvent.from({ source: 'orders', title: 'order blocked', severity: 'critical' }).toJSON()
      for (const id of ['ord-1-€', 'ord-2-€', 'a\r\nx-injected: 1', 'ord-4-€', 'ord-5-\u0001', 'ord-6-€']) {
        // A title of its own each: equal alerts within a minute would be deduplicated.
        const r = await alerter.dispatch(AlertEvent.fromJSON({ ...base, id, title: `order ${id} blocked`, fingerprint: `fp-${id}` }))
        const w = r.deliveries.find((c) => c.channel === 'webhook')!
        expect(w).toMatchObject({ ok: false, attempts: 1 })
        expect(w.error).toMatch(/invalid webhook-id header.*permanent, not retried/)
      }
      expect(hook.requests).toHaveLength(0)
      expect(alerter.stats().channels.webhook).toMatchObject({ circuit: 'closed', failed: 6, retried: 0 })
      const ok = await alerter.dispatch(AlertEvent.fromJSON({ ...base, id: 'ord-7', title: 'order 7 blocked', fingerprint: 'fp-7' }))
      expect(ok.deliveries.find((c) => c.channel === 'webhook')).toMatchObject({ ok: true, attempts: 1 })
      expect((await hook.waitFor(1))[0]!.header('webhook-id')).toBe('ord-7')
    } finally {
      await alerter.close()
    }
  })

  it('fromRecord and dispatch replace such ids the same way each time (the same bad id gives the same new one)', () => {
    const ctx = recordContext(resolveOptions({ env: false }, {}))
    const a = fromRecord({ level: 50, time: 1, msg: 'x', alert: { id: 'ord-1-€' } }, ctx)!
    const b = fromRecord({ level: 50, time: 2, msg: 'y', alert: { id: 'ord-1-€' } }, ctx)!
    const c = AlertEvent.from({ source: 's', title: 't', id: 'ord-1-€' })
    expect(a.id).toBe(b.id)
    expect(c.id).toBe(a.id)
    expect(c.metadata).toEqual({ originalId: 'ord-1-€' })
  })
})

describe('SIGTERM while a delivery waits on its retry (child process, real pino worker)', () => {
  it('with the README handler (SIGTERM → process.exit(0)) the alert reaches the webhook before the process exits', async () => {
    hook.script({ status: 503, headers: { 'retry-after': '0.3' }, body: 'busy' })
    const app = start(fixture('sigterm-app.mjs'), { WEBHOOK_URL: hook.url, HANDLER: '1' })
    await hook.waitFor(1)
    app.child.kill('SIGTERM')
    const how = await app.exited
    // Read at exit: what the fake had received by then.
    const received = hook.requests.map((r) => r.status)
    expect(how).toEqual({ code: 0, signal: null })
    expect(received).toEqual([503, 200])
    expect(hook.requests[1]!.header('webhook-id')).toBe(hook.requests[0]!.header('webhook-id'))
    expect(hook.requests[1]!.json()).toMatchObject({ source: 'kill_switch', severity: 'critical', title: 'Kill switch triggered' })
  })

  it('without a handler but with a store: killed at once, the alert stays unsettled in the store and the next start delivers it', async () => {
    const db = join(tempDir(), 'alerts.db')
    hook.script({ status: 503, headers: { 'retry-after': '0.3' }, body: 'busy' })
    const first = start(fixture('sigterm-app.mjs'), { WEBHOOK_URL: hook.url, HANDLER: '0', STORE: db })
    await hook.waitFor(1)
    first.child.kill('SIGTERM')
    expect(await first.exited).toEqual({ code: null, signal: 'SIGTERM' })
    expect(hook.requests).toHaveLength(1)
    const s = openStore(db)
    try {
      const unsettled = s.unsettled()
      expect(unsettled.map((u) => u.event.title)).toEqual(['Kill switch triggered'])
    } finally {
      s.close()
    }
    // The next start replays it (the same id, so the receiver can drop a duplicate); then it is ended properly.
    const second = start(fixture('sigterm-app.mjs'), { WEBHOOK_URL: hook.url, HANDLER: '1', STORE: db, MODE: 'restart' })
    const [a, b] = await hook.waitFor(2)
    expect(b!.header('webhook-id')).toBe(a!.header('webhook-id'))
    expect(b!.json()).toMatchObject({ title: 'Kill switch triggered' })
    second.child.kill('SIGTERM')
    expect(await second.exited).toEqual({ code: 0, signal: null })
    const after = openStore(db)
    try {
      expect(after.unsettled()).toEqual([])
      const [h] = after.history({ limit: 10 })
      expect(after.receipts(h!.id)).toMatchObject([{ channel: 'webhook', ok: true }])
    } finally {
      after.close()
    }
  })
})
