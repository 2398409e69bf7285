/**
 * The exported option types, checked by the compiler: `tsc -p tsconfig.test.json` fails when a
 * `@ts-expect-error` line stops being an error (the types got too loose) or an accepted line becomes
 * one (too strict). Each example is also run through `resolveOptions`, so that types and schema agree.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  resolveOptions, ConfigError,
  type AlertsOptions, type ChannelOptions, type ChannelsOptions, type RuleOptions, type RouteMatrixOptions, type TimeIntervalOptions, type Severity
} from '../src/index.js'
import type { ChannelType } from '../src/channels/types.js'

/** The identity, typed: a literal passed here is checked against `AlertsOptions` as a user's would be. */
const typed = (o: AlertsOptions): AlertsOptions => o
const KEY = 'R0123456789abcdef0123456789abcde'
const resolves = (o: AlertsOptions, env: NodeJS.ProcessEnv = {}): string[] => resolveOptions({ env: Object.keys(env).length > 0, ...o }, env).channels.map((c) => `${c.name}:${c.type}`)
const refused = (o: unknown): string => {
  try {
    resolveOptions({ env: false, ...(o as object) }, {})
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('channel options: a union discriminated by type, from CHANNEL_SCHEMAS', () => {
  it('ChannelOptions has one member per channel type, each with that type\'s keys', () => {
    expectTypeOf<ChannelOptions['type']>().toEqualTypeOf<ChannelType>()
    expectTypeOf<Extract<ChannelOptions, { type: 'slack' }>['webhookUrl']>().toEqualTypeOf<string>()
    expectTypeOf<Extract<ChannelOptions, { type: 'pagerduty' }>['routingKey']>().toEqualTypeOf<string>()
    expectTypeOf<Extract<ChannelOptions, { type: 'telegram' }>['chatId']>().toEqualTypeOf<string | number>()
    expectTypeOf<Extract<ChannelOptions, { type: 'webhook' }>['proxy']>().toEqualTypeOf<string | false | undefined>()
    expectTypeOf<Extract<ChannelOptions, { type: 'console' }>['colors']>().toEqualTypeOf<boolean | 'auto' | undefined>()
    // The email schema is refined (user and password together): its input type still comes through.
    expectTypeOf<Extract<ChannelOptions, { type: 'email' }>['to']>().toEqualTypeOf<string | string[]>()
    expectTypeOf<Extract<ChannelOptions, { type: 'slack' }>>().not.toHaveProperty('routingKey')
    expectTypeOf<Extract<ChannelOptions, { type: 'pagerduty' }>>().not.toHaveProperty('webhookUrl')
    expectTypeOf<NonNullable<AlertsOptions['channels']>>().toEqualTypeOf<ChannelsOptions>()
  })

  it('any name, with type: that type\'s keys, the required ones required', () => {
    expect(resolves(typed({ channels: { ops: { type: 'pagerduty', routingKey: KEY } } }))).toContain('ops:pagerduty')
    expect(resolves(typed({ channels: { team: { type: 'slack', webhookUrl: 'https://hooks.slack.com/services/T/B/x', username: 'risk' } } }))).toContain('team:slack')

    // @ts-expect-error webhookUrl is no PagerDuty key
    expect(refused(typed({ channels: { ops: { type: 'pagerduty', routingKey: KEY, webhookUrl: 'https://x.test' } } }))).toMatch('channels.ops.webhookUrl: unknown option')
    // @ts-expect-error routingKey is required
    expect(refused(typed({ channels: { ops: { type: 'pagerduty' } } }))).toMatch('channels.ops.routingKey: missing (required)')
    // @ts-expect-error routingKey is no Slack key
    typed({ channels: { team: { type: 'slack', webhookUrl: 'https://x.test', routingKey: KEY } } })
    // @ts-expect-error a typo in a key
    expect(refused(typed({ channels: { hook: { type: 'webhook', url: 'https://x.test', secrett: 'whsec_eA==' } } }))).toMatch('channels.hook.secrett: unknown option')
    // @ts-expect-error no such channel type
    expect(refused(typed({ channels: { ops: { type: 'pagerdooty', routingKey: KEY } } }))).toMatch('channels.ops.type: got "pagerdooty"')
    // @ts-expect-error a value of the wrong type
    typed({ channels: { ops: { type: 'pagerduty', routingKey: KEY, links: [{ href: 1 }] } } })
  })

  it('a type\'s own name: type may be left out (every key optional: the environment fills in the rest)', () => {
    expect(resolves(typed({ channels: { slack: { webhookUrl: 'https://hooks.slack.com/services/T/B/x' } } }))).toContain('slack:slack')
    expect(resolves(typed({ channels: { slack: { type: 'slack', webhookUrl: 'https://hooks.slack.com/services/T/B/x' } } }))).toContain('slack:slack')
    expect(resolves(typed({ channels: { console: { enabled: false }, file: { path: '/tmp/pino-alerts-types.jsonl' } } }))).toEqual(['console:console', 'file:file'])
    // Only `username` in the options, the webhook URL from the environment (README: "the variables fill in what the options leave out").
    expect(resolves(typed({ channels: { slack: { username: 'risk' } } }), { RISK_ALERTS_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T/B/x' })).toContain('slack:slack')

    // @ts-expect-error routingKey is no Slack key
    expect(refused(typed({ channels: { slack: { webhookUrl: 'https://hooks.slack.com/services/T/B/x', routingKey: KEY } } }))).toMatch('channels.slack.routingKey: unknown option')
    // @ts-expect-error a typo in a key
    typed({ channels: { slack: { webhookURL: 'https://hooks.slack.com/services/T/B/x' } } })
    // @ts-expect-error a value of the wrong type
    typed({ channels: { slack: { webhookUrl: 1 } } })
    // @ts-expect-error under a type's name, type is that name (or left out)
    typed({ channels: { slack: { type: 'pagerduty', routingKey: KEY } } })
    // @ts-expect-error with type given, the required keys are required
    typed({ channels: { slack: { type: 'slack', username: 'risk' } } })
    // Not caught by the compiler: another name without type (one type for all names cannot tell
    // `ops` from `slack`). The schema refuses it at start.
    expect(refused(typed({ channels: { ops: { webhookUrl: 'https://hooks.slack.com/services/T/B/x' } } }))).toMatch('channels.ops: unknown channel type "ops"')
  })

  it('loosely typed values still pass where the schema decides (entries built elsewhere)', () => {
    const fromElsewhere: Record<string, unknown> = { webhookUrl: 'https://hooks.slack.com/services/T/B/x' }
    expect(resolves(typed({ channels: { slack: fromElsewhere, discord: { ...fromElsewhere } } }))).toEqual(['console:console', 'slack:slack', 'discord:discord'])
    const channels: ChannelsOptions = {}
    channels.ops = { type: 'pagerduty', routingKey: KEY }
    expect(resolves(typed({ channels }))).toContain('ops:pagerduty')
  })
})

describe('routes, time intervals and the rest, as the schema says', () => {
  it('routes: a severity matrix or a rule list', () => {
    expectTypeOf<RouteMatrixOptions>().toEqualTypeOf<{ info?: string[] | undefined, warn?: string[] | undefined, critical?: string[] | undefined }>()
    expectTypeOf<NonNullable<AlertsOptions['routes']>>().toEqualTypeOf<Partial<Record<Severity, string[]>> | RuleOptions[]>()
    expectTypeOf<RuleOptions['match']>().toEqualTypeOf<string | string[] | undefined>()
    expectTypeOf<RuleOptions['channels']>().toEqualTypeOf<string[]>()
    expectTypeOf<NonNullable<RuleOptions['escalate']>[number]>().toEqualTypeOf<{ afterMs: number, channels: string[] }>()

    expect(resolveOptions(typed({ env: false, routes: { critical: ['*'] } })).routes.critical).toEqual(['console'])
    const o = resolveOptions(typed({
      env: false,
      channels: { ops: { type: 'file', path: '/tmp/pino-alerts-types.jsonl' } },
      routes: [{ match: 'severity="critical"', channels: ['ops'], escalate: [{ afterMs: 60_000, channels: ['console'] }] }, { channels: ['console'], continue: true }]
    }))
    expect(o.rules?.map((r) => r.channels)).toEqual([['ops'], ['console']])

    // @ts-expect-error a typo in a rule's key
    expect(refused(typed({ routes: [{ mach: 'x', channels: [] }] }))).toMatch('routes[0].mach: unknown option')
    // @ts-expect-error channels is required
    typed({ routes: [{ match: 'severity="critical"' }] })
    // @ts-expect-error match is matchers (text), not an object
    typed({ routes: [{ match: { severity: 'critical' }, channels: ['ops'] }] })
    // @ts-expect-error no such severity
    expect(refused(typed({ routes: { error: ['console'] } }))).toMatch('routes.error: unknown option')
    // @ts-expect-error a matrix's entries are lists
    typed({ routes: { critical: '*' } })
  })

  it('timeIntervals: named lists of intervals', () => {
    expectTypeOf<NonNullable<AlertsOptions['timeIntervals']>>().toEqualTypeOf<Record<string, TimeIntervalOptions[]>>()
    const o = typed({
      env: false,
      timeIntervals: { 'business-hours': [{ weekdays: ['monday:friday'], times: [{ start: '09:00', end: '17:00' }], location: 'Europe/Berlin' }], 'month-end': [{ daysOfMonth: [-1, '1:2'], months: [12] }] },
      routes: [{ match: 'severity="critical"', channels: ['console'], activeTime: 'business-hours', muteTime: 'month-end' }]
    })
    expect(resolveOptions(o).rules).toHaveLength(1)
    // @ts-expect-error a typo in an interval's key
    expect(refused(typed({ timeIntervals: { t: [{ weekday: ['monday'] }] } }))).toMatch('timeIntervals.t[0].weekday: unknown field')
    // @ts-expect-error times are { start, end }
    typed({ timeIntervals: { t: [{ times: ['09:00-17:00'] }] } })
  })

  it('the other options: their schema\'s input types', () => {
    expectTypeOf<AlertsOptions['dedupe']>().toEqualTypeOf<false | { windowMs?: number | undefined, rules?: Array<{ match: string | string[], windowMs: number }> | undefined } | undefined>()
    expectTypeOf<AlertsOptions['destination']>().toEqualTypeOf<string | number | undefined>()
    expectTypeOf<AlertsOptions['env']>().toEqualTypeOf<boolean | undefined>()
    typed({ dedupe: false, group: { by: ['source'] }, silences: [{ match: 'source="x"', endsAt: '2030-01-01T00:00:00Z' }], failover: ['file'], match: { minLevel: 'warn' }, severityByLevel: { fatal: 'critical' } })
    // @ts-expect-error an unknown top-level option
    expect(refused(typed({ chanels: {} }))).toMatch('chanels: unknown option')
    // @ts-expect-error group.by is required
    typed({ group: { waitMs: 10 } })
  })
})
