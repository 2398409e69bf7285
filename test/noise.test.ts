import { once } from 'node:events'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { openStore } from '../src/store/sqlite.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { tempDir } from './helpers/run.js'

// Dedupe, grouping, inhibition, silences and resolves, each end to end through a real pino transport
// (worker thread) against a webhook fake. Windows are short (≤ 1 s) instead of a fake clock: the
// worker thread has its own.
let hook: WebhookServer
let transports: Array<ReturnType<typeof pino.transport>> = []
beforeEach(async () => { hook = await startWebhookServer() })
afterEach(async () => {
  for (const t of transports) {
    const closed = once(t, 'close')
    t.end()
    await closed
  }
  transports = []
  await hook.close()
})

function logger (options: Record<string, unknown>): pino.Logger {
  const t = pino.transport({
    target: 'pino-alerts',
    options: { env: false, ...options, channels: { console: { enabled: false }, webhook: { url: hook.url, retry: { initialMs: 20 } }, ...(options.channels as object ?? {}) } }
  })
  transports.push(t)
  return pino(t)
}

const titles = (): string[] => hook.requests.flatMap((r) => {
  const body = r.json<{ title?: string, events?: Array<{ title: string }> }>()
  return body.events !== undefined ? body.events.map((e) => e.title) : [body.title as string]
})
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('noise control through a real transport', () => {
  it('dedupe: repeats within the window are suppressed; the next notification counts them', async () => {
    const log = logger({ dedupe: { windowMs: 600 } })
    for (let i = 0; i < 5; i++) log.error({ alert: { source: 'var_gate', labels: { desk: 'fx' } } }, 'VaR near limit')
    log.error({ alert: { source: 'var_gate', labels: { desk: 'rates' } } }, 'VaR near limit')
    await hook.waitFor(2)
    await sleep(700)
    log.error({ alert: { source: 'var_gate', labels: { desk: 'fx' } } }, 'VaR near limit')
    await hook.waitFor(3)
    await sleep(100)
    expect(titles()).toEqual(['VaR near limit', 'VaR near limit', 'VaR near limit (+4 repeats suppressed)'])
    expect(hook.requests.map((r) => r.json<{ labels: { desk: string } }>().labels.desk)).toEqual(['fx', 'rates', 'fx'])
  })

  it('dedupe rules set cooldowns per alert type; dedupe: false sends every repeat', async () => {
    const log = logger({ dedupe: { windowMs: 60_000, rules: [{ match: 'source="heartbeat"', windowMs: 1 }] } })
    // Each beat after the previous one has arrived: lines logged while the worker starts are read
    // together, and two beats within the 1 ms window would be one.
    for (let i = 0; i < 3; i++) { log.error({ alert: { source: 'heartbeat' } }, 'beat'); await hook.waitFor(i + 1) }
    for (let i = 0; i < 3; i++) log.error({ alert: { source: 'risk_gate' } }, 'blocked')
    await hook.waitFor(4)
    await sleep(200)
    expect(titles().filter((t) => t === 'beat')).toHaveLength(3)
    expect(titles().filter((t) => t.startsWith('blocked'))).toEqual(['blocked'])
    const off = logger({ dedupe: false })
    for (let i = 0; i < 3; i++) off.error({ alert: { source: 'risk_gate' } }, 'blocked')
    await hook.waitFor(7)
  })

  it('group: alerts sharing the group key within waitMs go out as one digest; later ones after intervalMs', async () => {
    const log = logger({ dedupe: false, group: { by: ['source'], waitMs: 300, intervalMs: 600 } })
    const t0 = Date.now()
    log.error({ alert: { source: 'risk_gate' } }, 'blocked 1')
    log.error({ alert: { source: 'risk_gate' } }, 'blocked 2')
    log.error({ alert: { source: 'var_gate' } }, 'var 1')
    await sleep(100)
    log.error({ alert: { source: 'risk_gate' } }, 'blocked 3')
    await hook.waitFor(2)
    const first = hook.requests.map((r) => r.json<{ events?: Array<{ title: string }>, title?: string }>())
    expect(hook.requests[0]!.arrivedAtEpoch - t0).toBeGreaterThanOrEqual(280)
    const digest = first.find((b) => b.events !== undefined)!
    expect(digest.events!.map((e) => e.title)).toEqual(['blocked 1', 'blocked 2', 'blocked 3'])
    expect(first.find((b) => b.events === undefined)?.title).toBe('var 1')
    // A later addition to the risk_gate group waits for the interval since its last digest.
    log.error({ alert: { source: 'risk_gate' } }, 'blocked 4')
    await hook.waitFor(3)
    const last = hook.requests[2]!
    expect(last.json<{ title: string }>().title).toBe('blocked 4')
    // The group's first digest went out at t0 + waitMs (300); the addition waits intervalMs (600) after it.
    expect(last.arrivedAtEpoch - t0).toBeGreaterThanOrEqual(300 + 600 - 20)
  })

  it('inhibit: a firing kill switch holds back VaR warnings of the same desk until it resolves', async () => {
    const log = logger({ routes: { warn: ['webhook'] }, inhibit: [{ source: 'source="kill_switch"', target: ['source="var_gate"', 'severity="warn"'], equal: ['desk'] }] })
    log.fatal({ alert: { source: 'kill_switch', labels: { desk: 'fx' } } }, 'Kill switch triggered')
    log.warn({ alert: { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } } }, 'VaR fx 90%')
    log.warn({ alert: { source: 'var_gate', severity: 'warn', labels: { desk: 'rates' } } }, 'VaR rates 90%')
    await hook.waitFor(2)
    log.info({ alert: { source: 'kill_switch', labels: { desk: 'fx' }, status: 'resolved' } }, 'Kill switch triggered')
    await hook.waitFor(3)
    log.warn({ alert: { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } } }, 'VaR fx 91%')
    await hook.waitFor(4)
    await sleep(100)
    expect(titles()).toEqual(['Kill switch triggered', 'VaR rates 90%', 'Kill switch triggered', 'VaR fx 91%'])
    expect(hook.requests[2]!.json<{ status: string }>().status).toBe('resolved')
  }, 15_000)

  it('silences from options and, with a store, added at run time by another process', async () => {
    const dir = tempDir()
    const db = join(dir, 'alerts.db')
    const log = logger({
      dedupe: false,
      store: { path: db },
      silences: [{ match: 'source="noisy"', endsAt: new Date(Date.now() + 3_600_000).toISOString(), comment: 'known flapping' }]
    })
    log.error({ alert: { source: 'noisy' } }, 'flap')
    log.error({ alert: { source: 'risk_gate' } }, 'blocked 1')
    await hook.waitFor(1)
    // Another process (the CLI, the dashboard) silences risk_gate in the store; the app notices within a second.
    const s = openStore(db, { readonly: false })
    s.addSilence({ id: 'from-cli', match: ['source="risk_gate"'], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 600_000).toISOString(), comment: 'maintenance', createdBy: 'ops', createdAt: new Date().toISOString() })
    s.close()
    await sleep(1100)
    log.error({ alert: { source: 'risk_gate' } }, 'blocked 2')
    log.error({ alert: { source: 'var_gate' } }, 'var')
    await hook.waitFor(2)
    await sleep(200)
    expect(titles()).toEqual(['blocked 1', 'var'])
    // Recorded as silenced, not sent.
    const history = openStore(db).history({ limit: 10 })
    expect(history.filter((h) => h.suppressed === 'silence').map((h) => h.title).sort()).toEqual(['blocked 2', 'flap'])
  })

  it('resolve: the channels that carried the firing alert get a RESOLVED notice with the firing duration; an unknown one is recorded, not sent', async () => {
    const log = logger({})
    log.fatal({ alert: { source: 'kill_switch', labels: { desk: 'fx' } } }, 'Kill switch triggered')
    await hook.waitFor(1)
    await sleep(1100)
    log.info({ alert: { source: 'kill_switch', labels: { desk: 'fx' }, resolved: true } }, 'Kill switch triggered')
    log.info({ alert: { source: 'never_fired', resolved: true } }, 'nothing to resolve')
    await hook.waitFor(2)
    await sleep(200)
    expect(hook.requests).toHaveLength(2)
    const resolved = hook.requests[1]!.json<{ status: string, body: string, metadata: { firingFor: string, firingAlertId: string } }>()
    expect(resolved.status).toBe('resolved')
    expect(resolved.body).toMatch(/^Firing for [12]s\.$/)
    expect(resolved.metadata.firingAlertId).toBe(hook.requests[0]!.json<{ id: string }>().id)
  })
})

