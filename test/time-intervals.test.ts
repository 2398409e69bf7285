import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import type { Alerter, AlertsOptions } from '../src/index.js'
import { AlertEvent } from '../src/event.js'
import { routeFor } from '../src/pipeline/route.js'
import { readJsonl, tempDir } from './helpers/run.js'

// Time intervals follow Alertmanager (SPEC §7): a rule matches by its matchers alone; inside its
// muteTime or outside its activeTime it still matches (and stops the walk unless `continue`) but
// notifies nobody — the alert is stored and counted as suppressed 'mute', and never falls through to
// the severity matrix or to another rule. The clock is injected (`now`), every interval is in UTC, and
// the channels are files in a temp dir, so where an alert arrived is what each file holds.

const SAT_NOON = Date.parse('2026-12-05T12:00:00.000Z') // a Saturday
const MON_10 = Date.parse('2026-12-07T10:00:00.000Z') // a Monday
const MON_22 = Date.parse('2026-12-07T22:00:00.000Z')
const MON_09 = Date.parse('2026-12-07T09:00:00.000Z')
const MON_BEFORE_09 = MON_09 - 1 // 08:59:59.999

const timeIntervals: NonNullable<AlertsOptions['timeIntervals']> = {
  weekend: [{ weekdays: ['saturday', 'sunday'], location: 'UTC' }],
  'business-hours': [{ weekdays: ['monday:friday'], times: [{ start: '09:00', end: '17:00' }], location: 'UTC' }],
  'off-hours': [
    { weekdays: ['monday:friday'], times: [{ start: '00:00', end: '09:00' }, { start: '17:00', end: '24:00' }], location: 'UTC' },
    { weekdays: ['saturday', 'sunday'], location: 'UTC' }
  ]
}

/** Three file channels (and no console): the default matrix's `critical: ['*']` reaches all three. */
function setup (routes: AlertsOptions['routes'], at: number, extra: Partial<AlertsOptions> = {}): { a: Alerter, arrived: () => Record<string, string[]>, clock: { ms: number } } {
  const dir = tempDir('pino-alerts-intervals-')
  const clock = { ms: at }
  const names = ['slack-ish', 'sms-ish', 'pager-ish']
  const channels: Record<string, unknown> = { console: { enabled: false } }
  for (const n of names) channels[n] = { type: 'file', path: join(dir, `${n}.jsonl`) }
  const a = createAlerter({ channels, timeIntervals, routes, dedupe: false, ...extra } as AlertsOptions, { env: {}, now: () => clock.ms })
  const arrived = (): Record<string, string[]> => Object.fromEntries(names.map((n) => [n, readJsonl(join(dir, `${n}.jsonl`)).map((e) => e.title as string)]))
  return { a, arrived, clock }
}

const critical = (title: string, source = 'risk_gate'): { source: string, title: string, severity: 'critical' } => ({ source, title, severity: 'critical' })

