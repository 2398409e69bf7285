/**
 * One schema for the transport options, `createAlerter(options)` and the CLI's JSON config.
 * Validated and defaulted once, here, into `ResolvedOptions` (no optional fields); the rest of the
 * code never re-checks or re-defaults. Unknown keys are errors: a typo must not silently disable alerting.
 */
import { readFileSync } from 'node:fs'
// zod's classic API (v3), shipped inside zod@4 as a permanent subpath: a third of v4's load cost,
// paid in every pino worker thread that validates options.
import { z } from 'zod/v3'
import { ConfigError } from './errors.js'
import { isSeverity, normalizeSeverity, PINO_LEVELS, SEVERITIES, type Severity } from './event.js'
import { CHANNEL_TYPES, type ChannelType } from './channels/types.js'
import { compileTemplate, type ResolvedTemplate, type Template } from './format/template.js'
import { compileTimeIntervals, MatcherError, parseMatchers, type CompiledTimeInterval, type Matcher, type TimeIntervalSpec } from './matchers.js'

// ---------------------------------------------------------------------------------------------------
// Schema

/** An integer within Number's safe range (zod v4's `int`, which users' messages name). */
function int (): z.ZodNumber {
  return z.number().int()
    .gte(Number.MIN_SAFE_INTEGER, { message: `expected int to be >=${Number.MIN_SAFE_INTEGER}` })
    .lte(Number.MAX_SAFE_INTEGER, { message: `expected int to be <=${Number.MAX_SAFE_INTEGER}` })
}
const positiveInt = int().positive()
/** A request body cap: at least what one alert needs once every field it can lose is cut. */
const maxBodyBytes = int().min(1024, { message: 'expected at least 1024 bytes (an alert cut to its bare fields must fit)' })
/**
 * The longest a Node timer waits: a longer delay fires after 1 ms (with a warning), so a month-long
 * `deliveryTimeoutMs` would fail every delivery at once. Every `…Ms` option is bounded by it.
 */
export const MAX_TIMER_MS = 2_147_483_647
const TOO_LONG = { message: `expected a duration of at most ${MAX_TIMER_MS} ms (about 24.8 days: Node timers cannot wait longer)` }
const durationMs = z.number().int().nonnegative().lte(MAX_TIMER_MS, TOO_LONG)
const positiveMs = z.number().int().positive().lte(MAX_TIMER_MS, TOO_LONG)

function isHttpUrl (s: string): boolean {
  try {
    const u = new URL(s)
    return u.protocol === 'http:' || u.protocol === 'https:'
  } catch { return false }
}
const httpUrl = z.string().refine(isHttpUrl, { message: 'expected an http(s) URL' })

/** A record (plain object); says "expected record" as zod v4 did (v3 says "object"). */
function record<K extends z.ZodTypeAny, V extends z.ZodTypeAny> (key: K, value: V): z.ZodRecord<K, V> {
  return z.record(key, value, { invalid_type_error: 'expected record', required_error: 'expected record' })
}
/** Record keys that must not be empty; the message zod v4 gave. */
const nonEmptyKey = z.string().refine((k) => k !== '', { message: 'Invalid key in record' })

/** Request headers: names are HTTP tokens, values one line of Latin-1 (anything else cannot be sent). */
const headerRecord = record(
  z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' }),
  z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, { message: 'expected a header value on one line, in Latin-1 (no control characters)' })
)

/** `alerts@example.com` or `Risk Desk <alerts@example.com>`; no line breaks (header injection). */
const emailAddress = z.string().regex(/^([^<>\r\n]*<)?[^\s@<>,;]+@[^\s@<>,;]+>?$/, { message: 'expected an e-mail address like "alerts@example.com" or "Name <alerts@example.com>"' })
const addressList = z.union([
  z.array(emailAddress).min(1),
  z.string().transform((s) => s.split(',').map((a) => a.trim()).filter((a) => a !== '')).pipe(z.array(emailAddress).min(1))
])

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, { message: 'expected an E.164 phone number like "+4915112345678"' })

const retrySchema = z.strictObject({
  /** Attempts in all, the first included. Default 5. */
  maxAttempts: positiveInt.optional(),
  /** First backoff in ms, doubling per attempt. Default 500. */
  initialMs: durationMs.optional(),
  /** Backoff cap in ms. Default 30000. */
  maxMs: durationMs.optional()
})

const CA_EXPECTED = 'expected PEM text ("-----BEGIN CERTIFICATE-----…"), the path of a PEM file, or a non-empty list of them'
const caEntry = z.string().min(1, { message: CA_EXPECTED })

/** TLS towards a channel's service (HTTP channels: and towards an `https:` proxy). */
const tlsSchema = z.strictObject({
  /**
   * Trusted CA certificates, instead of Node's bundled list: PEM text (`-----BEGIN CERTIFICATE-----…`),
   * the path of a PEM file (relative to the working directory, read at start), or a non-empty list of
   * either. Resolved to a list of PEM texts. Default: Node's bundled CAs.
   */
  ca: z.union([caEntry, z.array(caEntry).min(1, { message: CA_EXPECTED })], {
    errorMap: (issue, ctx) => ({ message: issue.code === 'invalid_union' ? CA_EXPECTED : ctx.defaultError })
  }).optional(),
  /** `false` accepts any certificate (self-signed, expired, another host's): for tests only. Default true. */
  rejectUnauthorized: z.boolean().optional()
})

/** Keys every HTTP channel takes (SPEC §15). */
const httpKeys = {
  /**
   * The proxy for this channel's requests: `http://proxy:3128` or `https://…`, with Basic credentials
   * if needed (`http://user:password@proxy:3128`; they are secrets), or `false` for a direct connection.
   * Default (absent): the environment decides: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, either case.
   */
  proxy: z.custom<string | false>((v) => v === false || (typeof v === 'string' && isHttpUrl(v)), {
    message: 'expected an http(s) proxy URL like "http://proxy:3128" or "http://user:password@proxy:3128", or false for a direct connection'
  }).optional(),
  /** `{ ca, rejectUnauthorized }` for the service (through a proxy tunnel too) and an `https:` proxy. Default: Node's. */
  tls: tlsSchema.optional()
}

/**
 * `{ title?, body? }`: what a channel sends as an alert's title and body, e.g. `"[{{labels.desk}}]
 * {{title}}"`. Names: `{{source}}`, `{{severity}}`, `{{title}}`, `{{body}}`, `{{status}}`, `{{id}}`,
 * `{{fingerprint}}`, `{{timestamp}}`, `{{level}}`, `{{labels.NAME}}`, `{{metadata.PATH}}`; any other
 * is an error at start. The channel escapes and cuts the result as it does any alert.
 */
const templateSchema = z.strictObject({
  title: z.string().optional(),
  body: z.string().optional()
})

/** A channel module given as the module object itself (`createAlerter` only; JSON gives a path or package name). */
export interface ChannelModuleObject { create?: (...args: never[]) => unknown, default?: unknown }
const MODULE_EXPECTED = 'expected a file path (relative to the working directory), a package name, or (in createAlerter) a module object with create(ctx)'
function isModuleObject (v: unknown): v is ChannelModuleObject {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return false
  const m = v as { create?: unknown, default?: { create?: unknown } | null }
  return typeof m.create === 'function' || (typeof m.default === 'object' && m.default !== null && typeof m.default.create === 'function')
}

