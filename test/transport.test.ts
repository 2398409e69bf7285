import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { endTransport, fixture, readJsonl, runNode, tempDir } from './helpers/run.js'


describe('pino transport (real worker threads)', () => {
  it('targets: [pino/file, pino-alerts@warn] delivers tagged warn+ records with every field, nothing else', async () => {
    const dir = tempDir()
    const alertsFile = join(dir, 'nested', 'dir', 'alerts.jsonl')
    const transport = pino.transport({
      targets: [
        { target: 'pino/file', options: { destination: join(dir, 'app.log') } },
        { target: 'pino-alerts', level: 'warn', options: { env: false, channels: { console: { enabled: false }, file: { path: alertsFile } } } }
      ]
    })
    const logger = pino({ name: 'risk-svc' }, transport)
    logger.info({ alert: { source: 'below_level' } }, 'tagged but below the target level')
    logger.warn('untagged warn')
    logger.error({ order: { id: 'o-7' } }, 'untagged error')
    logger.warn({ alert: { source: 'var_gate', labels: { pct: 90, desk: 'fx' } } }, 'VaR at 90% of limit')
    logger.fatal({ alert: { source: 'kill_switch', title: 'Kill switch triggered' }, err: new Error('max drawdown') }, 'drawdown 12% > 10%')
    logger.error({ alert: true, order: { id: 'o-8', qty: 3 } }, 'Order blocked')
    await endTransport(transport)

    const events = readJsonl(alertsFile)
    expect(events.map((e) => e.title)).toEqual(['VaR at 90% of limit', 'Kill switch triggered', 'Order blocked'])
    const [varGate, kill, order] = events
    expect(varGate).toMatchObject({ source: 'var_gate', severity: 'warn', body: '', labels: { pct: '90', desk: 'fx' }, level: 40, status: 'firing' })
    expect(kill).toMatchObject({ source: 'kill_switch', severity: 'critical', body: 'drawdown 12% > 10%', level: 60 })
    expect(kill?.metadata.err).toMatchObject({ type: 'Error', message: 'max drawdown' })
    expect(kill?.metadata.err.stack).toContain('Error: max drawdown')
    expect(order).toMatchObject({ source: 'risk-svc', severity: 'critical', metadata: { order: { id: 'o-8', qty: 3 } } })
    for (const e of events) {
      expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(Math.abs(Date.parse(e.timestamp) - Date.now())).toBeLessThan(60_000)
      expect(e.metadata).not.toHaveProperty('pid')
      expect(e.metadata).not.toHaveProperty('hostname')
    }
  })

  it('single target: custom levels learned from pino config map to severities and match.minLevel', async () => {
    const dir = tempDir()
    const file = join(dir, 'alerts.jsonl')
    const transport = pino.transport({
      target: 'pino-alerts',
      options: { env: false, match: { minLevel: 'risk' }, severityByLevel: { risk: 'critical', audit: 'warn' }, channels: { console: { enabled: false }, file: { path: file } } }
    })
    const logger = pino({ level: 'trace', customLevels: { audit: 35, risk: 45 } }, transport) as pino.Logger<'audit' | 'risk'>
    logger.audit({ alert: { source: 'audit' } }, 'tagged audit')
    logger.audit('untagged audit: below minLevel')
    logger.risk('untagged risk: at minLevel')
    logger.trace({ alert: true }, 'tagged trace')
    logger.debug({ alert: true }, 'tagged debug')
    logger.info({ alert: true }, 'tagged info')
    logger.warn({ alert: true }, 'tagged warn')
    logger.error('untagged error')
    logger.fatal({ alert: true }, 'tagged fatal')
    await endTransport(transport)
    const got = readJsonl(file).map((e) => [e.title, e.level, e.severity])
    expect(got).toEqual([
      ['tagged audit', 35, 'warn'],
      ['untagged risk: at minLevel', 45, 'critical'],
      ['tagged trace', 10, 'info'],
      ['tagged debug', 20, 'info'],
      ['tagged info', 30, 'info'],
      ['tagged warn', 40, 'warn'],
      ['untagged error', 50, 'critical'],
      ['tagged fatal', 60, 'critical']
    ])
  })

  it('logger.flush(cb) with a single target waits for deliveries in flight', async () => {
    const dir = tempDir()
    const file = join(dir, 'alerts.jsonl')
    const transport = pino.transport({ target: 'pino-alerts', options: { env: false, channels: { console: { enabled: false }, file: { path: file } } } })
    const logger = pino(transport)
    for (let i = 0; i < 50; i++) logger.error({ alert: { source: 'flush' } }, `a${i}`)
    await new Promise<void>((resolve, reject) => logger.flush((err) => { if (err) reject(err); else resolve() }))
    expect(readJsonl(file)).toHaveLength(50)
    await endTransport(transport)
  })

  it('garbage lines are counted and reported once; every alert is delivered and the transport lives on', async () => {
    const dir = tempDir()
    const file = join(dir, 'alerts.jsonl')
    const r = await runNode(fixture('garbage.mjs'), { ALERTS_FILE: file })
    expect(r.code).toBe(0)
    const { alerts } = JSON.parse(r.stdout)
    const events = readJsonl(file)
    expect(events.map((e) => e.title)).toEqual(Array.from({ length: alerts }, (_, i) => `alert ${i}`))
    const reports = r.stderr.split('\n').filter((l) => l.startsWith('pino-alerts: skipped'))
    expect(reports, r.stderr).toHaveLength(1)
    expect(reports[0]).toMatch(/skipped 100 bad lines/)
    expect(reports[0]).toMatch(/not JSON/)
    expect(reports[0]).toMatch(/wrong type for alert/)
    expect(reports[0]).toMatch(/longer than maxLineLength/)
  })

  it('invalid options fail the start with a message naming the option path', async () => {
    // The app dies with the ConfigError; pino's own exit hook may hold the exit up to 10 s, so both run at once.
    const cases = [[{ routes: { critical: ['nope'] } }, 'routes.critical[0]: got "nope"'], [{ channels: { webhook: { url: 'x' } } }, 'channels.webhook.url: got "x"']] as const
    const results = await Promise.all(cases.map(async ([options]) => await runNode(fixture('bad-options.mjs'), { OPTIONS: JSON.stringify(options) })))
    results.forEach((r, i) => {
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain('Invalid pino-alerts options')
      expect(r.stderr).toContain(cases[i]![1])
    })
  })

  it('destination: one target writes every line unchanged (as pino/file would) and alerts', async () => {
    const dir = tempDir()
    const file = join(dir, 'alerts.jsonl')
    const log = join(dir, 'logs', 'app.log')
    const transport = pino.transport({ target: 'pino-alerts', options: { env: false, destination: log, channels: { console: { enabled: false }, file: { path: file } } } })
    const logger = pino({ base: undefined, timestamp: false }, transport)
    for (let i = 0; i < 500; i++) logger.info({ i, text: 'ünïcødé ✓' }, 'line')
    logger.error({ alert: { source: 'risk_gate' } }, 'Order blocked')
    await endTransport(transport)
    const lines = readFileSync(log, 'utf8').split('\n')
    expect(lines.pop()).toBe('')
    expect(lines).toHaveLength(501)
    expect(lines[0]).toBe('{"level":30,"i":0,"text":"ünïcødé ✓","msg":"line"}')
    expect(lines[500]).toBe('{"level":50,"alert":{"source":"risk_gate"},"msg":"Order blocked"}')
    expect(readJsonl(file).map((e) => e.title)).toEqual(['Order blocked'])
  })
})
