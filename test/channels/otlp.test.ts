import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { gunzipSync } from 'node:zlib'
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js'
import pino from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  create, logsEndpoint, OTLP_LIMITS, OTLP_MAX_RECORDS, OTLP_MAX_REQUEST_BYTES, renderOtlp, type OtlpMessage
} from '../../src/channels/otlp.js'
import { ConfigError } from '../../src/errors.js'
import type { AlertEvent } from '../../src/event.js'
import { byteLength } from '../../src/format/truncate.js'
import { resolveOptions, type ResolvedChannel } from '../../src/options.js'
import {
  attributesOf, decodedBody, exportOf, exportProblem, otlpAnswers, otlpBadRequest, otlpInternal, otlpPartialSuccess, otlpRetryInfo,
  otlpStatus, otlpThrottled, otlpUnavailable, recordsOf, startOtlpCollector, type ExportJson, type LogRecordJson, type OtlpCollector
} from '../fakes/otlp.js'
import type { RecordedRequest, Script, ScriptedResponse } from '../fakes/webhook-server.js'
import { runChannelSuite, sampleEvent, resolvedChannel } from './suite.js'
import { endTransport } from '../helpers/run.js'

/** A vendor gateway's path with a token in it, and an API key header: the channel's secrets. */
const SECRET_PATH = 'otlp/' + randomBytes(12).toString('hex')
const API_KEY = 'key_' + randomBytes(16).toString('hex')
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version

const otlpConfig = (config: Record<string, unknown>): ResolvedChannel => resolvedChannel('otlp', config)

runChannelSuite<OtlpMessage>('otlp', (server) => ({
  channel: create(otlpConfig({ url: (server as OtlpCollector).baseUrl, headers: { 'x-api-key': API_KEY } })),
  secrets: [SECRET_PATH, SECRET_PATH.split('/')[1] as string, API_KEY]
}), {
  start: async () => await startOtlpCollector({ basePath: '/' + SECRET_PATH }),
  answers: otlpAnswers(`/${SECRET_PATH}/v1/logs`)
}, {
  // The JSON request body is a string inside the message: look at what the collector receives.
  messageText: (messages) => messages.map((m) => m.body).join('\n')
})

// ---------------------------------------------------------------------------------------------------
// The decoding proof: the official protobuf definitions (opentelemetry-proto, as generated into
// @opentelemetry/otlp-transformer 0.214's protobufjs static module) read every request without an
// unknown or mistyped field.

interface StaticMessageType {
  verify: (message: unknown) => string | null
  fromObject: (object: Record<string, unknown>) => object
  toObject: (message: object, options: Record<string, unknown>) => Record<string, unknown>
  encode: (message: object) => { finish: () => Uint8Array }
  decode: (bytes: Uint8Array) => object
}
const generated = generatedRoot as unknown as {
  opentelemetry: { proto: { collector: { logs: { v1: { ExportLogsServiceRequest: StaticMessageType } } } } }
}
const ExportLogsServiceRequest = generated.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest

/**
 * OTLP JSON → the proto3 JSON that protobufjs reads. OTLP JSON writes `traceId`/`spanId` (bytes) as
 * hex where the proto3 JSON mapping has base64: those two are converted; a non-hex id is a problem.
 */
function toProto3Json (otlp: unknown, problems: string[]): Record<string, unknown> {
  const copy = structuredClone(otlp) as ExportJson
  for (const rl of copy.resourceLogs ?? []) {
    for (const sl of rl.scopeLogs ?? []) {
      for (const r of sl.logRecords ?? []) {
        for (const k of ['traceId', 'spanId'] as const) {
          const v = r[k]
          if (v === undefined) continue
          if (!/^([0-9a-fA-F]{2})+$/.test(v)) problems.push(`${k}: ${JSON.stringify(v)} is not hex`)
          r[k] = Buffer.from(v, 'hex').toString('base64')
        }
      }
    }
  }
  return copy as unknown as Record<string, unknown>
}

/** Where `got` (decoded and re-encoded) differs from `sent`: a dropped (unknown) field, a changed (mistyped) value. */
function differences (sent: unknown, got: unknown, path: string, out: string[]): void {
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) { out.push(`${path}: array did not survive decoding`); return }
    sent.forEach((v, i) => differences(v, got[i], `${path}[${i}]`, out))
    return
  }
  if (sent !== null && typeof sent === 'object') {
    if (got === null || typeof got !== 'object') { out.push(`${path}: object did not survive decoding`); return }
    const g = got as Record<string, unknown>
    for (const [k, v] of Object.entries(sent)) {
      if (!(k in g)) out.push(`${path}.${k}: unknown field (dropped by the protobuf decoder)`)
      else differences(v, g[k], `${path}.${k}`, out)
    }
    for (const k of Object.keys(g)) if (!(k in (sent as Record<string, unknown>))) out.push(`${path}.${k}: appeared in decoding`)
    return
  }
  if (sent !== got) out.push(`${path}: sent ${JSON.stringify(sent)} (${typeof sent}), decodes as ${JSON.stringify(got)} (${typeof got})`)
}

/** Every AnyValue (bodies, attribute values) sets exactly one member of its `value` oneof. */
function oneofProblems (otlp: ExportJson): string[] {
  const out: string[] = []
  const check = (v: unknown, path: string): void => {
    if (v === null || typeof v !== 'object' || Object.keys(v).length !== 1) out.push(`${path}: AnyValue must set exactly one value field`)
  }
  otlp.resourceLogs?.forEach((rl, i) => {
    rl.resource?.attributes?.forEach((a, j) => check(a.value, `resourceLogs[${i}].resource.attributes[${j}].value`))
    rl.scopeLogs?.forEach((sl, j) => sl.logRecords?.forEach((r, k) => {
      const p = `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`
      check(r.body, `${p}.body`)
      r.attributes?.forEach((a, n) => check(a.value, `${p}.attributes[${n}].value`))
    }))
  })
  return out
}