/** Keys every channel takes. */
const common = {
  /** This channel's title and body templates (over the top-level `template`, field by field). */
  template: templateSchema.optional(),
  type: z.string().optional(),
  /** Default true (console is on unless `enabled: false`). */
  enabled: z.boolean().optional(),
  /** One attempt's timeout in ms. Default 10000. */
  timeoutMs: positiveMs.optional(),
  retry: retrySchema.optional(),
  /** Alerts waiting for this channel; beyond it the oldest info, then warn alerts are dropped (counted). Default 10000. */
  maxQueue: positiveInt.optional(),
  /** All attempts of one delivery, queue wait included, in ms; then it fails and failover applies. Default 60000. */
  deliveryTimeoutMs: positiveMs.optional(),
  /** Token bucket; `false` = unlimited. Defaults per type: slack 1/s, telegram 1/s, discord 5 per 2 s, teams 4/s, pagerduty 2/s; others unlimited. */
  rateLimit: z.union([z.literal(false), z.strictObject({
    perSecond: z.number().positive().finite(),
    /** Default: perSecond rounded up (at least 1). */
    burst: int().positive().optional()
  })]).optional()
}

/** One schema entry per channel type; each keeps its own type (the option types below derive from it). */
export const CHANNEL_SCHEMAS = {
  console: z.strictObject({
    ...common,
    /** `auto` (default): colour only when stderr is a TTY and `NO_COLOR` is unset. */
    colors: z.union([z.boolean(), z.literal('auto')]).optional()
  }),
  file: z.strictObject({
    ...common,
    /** JSONL file; directories are created. */
    path: z.string().min(1)
  }),
  webhook: z.strictObject({
    ...common,
    ...httpKeys,
    url: httpUrl,
    /** Standard Webhooks signing secret, `whsec_` + base64. */
    secret: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, { message: 'expected "whsec_" followed by base64' }).optional(),
    /** Extra request headers; their values are secrets (masked in every error, notice and receipt). */
    headers: headerRecord.optional(),
    /** The largest request body sent, in bytes: a digest is split into requests under it (one alert over it is cut). Default 1048576. */
    maxBodyBytes: maxBodyBytes.optional(),
  }),
  email: z.strictObject({
    ...common,
    /** SMTP server host name. */
    host: z.string().min(1),
    /** Default 465 with `secure`, else 587. */
    port: int().min(1).max(65535).optional(),
    /** TLS from the first byte (port 465). Default: true when port is 465. */
    secure: z.boolean().optional(),
    /**
     * Refuse to send unless the server upgrades with STARTTLS. Default: true when `user`/`password`
     * are set and the connection is not TLS from the first byte (a stripped STARTTLS must not send
     * the password in clear); false without credentials. Set false explicitly to allow plain AUTH.
     */
    requireTLS: z.boolean().optional(),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    from: emailAddress,
    /** Recipients: a list, or one comma-separated string. */
    to: addressList,
    cc: addressList.optional(),
    /** Put before every subject, e.g. "[prod]". */
    subjectPrefix: z.string().optional(),
    /** Passed to nodemailer (Node's TLS): `ca` as for HTTP channels (PEM text, file path or a list), `rejectUnauthorized` default true. */
    tls: tlsSchema.optional(),
    /** Reuse SMTP connections. Default true. */
    pool: z.boolean().optional()
  }).refine((c) => (c.user === undefined) === (c.password === undefined), { message: 'expected user and password together (or neither)', path: ['password'] }),
  slack: z.strictObject({
    ...common,
    ...httpKeys,
    /** Incoming webhook URL (`https://hooks.slack.com/services/…`); its path is a secret. */
    webhookUrl: httpUrl,
    /** Overrides where requests go (tests, proxies); default `webhookUrl`. */
    url: httpUrl.optional(),
    username: z.string().min(1).optional(),
    iconEmoji: z.string().regex(/^:[\w+-]+:$/, { message: 'expected an emoji code like ":rotating_light:"' }).optional()
  }),
  telegram: z.strictObject({
    ...common,
    ...httpKeys,
    /** From @BotFather: `123456:ABC…`. Never shown: errors say `bot***`. */
    botToken: z.string().regex(/^\d+:[\w-]+$/, { message: 'expected a bot token like "123456:ABC-DEF…" from @BotFather' }),
    /** A chat id (`-100…` for channels/supergroups) or `@channelusername`. */
    chatId: z.union([int(), z.string().regex(/^(-?\d+|@\w{4,})$/, { message: 'expected a numeric chat id or "@channelname"' })]),
    /** Default `MarkdownV2`. */
    parseMode: z.enum(['MarkdownV2', 'HTML'], { message: 'expected one of "MarkdownV2"|"HTML"' }).optional(),
    /** Bot API base URL. Default `https://api.telegram.org` (a self-hosted Bot API server works too). */
    apiUrl: httpUrl.optional(),
    /** Forum topic to post into. */
    messageThreadId: int().positive().optional(),
    /** Deliver silently (no sound) for non-critical alerts. Default false. */
    disableNotification: z.boolean().optional()
  }),
  discord: z.strictObject({
    ...common,
    ...httpKeys,
    /** `https://discord.com/api/webhooks/<id>/<token>`; its path is a secret. */
    webhookUrl: httpUrl.refine((u) => { try { return !/\/(slack|github)\/?$/.test(new URL(u).pathname) } catch { return true } }, { message: 'expected the plain webhook URL (the /slack and /github endpoints take other payloads)' }),
    url: httpUrl.optional(),
    /** Discord refuses every message whose name contains "discord" or "clyde", or is "everyone"/"here". */
    username: z.string().min(1).max(80).refine((n) => !/discord|clyde/i.test(n) && !/^(everyone|here)$/i.test(n), { message: 'expected a name without "discord" or "clyde" and not "everyone"/"here" (Discord rejects those)' }).optional(),
    avatarUrl: httpUrl.optional(),
    /** Add `?wait=true` (Discord answers 200 with the message instead of 204). Default false. */
    wait: z.boolean().optional()
  }),
  pagerduty: z.strictObject({
    ...common,
    ...httpKeys,
    /** Events API v2 integration key (32 characters); a secret. */
    routingKey: z.string().regex(/^[A-Za-z0-9]{32}$/, { message: 'expected the 32-character integration key of an Events API v2 integration' }),
    /** Events API base URL. Default https://events.pagerduty.com (EU: https://events.eu.pagerduty.com). */
    url: httpUrl.optional(),
    /** `payload.source`; default the alert's source. */
    source: z.string().min(1).max(255).optional(),
    component: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    class: z.string().min(1).optional(),
    links: z.array(z.strictObject({ href: httpUrl, text: z.string().optional() })).optional()
  }),
  alertmanager: z.strictObject({
    ...common,
    ...httpKeys,
    /** One Alertmanager, or every member of an HA cluster (each is sent every alert). Env: comma-separated. */
    url: z.union([httpUrl, z.array(httpUrl).min(1), z.string().transform((s) => s.split(',').map((u) => u.trim()).filter((u) => u !== '')).pipe(z.array(httpUrl).min(1))]),
    /** `generatorURL` of each alert (a link back to your app). */
    generatorURL: httpUrl.optional(),
    /** Re-send firing alerts this often while they fire, as Alertmanager expects. Default 60000. */
    resendMs: positiveMs.optional(),
    /** The largest request body sent, in bytes: a digest is split into requests under it (one alert over it is cut). Default 1048576. */
    maxBodyBytes: maxBodyBytes.optional()
  }),
  otlp: z.strictObject({
    ...common,
    ...httpKeys,
    /** OpenTelemetry Collector OTLP/HTTP base URL (`/v1/logs` is appended), e.g. http://collector:4318. */
    url: httpUrl,
    /** Resource attribute `service.name`. Default "pino-alerts". */
    serviceName: z.string().min(1).optional(),
    /** Extra request headers (e.g. an API key for a vendor endpoint); their values are secrets. */
    headers: headerRecord.optional(),
    /** The largest request body sent, in bytes: a digest is split into requests under it (one alert over it is cut). Default 1048576. */
    maxBodyBytes: maxBodyBytes.optional(),
    /** gzip the request body. Default false. */
    gzip: z.boolean().optional()
  }),
  /** Your own channel (SPEC §14): a module exporting `create(ctx)` that returns a Channel. */
  module: z.strictObject({
    ...common,
    /** A file path (relative to the working directory, as pino resolves a target) or a package name; in `createAlerter` also the module object. */
    module: z.union([z.string().min(1), z.custom<ChannelModuleObject>(isModuleObject)], { errorMap: () => ({ message: MODULE_EXPECTED }) }),
    /** Given to `create` as `ctx.options`, as configured (JSON in a pino transport). */
    options: z.unknown().optional()
  }),
  sms: z.strictObject({
    ...common,
    ...httpKeys,
    /** Twilio Account SID (`AC` + 32 hex). */
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, { message: 'expected a Twilio Account SID ("AC" + 32 hex characters)' }),
    authToken: z.string().min(1),
    /** Sender: an E.164 number or a Messaging Service SID (`MG…`). */
    from: z.string().regex(/^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$/, { message: 'expected an E.164 number like "+15005550006" or a Messaging Service SID ("MG…")' }),
    /** Recipients (E.164): a list or one comma-separated string. */
    to: z.union([z.array(e164).min(1), z.string().transform((s) => s.split(',').map((a) => a.trim()).filter((a) => a !== '')).pipe(z.array(e164).min(1))]),
    /** Twilio API base URL. Default https://api.twilio.com. */
    apiUrl: httpUrl.optional()
  }),
  teams: z.strictObject({
    ...common,
    ...httpKeys,
    /** Power Automate "Workflows" webhook URL (`https://….logic.azure.com/workflows/…` or `…powerplatform.com…`); a secret. */
    webhookUrl: httpUrl,
    url: httpUrl.optional()
  })
} satisfies Record<ChannelType, z.ZodTypeAny>

