/**
 * pino-alerts/otel (SPEC §17): AlertLogRecordExporter in a real OpenTelemetry LoggerProvider
 * (@opentelemetry/sdk-logs 0.223, a BatchLogRecordProcessor) delivering to a local webhook fake; the
 * pino bridge (@opentelemetry/instrumentation-pino) in a child process; examples/otel.js.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import { afterEach, describe, expect, it } from 'vitest'
import type { AlertEventJSON } from '../src/event.js'
import { AlertLogRecordExporter, ExportResultCode, type AlertLogRecord, type ExportResult } from '../src/otel.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer, type RecordedRequest, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, runNode, tempDir } from './helpers/run.js'

const EXAMPLE = join(fileURLToPath(new URL('..', import.meta.url)), 'examples/otel.js')

const servers: WebhookServer[] = []
const providers: LoggerProvider[] = []
afterEach(async () => {
  await Promise.all(providers.splice(0).map(async (p) => await p.shutdown()))
  await Promise.all(servers.splice(0).map(async (s) => await s.close()))
})

async function webhook (defaultResponse?: Parameters<typeof startWebhookServer>[0]): Promise<WebhookServer> {
  const s = await startWebhookServer(defaultResponse)
  servers.push(s)
  return s
}

/** Every severity to the webhook only; the options of createAlerter. */
const options = (url: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  env: false,
  channels: { console: { enabled: false }, webhook: { url, retry: { maxAttempts: 1 } } },
  routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook'] },
  ...extra
})

interface Setup { provider: LoggerProvider, exporter: AlertLogRecordExporter, lines: string[] }

/** A real LoggerProvider with a BatchLogRecordProcessor around the exporter. */
function setup (url: string, opts: { service?: string, extra?: Record<string, unknown> } = {}): Setup {
  const lines: string[] = []
  const exporter = new AlertLogRecordExporter(options(url, opts.extra), { reporter: new Reporter((t) => { lines.push(t) }) })
  const provider = new LoggerProvider({
    ...(opts.service === undefined ? {} : { resource: resourceFromAttributes({ 'service.name': opts.service }) }),
    processors: [new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 20 })]
  })
  providers.push(provider)
  return { provider, exporter, lines }
}

/** The alerts a webhook got, in order (a digest `{ events }` counts each of its alerts). */
const alertsOf = (requests: readonly RecordedRequest[]): AlertEventJSON[] =>
  requests.flatMap((r) => { const j = r.json<AlertEventJSON | { events: AlertEventJSON[] }>(); return 'events' in j ? j.events : [j] })

/** Waits until the webhook got `n` alerts (one request may carry several). */
async function waitForAlerts (hook: WebhookServer, n: number): Promise<AlertEventJSON[]> {
  for (let requests = 1; ; requests++) {
    const got = alertsOf(await hook.waitFor(requests))
    if (got.length >= n) return got
  }
}

const record = (severityNumber: number, attributes: Record<string, unknown> = { alert: true }): AlertLogRecord =>
  ({ hrTime: [Math.floor(Date.now() / 1000), 0], severityNumber, body: `severity ${severityNumber}`, attributes: attributes as AlertLogRecord['attributes'] })

const exported = async (exporter: AlertLogRecordExporter, records: AlertLogRecord[]): Promise<ExportResult> =>
  await new Promise((resolve) => { exporter.export(records, resolve) })

