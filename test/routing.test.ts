import { describe, expect, it } from 'vitest'
import { AlertEvent } from '../src/event.js'
import { resolveOptions } from '../src/options.js'
import { routeFor } from '../src/pipeline/route.js'

// A routing tree against a fixed clock: 20 alerts × rules × time intervals, a DST change in Europe/Berlin included.
const opts = resolveOptions({
  env: false,
  channels: {
    console: { enabled: false },
    file: { path: '/tmp/pino-alerts-routing-never-written.jsonl' },
    pager: { type: 'webhook', url: 'http://127.0.0.1:9/pager' },
    slack: { webhookUrl: 'http://127.0.0.1:9/slack' },
    email: { host: '127.0.0.1', from: 'a@example.test', to: 'b@example.test' }
  },
  timeIntervals: {
    'business-hours': [{ weekdays: ['monday:friday'], times: [{ start: '09:00', end: '17:00' }], location: 'Europe/Berlin' }],
    weekend: [{ weekdays: ['saturday', 'sunday'], location: 'Europe/Berlin' }],
    'month-end-maintenance': [{ daysOfMonth: ['-1'], times: [{ start: '22:00', end: '24:00' }] }]
  },
  routes: [
    { match: ['source="kill_switch"'], channels: ['pager', 'slack'], continue: true },
    { match: 'severity="critical"', channels: ['pager'], muteTime: 'month-end-maintenance' },
    { match: ['severity="warn"', 'desk=~"fx|rates"'], channels: ['slack'], activeTime: 'business-hours' },
    { match: ['severity="warn"'], channels: ['email'], muteTime: 'weekend' },
    { channels: ['file'] }
  ]
}, {})

// Time intervals follow Alertmanager (SPEC §7): a rule outside its activeTime or inside its muteTime
// still matches — it ends the walk unless `continue` — but notifies nobody; it is listed in `muted`.
const MAINT = 'routes[1] month-end-maintenance muteTime'
const OFF_HOURS = 'routes[2] business-hours activeTime'

const cases: Array<[string, Partial<Parameters<typeof AlertEvent.from>[0]>, string, string[], string[]?]> = [
  // [what, alert fields, clock (UTC), expected channels, expected muted rules (default none)]
  ['kill switch: pager+slack, continue → critical rule adds nothing new', { source: 'kill_switch', severity: 'critical' }, '2026-11-27T12:00:00Z', ['pager', 'slack']],
  ['kill switch at month end: the critical rule matches muted and ends the walk (no catch-all)', { source: 'kill_switch', severity: 'critical' }, '2026-11-30T22:30:00Z', ['pager', 'slack'], [MAINT]],
  ['critical risk gate: pager', { source: 'risk_gate', severity: 'critical' }, '2026-11-27T12:00:00Z', ['pager']],
  ['critical in month-end maintenance: muted, notifies nobody (no fall-through to the catch-all)', { source: 'risk_gate', severity: 'critical' }, '2026-11-30T23:59:00Z', [], [MAINT]],
  ['critical just before maintenance', { source: 'risk_gate', severity: 'critical' }, '2026-11-30T21:59:00Z', ['pager']],
  ['critical on the 30th of a 31-day month is not month end', { source: 'risk_gate', severity: 'critical' }, '2026-12-30T22:30:00Z', ['pager']],
  ['critical on Dec 31 22:00 is month end: muted', { source: 'risk_gate', severity: 'critical' }, '2026-12-31T22:00:00Z', [], [MAINT]],
  ['fx warn in business hours (Fri 13:00 CET)', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-11-27T12:00:00Z', ['slack']],
  ['fx warn after hours (Fri 18:00 CET): its business-hours rule matches, muted', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-11-27T17:00:00Z', [], [OFF_HOURS]],
  ['rates warn at 16:59 CET', { source: 'var_gate', severity: 'warn', labels: { desk: 'rates' } }, '2026-11-27T15:59:00Z', ['slack']],
  ['rates warn at 17:00 CET (end is exclusive): muted', { source: 'var_gate', severity: 'warn', labels: { desk: 'rates' } }, '2026-11-27T16:00:00Z', [], [OFF_HOURS]],
  ['equities warn in business hours: not fx/rates → email', { source: 'var_gate', severity: 'warn', labels: { desk: 'equities' } }, '2026-11-27T12:00:00Z', ['email']],
  ['fx warn on Saturday: outside business hours, muted (the email and catch-all rules are not consulted)', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-11-28T12:00:00Z', [], [OFF_HOURS]],
  ['warn Sunday 23:30 UTC = Monday 00:30 CET: no longer weekend → email', { source: 'var_gate', severity: 'warn' }, '2026-11-29T23:30:00Z', ['email']],
  ['info: catch-all', { source: 'heartbeat', severity: 'info' }, '2026-11-27T12:00:00Z', ['file']],
  // DST: Berlin switches to CEST (UTC+2) on 2026-03-29 and back to CET (UTC+1) on 2026-10-25.
  ['Fri 2026-03-27 07:30Z = 08:30 CET: before business hours', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-03-27T07:30:00Z', [], [OFF_HOURS]],
  ['Mon 2026-03-30 07:30Z = 09:30 CEST: business hours', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-03-30T07:30:00Z', ['slack']],
  ['Mon 2026-03-30 15:30Z = 17:30 CEST: after hours', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-03-30T15:30:00Z', [], [OFF_HOURS]],
  ['Fri 2026-10-23 14:30Z = 16:30 CEST: business hours', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-10-23T14:30:00Z', ['slack']],
  ['Mon 2026-10-26 07:30Z = 08:30 CET: before business hours', { source: 'var_gate', severity: 'warn', labels: { desk: 'fx' } }, '2026-10-26T07:30:00Z', [], [OFF_HOURS]]
]

describe('routing tree (fixed clock)', () => {
  it.each(cases)('%s', (_what, fields, clock, expected, muted = []) => {
    const e = AlertEvent.from({ title: 't', source: 's', ...fields } as never)
    const decision = routeFor(e, opts, new Date(clock))
    expect(decision.channels.sort()).toEqual([...expected].sort())
    expect(decision.muted.map((m) => `routes[${m.rule}] ${m.interval} ${m.why}`)).toEqual(muted)
  })

  it('20 cases', () => { expect(cases).toHaveLength(20) })

  it('a rule list and a matrix cannot be mixed; unknown intervals and bad matchers are errors naming the path', () => {
    expect(() => resolveOptions({ routes: { critical: ['console'], match: 'x="y"' } }, {})).toThrow(/routes: either a severity matrix \{ info, warn, critical \} or a rule list/)
    expect(() => resolveOptions({ routes: [{ critical: ['console'] }] }, {})).toThrow(/routes\[0\] has severity keys/)
    expect(() => resolveOptions({ routes: [{ channels: ['console'], activeTime: 'nope' }] }, {})).toThrow(/routes\[0\]\.activeTime: got "nope"; expected a name from timeIntervals/)
    expect(() => resolveOptions({ routes: [{ match: ['source="x'], channels: ['console'] }] }, {})).toThrow(/routes\[0\]\.match: .*source="x/)
    expect(() => resolveOptions({ routes: [{ channels: ['nowhere'] }] }, {})).toThrow(/routes\[0\]\.channels\[0\]: got "nowhere"/)
  })
})