const matcherList = z.union([z.string().min(1), z.array(z.string().min(1))])
const timeLike = z.union([z.string().min(1), int()])

const matrixSchema = z.strictObject({
  info: z.array(z.string()).optional(),
  warn: z.array(z.string()).optional(),
  critical: z.array(z.string()).optional()
})
const ruleSchema = z.strictObject({
  /** Alertmanager matchers; absent = every alert. */
  match: matcherList.optional(),
  channels: z.array(z.string()),
  /** Keep looking at later rules after this one matched. Default false. */
  continue: z.boolean().optional(),
  /** The rule applies only inside this named time interval. */
  activeTime: z.string().min(1).optional(),
  /** The rule does not apply inside this named time interval (later rules are tried). */
  muteTime: z.string().min(1).optional(),
  /** Steps that fire unless the alert was acknowledged or resolved first. */
  escalate: z.array(z.strictObject({ afterMs: positiveMs, channels: z.array(z.string()).min(1) })).optional()
})

const levelRef = z.union([z.string().min(1), int()])
const severityValue = z.string().refine((s) => normalizeSeverity(s) !== undefined, { message: 'expected "info", "warn" or "critical"' })

export const optionsSchema = z.strictObject({
  /** name → channel; `type` defaults to the name. */
  channels: record(nonEmptyKey, record(z.string(), z.unknown())).optional(),
  /**
   * A severity matrix `{ info, warn, critical }` (severity → channel names; `"*"` = every enabled
   * channel; missing severities keep their default), or a rule list `[{ match, channels, … }]`.
   * Validated below, by form.
   */
  routes: z.unknown().optional(),
  /** Named Alertmanager-style time intervals for rules' `activeTime` / `muteTime`. */
  timeIntervals: record(nonEmptyKey, z.array(record(z.string(), z.unknown()))).optional(),
  /** Same fingerprint within the window → suppressed and counted. Default on, 60000 ms; `false` turns it off. */
  dedupe: z.union([z.literal(false), z.strictObject({
    windowMs: durationMs.optional(),
    /** Cooldowns per alert type: the first rule whose matchers match sets the window. */
    rules: z.array(z.strictObject({ match: matcherList, windowMs: durationMs })).optional()
  })]).optional(),
  /** Alerts sharing the values of `by` go out as one digest per route. */
  group: z.strictObject({
    by: z.array(z.string().min(1)).min(1),
    /** Wait for more alerts of a new group before the first digest. Default 30000. */
    waitMs: durationMs.optional(),
    /** Later additions to a group wait this long after its last digest. Default 300000. */
    intervalMs: durationMs.optional()
  }).optional(),
  /** Alerts matching a silence in its time window are recorded as silenced and not sent. */
  silences: z.array(z.strictObject({
    match: matcherList,
    startsAt: timeLike.optional(),
    endsAt: timeLike,
    comment: z.string().optional(),
    createdBy: z.string().optional()
  })).optional(),
  /** While a firing alert matches `source`, alerts matching `target` with the same `equal` labels are not sent. */
  inhibit: z.array(z.strictObject({
    source: matcherList,
    target: matcherList,
    equal: z.array(z.string().min(1)).optional(),
    /** How long a source alert inhibits after it was last seen (unless resolved). Default 3600000. */
    windowMs: positiveMs.optional()
  })).optional(),
  /** Stand-ins, in order, for a routed channel whose delivery failed. Default []. */
  failover: z.array(z.string()).optional(),
  /** The title and body templates of every channel without its own (SPEC §14). */
  template: templateSchema.optional(),
  /** Read `${envPrefix}*` variables. Default true. */
  env: z.boolean().optional(),
  envPrefix: z.string().optional(),
  /** The record field that tags an alert. Default "alert". */
  alertKey: z.string().min(1).regex(/^[^"\\]+$/, { message: 'expected a plain field name' }).optional(),
  match: z.strictObject({ minLevel: levelRef.optional() }).optional(),
  /** level name or number → severity. */
  severityByLevel: record(z.string(), severityValue).optional(),
  /** How long flush()/close() wait for deliveries in flight, in ms. Default 8000 (pino gives a worker 10 s at exit). */
  shutdownTimeoutMs: positiveMs.optional(),
  /** Longer lines are counted as bad and skipped. Default 1 MiB. */
  maxLineLength: positiveInt.optional(),
  /**
   * Transport only: also write every log line, unchanged, to this file or file descriptor (1 = stdout),
   * as `pino/file` would. One `target: 'pino-alerts'` then replaces `targets: [pino/file, pino-alerts]`
   * and avoids pino's per-line multistream (see README, Performance).
   */
  destination: z.union([z.string().min(1), int().nonnegative()]).optional(),
  /** History + outbox (SQLite, needs better-sqlite3). Off when absent. Env RISK_ALERTS_STORE. */
  store: z.strictObject({
    path: z.string().min(1),
    /** Settled alerts older than this are deleted (at start and hourly). Default 30. */
    maxAgeDays: z.number().positive().finite().optional(),
    /** Beyond this many alerts the oldest settled ones are deleted. Default 1000000. */
    maxRows: positiveInt.optional(),
    /**
     * A process sharing the store heartbeats in it; an unsettled alert of a process whose heartbeat is
     * older than this is taken over by a live one (SPEC §15). In ms. Default 30000. Recorded with the
     * heartbeat: other processes judge this one by its own value.
     */
    leaseMs: positiveMs.optional()
  }).optional()
})

// ---------------------------------------------------------------------------------------------------
// Option types, as TypeScript users see them. Derived from the schemas above (no second copy); only
// `channels`, `routes` and `timeIntervals`, which the schema checks in steps of its own, are given
// their exact form here. Runtime validation is the schema's alone.

/** `{ a } & { b }` shown as `{ a, b }` in editors. */
type Flatten<T> = { [K in keyof T]: T[K] } & {}

/** What the schema of channel type `T` accepts, `type` aside. */
type ChannelKeys<T extends ChannelType> = Omit<z.input<typeof CHANNEL_SCHEMAS[T]>, 'type'>

/** One channel's options with its `type` named: `{ type: 'pagerduty', routingKey: '…' }`. Discriminated by `type`. */
export type ChannelOptions = { [T in ChannelType]: Flatten<ChannelKeys<T> & { type: T }> }[ChannelType]

/**
 * A channel under its type's own name with `type` left out (`slack: { webhookUrl }`). Every key is
 * optional: the environment fills in what the options leave out (`RISK_ALERTS_SLACK_WEBHOOK`), and the
 * merged channel is validated at start.
 */
export type ChannelOptionsByName<T extends ChannelType> = Flatten<Partial<ChannelKeys<T>> & { type?: undefined }>

/**
 * `channels`: name → options. Under a type's own name (`slack`, `pagerduty`, …) `type` may be left
 * out; any other name needs it (`ops: { type: 'pagerduty', routingKey }`).
 */
export type ChannelsOptions =
  { [T in ChannelType]?: ChannelOptionsByName<T> | Extract<ChannelOptions, { type: T }> } &
  // Any name; also what the names above take (TypeScript checks their entries against this too).
  { [name: string]: ChannelOptions | { [T in ChannelType]: ChannelOptionsByName<T> }[ChannelType] | undefined }

/** One rule of a rule list: `{ match: 'severity="critical"', channels: ['ops'] }`. */
export type RuleOptions = z.input<typeof ruleSchema>

/** The severity matrix: severity → channel names (or types, or `"*"`). */
export type RouteMatrixOptions = z.input<typeof matrixSchema>

/**
 * One time interval (Alertmanager's `time_intervals` entry), as `compileTimeIntervals` accepts it:
 * days of the month, months and years also as numbers (`daysOfMonth: [1, -1]`).
 */
export type TimeIntervalOptions = Flatten<Omit<TimeIntervalSpec, 'daysOfMonth' | 'months' | 'years'> & {
  daysOfMonth?: Array<string | number>
  months?: Array<string | number>
  years?: Array<string | number>
}>

type SchemaInput = z.input<typeof optionsSchema>

/** The options of the transport, `createAlerter` and the CLI's JSON config (validated by `resolveOptions`). */
export type AlertsOptions = Flatten<Omit<SchemaInput, 'channels' | 'routes' | 'timeIntervals'> & {
  /** name → channel; `type` defaults to the name. */
  channels?: ChannelsOptions
  /**
   * A severity matrix `{ info, warn, critical }` (severity → channel names; `"*"` = every enabled
   * channel; missing severities keep their default), or a rule list `[{ match, channels, … }]`.
   */
  routes?: RouteMatrixOptions | RuleOptions[]
  /** Named Alertmanager-style time intervals for rules' `activeTime` / `muteTime`. */
  timeIntervals?: Record<string, TimeIntervalOptions[]>
}>

// ---------------------------------------------------------------------------------------------------
// Resolved form

export interface RetryPolicy { maxAttempts: number, initialMs: number, maxMs: number }
export interface RateLimitPolicy { perSecond: number, burst: number }

export interface ResolvedChannel {
  name: string
  type: ChannelType
  enabled: boolean
  timeoutMs: number
  retry: RetryPolicy
  maxQueue: number
  deliveryTimeoutMs: number
  /** Undefined: unlimited. */
  rateLimit: RateLimitPolicy | undefined
  /** Attempts in flight at once for this channel (file and console write in order; a rate-limited channel sends one batch at a time). */
  concurrency: number
  /**
   * The type-specific keys, validated (`path`, `url`, `secret`, …). HTTP channels: `proxy` as given
   * (`ResolvedProxy`) and `tls` with `ca` read into PEM texts (`ResolvedTls`); email: `tls` the same.
   */
  config: Record<string, unknown>
  /** Secret values of this channel, masked as `***` wherever text leaves the channel. */
  secrets: string[]
  /** Title and body templates (the channel's own over the top-level one); undefined without any. */
  template?: ResolvedTemplate
}

/** `config.proxy` of an HTTP channel: a proxy URL (may carry Basic credentials: secrets), `false` = direct; absent = the environment decides. */
type ResolvedProxy = string | false
/** `config.tls` of an HTTP or email channel: `ca` always a list of PEM texts (files read at start), or absent. */
export interface ResolvedTls { ca?: string[], rejectUnauthorized?: boolean }

export interface CompiledRule {
  /** Position in `routes`, for messages. */
  index: number
  matchers: Matcher[]
  channels: string[]
  continue: boolean
  activeTime: CompiledTimeInterval[] | undefined
  muteTime: CompiledTimeInterval[] | undefined
  /** The `timeIntervals` name `activeTime` was given as (the route decision and a mute's detail name it). */
  activeTimeName?: string | undefined
  /** The `timeIntervals` name `muteTime` was given as. */
  muteTimeName?: string | undefined
  escalate: Array<{ afterMs: number, channels: string[] }>
}

export interface ResolvedSilence { matchers: Matcher[], match: string[], startsAt: number, endsAt: number, comment: string, createdBy: string }
export interface ResolvedInhibit { source: Matcher[], target: Matcher[], equal: string[], windowMs: number }

export interface ResolvedOptions {
  channels: ResolvedChannel[]
  /** The severity matrix (the default routing, also for alerts no rule matched). */
  routes: Record<Severity, string[]>
  /** The rule list, when `routes` is one. */
  rules: CompiledRule[] | undefined
  dedupe: { windowMs: number, rules: Array<{ matchers: Matcher[], windowMs: number }> } | undefined
  group: { by: string[], waitMs: number, intervalMs: number } | undefined
  silences: ResolvedSilence[]
  inhibit: ResolvedInhibit[]
  failover: string[]
  alertKey: string
  minLevel: string | number | undefined
  severityByLevel: Record<string, Severity>
  shutdownTimeoutMs: number
  maxLineLength: number
  destination: string | number | undefined
  store: { path: string, maxAgeDays: number, maxRows: number, leaseMs: number } | undefined
  /** `timeIntervals` as configured (validated), for the process record the dashboard shows; `{}` without any. */
  timeIntervals: Record<string, TimeIntervalSpec[]>
  /** Start-up warnings (partly configured channels), printed once. */
  warnings: string[]
}

/** The seed's matrix; names are matched against channel names, then types. `*` = every enabled channel. */
export const DEFAULT_ROUTES: Readonly<Record<Severity, readonly string[]>> = {
  info: ['console', 'file'],
  warn: ['console', 'file', 'slack'],
  critical: ['*']
}

const DEFAULT_CONCURRENCY: Partial<Record<ChannelType, number>> = { console: 1, file: 1 }
/** What each service tolerates (SPEC §8); what waits behind the limit goes out as a digest. */
export const DEFAULT_RATE_LIMITS: Partial<Record<string, RateLimitPolicy>> = {
  slack: { perSecond: 1, burst: 1 },
  telegram: { perSecond: 1, burst: 1 },
  discord: { perSecond: 2.5, burst: 5 },
  teams: { perSecond: 4, burst: 4 },
  pagerduty: { perSecond: 2, burst: 2 },
  // Every SMS costs money and `critical: ['*']` includes it: a burst becomes one digest per second.
  sms: { perSecond: 1, burst: 1 }
}
const SECRET_KEYS = new Set(['secret', 'password', 'botToken', 'authToken', 'routingKey', 'webhookUrl', 'token'])
/** URL options whose path and query may carry a credential (Slack, Discord, Teams webhooks put it there). */
const URL_KEYS = new Set(['url', 'webhookUrl', 'apiUrl'])

/** The secret parts of a channel's config: secret values, and the path + query of its URLs. */
function secretsOf (config: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string' || v === '') continue
    if (SECRET_KEYS.has(k)) out.push(v)
    if (URL_KEYS.has(k)) {
      try {
        const u = new URL(v)
        const rest = u.pathname + u.search
        if (rest.length > 1) out.push(v, rest)
        if (u.password !== '') out.push(u.password, decodeURIComponent(u.password))
        if (u.username !== '') out.push(u.username, decodeURIComponent(u.username))
      } catch { /* not a URL: validation has said so */ }
    }
    if (k === 'proxy') out.push(...proxySecrets(v))
  }
  // Header values carry API keys and bearer tokens: every one is a secret.
  const headers = config.headers
  if (headers !== null && typeof headers === 'object') {
    for (const v of Object.values(headers)) {
      if (typeof v !== 'string' || v === '') continue
      out.push(v)
      // `Bearer <token>`, `Basic <credentials>`: a service may echo the credential alone.
      const scheme = /^[A-Za-z][\w-]* +(\S{4,})$/.exec(v)
      if (scheme?.[1] !== undefined) out.push(scheme[1])
    }
  }
  return out
}

/** The channel types that speak HTTP (and take `proxy` and `tls`). */
const HTTP_TYPES = new Set(['webhook', 'slack', 'telegram', 'discord', 'teams', 'pagerduty', 'alertmanager', 'otlp', 'sms'])

/** The variables undici's EnvHttpProxyAgent reads a proxy from (either case; lower case wins). */
const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY']

/**
 * A proxy URL's credentials in every form they may show up in: the URL, user and password as written
 * and decoded, and `user:password` in base64 (the `Proxy-Authorization: Basic` value undici sends).
 */
function proxySecrets (proxy: string): string[] {
  let u: URL
  try { u = new URL(proxy) } catch { return [] }
  if (u.username === '' && u.password === '') return []
  const decode = (s: string): string => { try { return decodeURIComponent(s) } catch { return s } }
  const user = decode(u.username)
  const password = decode(u.password)
  // As typed, before the URL parser percent-encoded anything.
  const typed = /^[a-z][a-z\d+.-]*:\/\/([^/?#]*)@/i.exec(proxy)?.[1] ?? ''
  const colon = typed.indexOf(':')
  const typedUser = colon < 0 ? typed : typed.slice(0, colon)
  const typedPassword = colon < 0 ? '' : typed.slice(colon + 1)
  const all = [proxy, u.href, u.password, password, typedPassword, u.username, user, typedUser, Buffer.from(`${user}:${password}`).toString('base64')]
  return [...new Set(all.filter((s) => s !== ''))]
}

/** `tls.ca` as PEM texts: paths read (relative to the working directory), each checked for a certificate. */
function readCa (ca: string | string[], path: string, issues: string[]): string[] {
  const list = Array.isArray(ca) ? ca : [ca]
  return list.map((entry, i) => {
    const at = Array.isArray(ca) ? `${path}[${i}]` : path
    if (entry.trimStart().startsWith('-----BEGIN')) {
      if (!entry.includes('-----BEGIN CERTIFICATE-----')) issues.push(`${at}: got PEM text without "-----BEGIN CERTIFICATE-----"; expected a PEM certificate`)
      return entry
    }
    let pem: string
    try {
      pem = readFileSync(entry, 'utf8')
    } catch (err) {
      // "ENOENT: no such file or directory, open '…'": the path is said once, before.
      issues.push(`${at}: cannot read ${show(entry)}: ${(err as Error).message.replace(/, \w+ '.*'$/s, '')}`)
      return ''
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) issues.push(`${at}: ${show(entry)} holds no "-----BEGIN CERTIFICATE-----"; expected a PEM certificate file (PEM text, not DER)`)
    return pem
  })
}

// ---------------------------------------------------------------------------------------------------
// Environment (SPEC §6)

interface EnvVar {
  suffix: string
  key: string
  required: boolean
  parse?: (v: string) => unknown
  /** Set together or not at all (user and password). */
  pairedWith?: string
}
const ENV_CHANNELS: Array<{ channel: ChannelType, vars: EnvVar[] }> = [
  { channel: 'file', vars: [{ suffix: 'FILE', key: 'path', required: true }] },
  {
    channel: 'webhook',
    vars: [
      { suffix: 'WEBHOOK_URL', key: 'url', required: true },
      { suffix: 'WEBHOOK_SECRET', key: 'secret', required: false }
    ]
  },
  {
    channel: 'email',
    vars: [
      { suffix: 'SMTP_HOST', key: 'host', required: true },
      { suffix: 'SMTP_PORT', key: 'port', required: false, parse: (v) => (/^\d+$/.test(v) ? Number(v) : v) },
      { suffix: 'SMTP_USER', key: 'user', required: false, pairedWith: 'SMTP_PASSWORD' },
      { suffix: 'SMTP_PASSWORD', key: 'password', required: false, pairedWith: 'SMTP_USER' },
      // `false` allows AUTH without TLS (a plain relay on a trusted network); anything else is refused by the schema.
      { suffix: 'SMTP_REQUIRE_TLS', key: 'requireTLS', required: false, parse: (v) => (v === 'true' ? true : v === 'false' ? false : v) },
      { suffix: 'EMAIL_FROM', key: 'from', required: true },
      { suffix: 'EMAIL_TO', key: 'to', required: true }
    ]
  },
  { channel: 'slack', vars: [{ suffix: 'SLACK_WEBHOOK', key: 'webhookUrl', required: true }] },
  {
    channel: 'telegram',
    vars: [
      { suffix: 'TELEGRAM_BOT_TOKEN', key: 'botToken', required: true },
      { suffix: 'TELEGRAM_CHAT_ID', key: 'chatId', required: true }
    ]
  },
  { channel: 'discord', vars: [{ suffix: 'DISCORD_WEBHOOK', key: 'webhookUrl', required: true }] },
  { channel: 'teams', vars: [{ suffix: 'TEAMS_WEBHOOK', key: 'webhookUrl', required: true }] },
  { channel: 'pagerduty', vars: [{ suffix: 'PAGERDUTY_ROUTING_KEY', key: 'routingKey', required: true }] },
  { channel: 'alertmanager', vars: [{ suffix: 'ALERTMANAGER_URL', key: 'url', required: true }] },
  { channel: 'otlp', vars: [{ suffix: 'OTLP_URL', key: 'url', required: true }] },
  {
    channel: 'sms',
    vars: [
      { suffix: 'TWILIO_ACCOUNT_SID', key: 'accountSid', required: true },
      { suffix: 'TWILIO_AUTH_TOKEN', key: 'authToken', required: true },
      { suffix: 'SMS_FROM', key: 'from', required: true },
      { suffix: 'SMS_TO', key: 'to', required: true }
    ]
  }
]

interface EnvChannel { cfg: Record<string, unknown>, missing: string[], set: string[] }

/** What the environment says of each channel, partly set ones included (the caller decides). */
function fromEnv (env: NodeJS.ProcessEnv, prefix: string): Record<string, EnvChannel> {
  const out: Record<string, EnvChannel> = {}
  for (const { channel, vars } of ENV_CHANNELS) {
    const set = vars.filter((v) => (env[prefix + v.suffix] ?? '') !== '')
    if (set.length === 0) continue
    const cfg: Record<string, unknown> = {}
    for (const v of set) {
      const raw = env[prefix + v.suffix] as string
      cfg[v.key] = v.parse ? v.parse(raw) : raw
    }
    const missing = vars.filter((v) => !set.includes(v) && (v.required || (v.pairedWith !== undefined && set.some((s) => s.suffix === v.pairedWith)))).map((v) => prefix + v.suffix)
    out[channel] = { cfg, missing, set: set.map((v) => prefix + v.suffix) }
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Resolution: each part adds its problems to `issues` (in the order users read them) and goes on, so
// that one run reports every problem of a config.

type ParsedOptions = z.output<typeof optionsSchema>

/**
 * Validates and defaults options (plus the environment unless `env: false`). Throws ConfigError whose
 * message names every bad option path, the bad value (secrets masked) and what is expected.
 */
export function resolveOptions (input: unknown = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (input === undefined || input === null) input = {}
  const issues: string[] = []
  const warnings: string[] = []
  const o = parseOptions(input, issues)
  const channels = resolveChannels(o, env, issues, warnings)
  resolveTemplates(o, channels, issues)
  const resolveNames = nameResolver(channels, issues)
  const intervalAt = intervalResolver(o.timeIntervals, issues)
  const { routes, rules } = resolveRoutes(o.routes, resolveNames, intervalAt, issues)

  const dedupe = o.dedupe === false
    ? undefined
    : {
        windowMs: o.dedupe?.windowMs ?? 60_000,
        rules: (o.dedupe?.rules ?? []).map((r, i) => ({ matchers: matchersAt(r.match, `dedupe.rules[${i}].match`, issues), windowMs: r.windowMs }))
      }
  const group = o.group === undefined ? undefined : { by: o.group.by, waitMs: o.group.waitMs ?? 30_000, intervalMs: o.group.intervalMs ?? 300_000 }
  const silences = resolveSilences(o.silences ?? [], issues)
  const inhibit: ResolvedInhibit[] = (o.inhibit ?? []).map((r, i) => ({
    source: matchersAt(r.source, `inhibit[${i}].source`, issues),
    target: matchersAt(r.target, `inhibit[${i}].target`, issues),
    equal: r.equal ?? [],
    windowMs: r.windowMs ?? 3_600_000
  }))
  const failover = resolveNames(o.failover ?? [], 'failover', true, false)
  const { minLevel, severityByLevel } = resolveLevels(o, issues)

  if (issues.length > 0) throw new ConfigError(issues)
  const envStore = o.env === false ? undefined : env[(o.envPrefix ?? 'RISK_ALERTS_') + 'STORE']
  const storePath = o.store?.path ?? (envStore === undefined || envStore === '' ? undefined : envStore)
  return {
    channels,
    routes,
    rules,
    dedupe,
    group,
    silences,
    inhibit,
    failover,
    alertKey: o.alertKey ?? 'alert',
    minLevel,
    severityByLevel,
    shutdownTimeoutMs: o.shutdownTimeoutMs ?? 8000,
    maxLineLength: o.maxLineLength ?? 1024 * 1024,
    destination: o.destination,
    timeIntervals: (o.timeIntervals ?? {}) as Record<string, TimeIntervalSpec[]>,
    store: storePath === undefined ? undefined : { path: storePath, maxAgeDays: o.store?.maxAgeDays ?? 30, maxRows: o.store?.maxRows ?? 1_000_000, leaseMs: o.store?.leaseMs ?? 30_000 },
    warnings
  }
}

/** The options as the schema parsed them; when it refused them, only their usable channels (checked below, in the same run). */
function parseOptions (input: unknown, issues: string[]): ParsedOptions {
  const parsed = optionsSchema.safeParse(input)
  if (parsed.success) return parsed.data
  // Report the channels' problems in the same run too: one round trip to fix a config.
  issues.push(...formatIssues(parsed.error.issues, input, []))
  const raw = (input as { channels?: unknown }).channels
  const usable: Record<string, Record<string, unknown>> = {}
  if (isPlainObject(raw)) for (const [k, v] of Object.entries(raw)) if (isPlainObject(v)) usable[k] = v
  return { channels: usable, env: false }
}

// Channels

/** Every channel, console first (it is always there, and channel order is the order of `"*"`); the broken ones left out. */
function resolveChannels (o: ParsedOptions, env: NodeJS.ProcessEnv, issues: string[], warnings: string[]): ResolvedChannel[] {
  const rawChannels = channelConfigs(o, env, warnings)
  const envProxySecrets = [...new Set([env, process.env].flatMap((e) => PROXY_VARIABLES.flatMap((v) => proxySecrets(e[v] ?? ''))))]
  const channels: ResolvedChannel[] = []
  for (const [name, cfg] of Object.entries(rawChannels)) {
    const channel = resolveChannel(name, cfg, envProxySecrets, issues)
    if (channel !== undefined) channels.push(channel)
  }
  return channels
}

/**
 * Each channel's templates: its own `template` over the top-level one, field by field, compiled (an
 * unknown name is an issue naming the template's path). Alertmanager keys an alert by its labels,
 * `alertname` (the title) among them: its title template must give the firing and the resolved event
 * the same text, so it may not name what differs between them.
 */
function resolveTemplates (o: ParsedOptions, channels: ResolvedChannel[], issues: string[]): void {
  const compile = (text: string | undefined, path: string): Template | undefined => text === undefined ? undefined : compileTemplate(text, path, issues)
  const top = { title: compile(o.template?.title, 'template.title'), body: compile(o.template?.body, 'template.body') }
  for (const c of channels) {
    const own = (o.channels?.[c.name] as { template?: { title?: string, body?: string } } | undefined)?.template
    const title = own?.title !== undefined ? compile(own.title, `channels.${c.name}.template.title`) : top.title
    const body = own?.body !== undefined ? compile(own.body, `channels.${c.name}.template.body`) : top.body
    if (title === undefined && body === undefined) continue
    c.template = { ...(title === undefined ? {} : { title }), ...(body === undefined ? {} : { body }) }
    if (c.type === 'alertmanager' && title !== undefined) {
      const moving = title.names.filter((n) => ['status', 'timestamp', 'id', 'body', 'level'].includes(n) || n.startsWith('metadata.'))
      if (moving.length > 0) {
        const path = own?.title !== undefined ? `channels.${c.name}.template.title` : 'template.title'
        issues.push(`${path}: {{${moving.join('}}, {{')}}} in an alertmanager title: the title is the alertname label, which must be the same for an alert's firing and resolved events (use a body template for these)`)
      }
    }
  }
}

/** name → the channel's raw config: the environment's channels, then the options' (merged with the environment's, key by key). */
function channelConfigs (o: ParsedOptions, env: NodeJS.ProcessEnv, warnings: string[]): Record<string, Record<string, unknown>> {
  const fromEnvironment = o.env === false ? {} : fromEnv(env, o.envPrefix ?? 'RISK_ALERTS_')
  const rawChannels: Record<string, Record<string, unknown>> = { console: {} }
  for (const [name, e] of Object.entries(fromEnvironment)) {
    if (o.channels?.[name] !== undefined) continue
    if (e.missing.length > 0) {
      warnings.push(`pino-alerts: channel "${name}" stays off: ${e.missing.join(', ')} not set (${e.set.join(', ')} set)`)
      continue
    }
    rawChannels[name] = e.cfg
  }
  for (const [name, cfg] of Object.entries(o.channels ?? {})) {
    // Options win over the environment, key by key; the environment may fill in what options leave out.
    rawChannels[name] = { ...(fromEnvironment[name]?.cfg ?? {}), ...cfg }
  }
  return rawChannels
}

/** One channel validated by its type's schema and defaulted; undefined (and issues) when it is not valid. */
function resolveChannel (name: string, cfg: Record<string, unknown>, envProxySecrets: readonly string[], issues: string[]): ResolvedChannel | undefined {
  const type = (cfg.type ?? name) as string
  if (!(CHANNEL_TYPES as readonly string[]).includes(type)) {
    issues.push(cfg.type === undefined
      ? `channels.${name}: unknown channel type "${name}" (set "type" to one of: ${CHANNEL_TYPES.join(', ')})`
      : `channels.${name}.type: got ${JSON.stringify(type)}; expected one of: ${CHANNEL_TYPES.join(', ')}`)
    return undefined
  }
  const schema: z.ZodTypeAny = CHANNEL_SCHEMAS[type as ChannelType]
  const r = schema.safeParse(cfg)
  if (!r.success) {
    issues.push(...formatIssues(r.error.issues, cfg, ['channels', name]))
    return undefined
  }
  const c = r.data as Record<string, unknown> & {
    enabled?: boolean, timeoutMs?: number, retry?: Partial<RetryPolicy>, maxQueue?: number, deliveryTimeoutMs?: number
    rateLimit?: false | { perSecond: number, burst?: number }
  }
  const rl = c.rateLimit === undefined ? DEFAULT_RATE_LIMITS[type] : c.rateLimit === false ? undefined : { perSecond: c.rateLimit.perSecond, burst: c.rateLimit.burst ?? Math.max(1, Math.ceil(c.rateLimit.perSecond)) }
  const config: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(c)) {
    if (k in common) continue
    config[k] = v
  }
  const tls = c.tls as { ca?: string | string[], rejectUnauthorized?: boolean } | undefined
  if (tls?.ca !== undefined) {
    const before = issues.length
    const ca = readCa(tls.ca, `channels.${name}.tls.ca`, issues)
    if (issues.length > before) return undefined
    config.tls = { ...tls, ca } satisfies ResolvedTls
  }
  const secrets = secretsOf(config)
  // A module channel's options may hold credentials under the usual names (token, password, …).
  if (type === 'module' && config.options !== null && typeof config.options === 'object') secrets.push(...secretsOf(config.options as Record<string, unknown>))
  // Without a proxy of its own an HTTP channel uses the environment's (HTTP_PROXY…): its credentials are secrets too.
  if (config.proxy === undefined && HTTP_TYPES.has(type)) secrets.push(...envProxySecrets)
  return {
    name,
    type: type as ChannelType,
    enabled: c.enabled ?? true,
    timeoutMs: c.timeoutMs ?? 10000,
    retry: { maxAttempts: c.retry?.maxAttempts ?? 5, initialMs: c.retry?.initialMs ?? 500, maxMs: c.retry?.maxMs ?? 30000 },
    maxQueue: c.maxQueue ?? 10000,
    deliveryTimeoutMs: c.deliveryTimeoutMs ?? 60000,
    rateLimit: rl,
    concurrency: DEFAULT_CONCURRENCY[type as ChannelType] ?? 8,
    config,
    secrets
  }
}

/**
 * Channel names, types and `"*"` (when `allowStar`) → the names of enabled channels, each once.
 * `user`: the list came from the options, so an unknown entry is an issue (the defaults may name absent channels).
 */
type NameResolver = (list: readonly string[], path: string, user: boolean, allowStar: boolean) => string[]

function nameResolver (channels: readonly ResolvedChannel[], issues: string[]): NameResolver {
  const enabled = channels.filter((c) => c.enabled)
  const known = new Set<string>([...channels.map((c) => c.name), ...CHANNEL_TYPES])
  const expected = `expected a channel name (${channels.map((c) => c.name).join(', ')}), a channel type or "*"`
  return (list, path, user, allowStar) => {
    const out: string[] = []
    list.forEach((entry, i) => {
      if (entry === '*' && allowStar) {
        out.push(...enabled.map((c) => c.name))
        return
      }
      if (user && !known.has(entry)) {
        issues.push(`${path}[${i}]: got ${JSON.stringify(entry)}; ${allowStar ? expected : expected.replace(' or "*"', '')}`)
        return
      }
      const byName = channels.find((c) => c.name === entry)
      if (byName !== undefined) {
        if (byName.enabled) out.push(byName.name)
        return
      }
      out.push(...enabled.filter((c) => c.type === entry).map((c) => c.name))
    })
    return [...new Set(out)]
  }
}

function matchersAt (input: string | string[], path: string, issues: string[]): Matcher[] {
  try {
    return parseMatchers(input)
  } catch (err) {
    issues.push(`${path}: ${err instanceof MatcherError ? err.message : (err as Error).message}`)
    return []
  }
}

// Routes

type IntervalResolver = (name: string | undefined, path: string) => CompiledTimeInterval[] | undefined

/** `timeIntervals` compiled; the function returned looks a rule's `activeTime` / `muteTime` up in them. */
function intervalResolver (timeIntervals: ParsedOptions['timeIntervals'], issues: string[]): IntervalResolver {
  let intervals = new Map<string, CompiledTimeInterval[]>()
  if (timeIntervals !== undefined) {
    try {
      intervals = compileTimeIntervals(timeIntervals as never)
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues)
      else issues.push(`timeIntervals: ${(err as Error).message}`)
    }
  }
  return (name, path) => {
    if (name === undefined) return undefined
    const found = intervals.get(name)
    if (found === undefined) issues.push(`${path}: got ${JSON.stringify(name)}; expected a name from timeIntervals (${[...intervals.keys()].join(', ') || 'none defined'})`)
    return found ?? []
  }
}

const MATRIX_KEYS = ['info', 'warn', 'critical']
const RULE_KEYS = ['match', 'channels', 'continue', 'activeTime', 'muteTime', 'escalate']
const MIXED_ROUTES = 'routes: either a severity matrix { info, warn, critical } or a rule list [{ match, channels, … }], not both in one config'

/** `routes`, a severity matrix or a rule list: the matrix (defaults for what the options leave out) and the rules if any. */
function resolveRoutes (
  rawRoutes: unknown, resolveNames: NameResolver, intervalAt: IntervalResolver, issues: string[]
): { routes: Record<Severity, string[]>, rules: CompiledRule[] | undefined } {
  let rules: CompiledRule[] | undefined
  let userMatrix: z.output<typeof matrixSchema> = {}
  if (Array.isArray(rawRoutes)) {
    rules = resolveRules(rawRoutes, resolveNames, intervalAt, issues)
  } else if (rawRoutes !== undefined) {
    if (rawRoutes !== null && typeof rawRoutes === 'object' && Object.keys(rawRoutes).some((k) => RULE_KEYS.includes(k))) {
      issues.push(`${MIXED_ROUTES} (got an object with ${Object.keys(rawRoutes).filter((k) => RULE_KEYS.includes(k)).join(', ')}; a rule list is an array)`)
    } else {
      const m = matrixSchema.safeParse(rawRoutes)
      if (m.success) userMatrix = m.data
      else issues.push(...formatIssues(m.error.issues, rawRoutes, ['routes']))
    }
  }
  const routes = {} as Record<Severity, string[]>
  for (const sev of SEVERITIES) {
    const user = userMatrix[sev]
    routes[sev] = resolveNames(user ?? DEFAULT_ROUTES[sev], `routes.${sev}`, user !== undefined, true)
  }
  return { routes, rules }
}

function resolveRules (rawRoutes: readonly unknown[], resolveNames: NameResolver, intervalAt: IntervalResolver, issues: string[]): CompiledRule[] {
  const rules: CompiledRule[] = []
  rawRoutes.forEach((raw, i) => {
    if (raw !== null && typeof raw === 'object' && Object.keys(raw).some((k) => MATRIX_KEYS.includes(k))) { issues.push(`${MIXED_ROUTES} (routes[${i}] has severity keys)`); return }
    const r = ruleSchema.safeParse(raw)
    if (!r.success) { issues.push(...formatIssues(r.error.issues, raw, ['routes', i])); return }
    const rule = r.data
    rules.push({
      index: i,
      matchers: rule.match === undefined ? [] : matchersAt(rule.match, `routes[${i}].match`, issues),
      channels: resolveNames(rule.channels, `routes[${i}].channels`, true, true),
      continue: rule.continue ?? false,
      activeTime: intervalAt(rule.activeTime, `routes[${i}].activeTime`),
      muteTime: intervalAt(rule.muteTime, `routes[${i}].muteTime`),
      activeTimeName: rule.activeTime,
      muteTimeName: rule.muteTime,
      escalate: (rule.escalate ?? []).map((step, j) => ({ afterMs: step.afterMs, channels: resolveNames(step.channels, `routes[${i}].escalate[${j}].channels`, true, true) }))
    })
  })
  return rules
}

// Silences, levels

function resolveSilences (list: NonNullable<ParsedOptions['silences']>, issues: string[]): ResolvedSilence[] {
  const timeAt = (t: string | number, path: string): number => {
    const ms = typeof t === 'number' ? t : Date.parse(t)
    if (Number.isNaN(ms)) issues.push(`${path}: got ${JSON.stringify(t)}; expected an ISO 8601 time or epoch milliseconds`)
    return ms
  }
  return list.map((s, i) => {
    const startsAt = s.startsAt === undefined ? 0 : timeAt(s.startsAt, `silences[${i}].startsAt`)
    const endsAt = timeAt(s.endsAt, `silences[${i}].endsAt`)
    if (endsAt <= startsAt) issues.push(`silences[${i}].endsAt: got ${JSON.stringify(s.endsAt)}; expected a time after startsAt`)
    return { matchers: matchersAt(s.match, `silences[${i}].match`, issues), match: Array.isArray(s.match) ? s.match : [s.match], startsAt, endsAt, comment: s.comment ?? '', createdBy: s.createdBy ?? 'options' }
  })
}

function resolveLevels (o: ParsedOptions, issues: string[]): { minLevel: string | number | undefined, severityByLevel: Record<string, Severity> } {
  const severityByLevel: Record<string, Severity> = {}
  for (const [k, v] of Object.entries(o.severityByLevel ?? {})) {
    const s = normalizeSeverity(v)
    if (s !== undefined && isSeverity(s)) severityByLevel[k] = s
  }
  const minLevel = o.match?.minLevel
  if (typeof minLevel === 'string' && !/^\d+$/.test(minLevel) && !(minLevel in PINO_LEVELS)) {
    // Custom level names are checked again once pino has sent its levels (see transport.ts).
    if (!isCustomLevelName(minLevel)) issues.push(`match.minLevel: got ${JSON.stringify(minLevel)}; expected a pino level name or number`)
  }
  return { minLevel, severityByLevel }
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function isCustomLevelName (s: string): boolean {
  return /^[A-Za-z_][\w-]*$/.test(s)
}

// ---------------------------------------------------------------------------------------------------
// Error messages: path, bad value (secrets masked), what is expected

function formatIssues (issues: readonly z.ZodIssue[], input: unknown, prefix: Array<string | number>): string[] {
  // A value of the wrong type gets one message: later checks of the same value add nothing (1.5 for
  // a positive int is "expected int", not also "expected number to be >0").
  const wrongType = new Set<string>()
  return issues.filter((issue) => {
    const key = JSON.stringify(issue.path)
    if (wrongType.has(key)) return false
    if (issue.code === 'invalid_type') wrongType.add(key)
    return true
  }).map((issue) => {
    const fullPath = [...prefix, ...issue.path]
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${pathString([...fullPath, k])}: unknown option (unknown keys are errors, so that a typo cannot silently disable alerting)`).join('; ')
    }
    const value = valueAt(input, issue.path)
    const last = issue.path[issue.path.length - 1]
    const shown = shownValue(issue.path, value)
    const exp = expectedOf(issue, value)
    return value === undefined ? `${pathString(fullPath)}: missing (required); ${exp}` : `${pathString(fullPath)}: got ${shown}; ${exp}`
  })
}

/** What an issue expects, in the words users have been given ("expected number to be >0"). */
function expectedOf (issue: z.ZodIssue, value: unknown): string {
  // Our own messages ("expected an http(s) URL"); zod's own start with a capital letter.
  if (issue.message.startsWith('expected')) return issue.message
  switch (issue.code) {
    // Infinity fails `int` in v3 ("received float"); it is no number at all to users.
    case 'invalid_type': return `expected ${issue.expected !== 'integer' ? issue.expected : Number.isFinite(value) ? 'int' : 'number'}`
    case 'not_finite': return 'expected number'
    case 'invalid_literal': return `expected ${show(issue.expected)}`
    case 'invalid_enum_value': return `expected one of ${issue.options.map((o) => JSON.stringify(o)).join('|')}`
    case 'too_small':
    case 'too_big': {
      const bound = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum)
      const op = issue.exact === true ? '' : `${issue.code === 'too_small' ? '>' : '<'}${issue.inclusive ? '=' : ''}`
      if (issue.type === 'string') return `expected string to have ${op}${bound} characters`
      if (issue.type === 'array' || issue.type === 'set') return `expected array to have ${op}${bound} items`
      return `expected number to be ${op}${bound}`
    }
    // invalid_union says "Invalid input"; refinements without a message "Invalid input" too.
    default: return `expected ${issue.message}`
  }
}

function valueAt (input: unknown, path: ReadonlyArray<string | number>): unknown {
  let v: unknown = input
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string | number, unknown>)[p]
  }
  return v
}

function show (v: unknown): string {
  if (v === undefined) return 'nothing'
  try {
    const s = JSON.stringify(v)
    return s.length > 80 ? s.slice(0, 77) + '...' : s
  } catch { return String(v) }
}

/**
 * A bad value as an error shows it: never a secret (secret keys, header values), nor the credentials,
 * path or query of a URL (Slack, Discord and Teams webhooks carry their token there).
 */
function shownValue (path: ReadonlyArray<string | number>, value: unknown): string {
  const last = path[path.length - 1]
  if (typeof last === 'string' && SECRET_KEYS.has(last)) return '***'
  if (path.includes('headers')) return typeof value === 'string' ? '***' : show(value)
  if (last === 'proxy') return showProxy(value)
  const key = path.findLast((p) => typeof p === 'string')
  if (typeof key === 'string' && URL_KEYS.has(key) && typeof value === 'string') return showUrl(value)
  return show(value)
}

/** A URL as errors show it: scheme and host only. */
function showUrl (v: string): string {
  try {
    const u = new URL(v)
    const hidden = u.username !== '' || u.password !== '' || u.pathname.length > 1 || u.search !== ''
    return show(hidden ? `${u.protocol}//${u.host}/***` : v)
  } catch { /* not a URL: shown unless it has a URL's shape (a credential could sit in it) */ }
  return /[/@?]/.test(v) ? '***' : show(v)
}

/** A proxy value as errors show it: never its credentials. */
function showProxy (v: unknown): string {
  if (typeof v !== 'string') return show(v)
  try {
    const u = new URL(v)
    if (u.username !== '' || u.password !== '') return show(`${u.protocol}//***@${u.host}`)
  } catch { /* below */ }
  return v.includes('@') ? '***' : show(v)
}

function pathString (path: Array<string | number>): string {
  let s = ''
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`
  return s
}