describe('AlertLogRecordExporter in a real LoggerProvider (sdk-logs 0.223, BatchLogRecordProcessor)', () => {
  it('records with an alert attribute reach the webhook with source, title, body, labels, metadata, severity and time mapped; others do not', async () => {
    const hook = await webhook()
    const { provider, exporter } = setup(hook.url, { service: 'risk-svc' })
    const logger = provider.getLogger('risk-engine')
    const at = new Date('2026-03-04T05:06:07.891Z')
    logger.emit({ timestamp: at, severityNumber: 17, severityText: 'ERROR', body: 'VaR at 95% of limit', attributes: { alert: { source: 'var_gate', labels: { desk: 'fx', pct: 95 } }, order_id: 'o-1' } })
    logger.emit({ severityNumber: 17, body: 'an error without the alert attribute', attributes: { order_id: 'o-2' } })
    logger.emit({ severityNumber: 13, body: 'drawdown 8% of 10%', attributes: { alert: { title: 'Drawdown warning' }, name: 'orders', time: 'custom' } })
    logger.emit({ severityNumber: 21, body: { kind: 'halt', venue: 'XLON', raw: new Uint8Array([1, 2, 3]) }, attributes: { alert: true } })
    logger.emit({ severityNumber: 9, body: 'alert attribute false', attributes: { alert: false } })
    await provider.forceFlush()

    const [varGate, drawdown, halt, ...rest] = await waitForAlerts(hook, 3)
    expect(rest).toEqual([])
    expect(varGate).toMatchObject({
      source: 'var_gate', title: 'VaR at 95% of limit', body: '', severity: 'critical', level: 50,
      labels: { desk: 'fx', pct: '95' }, metadata: { order_id: 'o-1' }, timestamp: '2026-03-04T05:06:07.891Z', status: 'firing'
    })
    expect(varGate).not.toHaveProperty('trace')
    // No alert.source: the resource's service.name. An attribute named as a pino field stays in metadata.
    expect(drawdown).toMatchObject({ source: 'risk-svc', title: 'Drawdown warning', body: 'drawdown 8% of 10%', severity: 'warn', level: 40, metadata: { name: 'orders', time: 'custom' } })
    // A non-string body: the title is its JSON.
    expect(halt).toMatchObject({ source: 'risk-svc', title: '{"kind":"halt","venue":"XLON","raw":"AQID"}', body: '', severity: 'critical', level: 60, labels: {}, metadata: {} })
    await provider.shutdown()
    expect(alertsOf(hook.requests)).toHaveLength(3)
    expect(exporter.alerter.stats()).toMatchObject({ alerts: 3, delivered: 3, failed: 0, badLines: 0 })
  })

  it('severityNumber 9, 13, 17, 21 give info, warn, critical, critical (levels 30, 40, 50, 60); 1 and 5 are info (10, 20)', async () => {
    const hook = await webhook()
    const { provider } = setup(hook.url)
    const logger = provider.getLogger('levels')
    for (const n of [1, 5, 9, 13, 17, 21]) logger.emit({ severityNumber: n, body: `severity ${n}`, attributes: { alert: { labels: { n } } } })
    // No severityNumber: the severityText as a pino level name.
    logger.emit({ severityText: 'ERROR', body: 'text only', attributes: { alert: { labels: { n: 'ERROR' } } } })
    await provider.forceFlush()
    const got = await waitForAlerts(hook, 7)
    const by = new Map(got.map((e) => [e.labels.n, [e.severity, e.level]]))
    expect(Object.fromEntries(by)).toEqual({ 1: ['info', 10], 5: ['info', 20], 9: ['info', 30], 13: ['warn', 40], 17: ['critical', 50], 21: ['critical', 60], ERROR: ['critical', 50] })
    // No service.name given (the SDK's unknown_service:node): the instrumentation scope's name.
    expect(new Set(got.map((e) => e.source))).toEqual(new Set(['levels']))
  })

  it('match.minLevel: untagged records at or above it are alerts too; severityByLevel applies by level name', async () => {
    const hook = await webhook()
    const { provider } = setup(hook.url, { service: 'desk', extra: { match: { minLevel: 'error' }, severityByLevel: { error: 'warn' } } })
    const logger = provider.getLogger('app')
    logger.emit({ severityNumber: 13, body: 'untagged warn' })
    logger.emit({ severityNumber: 17, body: 'untagged error', attributes: { name: 'orders', order_id: 'o-9' } })
    logger.emit({ severityNumber: 9, body: 'tagged info', attributes: { alert: true } })
    await provider.shutdown()
    const got = alertsOf(hook.requests)
    expect(got.map((e) => [e.title, e.severity]).sort()).toEqual([['tagged info', 'info'], ['untagged error', 'warn']])
    expect(got.find((e) => e.title === 'untagged error')).toMatchObject({ source: 'desk', level: 50, metadata: { name: 'orders', order_id: 'o-9' } })
  })

  it('a record emitted inside a span context carries its traceId and spanId as trace', async () => {
    const hook = await webhook()
    const { provider } = setup(hook.url, { service: 'checkout' })
    const spanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED }
    const logger = provider.getLogger('checkout')
    logger.emit({ severityNumber: 17, body: 'Payment declined', attributes: { alert: true }, context: trace.setSpanContext(ROOT_CONTEXT, spanContext) })
    logger.emit({ severityNumber: 17, body: 'Outside any span', attributes: { alert: true } })
    await provider.forceFlush()
    const got = await waitForAlerts(hook, 2)
    const inSpan = got.find((e) => e.title === 'Payment declined')
    expect(inSpan?.trace).toEqual({ traceId: spanContext.traceId, spanId: spanContext.spanId })
    expect(got.find((e) => e.title === 'Outside any span')).not.toHaveProperty('trace')
  })

  it('provider.shutdown() resolves only after an alert in flight to a slow receiver (500 ms) was answered; export then calls back FAILED', async () => {
    const hook = await webhook({ defaultResponse: { status: 200, body: 'ok', delayMs: 500 } })
    const { provider, exporter } = setup(hook.url, { service: 'risk-svc' })
    provider.getLogger('risk').emit({ severityNumber: 21, body: 'Kill switch triggered', attributes: { alert: { source: 'kill_switch' } } })
    const [request] = await hook.waitFor(1)
    expect(request!.status).toBeUndefined()
    await provider.shutdown()
    expect(request!.status).toBe(200)
    expect(Date.now() - request!.arrivedAtEpoch).toBeGreaterThanOrEqual(450)
    expect(exporter.alerter.stats()).toMatchObject({ alerts: 1, delivered: 1, inFlight: 0 })

    const after = await exported(exporter, [record(21)])
    expect(after.code).toBe(ExportResultCode.FAILED)
    expect(after.error?.message).toMatch(/shut down/)
    expect(hook.requests).toHaveLength(1)
  })

  it('export calls back SUCCESS once the alerts are admitted (the outbox written), without waiting for the chat service', async () => {
    const hook = await webhook({ defaultResponse: { hold: true } })
    const dir = tempDir()
    const exporter = new AlertLogRecordExporter(options(hook.url, { store: { path: join(dir, 'alerts.db') } }), { reporter: new Reporter(() => {}) })
    // Before the store and channels are up: the callback waits for them, not for delivery.
    const first = await exported(exporter, [{ ...record(21, { alert: { source: 'kill_switch', id: 'ks-1' } }), resource: { attributes: { 'service.name': 'risk-svc' } } }])
    expect(first).toEqual({ code: ExportResultCode.SUCCESS })
    expect(exporter.alerter.history().map((e) => [e.id, e.source, e.settled])).toEqual([['ks-1', 'kill_switch', false]])
    // Once started: at once.
    const second = await exported(exporter, [record(17, { alert: { id: 'var-1' } }), record(17, { other: 1 })])
    expect(second).toEqual({ code: ExportResultCode.SUCCESS })
    expect(exporter.alerter.history().map((e) => e.id).sort()).toEqual(['ks-1', 'var-1'])
    await hook.waitFor(2)
    expect(hook.held).toBe(2)
    hook.release()
    await exporter.forceFlush()
    expect(exporter.alerter.stats()).toMatchObject({ alerts: 2, delivered: 2, inFlight: 0 })
    expect(exporter.alerter.history().every((e) => e.settled)).toBe(true)
    await exporter.shutdown()
  })

  it('a record whose alert attribute has wrong types is a bad line, not a failed batch: the batch\'s other alerts go out', async () => {
    const hook = await webhook()
    const { provider, exporter, lines } = setup(hook.url, { service: 'risk-svc' })
    const logger = provider.getLogger('risk')
    logger.emit({ severityNumber: 17, body: 'bad labels', attributes: { alert: { labels: 'desk=fx' } } })
    logger.emit({ severityNumber: 17, body: 'alert is a number', attributes: { alert: 7 } })
    logger.emit({ severityNumber: 17, body: 'good one', attributes: { alert: true } })
    await provider.shutdown()
    expect(alertsOf(hook.requests).map((e) => e.title)).toEqual(['good one'])
    expect(exporter.alerter.stats()).toMatchObject({ alerts: 1, delivered: 1, badLines: 2 })
    expect(lines.join('')).toMatch(/skipped 2 bad lines .*wrong type for alert\.labels: expected an object.*wrong type for alert: expected an object or true/)
  })
})

