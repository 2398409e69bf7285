/**
 * A local fake of the PagerDuty Events API v2 (`POST /v2/enqueue`), built on the generic webhook
 * server.
 *
 * What it imitates (developer.pagerduty.com, "Send an Alert Event" and "Events API v2 Overview"):
 * - `202 {"status":"success","message":"Event processed","dedup_key":"…"}` for an event it takes;
 * - `400 {"status":"invalid event","message":"Event object is invalid","errors":[…]}` with one
 *   message per problem, worded as PagerDuty words them (`Length of 'routing_key' is incorrect
 *   (should be 32 characters)`, `'payload.severity' is invalid (must be one of the following:
 *   'critical', 'warning', 'error' or 'info')`, `'payload.source' is missing or blank`, …);
 * - a body that is not a JSON object: `400 {"status":"Unrecognized object","message":"Event object
 *   format is unrecognized","errors":["JSON parse error"]}`;
 * - the 512 KB request limit (413);
 * - the alert lifecycle per (routing_key, dedup_key): a trigger opens an alert or adds to the open
 *   one; acknowledge and resolve apply to the open alert and are dropped (still 202) when there is
 *   none; after a resolve, a trigger with the same key opens a new alert;
 * - throttling (429, `Retry-After` only when asked: PagerDuty itself usually sends none), outages
 *   (5xx with the documented error body) and a hung service.
 *
 * Stricter than the real thing on purpose: a summary over 1024 characters, a dedup_key over 255 and
 * strings holding lone UTF-16 surrogates are refused (PagerDuty documents the limits but may cut
 * instead), so that a test sees what would otherwise be mangled.
 */
import { randomBytes } from 'node:crypto'
import type { FakeAnswers } from '../channels/suite.js'
import { startWebhookServer, type RecordedRequest, type Script, type ScriptedResponse, type WebhookServer } from './webhook-server.js'

export const PAGERDUTY_LIMIT_BYTES = 512 * 1024
const ACTIONS = ['trigger', 'acknowledge', 'resolve']
const SEVERITIES = ['critical', 'error', 'warning', 'info']

// ---------------------------------------------------------------------------------------------------
// Answers

const JSON_TYPE = { 'content-type': 'application/json' }

export const pagerdutyAccepted = (dedupKey: string): ScriptedResponse =>
  ({ status: 202, headers: JSON_TYPE, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } })
export const pagerdutyInvalid = (errors: string[]): ScriptedResponse =>
  ({ status: 400, headers: JSON_TYPE, body: { status: 'invalid event', message: 'Event object is invalid', errors } })
export const pagerdutyUnrecognized = (): ScriptedResponse =>
  ({ status: 400, headers: JSON_TYPE, body: { status: 'Unrecognized object', message: 'Event object format is unrecognized', errors: ['JSON parse error'] } })
/** 429; with `seconds`, a `Retry-After` header too. */
export const pagerdutyThrottled = (seconds?: number): ScriptedResponse => ({
  status: 429,
  headers: seconds === undefined ? JSON_TYPE : { ...JSON_TYPE, 'retry-after': String(seconds) },
  body: { status: 'throttle event', message: 'Requests for this service are arriving too quickly.  Please retry later.' }
})
export const pagerdutyUnavailable = (status = 503): ScriptedResponse =>
  ({ status, headers: JSON_TYPE, body: { status: 'Internal Server Error', message: 'The server encountered an error while processing the event', errors: ['try again later'] } })

