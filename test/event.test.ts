import { describe, expect, it } from 'vitest'
import { AlertEvent, fromRecord, fingerprintOf, severityForLevel } from '../src/event.js'
import { InvalidAlertError } from '../src/errors.js'
import { recordContext } from '../src/levels.js'
import { resolveOptions } from '../src/options.js'

const ctx = (options: Record<string, unknown> = {}, levels?: { values: Record<string, number> }): ReturnType<typeof recordContext> =>
  recordContext(resolveOptions(options, {}), levels)

const record = (extra: Record<string, unknown>): Record<string, unknown> => ({
  level: 50, time: Date.UTC(2026, 10, 27, 9, 30, 0, 123), pid: 4242, hostname: 'trader-1', msg: 'Order blocked', ...extra
})

describe('fromRecord', () => {
  it('maps every field of SPEC §2 from a tagged record', () => {
    const e = fromRecord(record({
      name: 'risk-svc',
      alert: { source: 'risk_gate', labels: { symbol: 'BTC-USD', qty: 5, live: true, nothing: null }, metadata: { limit: 100 } },
      order: { id: 'o-1', qty: 5 },
      err: { type: 'Error', message: 'limit exceeded', stack: 'Error: limit exceeded' },
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: 'b7ad6b7169203331'
    }), ctx())
    expect(e).toBeInstanceOf(AlertEvent)
    const j = (e as AlertEvent).toJSON()
    expect(j.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(j.source).toBe('risk_gate')
    expect(j.severity).toBe('critical')
    expect(j.title).toBe('Order blocked')
    expect(j.body).toBe('')
    expect(j.labels).toEqual({ symbol: 'BTC-USD', qty: '5', live: 'true' })
    expect(j.metadata).toEqual({
      order: { id: 'o-1', qty: 5 },
      err: { type: 'Error', message: 'limit exceeded', stack: 'Error: limit exceeded' },
      limit: 100
    })
    expect(j.timestamp).toBe('2026-11-27T09:30:00.123Z')
    expect(j.level).toBe(50)
    expect(j.fingerprint).toBe(fingerprintOf('risk_gate', 'Order blocked', { symbol: 'BTC-USD', qty: '5', live: 'true' }))
    expect(j.status).toBe('firing')
    expect(j.trace).toEqual({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' })
  })

  it('uses alert.title as title and the message as body; source falls back to name, then "app"', () => {
    const e = fromRecord(record({ name: 'svc', alert: { title: 'VaR near limit' }, msg: 'VaR 90% of 1M' }), ctx()) as AlertEvent
    expect([e.source, e.title, e.body]).toEqual(['svc', 'VaR near limit', 'VaR 90% of 1M'])
    const f = fromRecord(record({ alert: true }), ctx()) as AlertEvent
    expect(f.source).toBe('app')
  })

  it('takes id, fingerprint, explicit severity (case-insensitive, warning → warn) and status from the alert', () => {
    const e = fromRecord(record({ alert: { id: 'a-1', fingerprint: 'fp', severity: 'WARNING', resolved: true } }), ctx()) as AlertEvent
    expect([e.id, e.fingerprint, e.severity, e.status]).toEqual(['a-1', 'fp', 'warn', 'resolved'])
    expect((fromRecord(record({ alert: { status: 'resolved' } }), ctx()) as AlertEvent).status).toBe('resolved')
    expect((fromRecord(record({ level: 10, alert: { severity: 'Critical' } }), ctx()) as AlertEvent).severity).toBe('critical')
  })

  it('is not an alert without the tag, unless match.minLevel says so', () => {
    expect(fromRecord(record({}), ctx())).toBeNull()
    expect(fromRecord(record({ alert: false }), ctx())).toBeNull()
    const m = ctx({ match: { minLevel: 'error' } })
    expect(fromRecord(record({ level: 40 }), m)).toBeNull()
    expect((fromRecord(record({ level: 50 }), m) as AlertEvent).severity).toBe('critical')
    expect(fromRecord(record({ level: 60 }), m)).not.toBeNull()
  })

  it('honours alertKey', () => {
    const c = ctx({ alertKey: 'notify' })
    expect(fromRecord(record({ alert: true }), c)).toBeNull()
    expect((fromRecord(record({ notify: { source: 'x' } }), c) as AlertEvent).source).toBe('x')
  })

  it('rejects wrong field types with an error naming the field', () => {
    const bad: Array<[unknown, string]> = [
      [{ source: 5 }, 'alert.source'],
      [{ labels: 'x' }, 'alert.labels'],
      [{ labels: [1] }, 'alert.labels'],
      [{ metadata: 3 }, 'alert.metadata'],
      [{ severity: 'fatal' }, 'alert.severity'],
      [{ status: 'open' }, 'alert.status'],
      [{ title: {} }, 'alert.title'],
      [42, 'alert'],
      ['yes', 'alert']
    ]
    for (const [alert, field] of bad) {
      let err: unknown
      try { fromRecord(record({ alert }), ctx()) } catch (e) { err = e }
      expect(err, JSON.stringify(alert)).toBeInstanceOf(InvalidAlertError)
      expect((err as InvalidAlertError).field).toBe(field)
    }
  })

  it('an id that cannot travel in an HTTP header is replaced by a UUID made from it; the original stays in metadata.originalId', () => {
    const bad = ['ord-1-€', 'lat1-é', 'a\r\nx-injected: 1', 'a\nb', 'tab\there', 'ctl\u0001', 'del\u007f', ' padded', 'padded ', 'x'.repeat(129)]
    const seen = new Set<string>()
    for (const id of bad) {
      const e = fromRecord(record({ alert: { id }, order: { id: 'o-1' } }), ctx()) as AlertEvent
      expect(e.id, JSON.stringify(id)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(e.metadata).toEqual({ order: { id: 'o-1' }, originalId: id })
      // The same bad id always becomes the same new one (retries, replays and duplicates stay recognisable).
      expect((fromRecord(record({ alert: { id } }), ctx()) as AlertEvent).id).toBe(e.id)
      seen.add(e.id)
    }
    expect(seen.size).toBe(bad.length)
    // Printable ASCII without surrounding spaces, up to 128 characters, passes untouched.
    for (const id of ['a-1', 'ord 7/x:y=z', '~!@#$%^&*()_+{}|:"<>?`[];\',./', 'x'.repeat(128)]) {
      const e = fromRecord(record({ alert: { id } }), ctx()) as AlertEvent
      expect(e.id).toBe(id)
      expect(e.metadata).not.toHaveProperty('originalId')
    }
    // An event without metadata gets it for the original id alone; the shared empty metadata stays empty.
    const lone = fromRecord({ level: 50, msg: 'm', alert: { id: 'ord-€' } }, ctx()) as AlertEvent
    expect(lone.toJSON().metadata).toEqual({ originalId: 'ord-€' })
    expect((fromRecord({ level: 50, msg: 'm', alert: true }, ctx()) as AlertEvent).toJSON().metadata).toEqual({})
    // dispatch() input is read the same way; fromJSON (a stored or serialised event) keeps what it is given.
    expect(AlertEvent.from({ source: 's', title: 't', id: 'ord-€' }).id).toBe(lone.id)
    expect(AlertEvent.fromJSON({ ...lone.toJSON(), id: 'ord-€' }).id).toBe('ord-€')
  })

  it('reads ISO string times and string levels', () => {
    const e = fromRecord({ level: 'warn', time: '2026-01-02T03:04:05.000Z', msg: 'm', alert: true }, ctx()) as AlertEvent
    expect([e.level, e.severity, e.timestamp]).toEqual([40, 'warn', '2026-01-02T03:04:05.000Z'])
  })
})

describe('level → severity', () => {
  it('maps the six pino levels by default', () => {
    const c = ctx()
    const got = Object.fromEntries([10, 20, 30, 40, 50, 60].map((l) => [l, (fromRecord(record({ level: l, alert: true }), c) as AlertEvent).severity]))
    expect(got).toEqual({ 10: 'info', 20: 'info', 30: 'info', 40: 'warn', 50: 'critical', 60: 'critical' })
  })

  it('severityByLevel by name and number; custom levels by name once pino sent them', () => {
    const levels = { values: { trace: 10, debug: 20, info: 30, audit: 35, warn: 40, risk: 45, error: 50, fatal: 60 } }
    const c = ctx({ severityByLevel: { risk: 'critical', 35: 'warn', info: 'warn' } }, levels)
    expect(severityForLevel(45, c)).toBe('critical')
    expect(severityForLevel(35, c)).toBe('warn')
    expect(severityForLevel(30, c)).toBe('warn')
    expect(severityForLevel(60, c)).toBe('critical')
    // Without pino's levels the name "risk" is unknown: the number decides (45 → warn).
    expect(severityForLevel(45, ctx({ severityByLevel: { risk: 'critical' } }))).toBe('warn')
  })

  it('match.minLevel accepts custom names once known, and rejects unknown ones', () => {
    const levels = { values: { info: 30, risk: 45 } }
    expect(ctx({ match: { minLevel: 'risk' } }, levels).minLevel).toBe(45)
    expect(() => ctx({ match: { minLevel: 'risk' } })).toThrow(/match\.minLevel: got "risk"/)
  })
})

describe('AlertEvent JSON', () => {
  it('round-trips exactly', () => {
    const e = fromRecord(record({ alert: { source: 's', labels: { a: 'b' } }, trace_id: 't', span_id: 'u', extra: [1, { x: null }] }), ctx()) as AlertEvent
    const j = JSON.parse(JSON.stringify(e))
    const back = AlertEvent.fromJSON(j)
    expect(back.toJSON()).toEqual(e.toJSON())
    expect(JSON.stringify(back)).toBe(JSON.stringify(e))
    expect(AlertEvent.fromJSON(JSON.stringify(e)).toJSON()).toEqual(e.toJSON())
  })

  it('fromJSON names the bad field', () => {
    const good = (AlertEvent.from({ source: 's', title: 't' })).toJSON() as unknown as Record<string, unknown>
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, severity: 'fatal' }, /severity/],
      [{ ...good, timestamp: 'yesterday' }, /timestamp/],
      [{ ...good, labels: { a: 1 } }, /labels\.a/],
      [{ ...good, level: '50' }, /level/],
      [{ ...good, id: undefined }, /\bid\b/],
      [{ ...good, status: 'open' }, /status/],
      [{ ...good, trace: { traceId: 1 } }, /trace\.traceId/]
    ]
    for (const [v, re] of cases) expect(() => AlertEvent.fromJSON(v)).toThrow(re)
    expect(() => AlertEvent.fromJSON('not json')).toThrow(/not valid JSON/)
    expect(() => AlertEvent.fromJSON([])).toThrow(InvalidAlertError)
  })

  it('from() requires source and title and defaults the rest', () => {
    const e = AlertEvent.from({ source: 'risk_gate', title: 'Order blocked' })
    expect(e.severity).toBe('warn')
    expect(e.status).toBe('firing')
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(Date.parse(e.timestamp)).toBeGreaterThan(Date.now() - 5000)
    expect(e.fingerprint).toBe(fingerprintOf('risk_gate', 'Order blocked', {}))
    expect(() => AlertEvent.from({ title: 'x' } as never)).toThrow(/source/)
    expect(() => AlertEvent.from({ source: 'x' } as never)).toThrow(/title/)
    expect(() => AlertEvent.from({ source: 'x', title: 'y', severity: 'loud' })).toThrow(/severity/)
  })

  it('fingerprint is stable and ignores label order, differs by content', () => {
    expect(fingerprintOf('s', 't', { a: '1', b: '2' })).toBe(fingerprintOf('s', 't', { b: '2', a: '1' }))
    expect(fingerprintOf('s', 't', { a: '1' })).not.toBe(fingerprintOf('s', 't', { a: '2' }))
    expect(fingerprintOf('s', 't', {})).not.toBe(fingerprintOf('s', 'u', {}))
  })
})

describe('metadata nested too deep to serialise (Step 13, hostile records)', () => {
  const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
  const depthOf = (v: unknown): number => {
    let d = 0
    while (v !== null && typeof v === 'object') { v = (v as Record<string, unknown>).a; d++ }
    return d
  }

  it('a record nested 100 000 levels deep becomes an alert every channel can serialise: cut at 64 levels, marked', () => {
    const line = `{"level":60,"time":1700000000000,"msg":"deep","alert":{"source":"hostile"},"a":${nested(100_000)}}`
    const e = fromRecord(JSON.parse(line) as Record<string, unknown>, ctx()) as AlertEvent
    expect(() => JSON.stringify(e.toJSON())).not.toThrow()
    expect(depthOf(e.metadata)).toBe(64)
    expect(JSON.stringify(e.toJSON())).toContain('"[nested deeper than 64 levels]"')
    expect(AlertEvent.fromJSON(JSON.parse(JSON.stringify(e.toJSON()))).metadata).toEqual(e.metadata)
  })

  it('metadata within 64 levels is kept as it is (the same object); dispatch input is cut the same way, cycles included', () => {
    const ok = fromRecord(JSON.parse(`{"level":50,"msg":"m","alert":true,"a":${nested(60)}}`) as Record<string, unknown>, ctx()) as AlertEvent
    expect(depthOf(ok.metadata)).toBe(61)
    const cyclic: Record<string, unknown> = { when: new Date(0) }
    cyclic.self = cyclic
    const e = AlertEvent.from({ source: 's', title: 't', metadata: cyclic })
    expect(JSON.parse(JSON.stringify(e.toJSON())).metadata.when).toBe('1970-01-01T00:00:00.000Z')
    expect(JSON.stringify(e.toJSON())).toContain('[nested deeper than 64 levels]')
  })
})