describe('the pino bridge and the package entry (child processes)', () => {
  it('pino instrumented by @opentelemetry/instrumentation-pino (no pino transport): logger.fatal({ alert }) arrives at the webhook', async () => {
    const hook = await webhook()
    const r = await runNode(fixture('otel-pino-app.mjs'), { WEBHOOK_URL: hook.url })
    expect(r.code, r.stderr).toBe(0)
    const got = alertsOf(hook.requests)
    expect(got.map((e) => e.title)).toEqual(['Kill switch triggered', 'VaR at 91% of limit'])
    expect(got[0]).toMatchObject({ source: 'kill_switch', severity: 'critical', level: 60, body: '', labels: {}, metadata: { name: 'orders' } })
    expect(got[1]).toMatchObject({ source: 'orders-api', severity: 'warn', level: 40, labels: { desk: 'fx', pct: '91' }, metadata: { name: 'orders', order: { id: 'o-2' } } })
    // pino itself still wrote its lines to stdout: the bridge adds, it does not replace.
    expect(r.stdout).toContain('"msg":"Kill switch triggered"')
    const stats = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
    expect(stats).toMatchObject({ alerts: 2, delivered: 2, failed: 0, badLines: 0 })
  })

  it('pino-alerts/otel loads no OpenTelemetry package', async () => {
    const hook = await webhook()
    const r = await runNode(fixture('otel-lazy.mjs'), { WEBHOOK_URL: hook.url })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`export result ${ExportResultCode.SUCCESS}`)
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('resolved '))
    expect(loaded.some((l) => l.endsWith('/dist/otel.js'))).toBe(true)
    expect(loaded.filter((l) => l.includes('@opentelemetry'))).toEqual([])
    expect(alertsOf(hook.requests)).toMatchObject([{ source: 'kill_switch', title: 'Kill switch triggered', severity: 'critical' }])
  })

  it('examples/otel.js delivers to WEBHOOK_URL, and to its own stand-in without it, and exits 0', async () => {
    const hook = await webhook()
    const r = await runNode(EXAMPLE, { WEBHOOK_URL: hook.url })
    expect(r.code, r.stderr).toBe(0)
    expect(alertsOf(hook.requests).map((e) => [e.severity, e.source, e.title])).toEqual([
      ['warn', 'orders-api', 'VaR at 91% of limit'],
      ['critical', 'kill_switch', 'Kill switch triggered']
    ])
    const own = await runNode(EXAMPLE)
    expect(own.code, own.stderr).toBe(0)
    expect(own.stdout).toContain('The stand-in got 2 alerts: warn orders-api: VaR at 91% of limit; critical kill_switch: Kill switch triggered')
  })
})
