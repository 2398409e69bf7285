/**
 * A local fake of a Microsoft Teams "Workflows" webhook (Power Automate flow "Send webhook alerts to
 * a channel"), built on the generic webhook server.
 *
 * What it imitates:
 * - the workflow URL: `/powerautomate/automations/direct/workflows/<id>/triggers/manual/paths/invoke
 *   ?api-version=1&sp=…&sv=1.0&sig=<signature>`; another workflow id (or a deleted workflow) is
 *   404 `WorkflowNotFound` naming the workflow, a wrong `sig` is 401;
 * - Logic Apps error bodies: `{ "error": { "code", "message" } }`;
 * - `202 Accepted` (empty body) for a message it takes;
 * - a body that is not JSON: 400 `InvalidRequestContent`;
 * - the 28 KB limit: 413 `RequestEntityTooLarge` (bytes counted as UTF-8 when the request declares
 *   `charset=utf-8`, otherwise as UTF-16, as the service has been reported to do);
 * - throttling (429 + `Retry-After`), outages (5xx) and a hung service.
 *
 * Stricter than the real thing on purpose: Workflows accepts a malformed card with 202 and only the
 * flow's run history shows "The specified Teams flowbot adaptive card request is missing or invalid".
 * Here such a card is answered 400 "Bad payload: …" so that a test sees it.
 */
import { randomBytes } from 'node:crypto'
import type { FakeAnswers } from '../channels/suite.js'
import { startWebhookServer, type RecordedRequest, type Script, type ScriptedResponse, type WebhookServer } from './webhook-server.js'

export const TEAMS_LIMIT_BYTES = 28 * 1024
const CARD_TYPE = 'application/vnd.microsoft.card.adaptive'

// ---------------------------------------------------------------------------------------------------
// Answers

function logicAppsError (status: number, code: string, message: string, headers: Record<string, string> = {}): ScriptedResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: { error: { code, message } } }
}

export const teamsAccepted = (): ScriptedResponse => ({ status: 202, headers: { 'content-length': '0' }, body: '' })
export const teamsThrottled = (seconds: number): ScriptedResponse =>
  logicAppsError(429, 'TooManyRequests', `Rate limit is exceeded. Try again in ${seconds} seconds.`, { 'retry-after': String(seconds) })
export const teamsUnavailable = (status = 503): ScriptedResponse =>
  logicAppsError(status, status === 502 ? 'BadGateway' : 'ServiceUnavailable', 'The service is temporarily unavailable. Please try again later.')
export const teamsBadPayload = (reason: string): ScriptedResponse => logicAppsError(400, 'BadRequest', `Bad payload: ${reason}`)

// ---------------------------------------------------------------------------------------------------
// Validation: the envelope, the Adaptive Card and its elements

const ELEMENT_TYPES = new Set(['TextBlock', 'Container', 'FactSet', 'ColumnSet', 'Column'])
const CONTAINER_STYLES = new Set(['default', 'emphasis', 'good', 'attention', 'warning', 'accent'])
const COLORS = new Set(['default', 'dark', 'light', 'accent', 'good', 'warning', 'attention'])
const SIZES = new Set(['default', 'small', 'medium', 'large', 'extralarge'])
const WEIGHTS = new Set(['default', 'lighter', 'bolder'])
const SPACINGS = new Set(['default', 'none', 'small', 'medium', 'large', 'extralarge', 'padding'])

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function checkEnum (o: Record<string, unknown>, key: string, allowed: Set<string>, path: string): string | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !allowed.has(v.toLowerCase())) return `${path}.${key}: ${JSON.stringify(v)} is not one of ${[...allowed].join(', ')}`
  return undefined
}

function checkText (v: unknown, path: string): string | undefined {
  if (typeof v !== 'string') return `${path}: expected a string`
  if (LONE_SURROGATE.test(v)) return `${path}: invalid UTF-16 (lone surrogate)`
  return undefined
}

function checkElements (list: unknown, path: string): string | undefined {
  if (!Array.isArray(list)) return `${path}: expected an array`
  for (let i = 0; i < list.length; i++) {
    const err = checkElement(list[i], `${path}[${i}]`)
    if (err !== undefined) return err
  }
  return undefined
}