/**
 * Decodes an OTLP JSON body with the official definitions (fromObject → verify → binary encode →
 * decode → toObject) and lists every field that did not come back as it was sent. [] = clean.
 */
function protoProblems (body: string): string[] {
  const otlp = JSON.parse(body) as ExportJson
  const problems = oneofProblems(otlp)
  const proto3 = toProto3Json(otlp, problems)
  let message: object
  try {
    message = ExportLogsServiceRequest.fromObject(proto3)
  } catch (err) {
    return [...problems, `fromObject: ${(err as Error).message}`]
  }
  const verified = ExportLogsServiceRequest.verify(message)
  if (verified !== null) problems.push(`verify: ${verified}`)
  const wire = ExportLogsServiceRequest.encode(message).finish()
  const back = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(wire), { longs: String, enums: Number, bytes: String })
  differences(proto3, back, 'ExportLogsServiceRequest', problems)
  return problems
}

// ---------------------------------------------------------------------------------------------------

const signal = (): AbortSignal => AbortSignal.timeout(5000)
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN_ID = '00f067aa0ba902b7'


/** Renders, sends every message (each must be delivered) and returns what the collector received. */
async function deliverAll (collector: OtlpCollector, channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<RecordedRequest[]> {
  const messages = channel.render(events)
  for (const m of messages) expect(await channel.send(m, { signal: signal() })).toEqual({ ok: true })
  const reqs = await collector.waitFor(messages.length)
  for (const r of reqs) expect(r.status, r.text().slice(0, 300)).toBe(200)
  return reqs
}

describe('otlp channel', () => {
  let collector: OtlpCollector

  beforeAll(async () => { collector = await startOtlpCollector() })
  afterAll(async () => { await collector.close() })
  beforeEach(() => {
    collector.reset()
    collector.setDefault(collector.answer)
  })

  const channelFor = (over: Record<string, unknown> = {}): ReturnType<typeof create> => create(otlpConfig({ url: collector.baseUrl, ...over }))

  const sendAll = async (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<RecordedRequest[]> => await deliverAll(collector, channel, events)

  describe('options', () => {
    it('resolves through resolveOptions; serviceName defaults to "pino-alerts", gzip to off', async () => {
      const cfg = otlpConfig({ url: collector.baseUrl })
      expect(cfg).toMatchObject({ name: 'otlp', type: 'otlp', enabled: true, config: { url: collector.baseUrl } })
      expect(cfg.rateLimit).toBeUndefined()
      const [req] = await sendAll(create(cfg), [sampleEvent()])
      expect(req?.header('content-encoding')).toBeUndefined()
      expect(attributesOf(exportOf(req as RecordedRequest).resourceLogs[0]?.resource ?? {})).toEqual({ 'service.name': 'pino-alerts' })
    })

    it('RISK_ALERTS_OTLP_URL configures the channel; invalid or unknown options fail with their path', () => {
      const fromEnv = resolveOptions({ channels: { console: { enabled: false } } }, { RISK_ALERTS_OTLP_URL: 'http://collector:4318' })
      expect(fromEnv.channels.filter((c) => c.name !== 'console').map((c) => [c.name, c.type, c.config.url])).toEqual([['otlp', 'otlp', 'http://collector:4318']])
      expect(() => otlpConfig({ url: 'collector:4318' })).toThrow(ConfigError)
      expect(() => otlpConfig({ url: 'collector:4318' })).toThrow(/channels\.otlp\.url/)
      expect(() => otlpConfig({ url: collector.baseUrl, endpoint: '/v1/logs' })).toThrow(/channels\.otlp\.endpoint: unknown option/)
      expect(() => otlpConfig({ url: collector.baseUrl, gzip: 'yes' })).toThrow(/channels\.otlp\.gzip/)
    })

    it('builds {url}/v1/logs: trailing slashes, a path prefix, a query, a URL already ending in /v1/logs', () => {
      expect(logsEndpoint('http://collector:4318')).toBe('http://collector:4318/v1/logs')
      expect(logsEndpoint('http://collector:4318/')).toBe('http://collector:4318/v1/logs')
      expect(logsEndpoint('https://gw.example.com/otlp//')).toBe('https://gw.example.com/otlp/v1/logs')
      expect(logsEndpoint('https://gw.example.com/otlp?tenant=a')).toBe('https://gw.example.com/otlp/v1/logs?tenant=a')
      expect(logsEndpoint('http://collector:4318/v1/logs')).toBe('http://collector:4318/v1/logs')
      expect(logsEndpoint('http://collector:4318/v1/logs/')).toBe('http://collector:4318/v1/logs')
      expect(logsEndpoint('http://collector:4318/v1/logsx')).toBe('http://collector:4318/v1/logsx/v1/logs')
    })

    it('POSTs to /v1/logs whether the URL has a trailing slash or already names /v1/logs', async () => {
      for (const url of [collector.origin, collector.origin + '/', collector.origin + '/v1/logs', collector.origin + '/v1/logs/']) {
        collector.reset()
        const [req] = await sendAll(create(otlpConfig({ url })), [sampleEvent()])
        expect(req?.method).toBe('POST')
        expect(req?.url).toBe('/v1/logs')
      }
      const prefixed = await startOtlpCollector({ basePath: '/otlp' })
      try {
        const ch = create(otlpConfig({ url: prefixed.baseUrl + '/?tenant=t1' }))
        const [m] = ch.render([sampleEvent()])
        expect(await ch.send(m as OtlpMessage, { signal: signal() })).toEqual({ ok: true })
        expect(prefixed.requests[0]?.url).toBe('/otlp/v1/logs?tenant=t1')
      } finally {
        await prefixed.close()
      }
    })

    it('sends the extra headers, never lets them replace content-type, and names itself in user-agent', async () => {
      const channel = channelFor({ headers: { authorization: `Bearer ${API_KEY}`, 'X-Scope-OrgID': 'tenant-1', 'Content-Type': 'text/plain' } })
      const [req] = await sendAll(channel, [sampleEvent()])
      expect(req?.header('authorization')).toBe(`Bearer ${API_KEY}`)
      expect(req?.header('x-scope-orgid')).toBe('tenant-1')
      expect(req?.header('content-type')).toBe('application/json')
      expect(req?.header('user-agent')).toBe(`pino-alerts/${VERSION}`)
    })
  })

  describe('log records', () => {
    it('one alert → one resource, one scope, one record with every field mapped', async () => {
      const channel = channelFor({ serviceName: 'risk-svc' })
      const event = sampleEvent({
        id: 'evt-0001',
        level: 60,
        fingerprint: 'fp-1234',
        metadata: { order: { id: 42, qty: 1000 }, err: { type: 'Error', message: 'max drawdown', stack: 'Error: max drawdown\n    at x.js:1:1' } }
      })
      const before = BigInt(Date.now()) * 1_000_000n
      const [req] = await sendAll(channel, [event])
      if (req === undefined) throw new Error('no request')
      expect(req.header('content-type')).toBe('application/json')
      const body = exportOf(req)
      expect(body.resourceLogs).toHaveLength(1)
      expect(body.resourceLogs[0]?.resource?.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'risk-svc' } }])
      expect(body.resourceLogs[0]?.scopeLogs).toHaveLength(1)
      expect(body.resourceLogs[0]?.scopeLogs[0]?.scope).toEqual({ name: 'pino-alerts', version: VERSION })
      const records = recordsOf(req)
      expect(records).toHaveLength(1)
      const r = records[0] as LogRecordJson
      // 2025-01-02T03:04:05.678Z in ns, as a decimal string
      expect(r.timeUnixNano).toBe('1735787045678000000')
      expect(typeof r.observedTimeUnixNano).toBe('string')
      expect(BigInt(r.observedTimeUnixNano as string)).toBeGreaterThanOrEqual(before)
      expect(BigInt(r.observedTimeUnixNano as string)).toBeLessThanOrEqual(BigInt(Date.now()) * 1_000_000n)
      expect(r.severityNumber).toBe(21)
      expect(r.severityText).toBe('CRITICAL')
      expect(r.body).toEqual({ stringValue: '[CRITICAL] risk_gate: Order blocked — position limit exceeded' })
      expect(r.traceId).toBeUndefined()
      expect(r.spanId).toBeUndefined()
      expect(r.droppedAttributesCount).toBeUndefined()
      expect(r.attributes?.map((a) => a.key)).toEqual([
        'alert.id', 'alert.source', 'alert.title', 'alert.severity', 'alert.status', 'alert.fingerprint', 'alert.level', 'log.record.uid',
        'alert.label.desk', 'alert.label.reason', 'alert.metadata', 'exception.type', 'exception.message', 'exception.stacktrace'
      ])
      expect(attributesOf(r)).toEqual({
        'alert.id': 'evt-0001',
        'alert.source': 'risk_gate',
        'alert.title': 'Order blocked',
        'alert.severity': 'critical',
        'alert.status': 'firing',
        'alert.fingerprint': 'fp-1234',
        'alert.level': '60',
        'log.record.uid': 'evt-0001',
        'alert.label.desk': 'fx',
        'alert.label.reason': 'max_position',
        'alert.metadata': JSON.stringify(event.metadata),
        'exception.type': 'Error',
        'exception.message': 'max drawdown',
        'exception.stacktrace': 'Error: max drawdown\n    at x.js:1:1'
      })
      expect(r.attributes?.find((a) => a.key === 'alert.level')?.value).toEqual({ intValue: '60' })
      expect(protoProblems(req.text())).toEqual([])
    })

    it('severity: info → 9 INFO, warn → 13 WARN, critical → 21 CRITICAL', () => {
      const channel = channelFor()
      const got = (['info', 'warn', 'critical'] as const).map((severity) => {
        const [m] = channel.render([sampleEvent({ severity })])
        const r = (JSON.parse((m as OtlpMessage).body) as ExportJson).resourceLogs[0]?.scopeLogs[0]?.logRecords[0]
        return [r?.severityNumber, r?.severityText, r?.body.stringValue?.slice(0, 12)]
      })
      expect(got).toEqual([[9, 'INFO', '[INFO] risk_'], [13, 'WARN', '[WARN] risk_'], [21, 'CRITICAL', '[CRITICAL] r']])
    })

    it('a resolved alert reads [RESOLVED] and is sent as INFO, keeping its severity and status as attributes', async () => {
      const [req] = await sendAll(channelFor(), [sampleEvent({ severity: 'critical', status: 'resolved', title: 'Kill switch triggered' })])
      const r = recordsOf(req as RecordedRequest)[0] as LogRecordJson
      expect(r.body.stringValue).toBe('[RESOLVED] risk_gate: Kill switch triggered — position limit exceeded')
      expect([r.severityNumber, r.severityText]).toEqual([9, 'INFO'])
      expect(attributesOf(r)).toMatchObject({ 'alert.status': 'resolved', 'alert.severity': 'critical' })
    })

    it('trace context: traceId/spanId as lowercase hex, decodable as the 16- and 8-byte ids', async () => {
      const event = sampleEvent({ trace: { traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID } })
      const [req] = await sendAll(channelFor(), [event])
      const r = recordsOf(req as RecordedRequest)[0] as LogRecordJson
      expect(r.traceId).toBe(TRACE_ID)
      expect(r.spanId).toBe(SPAN_ID)
      expect(protoProblems((req as RecordedRequest).text())).toEqual([])
      // and what the protobuf decoder makes of them: the very bytes of the W3C ids
      const msg = ExportLogsServiceRequest.decode(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(toProto3Json(exportOf(req as RecordedRequest), []))).finish())
      const decoded = ExportLogsServiceRequest.toObject(msg, { bytes: String }) as unknown as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: Array<{ traceId: string, spanId: string }> }> }> }
      const rec = decoded.resourceLogs[0]?.scopeLogs[0]?.logRecords[0]
      expect(Buffer.from(rec?.traceId ?? '', 'base64').toString('hex')).toBe(TRACE_ID)
      expect(Buffer.from(rec?.spanId ?? '', 'base64').toString('hex')).toBe(SPAN_ID)
    })

    it('trace ids no collector would take are kept as attributes instead of failing the request', async () => {
      const bad = [
        { traceId: 'not-a-trace-id', spanId: SPAN_ID },
        { traceId: '0'.repeat(32), spanId: SPAN_ID },
        { traceId: TRACE_ID, spanId: 'abc' },
        { traceId: Buffer.from(TRACE_ID, 'hex').toString('base64'), spanId: Buffer.from(SPAN_ID, 'hex').toString('base64') }
      ]
      const reqs = await sendAll(channelFor(), bad.map((trace, i) => sampleEvent({ title: `bad trace ${i}`, trace })))
      const records = reqs.flatMap(recordsOf)
      expect(records).toHaveLength(4)
      for (const [i, r] of records.entries()) {
        expect(r.traceId).toBeUndefined()
        expect(r.spanId).toBeUndefined()
        expect(attributesOf(r)['alert.trace_id']).toBe(bad[i]?.traceId)
      }
      // and the fake does refuse such ids when they are sent as ids
      const [m] = channelFor().render([sampleEvent({ trace: { traceId: TRACE_ID, spanId: SPAN_ID } })])
      const body = JSON.parse((m as OtlpMessage).body) as ExportJson
      const rec = body.resourceLogs[0]?.scopeLogs[0]?.logRecords[0] as LogRecordJson
      rec.traceId = Buffer.from(TRACE_ID, 'hex').toString('base64')
      expect(exportProblem(body)).toMatch(/traceId: invalid length for ID/)
    })

    it('a 10 kB body, emoji, CJK and lone surrogates render into accepted, well-formed records', async () => {
      const tenK = 'Ä€😀界'.repeat(2560) // 10 240 UTF-16 units, every kind of UTF-8 length
      const events = [
        sampleEvent({ title: 'Kill switch 🚨 キルスイッチ', body: tenK }),
        sampleEvent({ title: 'lone \ud800 high', body: 'and \udc00 low at ends \ud83d', labels: { ['k\udfff']: 'v\ud800' }, source: 'src\udbff' }),
        sampleEvent({ title: 'control \u001b[31mred\u001b[0m\r\nline', body: 'tab\tnew\nline\u0000nul' })
      ]
      const reqs = await sendAll(channelFor(), events)
      for (const r of reqs) expect(protoProblems(r.text())).toEqual([])
      const records = reqs.flatMap(recordsOf)
      expect(records).toHaveLength(3)
      const text = JSON.stringify(records)
      expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/)
      const byTitle = (t: string): LogRecordJson => records.find((r) => attributesOf(r)['alert.title'] === t) as LogRecordJson
      // the 10 kB body arrives whole
      expect(byTitle('Kill switch 🚨 キルスイッチ').body.stringValue).toBe(`[CRITICAL] risk_gate: Kill switch 🚨 キルスイッチ — ${tenK}`)
      const lone = byTitle('lone \ufffd high')
      expect(lone.body.stringValue).toBe('[CRITICAL] src\ufffd: lone \ufffd high — and \ufffd low at ends \ufffd')
      expect(attributesOf(lone)['alert.label.k\ufffd']).toBe('v\ufffd')
      const ctl = byTitle('control \ufffd[31mred\ufffd[0m\nline')
      expect(ctl.body.stringValue).toBe('[CRITICAL] risk_gate: control \ufffd[31mred\ufffd[0m\nline — tab\tnew\nline\ufffdnul')
    })

    it('over-long fields are cut with … and surplus labels counted in droppedAttributesCount', async () => {
      const labels: Record<string, string> = {}
      for (let i = 0; i < OTLP_LIMITS.labels + 36; i++) labels[`l${String(i).padStart(3, '0')}`] = 'v'.repeat(5000)
      const event = sampleEvent({
        source: 's'.repeat(5000),
        title: 't'.repeat(5000),
        body: 'b'.repeat(100_000),
        labels: { ...labels, ['k'.repeat(500)]: 'long key' },
        metadata: { dump: 'm'.repeat(100_000) }
      })
      const [req] = await sendAll(channelFor(), [event])
      const r = recordsOf(req as RecordedRequest)[0] as LogRecordJson
      const a = attributesOf(r)
      expect(a['alert.source']).toBe('s'.repeat(OTLP_LIMITS.source - 1) + '…')
      expect(a['alert.title']).toBe('t'.repeat(OTLP_LIMITS.title - 1) + '…')
      expect(r.body.stringValue).toBe(`[CRITICAL] ${a['alert.source'] as string}: ${a['alert.title'] as string} — ${'b'.repeat(OTLP_LIMITS.body - 1)}…`)
      expect((a['alert.metadata'] as string).length).toBe(OTLP_LIMITS.metadata)
      expect((a['alert.metadata'] as string).endsWith('…')).toBe(true)
      expect(Object.keys(a).filter((k) => k.startsWith('alert.label.'))).toHaveLength(OTLP_LIMITS.labels)
      expect(a['alert.label.l000']).toBe('v'.repeat(OTLP_LIMITS.labelValue - 1) + '…')
      expect(r.droppedAttributesCount).toBe(37)
      expect(protoProblems((req as RecordedRequest).text())).toEqual([])
    })
  })

  describe('digests', () => {
    /** 30 alerts with long titles and bodies and many labels, mixed severities, one resolved. */
    const bigDigest = (): AlertEvent[] => Array.from({ length: 30 }, (_, i) => sampleEvent({
      severity: (['info', 'warn', 'critical'] as const)[i % 3],
      title: `Alert ${String(i).padStart(2, '0')} ` + 'long title '.repeat(60),
      body: 'body line with <html> & "quotes" and ünïcödé 😀\n'.repeat(70),
      labels: Object.fromEntries(Array.from({ length: 40 }, (_, j) => [`label_${j}`, `value ${j} `.repeat(20)])),
      timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString(),
      ...(i === 7 ? { status: 'resolved' as const } : {})
    }))

    it('a digest of 30 big alerts → ONE request of 30 records, most severe first, within limits, accepted', async () => {
      const channel = channelFor()
      const events = bigDigest()
      const messages = channel.render(events)
      expect(messages).toHaveLength(1)
      const m = messages[0] as OtlpMessage
      expect(m.records).toBe(30)
      expect(byteLength(m.body)).toBeLessThanOrEqual(OTLP_MAX_REQUEST_BYTES)
      const [req] = await sendAll(channel, events)
      const records = recordsOf(req as RecordedRequest)
      expect(records).toHaveLength(30)
      expect(new Set(records.map((r) => attributesOf(r)['alert.id'])).size).toBe(30)
      // critical (21) first, then warn (13), then info (9, and the resolved one) — oldest first within each
      const sev = records.map((r) => attributesOf(r)['alert.severity'])
      expect(sev).toEqual([...Array(10).fill('critical'), ...Array(10).fill('warn'), ...Array(10).fill('info')])
      const times = records.map((r) => r.timeUnixNano)
      for (let i = 1; i < 30; i++) if (sev[i] === sev[i - 1]) expect(BigInt(times[i] as string) > BigInt(times[i - 1] as string)).toBe(true)
      expect(records.filter((r) => r.body.stringValue?.startsWith('[RESOLVED]'))).toHaveLength(1)
      for (const r of records) expect(Object.keys(attributesOf(r)).filter((k) => k.startsWith('alert.label.'))).toHaveLength(40)
      expect(protoProblems((req as RecordedRequest).text())).toEqual([])
    })

    it(`more than ${OTLP_MAX_RECORDS} alerts are split into requests of at most ${OTLP_MAX_RECORDS} records, all accepted`, async () => {
      const events = Array.from({ length: 2 * OTLP_MAX_RECORDS + 5 }, (_, i) => sampleEvent({ title: `alert ${i}` }))
      const channel = channelFor()
      const messages = channel.render(events)
      expect(messages.map((m) => m.records)).toEqual([OTLP_MAX_RECORDS, OTLP_MAX_RECORDS, 5])
      const reqs = await sendAll(channel, events)
      const titles = reqs.flatMap(recordsOf).map((r) => attributesOf(r)['alert.title'])
      expect(titles).toEqual(events.map((e) => e.title))
    })

    it('a digest of maximal alerts is split by size: every request ≤ 1 MiB, every one accepted', async () => {
      const huge = Array.from({ length: 12 }, (_, i) => sampleEvent({
        title: `huge ${i} ` + '界'.repeat(3000),
        body: '😀'.repeat(50_000),
        labels: Object.fromEntries(Array.from({ length: 80 }, (_, j) => [`k${j}`, '"'.repeat(3000)])),
        metadata: { blob: 'é'.repeat(50_000) }
      }))
      const channel = channelFor()
      const messages = channel.render(huge)
      expect(messages.length).toBeGreaterThan(1)
      for (const m of messages) expect(byteLength(m.body)).toBeLessThanOrEqual(OTLP_MAX_REQUEST_BYTES)
      expect(messages.reduce((n, m) => n + m.records, 0)).toBe(12)
      const reqs = await sendAll(channel, huge)
      expect(reqs.flatMap(recordsOf)).toHaveLength(12)
      for (const r of reqs) expect(protoProblems(r.text())).toEqual([])
      // a smaller budget splits further, still one record at least per request
      expect(renderOtlp(huge, 'x', { maxBytes: 400_000 }).every((m) => m.records >= 1 && byteLength(m.body) <= 400_000)).toBe(true)
    })
  })

  describe('gzip', () => {
    it('gzip: true sends content-encoding gzip; the body decompresses to the rendered JSON and is accepted', async () => {
      const channel = channelFor({ gzip: true })
      const events = Array.from({ length: 30 }, (_, i) => sampleEvent({ title: `gz ${i}`, body: 'repetitive '.repeat(100) }))
      const [m] = channel.render(events)
      expect(await channel.send(m as OtlpMessage, { signal: signal() })).toEqual({ ok: true })
      const [req] = await collector.waitFor(1)
      if (req === undefined) throw new Error('no request')
      expect(req.status, req.text().slice(0, 300)).toBe(200)
      expect(req.header('content-encoding')).toBe('gzip')
      expect(req.header('content-type')).toBe('application/json')
      expect([...req.body.subarray(0, 2)]).toEqual([0x1f, 0x8b])
      expect(gunzipSync(req.body).toString('utf8')).toBe((m as OtlpMessage).body)
      expect(req.body.length).toBeLessThan(byteLength((m as OtlpMessage).body) / 5)
      expect(recordsOf(req)).toHaveLength(30)
    })

    it('the fake reads gzip the way a collector does: a broken stream is a 400', async () => {
      const res = await fetch(collector.origin + '/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: '{"resourceLogs":[]}' })
      expect(res.status).toBe(400)
    })
  })

  describe('answers', () => {
    const sendOne = async (script: Script, over: Record<string, unknown> = {}, events = [sampleEvent()]) => {
      collector.script(script)
      const channel = channelFor(over)
      const [m] = channel.render(events)
      return await channel.send(m as OtlpMessage, { signal: signal() })
    }

    it('partialSuccess with rejected records → permanent, with the collector\'s message', async () => {
      const events = [sampleEvent(), sampleEvent({ severity: 'warn' }), sampleEvent({ severity: 'info' })]
      const out = await sendOne(otlpPartialSuccess('2', 'log records dropped: attribute value too long'), {}, events)
      expect(out).toEqual({
        ok: false,
        retryable: false,
        status: 200,
        error: `otlp (${collector.origin}/v1/logs): collector rejected 2 of 3 log records: log records dropped: attribute value too long`
      })
      // the request itself was valid: the fake validated it before answering
      expect(collector.requests[0]?.status).toBe(200)
    })

    it('partialSuccess with a number of rejected records (a lenient server) is permanent too', async () => {
      expect(await sendOne(otlpPartialSuccess(1, 'quota'))).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining('rejected 1 of 1 log record: quota') })
    })

    it('partialSuccess with 0 rejected and a warning, an empty {} or no body → delivered', async () => {
      expect(await sendOne(otlpPartialSuccess('0', 'deprecated attribute names'))).toEqual({ ok: true })
      expect(await sendOne({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' })).toEqual({ ok: true })
      expect(await sendOne({ status: 200, body: '' })).toEqual({ ok: true })
    })

    it('a partialSuccess message that echoes a secret is masked', async () => {
      const gw = await startOtlpCollector({ basePath: '/' + SECRET_PATH })
      try {
        const ch = create(otlpConfig({ url: gw.baseUrl, headers: { 'x-api-key': API_KEY } }))
        gw.script(otlpPartialSuccess('1', `tenant ${SECRET_PATH} key ${API_KEY} over quota`, gw.logsPath))
        const [m] = ch.render([sampleEvent()])
        const out = await ch.send(m as OtlpMessage, { signal: signal() })
        expect(out).toMatchObject({ ok: false, retryable: false })
        if (out.ok) return
        expect(out.error).toContain('over quota')
        expect(out.error).not.toContain(SECRET_PATH)
        expect(out.error).not.toContain(API_KEY)
        expect(out.error).toMatch(/^otlp \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\): collector rejected 1 of 1/)
      } finally {
        await gw.close()
      }
    })

    it('a plain path prefix is no secret: the error keeps the channel name and the collector\'s message', async () => {
      const prefixed = await startOtlpCollector({ basePath: '/otlp' })
      try {
        prefixed.script(otlpBadRequest('otlp receiver: unexpected end of JSON input'))
        const ch = create(otlpConfig({ url: prefixed.baseUrl }))
        const [m] = ch.render([sampleEvent()])
        const out = await ch.send(m as OtlpMessage, { signal: signal() })
        expect(out).toEqual({
          ok: false,
          retryable: false,
          status: 400,
          error: `otlp (${prefixed.origin}/***): HTTP 400 otlp receiver: unexpected end of JSON input`
        })
      } finally {
        await prefixed.close()
      }
    })

    const cases: Array<[string, ScriptedResponse, { retryable: boolean, retryAfterMs?: number, status: number, error?: RegExp }]> = [
      ['429 + Retry-After', otlpThrottled(7, 429), { retryable: true, retryAfterMs: 7000, status: 429 }],
      ['503 + Retry-After', otlpThrottled(3, 503), { retryable: true, retryAfterMs: 3000, status: 503 }],
      ['503 + RetryInfo (no header)', otlpRetryInfo(2.5), { retryable: true, retryAfterMs: 2500, status: 503 }],
      ['502', otlpUnavailable(502), { retryable: true, status: 502, error: /HTTP 502 upstream unavailable$/ }],
      ['504', { status: 504, body: 'gateway timeout' }, { retryable: true, status: 504 }],
      ['400 Status', otlpBadRequest('ReadObjectCB: expect { or n'), { retryable: false, status: 400, error: /HTTP 400 ReadObjectCB: expect \{ or n$/ }],
      ['413', otlpStatus(413, 3, 'request body too large'), { retryable: false, status: 413 }],
      ['500 from the collector (Status: a permanent pipeline error)', otlpInternal(), { retryable: false, status: 500, error: /HTTP 500 Permanent error/ }],
      ['500 from a proxy in front (no Status body)', { status: 500, headers: { 'content-type': 'text/html' }, body: '<h1>Internal Server Error</h1>' }, { retryable: true, status: 500 }],
      ['401 Status', otlpStatus(401, 16, 'missing or invalid API key'), { retryable: false, status: 401 }],
      ['404 (wrong path)', { status: 404, body: '404 page not found\n' }, { retryable: false, status: 404 }],
      ['429 without a Retry-After', otlpStatus(429, 8, 'too many requests'), { retryable: true, status: 429 }]
    ]
    for (const [what, answer, expected] of cases) {
      it(`${what} → ${expected.retryable ? 'retryable' : 'permanent'}`, async () => {
        const out = await sendOne(answer)
        expect(out).toMatchObject({ ok: false, retryable: expected.retryable, status: expected.status })
        if (out.ok) return
        expect(out.retryAfterMs).toBe(expected.retryAfterMs)
        expect(out.error).toMatch(new RegExp(`^otlp \\(${collector.origin.replace(/[.]/g, '\\.')}/v1/logs\\): HTTP ${expected.status}`))
        if (expected.error !== undefined) expect(out.error).toMatch(expected.error)
      })
    }

    it('what the fake refuses as a collector would: wrong path 404, method 405, content type 415, bad JSON 400', async () => {
      const post = async (path: string, init: RequestInit): Promise<Response> => await fetch(collector.origin + path, init)
      const valid = (channelFor().render([sampleEvent()])[0] as OtlpMessage).body
      expect((await post('/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: valid })).status).toBe(404)
      expect((await post('/v1/logs', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: valid })).status).toBe(405)
      expect((await post('/v1/logs', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: valid })).status).toBe(415)
      const bad = await post('/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs":' })
      expect(bad.status).toBe(400)
      expect(await bad.json()).toMatchObject({ code: 3, message: expect.any(String) })
      expect((await post('/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: valid })).status).toBe(200)
    })
  })

  describe('the request is OTLP JSON, as the official protobuf definitions read it', () => {
    const rendered = (): ExportJson => JSON.parse((channelFor().render([sampleEvent({ trace: { traceId: TRACE_ID, spanId: SPAN_ID } })])[0] as OtlpMessage).body) as ExportJson
    const firstRecord = (b: ExportJson): Record<string, unknown> => b.resourceLogs[0]?.scopeLogs[0]?.logRecords[0] as unknown as Record<string, unknown>

    it('single alerts, digests, resolved ones and trace ids decode without unknown or mistyped fields', () => {
      const channel = channelFor({ serviceName: 'svc' })
      const sets: AlertEvent[][] = [
        [sampleEvent()],
        [sampleEvent({ status: 'resolved', trace: { traceId: TRACE_ID, spanId: SPAN_ID } })],
        Array.from({ length: 25 }, (_, i) => sampleEvent({ severity: (['info', 'warn', 'critical'] as const)[i % 3], title: `t${i}`, labels: { i: String(i) } }))
      ]
      for (const events of sets) for (const m of channel.render(events)) expect(protoProblems(m.body)).toEqual([])
    })

    // The proof must be able to fail: each of these mistakes is found by it, and refused by the fake.
    const mistakes: Array<[string, (r: Record<string, unknown>) => void, RegExp]> = [
      ['a snake_case field name', (r) => { r.severity_number = r.severityNumber; delete r.severityNumber }, /severity_number: unknown field/],
      ['an unknown field', (r) => { r.severity = 'critical' }, /\.severity: unknown field/],
      ['timeUnixNano as a JSON number', (r) => { r.timeUnixNano = 1735787045678000000 }, /timeUnixNano: sent 1735787045678000000 \(number\)/],
      ['severityNumber as an enum name', (r) => { r.severityNumber = 'SEVERITY_NUMBER_FATAL' }, /severityNumber: sent "SEVERITY_NUMBER_FATAL"/],
      ['an attribute value that is no AnyValue', (r) => { (r.attributes as Array<{ value: unknown }>)[0]!.value = 'evt' }, /attributes\[0\]\.value: AnyValue must set exactly one/],
      ['an AnyValue with two members', (r) => { r.body = { stringValue: 'x', intValue: '1' } }, /body: AnyValue must set exactly one/],
      ['a base64 traceId', (r) => { r.traceId = Buffer.from(TRACE_ID, 'hex').toString('base64') }, /traceId: .* is not hex/]
    ]
    for (const [what, mutate, found] of mistakes) {
      it(`finds ${what}`, () => {
        const body = rendered()
        expect(protoProblems(JSON.stringify(body))).toEqual([])
        mutate(firstRecord(body))
        expect(protoProblems(JSON.stringify(body)).join('\n')).toMatch(found)
        expect(exportProblem(body), 'the fake must refuse it too').toBeDefined()
      })
    }
  })
})

// ---------------------------------------------------------------------------------------------------

describe('otlp maxBodyBytes: every request within the cap (a collector that answers 413 above it)', () => {
  const CAP = 64 * 1024
  let collector: OtlpCollector

  beforeAll(async () => { collector = await startOtlpCollector({ maxBodyBytes: CAP }) })
  afterAll(async () => { await collector.close() })
  beforeEach(() => {
    collector.reset()
    collector.setDefault(collector.answer)
  })

  const sendAll = async (channel: ReturnType<typeof create>, events: AlertEvent[]): Promise<RecordedRequest[]> => await deliverAll(collector, channel, events)

  /** 200 alerts of about 1.5 kB each as records (some 300 kB in all), mixed severities. */
  const twoHundred = (): AlertEvent[] => Array.from({ length: 200 }, (_, i) => sampleEvent({
    severity: (['info', 'warn', 'critical'] as const)[i % 3],
    title: `alert ${i}`,
    body: `body of alert ${i} with "quotes" and ünïcödé 😀 `.repeat(30),
    timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, i)).toISOString()
  }))

  for (const gzip of [false, true]) {
    it(`a digest of 200 alerts with maxBodyBytes 64 KiB arrives whole in several requests, each within the cap, none refused${gzip ? ' (gzip: the uncompressed body is bounded)' : ''}`, async () => {
      const channel = create(otlpConfig({ url: collector.baseUrl, maxBodyBytes: CAP, gzip }))
      const events = twoHundred()
      const messages = channel.render(events)
      expect(messages.length).toBeGreaterThan(1)
      for (const m of messages) expect(byteLength(m.body)).toBeLessThanOrEqual(CAP)
      const reqs = await sendAll(channel, events)
      for (const r of reqs) {
        expect(decodedBody(r).length).toBeLessThanOrEqual(CAP)
        expect(protoProblems(decodedBody(r).toString('utf8'))).toEqual([])
      }
      const records = reqs.flatMap(recordsOf)
      expect(records.map((r) => attributesOf(r)['alert.id']).sort()).toEqual(events.map((e) => e.id).sort())
      // nothing was cut, most severe first across the requests
      for (const r of records) expect(attributesOf(r)['alert.truncated']).toBeUndefined()
      const n = records.map((r) => r.severityNumber as number)
      for (let i = 1; i < n.length; i++) expect(n[i]).toBeLessThanOrEqual(n[i - 1] as number)
    })
  }

  it('a single 2 MiB alert arrives cut within the cap, flagged alert.truncated, its body marked', async () => {
    const cap = 16 * 1024
    const channel = create(otlpConfig({ url: collector.baseUrl, maxBodyBytes: cap }))
    // 3 bytes a character: the 16 384-character field limit alone leaves 48 kB
    const big = sampleEvent({ body: '界'.repeat(700_000) })
    const messages = channel.render([big])
    expect(messages).toHaveLength(1)
    expect(byteLength(messages[0]?.body ?? '')).toBeLessThanOrEqual(cap)
    const [req] = await sendAll(channel, [big])
    expect(req?.body.length).toBeLessThanOrEqual(cap)
    expect(req?.body.length).toBeGreaterThan(cap - 200)
    const [r] = recordsOf(req as RecordedRequest)
    const attrs = attributesOf(r as LogRecordJson)
    expect(attrs['alert.truncated']).toBe(true)
    expect(r?.body.stringValue).toMatch(/^\[CRITICAL\] risk_gate: Order blocked — 界+… \[truncated\]$/)
    expect(attrs).toMatchObject({ 'alert.id': big.id, 'alert.title': big.title, 'alert.label.desk': 'fx', 'alert.label.reason': 'max_position' })
    expect(protoProblems((req as RecordedRequest).text())).toEqual([])
  })

  it('an alert too big everywhere: the body, then the title, then metadata, the exception and labels give way, and it still fits', async () => {
    const cap = 8 * 1024
    const channel = create(otlpConfig({ url: collector.baseUrl, maxBodyBytes: cap }))
    const e = sampleEvent({
      title: '"'.repeat(5000),
      body: '"'.repeat(100_000),
      labels: Object.fromEntries(Array.from({ length: 80 }, (_, j) => [`k${j}`, '"'.repeat(3000)])),
      metadata: { blob: 'é'.repeat(50_000), err: { type: 'Error', message: 'm'.repeat(20_000), stack: 's'.repeat(20_000) } }
    })
    const [req] = await sendAll(channel, [e])
    expect(req?.body.length).toBeLessThanOrEqual(cap)
    const [r] = recordsOf(req as RecordedRequest)
    const attrs = attributesOf(r as LogRecordJson)
    expect(attrs['alert.truncated']).toBe(true)
    expect(String(attrs['alert.title'])).toMatch(/… \[truncated\]$/)
    expect(String(attrs['alert.metadata'])).toMatch(/… \[truncated\]$/)
    // identity stays whole
    expect(attrs).toMatchObject({ 'alert.id': e.id, 'log.record.uid': e.id, 'alert.fingerprint': e.fingerprint, 'alert.source': e.source, 'alert.severity': 'critical' })
    // labels left out are counted (16 over the 64 limit, and the ones dropped for size)
    const labels = Object.keys(attrs).filter((k) => k.startsWith('alert.label.'))
    expect(labels.length).toBeLessThan(64)
    expect(r?.droppedAttributesCount).toBe(80 - labels.length)
    expect(protoProblems((req as RecordedRequest).text())).toEqual([])
  })

  it('in a digest an alert over the cap is cut and the others packed; rendering 100 000 alerts stays linear', () => {
    const huge = sampleEvent({ severity: 'critical', body: '"'.repeat(100_000) })
    const small = Array.from({ length: 20 }, (_, i) => sampleEvent({ severity: 'info', title: `small ${i}` }))
    const messages = renderOtlp([...small, huge], 'svc', { maxBytes: 16 * 1024 })
    for (const m of messages) expect(byteLength(m.body)).toBeLessThanOrEqual(16 * 1024)
    expect(messages.reduce((n, m) => n + m.records, 0)).toBe(21)
    const many = Array.from({ length: 100_000 }, (_, i) => sampleEvent({ title: `flood ${i}` }))
    const t0 = performance.now()
    const out = renderOtlp(many, 'svc', { maxBytes: CAP })
    const ms = performance.now() - t0
    expect(out.reduce((n, m) => n + m.records, 0)).toBe(100_000)
    for (const m of out) expect(byteLength(m.body)).toBeLessThanOrEqual(CAP)
    // a second or two; a packer that re-serialised each request as it grew would take minutes
    expect(ms).toBeLessThan(20_000)
  })
})

describe('otlp through a real pino transport (worker thread, built package)', () => {

  it('logger.fatal with trace_id/span_id → the collector receives one valid record carrying them', async () => {
    const collector = await startOtlpCollector({ basePath: '/otlp' })
    try {
      const transport = pino.transport({
        target: 'pino-alerts',
        options: { env: false, channels: { console: { enabled: false }, otlp: { url: collector.baseUrl, serviceName: 'risk-svc', gzip: true } } }
      })
      const logger = pino({ name: 'risk-svc' }, transport)
      logger.fatal({
        alert: { source: 'kill_switch', labels: { reason: 'max_drawdown_exceeded' } },
        trace_id: TRACE_ID,
        span_id: SPAN_ID,
        trace_flags: '01'
      }, 'Kill switch triggered')
      // transport.end() blocks this thread until the worker is done, and the worker waits for the
      // delivery: the fake (on this thread) must have written its answer before (as in chat-e2e).
      await collector.waitFor(1, 10_000)
      while (collector.requests[0]?.status === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      await endTransport(transport)

      expect(collector.requests).toHaveLength(1)
      const req = collector.requests[0] as RecordedRequest
      expect(req.status, req.text()).toBe(200)
      expect(req.path).toBe('/otlp/v1/logs')
      expect(req.header('content-encoding')).toBe('gzip')
      const body = exportOf(req)
      expect(exportProblem(body)).toBeUndefined()
      expect(protoProblems(JSON.stringify(body))).toEqual([])
      expect(attributesOf(body.resourceLogs[0]?.resource ?? {})).toEqual({ 'service.name': 'risk-svc' })
      const records = recordsOf(req)
      expect(records).toHaveLength(1)
      const r = records[0] as LogRecordJson
      expect(r.traceId).toBe(TRACE_ID)
      expect(r.spanId).toBe(SPAN_ID)
      expect([r.severityNumber, r.severityText]).toEqual([21, 'CRITICAL'])
      expect(r.body.stringValue).toBe('[CRITICAL] kill_switch: Kill switch triggered')
      expect(attributesOf(r)).toMatchObject({ 'alert.source': 'kill_switch', 'alert.level': '60', 'alert.label.reason': 'max_drawdown_exceeded' })
      // the record's time is pino's, within the last minute
      expect(Math.abs(Number(BigInt(r.timeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(60_000)
    } finally {
      await collector.close()
    }
  })
})