// ---------------------------------------------------------------------------------------------------
// Validation

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
/** ISO 8601 date-time, with `Z` or an offset (`+0000` as in PagerDuty's examples, or `+00:00`). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/

function hasLoneSurrogate (v: unknown): boolean {
  if (typeof v === 'string') return LONE_SURROGATE.test(v)
  if (Array.isArray(v)) return v.some(hasLoneSurrogate)
  if (isObject(v)) return Object.entries(v).some(([k, x]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(x))
  return false
}

const blank = (v: unknown): boolean => v === undefined || v === null || (typeof v === 'string' && v.trim() === '')

/** PagerDuty's complaints about a parsed event, in its wording; [] when it is valid. */
export function eventProblems (ev: Record<string, unknown>): string[] {
  const errors: string[] = []
  const rk = ev.routing_key
  if (blank(rk)) errors.push("'routing_key' is missing or blank")
  else if (typeof rk !== 'string' || rk.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)")
  const action = ev.event_action
  if (blank(action)) errors.push("'event_action' is missing or blank")
  else if (typeof action !== 'string' || !ACTIONS.includes(action)) errors.push("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
  const key = ev.dedup_key
  if (key !== undefined && key !== null) {
    if (typeof key !== 'string') errors.push("'dedup_key' must be a string")
    else if (key.length > 255) errors.push("'dedup_key' is too long (must be at most 255 characters)")
  }
  if ((action === 'acknowledge' || action === 'resolve') && blank(key)) errors.push("'dedup_key' is missing or blank")
  if (action === 'trigger') {
    const p = ev.payload
    if (!isObject(p)) {
      errors.push("'payload' is missing or blank")
    } else {
      if (blank(p.summary)) errors.push("'payload.summary' is missing or blank")
      else if (typeof p.summary !== 'string') errors.push("'payload.summary' must be a string")
      else if (p.summary.length > 1024) errors.push("'payload.summary' is too long (must be at most 1024 characters)")
      if (blank(p.source)) errors.push("'payload.source' is missing or blank")
      else if (typeof p.source !== 'string') errors.push("'payload.source' must be a string")
      if (blank(p.severity)) errors.push("'payload.severity' is missing or blank")
      else if (typeof p.severity !== 'string' || !SEVERITIES.includes(p.severity)) errors.push("'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
      if (p.timestamp !== undefined && (typeof p.timestamp !== 'string' || !ISO_8601.test(p.timestamp) || Number.isNaN(Date.parse(p.timestamp)))) {
        errors.push("'payload.timestamp' is invalid (must be an ISO 8601 timestamp)")
      }
      for (const f of ['component', 'group', 'class']) {
        if (p[f] !== undefined && typeof p[f] !== 'string') errors.push(`'payload.${f}' must be a string`)
      }
      if (p.custom_details !== undefined && !isObject(p.custom_details)) errors.push("'payload.custom_details' must be an object")
    }
  }
  for (const [list, need] of [['links', 'href'], ['images', 'src']] as const) {
    const v = ev[list]
    if (v === undefined) continue
    if (!Array.isArray(v)) { errors.push(`'${list}' must be an array`); continue }
    v.forEach((x, i) => { if (!isObject(x) || typeof x[need] !== 'string' || x[need] === '') errors.push(`'${list}[${i}].${need}' is missing or blank`) })
  }
  for (const f of ['client', 'client_url']) if (ev[f] !== undefined && typeof ev[f] !== 'string') errors.push(`'${f}' must be a string`)
  return errors
}

/** The parsed event, or the answer PagerDuty gives to a request it cannot take. */
export function parseEvent (req: RecordedRequest): { event: Record<string, unknown> } | { refused: ScriptedResponse } {
  const text = req.text()
  if (!Buffer.from(text, 'utf8').equals(req.body)) return { refused: pagerdutyUnrecognized() }
  let ev: unknown
  try { ev = JSON.parse(text) } catch { return { refused: pagerdutyUnrecognized() } }
  if (!isObject(ev) || hasLoneSurrogate(ev)) return { refused: pagerdutyUnrecognized() }
  const errors = eventProblems(ev)
  return errors.length > 0 ? { refused: pagerdutyInvalid(errors) } : { event: ev }
}

/** The answer of the live Events API to one request: 202, or 400 with PagerDuty's errors. */
export function pagerdutyAnswer (req: RecordedRequest): ScriptedResponse {
  const r = parseEvent(req)
  if ('refused' in r) return r.refused
  const key = r.event.dedup_key
  return pagerdutyAccepted(typeof key === 'string' && key !== '' ? key : randomBytes(16).toString('hex'))
}

/** For `runChannelSuite`: how the Events API says each thing. */
export const pagerdutyAnswers: Partial<FakeAnswers> = {
  accept: pagerdutyAnswer,
  unavailable: () => pagerdutyUnavailable(503),
  rateLimited: (seconds) => pagerdutyThrottled(seconds),
  rejected: () => pagerdutyInvalid(["'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"])
}

// ---------------------------------------------------------------------------------------------------
// Alert state

export type IncidentStatus = 'triggered' | 'acknowledged' | 'resolved'

export interface FakeIncident {
  routingKey: string
  dedupKey: string
  status: IncidentStatus
  /** Every event applied to this alert, in order. */
  log: PagerDutyAction[]
  /** The payload of the last trigger. */
  payload: Record<string, unknown>
  triggers: number
}
type PagerDutyAction = 'trigger' | 'acknowledge' | 'resolve'

/** An event the fake accepted (202), parsed. */
export interface AcceptedEvent {
  routing_key: string
  event_action: PagerDutyAction
  dedup_key: string
  payload?: Record<string, unknown> & { summary: string, source: string, severity: string, custom_details?: Record<string, unknown> }
  links?: Array<{ href: string, text?: string }>
  client?: string
  [k: string]: unknown
}

// ---------------------------------------------------------------------------------------------------
// The server

export interface PagerDutyFake extends WebhookServer {
  /** A valid integration key (32 characters) for tests to use; the fake takes any well-formed key. */
  readonly routingKey: string
  /** Every event answered 202, in order. */
  events: () => AcceptedEvent[]
  /** Every alert opened, oldest first (several per dedup_key when one was resolved and triggered again). */
  incidents: () => FakeIncident[]
  /** The latest alert with this dedup_key (for this routing key, default `routingKey`). */
  incident: (dedupKey: string, routingKey?: string) => FakeIncident | undefined
  /** Acknowledge/resolve events that found no open alert (accepted, then dropped, as PagerDuty does). */
  dropped: () => AcceptedEvent[]
  /** The next `times` requests are throttled: 429, with `Retry-After: seconds` when given. */
  throttle: (seconds?: number, times?: number) => void
  /** The next `times` requests get a 5xx. */
  unavailable: (status?: number, times?: number) => void
  /** The next request is held, never answered (until `release()` or `close()`). */
  hang: () => void
}

/**
 * Starts the fake on 127.0.0.1, port 0. Only `POST /v2/enqueue` exists (anything else is 404). The
 * default answer validates the event (`pagerdutyAnswer`); whatever answer a request gets, a 202
 * applies its event to the alert state.
 */
export async function startPagerDutyFake (): Promise<PagerDutyFake> {
  const routingKey = randomBytes(16).toString('hex')
  let accepted: AcceptedEvent[] = []
  let incidents: FakeIncident[] = []
  let dropped: AcceptedEvent[] = []

  const open = (rk: string, key: string): FakeIncident | undefined =>
    incidents.find((i) => i.routingKey === rk && i.dedupKey === key && i.status !== 'resolved')

  const apply = (req: RecordedRequest, res: ScriptedResponse): void => {
    const r = parseEvent(req)
    if (!('event' in r)) return
    const ev = r.event as AcceptedEvent
    const body = res.body as { dedup_key?: string } | undefined
    if (typeof ev.dedup_key !== 'string' || ev.dedup_key === '') ev.dedup_key = body?.dedup_key ?? ''
    accepted.push(ev)
    const current = open(ev.routing_key, ev.dedup_key)
    if (ev.event_action === 'trigger') {
      if (current === undefined) {
        incidents.push({ routingKey: ev.routing_key, dedupKey: ev.dedup_key, status: 'triggered', log: ['trigger'], payload: ev.payload ?? {}, triggers: 1 })
      } else {
        // An acknowledged alert stays acknowledged: a new trigger only adds to its log.
        current.log.push('trigger')
        current.triggers++
        current.payload = ev.payload ?? {}
      }
      return
    }
    if (current === undefined) { dropped.push(ev); return }
    current.log.push(ev.event_action)
    current.status = ev.event_action === 'acknowledge' ? 'acknowledged' : 'resolved'
  }

  const route = (req: RecordedRequest): ScriptedResponse | undefined => {
    if (req.path !== '/v2/enqueue') return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' }
    if (req.method !== 'POST') return { status: 405, headers: { 'content-type': 'text/plain', allow: 'POST' }, body: 'Method Not Allowed' }
    return undefined
  }
  const wrap = (s: Script): Script => async (req) => {
    const early = route(req)
    if (early !== undefined) return early
    const res = typeof s === 'function' ? await s(req) : s
    if (res.status === 202) apply(req, res)
    return res
  }

  const server = await startWebhookServer({ defaultResponse: wrap(pagerdutyAnswer), maxBodyBytes: PAGERDUTY_LIMIT_BYTES })
  const fake: PagerDutyFake = {
    get origin () { return server.origin },
    get url () { return server.url },
    get port () { return server.port },
    get requests () { return server.requests },
    get held () { return server.held },
    routingKey,
    script: (...responses) => server.script(...responses.map(wrap)),
    setDefault: (response) => server.setDefault(wrap(response)),
    release: (response) => server.release(response),
    waitFor: async (n, timeoutMs) => await server.waitFor(n, timeoutMs),
    reset: () => { server.reset(); accepted = []; incidents = []; dropped = [] },
    close: async () => await server.close(),
    events: () => accepted,
    incidents: () => incidents,
    incident: (dedupKey, rk = routingKey) => [...incidents].reverse().find((i) => i.routingKey === rk && i.dedupKey === dedupKey),
    dropped: () => dropped,
    throttle: (seconds, times = 1) => server.script(...Array.from({ length: times }, () => wrap(pagerdutyThrottled(seconds)))),
    unavailable: (status = 503, times = 1) => server.script(...Array.from({ length: times }, () => wrap(pagerdutyUnavailable(status)))),
    hang: () => server.script(wrap({ hold: true }))
  }
  return fake
}