function checkElement (el: unknown, path: string): string | undefined {
  if (!isObject(el)) return `${path}: expected an element object`
  const type = el.type
  if (typeof type !== 'string' || !ELEMENT_TYPES.has(type)) return `${path}.type: unknown element type ${JSON.stringify(type)}`
  const common = checkEnum(el, 'spacing', SPACINGS, path) ?? (el.separator !== undefined && typeof el.separator !== 'boolean' ? `${path}.separator: expected a boolean` : undefined)
  if (common !== undefined) return common
  switch (type) {
    case 'TextBlock':
      return checkText(el.text, `${path}.text`) ??
        checkEnum(el, 'color', COLORS, path) ?? checkEnum(el, 'size', SIZES, path) ?? checkEnum(el, 'weight', WEIGHTS, path) ??
        (el.wrap !== undefined && typeof el.wrap !== 'boolean' ? `${path}.wrap: expected a boolean` : undefined) ??
        (el.isSubtle !== undefined && typeof el.isSubtle !== 'boolean' ? `${path}.isSubtle: expected a boolean` : undefined)
    case 'Container':
    case 'Column':
      return checkEnum(el, 'style', CONTAINER_STYLES, path) ?? checkElements(el.items, `${path}.items`)
    case 'ColumnSet': {
      if (!Array.isArray(el.columns)) return `${path}.columns: expected an array`
      for (let i = 0; i < el.columns.length; i++) {
        const c = el.columns[i] as unknown
        if (!isObject(c) || c.type !== 'Column') return `${path}.columns[${i}]: expected a Column`
        const err = checkElement(c, `${path}.columns[${i}]`)
        if (err !== undefined) return err
      }
      return undefined
    }
    case 'FactSet': {
      if (!Array.isArray(el.facts)) return `${path}.facts: expected an array`
      for (let i = 0; i < el.facts.length; i++) {
        const f = el.facts[i] as unknown
        if (!isObject(f)) return `${path}.facts[${i}]: expected { title, value }`
        const err = checkText(f.title, `${path}.facts[${i}].title`) ?? checkText(f.value, `${path}.facts[${i}].value`)
        if (err !== undefined) return err
      }
      return undefined
    }
  }
  return undefined
}

/** Why Workflows (or the Teams card renderer behind it) would refuse this parsed body; `undefined` when fine. */
export function cardProblem (payload: unknown): string | undefined {
  if (!isObject(payload)) return 'expected a JSON object'
  if (payload.type !== 'message') return `type: expected "message", got ${JSON.stringify(payload.type)}`
  const atts = payload.attachments
  if (!Array.isArray(atts)) return 'attachments: expected an array'
  if (atts.length !== 1) return `attachments: expected one adaptive card, got ${atts.length}`
  const att = atts[0] as unknown
  if (!isObject(att)) return 'attachments[0]: expected an object'
  if (att.contentType !== CARD_TYPE) return `attachments[0].contentType: expected "${CARD_TYPE}", got ${JSON.stringify(att.contentType)}`
  if (att.contentUrl !== undefined && att.contentUrl !== null && typeof att.contentUrl !== 'string') return 'attachments[0].contentUrl: expected null or a string'
  const card = att.content
  if (!isObject(card)) return 'attachments[0].content: expected an AdaptiveCard object'
  if (card.type !== 'AdaptiveCard') return `attachments[0].content.type: Property 'type' must be 'AdaptiveCard', got ${JSON.stringify(card.type)}`
  if (typeof card.version !== 'string' || !/^\d+\.\d+$/.test(card.version)) return 'attachments[0].content.version: required, like "1.4"'
  return checkElements(card.body, 'attachments[0].content.body')
}

/** How the service sizes a body: UTF-8 bytes when declared, UTF-16 otherwise. */
export function countedBytes (req: RecordedRequest): number {
  const ct = (req.header('content-type') ?? '').toLowerCase()
  return /charset\s*=\s*"?utf-8/.test(ct) ? req.body.length : Buffer.byteLength(req.text(), 'utf16le')
}

/** The answer of a live workflow to a message: 202, or the error the service gives. */
export function teamsAnswer (req: RecordedRequest): ScriptedResponse {
  if (req.method !== 'POST') return logicAppsError(400, 'TriggerRequestMethodNotValid', `The HTTP method for this request is not valid: expected 'POST' and actual '${req.method}'.`)
  const bytes = countedBytes(req)
  if (bytes > TEAMS_LIMIT_BYTES) return logicAppsError(413, 'RequestEntityTooLarge', `The request content size ${bytes} exceeds the maximum size of ${TEAMS_LIMIT_BYTES} bytes.`)
  const text = req.text()
  if (!Buffer.from(text, 'utf8').equals(req.body)) return logicAppsError(400, 'InvalidRequestContent', 'The request content is not valid UTF-8.')
  if (!/^application\/json/i.test(req.header('content-type') ?? '')) return teamsBadPayload('the content type must be application/json')
  let payload: unknown
  try {
    payload = JSON.parse(text)
  } catch (err) {
    return logicAppsError(400, 'InvalidRequestContent', `The request content is not valid and could not be deserialized: '${(err as Error).message}'.`)
  }
  const problem = cardProblem(payload)
  return problem === undefined ? teamsAccepted() : teamsBadPayload(problem)
}