describe('time intervals: a muted rule still matches and notifies nobody', () => {
  it('muteTime: a critical alert inside the weekend arrives nowhere (not on the matrix), suppressed "mute"; on a weekday only on the rule\'s channel', async () => {
    const { a, arrived, clock } = setup([{ match: 'severity="critical"', channels: ['slack-ish'], muteTime: 'weekend' }], SAT_NOON)
    try {
      const r = await a.dispatch(critical('Kill switch on Saturday'))
      expect(r).toMatchObject({ deliveries: [], suppressed: 'mute', detail: expect.stringMatching(/routes\[0\].*weekend/) })
      expect(r.detail).toBe('routes[0] muted by "weekend" (muteTime)')
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': [], 'sms-ish': [], 'pager-ish': [] })
      const s = a.stats()
      expect([s.alerts, s.suppressed, s.delivered, s.failed]).toEqual([1, 1, 0, 0])
      // Counted on the channel it would have gone to, and only there.
      expect([s.channels['slack-ish']?.suppressed, s.channels['sms-ish']?.suppressed, s.channels['pager-ish']?.suppressed]).toEqual([1, 0, 0])

      // The transport's path (post) mutes the same way.
      a.post(AlertEvent.from(critical('Posted on Saturday')))
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': [], 'sms-ish': [], 'pager-ish': [] })
      expect(a.stats().suppressed).toBe(2)

      clock.ms = MON_10
      const w = await a.dispatch(critical('Kill switch on Monday'))
      expect(w.suppressed).toBeUndefined()
      expect(w.deliveries.map((d) => [d.channel, d.ok])).toEqual([['slack-ish', true]])
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': ['Kill switch on Monday'], 'sms-ish': [], 'pager-ish': [] })
    } finally {
      await a.close()
    }
  })

  it('activeTime: a single business-hours rule off hours delivers nothing, suppressed "mute" naming the interval', async () => {
    const { a, arrived } = setup([{ match: 'severity="critical"', channels: ['slack-ish'], activeTime: 'business-hours' }], MON_22)
    try {
      const r = await a.dispatch(critical('Order blocked at night'))
      expect(r).toMatchObject({ deliveries: [], suppressed: 'mute', detail: 'routes[0] outside "business-hours" (activeTime)' })
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': [], 'sms-ish': [], 'pager-ish': [] })
      expect(a.stats().suppressed).toBe(1)
    } finally {
      await a.close()
    }
  })

  it('time-based routing: `continue` rules with complementary activeTimes; the 09:00 boundary pinned to the millisecond', async () => {
    const routes: AlertsOptions['routes'] = [
      { match: 'severity="critical"', channels: ['slack-ish'], continue: true, activeTime: 'business-hours' },
      { match: 'severity="critical"', channels: ['pager-ish'], continue: true, activeTime: 'off-hours' }
    ]
    const { a, arrived, clock } = setup(routes, MON_10)
    try {
      const expectations: Array<[string, number, string]> = [
        ['10:00', MON_10, 'slack-ish'],
        ['22:00', MON_22, 'pager-ish'],
        ['09:00:00.000', MON_09, 'slack-ish'],
        ['08:59:59.999', MON_BEFORE_09, 'pager-ish'],
        ['Saturday', SAT_NOON, 'pager-ish']
      ]
      for (const [when, ms, channel] of expectations) {
        clock.ms = ms
        const r = await a.dispatch(critical(`critical at ${when}`))
        expect(r.suppressed, when).toBeUndefined()
        expect(r.deliveries.map((d) => d.channel), when).toEqual([channel])
        // The decision names the rule that was muted and why, while the other one delivers.
        const muted = routeFor(AlertEvent.from(critical('x')), a.options, new Date(ms)).muted
        expect(muted, when).toEqual(channel === 'slack-ish'
          ? [{ rule: 1, interval: 'off-hours', why: 'activeTime' }]
          : [{ rule: 0, interval: 'business-hours', why: 'activeTime' }])
      }
      await a.flush()
      expect(arrived()).toEqual({
        'slack-ish': ['critical at 10:00', 'critical at 09:00:00.000'],
        'sms-ish': [],
        'pager-ish': ['critical at 22:00', 'critical at 08:59:59.999', 'critical at Saturday']
      })
      expect(a.stats().suppressed).toBe(0)
    } finally {
      await a.close()
    }
  })

  it('a muted rule with `continue` and an active one after it: only the active rule\'s channels (no escalation of the muted one), not suppressed', async () => {
    const { a, arrived } = setup([
      { match: 'severity="critical"', channels: ['slack-ish'], continue: true, muteTime: 'weekend', escalate: [{ afterMs: 60_000, channels: ['pager-ish'] }] },
      { match: 'severity="critical"', channels: ['sms-ish'] },
      { channels: ['pager-ish'] }
    ], SAT_NOON)
    try {
      const r = await a.dispatch(critical('Weekend critical'))
      expect(r.suppressed).toBeUndefined()
      expect(r.deliveries.map((d) => d.channel)).toEqual(['sms-ish'])
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': [], 'sms-ish': ['Weekend critical'], 'pager-ish': [] })
      expect(routeFor(AlertEvent.from(critical('x')), a.options, new Date(SAT_NOON))).toEqual({
        channels: ['sms-ish'], escalate: [], rules: [0, 1], muted: [{ rule: 0, interval: 'weekend', why: 'muteTime' }]
      })
    } finally {
      await a.close()
    }
  })

  it('a muted alert does not open a dedupe window: repeats while muted are "mute", the first one after the mute is sent', async () => {
    const SUN_LATE = Date.parse('2026-12-06T23:59:30.000Z')
    const { a, arrived, clock } = setup([{ match: 'severity="critical"', channels: ['slack-ish'], muteTime: 'weekend' }], SUN_LATE, { dedupe: { windowMs: 60_000 } })
    try {
      expect((await a.dispatch(critical('VaR breach'))).suppressed).toBe('mute')
      clock.ms = SUN_LATE + 10_000
      expect((await a.dispatch(critical('VaR breach'))).suppressed).toBe('mute')
      clock.ms = SUN_LATE + 40_000 // Monday 00:00:10: the weekend is over
      const sent = await a.dispatch(critical('VaR breach'))
      expect(sent.suppressed).toBeUndefined()
      expect(sent.deliveries.map((d) => d.channel)).toEqual(['slack-ish'])
      clock.ms = SUN_LATE + 50_000
      expect((await a.dispatch(critical('VaR breach'))).suppressed).toBe('dedupe')
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': ['VaR breach'], 'sms-ish': [], 'pager-ish': [] })
      expect(a.stats().suppressed).toBe(3)
    } finally {
      await a.close()
    }
  })

  it('an alert no rule matches still takes the severity matrix (critical: every channel), muted rule or not', async () => {
    const { a, arrived } = setup([{ match: ['source="risk_gate"', 'severity="critical"'], channels: ['slack-ish'], muteTime: 'weekend' }], SAT_NOON)
    try {
      const r = await a.dispatch(critical('Unrouted critical', 'var_gate'))
      expect(r.suppressed).toBeUndefined()
      expect(r.deliveries.map((d) => d.channel).sort()).toEqual(['pager-ish', 'slack-ish', 'sms-ish'])
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': ['Unrouted critical'], 'sms-ish': ['Unrouted critical'], 'pager-ish': ['Unrouted critical'] })
      expect(a.stats().suppressed).toBe(0)
    } finally {
      await a.close()
    }
  })

  it('with a store, the muted alert is in history() as suppressed "mute", settled, with no receipts', async () => {
    const dir = tempDir('pino-alerts-intervals-store-')
    const { a, arrived } = setup([{ match: 'severity="critical"', channels: ['slack-ish'], muteTime: 'weekend' }], SAT_NOON, { store: { path: join(dir, 'alerts.db') } })
    try {
      await a.ready
      const r = await a.dispatch(critical('Stored while muted'))
      expect(r.suppressed).toBe('mute')
      await a.flush()
      expect(arrived()).toEqual({ 'slack-ish': [], 'sms-ish': [], 'pager-ish': [] })
      const h = a.history()
      expect(h).toHaveLength(1)
      expect(h[0]).toMatchObject({ id: r.id, title: 'Stored while muted', suppressed: 'mute', settled: true })
      expect(a.receipts(r.id)).toEqual([])
    } finally {
      await a.close()
    }
  })
})