describe('escalation', () => {
  const options = (db: string | undefined, pager: WebhookServer, afterMs: number): Record<string, unknown> => ({
    env: false,
    ...(db === undefined ? {} : { store: { path: db } }),
    channels: { console: { enabled: false }, webhook: { url: hook.url }, pager: { type: 'webhook', url: pager.url } },
    routes: [{ match: 'severity="critical"', channels: ['webhook'], escalate: [{ afterMs, channels: ['pager'] }] }, { channels: ['webhook'] }]
  })

  it('not acknowledged: the escalation channel receives it after afterMs; acknowledged: never', async () => {
    const pager = await startWebhookServer()
    const a = createAlerter(options(undefined, pager, 300), { env: {} })
    try {
      const t0 = Date.now()
      const r1 = await a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical' })
      const r2 = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
      expect(a.ack(r2.id, 'alice')).toEqual([r2.id])
      await pager.waitFor(1)
      expect(pager.requests[0]!.arrivedAtEpoch - t0).toBeGreaterThanOrEqual(290)
      await sleep(400)
      expect(pager.requests.map((r) => r.json<{ id: string }>().id)).toEqual([r1.id])
      expect(hook.requests).toHaveLength(2)
    } finally {
      await a.close()
      await pager.close()
    }
  })

  it('a resolve before afterMs cancels the escalation', async () => {
    const pager = await startWebhookServer()
    const a = createAlerter(options(undefined, pager, 300), { env: {} })
    try {
      await a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical' })
      await a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical', status: 'resolved' })
      await sleep(500)
      expect(pager.requests).toHaveLength(0)
      expect(hook.requests.map((r) => r.json<{ status: string }>().status)).toEqual(['firing', 'resolved'])
    } finally {
      await a.close()
      await pager.close()
    }
  })

  it('with a store, a pending escalation survives a restart and fires at the right time; an ack in between stops it', async () => {
    const dir = tempDir()
    const db = join(dir, 'alerts.db')
    const pager = await startWebhookServer()
    const quietReporter = (): Reporter => new Reporter(() => {})
    const a = createAlerter(options(db, pager, 900), { env: {}, reporter: quietReporter() })
    const t0 = Date.now()
    const fired = await a.dispatch({ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical' })
    const acked = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
    await a.close() // the process goes away with both escalations pending
    const b = createAlerter(options(db, pager, 900), { env: {}, reporter: quietReporter() })
    try {
      await b.ready
      expect(b.ack(acked.id, 'bob', 'on it')).toEqual([acked.id])
      await pager.waitFor(1, 3000)
      const at = pager.requests[0]!.arrivedAtEpoch - t0
      expect(at).toBeGreaterThanOrEqual(880)
      expect(at).toBeLessThan(1800)
      await sleep(300)
      expect(pager.requests.map((r) => r.json<{ id: string }>().id)).toEqual([fired.id])
      expect(b.receipts(fired.id).map((r) => [r.channel, r.ok])).toEqual([['webhook', true], ['pager', true]])
    } finally {
      await b.close()
      await pager.close()
    }
  })
})

describe('inhibition stays bounded', () => {
  it('sources with a label unique per alert are forgotten: past their window, and beyond MAX_SOURCES the least recently seen', async () => {
    const { Inhibitor, MAX_SOURCES } = await import('../src/pipeline/inhibit.js')
    const { AlertEvent } = await import('../src/event.js')
    const { resolveOptions } = await import('../src/options.js')
    let t = 0
    const opts = resolveOptions({ env: false, inhibit: [{ source: 'source="risk_gate"', target: 'source="var_gate"', equal: ['order'], windowMs: 60_000 }] }, {})
    const inhibitor = new Inhibitor(opts.inhibit, () => t)
    const source = (order: string): InstanceType<typeof AlertEvent> => AlertEvent.from({ source: 'risk_gate', title: 'blocked', severity: 'critical', labels: { order } })
    const target = (order: string): InstanceType<typeof AlertEvent> => AlertEvent.from({ source: 'var_gate', title: 'VaR', severity: 'warn', labels: { order } })
    // 50 000 orders within one window: at most MAX_SOURCES remembered, the newest ones.
    for (let i = 0; i < 50_000; i++) inhibitor.observe(source(`o${i}`))
    expect(inhibitor.size).toBeLessThanOrEqual(MAX_SOURCES)
    expect(inhibitor.inhibitedBy(target('o49999'))).toBe(0)
    expect(inhibitor.inhibitedBy(target('o0'))).toBe(-1)
    // Past the window (60 s; 59 999 ms still inside), a sweep empties it.
    t = 59_999
    expect(inhibitor.inhibitedBy(target('o49998'))).toBe(0)
    t = 60_000 + 1
    for (let i = 0; i < 1000; i++) inhibitor.observe(target(`x${i}`)) // observations that are not sources still sweep
    expect(inhibitor.size).toBe(0)
  })
})