/** For `runChannelSuite`: how the Workflows webhook says each thing. */
export const teamsAnswers: Partial<FakeAnswers> = {
  accept: teamsAnswer,
  unavailable: () => teamsUnavailable(503),
  rateLimited: (seconds) => teamsThrottled(seconds),
  rejected: () => teamsBadPayload('attachments[0].content.body[0].type: unknown element type "Bogus"')
}

// ---------------------------------------------------------------------------------------------------
// The server

export interface TeamsFake extends WebhookServer {
  /** The live workflow's URL, with its secret path and signature. */
  readonly webhookUrl: string
  readonly workflowId: string
  readonly sig: string
  /** The secret part of `webhookUrl`: path and query. */
  readonly secretPath: string
  /** Adaptive Cards (`attachments[0].content`) of the requests answered 202, in order. */
  cards: () => Array<Record<string, unknown>>
  /** The next `times` requests are throttled: 429 + `Retry-After: seconds`. */
  throttle: (seconds: number, times?: number) => void
  /** The next `times` requests get a 5xx. */
  unavailable: (status?: number, times?: number) => void
  /** The next request is held, never answered (until `release()` or `close()`). */
  hang: () => void
  /** The flow is deleted: from now on every request is 404 WorkflowNotFound. */
  deleteWorkflow: () => void
}

/**
 * Starts the fake on 127.0.0.1, port 0. The workflow route (404/401) is checked before any scripted
 * or default answer; the default answer validates the message (`teamsAnswer`).
 */
export async function startTeamsFake (): Promise<TeamsFake> {
  const workflowId = randomBytes(16).toString('hex')
  const sig = randomBytes(32).toString('base64url')
  const path = `/powerautomate/automations/direct/workflows/${workflowId}/triggers/manual/paths/invoke`
  const secretPath = `${path}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`
  let deleted = false

  const route = (req: RecordedRequest): ScriptedResponse | undefined => {
    const m = /\/workflows\/([^/]+)\/triggers\/manual\/paths\/invoke$/.exec(req.path)
    const id = m?.[1] ?? ''
    if (deleted || id !== workflowId) return logicAppsError(404, 'WorkflowNotFound', `The workflow '${id}' could not be found.`)
    const given = new URL(req.url, 'http://x').searchParams.get('sig')
    if (given !== sig) return logicAppsError(401, 'DirectApiInvalidAuthorizationSignature', 'The provided authorization signature is not valid.')
    return undefined
  }
  const wrap = (s: Script): Script => async (req) => route(req) ?? (typeof s === 'function' ? await s(req) : s)

  const server = await startWebhookServer({ defaultResponse: wrap(teamsAnswer), maxBodyBytes: 4 * 1024 * 1024 })
  const fake: TeamsFake = {
    get origin () { return server.origin },
    get url () { return server.url },
    get port () { return server.port },
    get requests () { return server.requests },
    get held () { return server.held },
    webhookUrl: server.origin + secretPath,
    workflowId,
    sig,
    secretPath,
    script: (...responses) => server.script(...responses.map(wrap)),
    setDefault: (response) => server.setDefault(wrap(response)),
    release: (response) => server.release(response),
    waitFor: async (n, timeoutMs) => await server.waitFor(n, timeoutMs),
    reset: () => { server.reset(); deleted = false },
    close: async () => await server.close(),
    cards: () => server.requests
      .filter((r) => r.status === 202)
      .map((r) => ((r.json<{ attachments: Array<{ content: Record<string, unknown> }> }>()).attachments[0]?.content ?? {})),
    throttle: (seconds, times = 1) => server.script(...Array.from({ length: times }, () => wrap(teamsThrottled(seconds)))),
    unavailable: (status = 503, times = 1) => server.script(...Array.from({ length: times }, () => wrap(teamsUnavailable(status)))),
    hang: () => server.script(wrap({ hold: true })),
    deleteWorkflow: () => { deleted = true }
  }
  return fake
}
