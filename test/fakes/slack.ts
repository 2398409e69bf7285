/**
 * A local fake of Slack's incoming webhooks (`POST https://hooks.slack.com/services/T…/B…/…`): the
 * generic webhook server plus Slack's validation and answers.
 *
 * What it checks, as Slack does, answering in Slack's way (a status and a one-word plain-text body):
 *  - a JSON body (`content-type: application/json`) that parses to an object, with no lone UTF-16
 *    surrogate in any string → else 400 `invalid_payload`;
 *  - something to show: `text`, `blocks`, or attachments with `fallback`/`text`/`blocks` → else 400 `no_text`;
 *  - every block (top-level and inside attachments) of a known type with its limits: header
 *    `plain_text` ≤ 150; section text ≤ 3000, fields ≤ 10 each ≤ 2000, text or fields required;
 *    context 1–10 elements each ≤ 3000; text objects `plain_text`/`mrkdwn`, non-empty; at most 50 blocks
 *    in all → else 400 `invalid_blocks`;
 *  - at most 100 attachments → else 400 `too_many_attachments`.
 * Accepted: 200 `ok` (text/html, as Slack sends it).
 *
 * The other answers Slack gives are canned below: 429 `rate_limited` with `Retry-After` (seconds), a
 * dead webhook (404 `no_service`, 410 `channel_is_archived`…), 500 `rollup_error`, a hang (`{ hold: true }`).
 */
import type { RecordedRequest, ScriptedResponse, WebhookServer, WebhookServerOptions } from './webhook-server.js'
import { startWebhookServer } from './webhook-server.js'

export const SLACK_OK: ScriptedResponse = { status: 200, headers: { 'content-type': 'text/html' }, body: 'ok' }

/** Slack's error answer: a status and a short code as plain text. */
export function slackError (status: number, code: string, headers: Record<string, string> = {}): ScriptedResponse {
  return { status, headers: { 'content-type': 'text/html', ...headers }, body: code }
}

/** The status Slack answers each permanent error code with. */
export const SLACK_ERROR_STATUS: Readonly<Record<string, number>> = {
  invalid_payload: 400,
  no_text: 400,
  invalid_blocks: 400,
  invalid_attachments: 400,
  too_many_attachments: 400,
  user_not_found: 400,
  action_prohibited: 403,
  invalid_token: 403,
  posting_to_general_channel_denied: 403,
  channel_not_found: 404,
  no_service: 404,
  no_team: 404,
  channel_is_archived: 410
}

export const slackAnswers = {
  /** Validates the request; 200 `ok` when Slack would accept it. */
  accept: (req: RecordedRequest): ScriptedResponse => {
    const problem = validateSlackRequest(req)
    return problem === undefined ? SLACK_OK : slackError(SLACK_ERROR_STATUS[problem.code] ?? 400, problem.code)
  },
  unavailable: (): ScriptedResponse => slackError(503, 'service_unavailable'),
  rateLimited: (seconds: number): ScriptedResponse => slackError(429, 'rate_limited', { 'retry-after': String(seconds) }),
  rejected: (): ScriptedResponse => slackError(400, 'invalid_payload'),
  /** The webhook was deleted or revoked (404 `no_service`), or its channel archived (410). */
  dead: (code: 'no_service' | 'channel_is_archived' | 'channel_not_found' | 'no_team' = 'no_service', status?: number): ScriptedResponse =>
    slackError(status ?? SLACK_ERROR_STATUS[code] ?? 404, code),
  serverError: (): ScriptedResponse => slackError(500, 'rollup_error')
}

export interface SlackProblem { code: string, reason: string }

export const LIMITS = { blocks: 50, attachments: 100, header: 150, sectionText: 3000, fields: 10, fieldText: 2000, contextElements: 10, text: 3000, blockId: 255 }

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

/** True when a string holds a lone UTF-16 surrogate (not valid Unicode; Slack cannot store it). */
export function hasLoneSurrogate (s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)
}

function anyLoneSurrogate (v: unknown): boolean {
  if (typeof v === 'string') return hasLoneSurrogate(v)
  if (Array.isArray(v)) return v.some(anyLoneSurrogate)
  if (isObj(v)) return Object.entries(v).some(([k, x]) => hasLoneSurrogate(k) || anyLoneSurrogate(x))
  return false
}

/** A text object: `{ type: plain_text|mrkdwn, text }` with `emoji` (plain) or `verbatim` (mrkdwn). */
function checkText (t: unknown, where: string, max: number, only?: 'plain_text'): string | undefined {
  if (!isObj(t)) return `${where}: not a text object`
  if (t.type !== 'plain_text' && t.type !== 'mrkdwn') return `${where}.type: ${String(t.type)}`
  if (only !== undefined && t.type !== only) return `${where}: must be ${only}`
  if (typeof t.text !== 'string' || t.text.length === 0) return `${where}.text: must be a non-empty string`
  if (t.text.length > max) return `${where}.text: ${t.text.length} > ${max} characters`
  for (const k of Object.keys(t)) {
    if (k === 'type' || k === 'text') continue
    if (k === 'emoji' && t.type === 'plain_text' && typeof t.emoji === 'boolean') continue
    if (k === 'verbatim' && t.type === 'mrkdwn' && typeof t.verbatim === 'boolean') continue
    return `${where}.${k}: not allowed`
  }
  return undefined
}

function checkBlock (b: unknown, where: string): string | undefined {
  if (!isObj(b)) return `${where}: not an object`
  if (b.block_id !== undefined && (typeof b.block_id !== 'string' || b.block_id.length > LIMITS.blockId)) return `${where}.block_id`
  switch (b.type) {
    case 'header':
      return checkText(b.text, `${where}.text`, LIMITS.header, 'plain_text')
    case 'section': {
      if (b.text === undefined && b.fields === undefined) return `${where}: text or fields required`
      if (b.text !== undefined) {
        const p = checkText(b.text, `${where}.text`, LIMITS.sectionText)
        if (p !== undefined) return p
      }
      if (b.fields !== undefined) {
        if (!Array.isArray(b.fields) || b.fields.length === 0) return `${where}.fields: must be a non-empty array`
        if (b.fields.length > LIMITS.fields) return `${where}.fields: ${b.fields.length} > ${LIMITS.fields}`
        for (let i = 0; i < b.fields.length; i++) {
          const p = checkText(b.fields[i], `${where}.fields[${i}]`, LIMITS.fieldText)
          if (p !== undefined) return p
        }
      }
      return undefined
    }
    case 'context': {
      const els = b.elements
      if (!Array.isArray(els) || els.length === 0) return `${where}.elements: must be a non-empty array`
      if (els.length > LIMITS.contextElements) return `${where}.elements: ${els.length} > ${LIMITS.contextElements}`
      for (let i = 0; i < els.length; i++) {
        const el = els[i] as unknown
        if (isObj(el) && el.type === 'image') {
          if (typeof el.image_url !== 'string' || typeof el.alt_text !== 'string') return `${where}.elements[${i}]: image needs image_url and alt_text`
          continue
        }
        const p = checkText(el, `${where}.elements[${i}]`, LIMITS.text)
        if (p !== undefined) return p
      }
      return undefined
    }
    case 'divider':
      return undefined
    default:
      return `${where}.type: unknown block type ${JSON.stringify(b.type)}`
  }
}

/** Slack's verdict on a parsed payload: `undefined` when accepted, else the error code and why. */
export function validateSlackPayload (payload: unknown): SlackProblem | undefined {
  if (!isObj(payload)) return { code: 'invalid_payload', reason: 'not a JSON object' }
  if (anyLoneSurrogate(payload)) return { code: 'invalid_payload', reason: 'lone UTF-16 surrogate in a string' }
  const { text, blocks, attachments } = payload
  if (text !== undefined && typeof text !== 'string') return { code: 'invalid_payload', reason: 'text: not a string' }
  if (blocks !== undefined && !Array.isArray(blocks)) return { code: 'invalid_blocks', reason: 'blocks: not an array' }
  if (attachments !== undefined && !Array.isArray(attachments)) return { code: 'invalid_attachments', reason: 'attachments: not an array' }
  if (payload.username !== undefined && typeof payload.username !== 'string') return { code: 'invalid_payload', reason: 'username' }
  if (payload.icon_emoji !== undefined && (typeof payload.icon_emoji !== 'string' || !/^:[\w+-]+:$/.test(payload.icon_emoji))) return { code: 'invalid_payload', reason: 'icon_emoji' }
  const atts = (attachments ?? []) as unknown[]
  if (atts.length > LIMITS.attachments) return { code: 'too_many_attachments', reason: `${atts.length} attachments` }

  let count = 0
  const all: Array<[unknown, string]> = []
  for (const [i, b] of ((blocks ?? []) as unknown[]).entries()) all.push([b, `blocks[${i}]`])
  let attachmentShows = false
  for (const [i, a] of atts.entries()) {
    if (!isObj(a)) return { code: 'invalid_attachments', reason: `attachments[${i}]: not an object` }
    if (a.color !== undefined && typeof a.color !== 'string') return { code: 'invalid_attachments', reason: `attachments[${i}].color` }
    if (a.blocks !== undefined && !Array.isArray(a.blocks)) return { code: 'invalid_blocks', reason: `attachments[${i}].blocks: not an array` }
    for (const [j, b] of ((a.blocks ?? []) as unknown[]).entries()) all.push([b, `attachments[${i}].blocks[${j}]`])
    if ((typeof a.fallback === 'string' && a.fallback !== '') || (typeof a.text === 'string' && a.text !== '') || (Array.isArray(a.blocks) && a.blocks.length > 0)) attachmentShows = true
  }
  const shows = (typeof text === 'string' && text.trim() !== '') || (Array.isArray(blocks) && blocks.length > 0) || attachmentShows
  if (!shows) return { code: 'no_text', reason: 'no text, blocks or attachments' }
  for (const [b, where] of all) {
    count++
    const p = checkBlock(b, where)
    if (p !== undefined) return { code: 'invalid_blocks', reason: p }
  }
  if (count > LIMITS.blocks) return { code: 'invalid_blocks', reason: `${count} blocks > ${LIMITS.blocks}` }
  return undefined
}

/** Slack's verdict on a request: content type, JSON, then the payload. */
export function validateSlackRequest (req: RecordedRequest): SlackProblem | undefined {
  if (req.method !== 'POST') return { code: 'invalid_payload', reason: `method ${req.method}` }
  if (!/^application\/json\b/i.test(req.header('content-type') ?? '')) return { code: 'invalid_payload', reason: `content-type ${String(req.header('content-type'))}` }
  let payload: unknown
  try { payload = req.json() } catch { return { code: 'invalid_payload', reason: 'body is not JSON' } }
  return validateSlackPayload(payload)
}

/** The fake Slack: the webhook server whose default answer is Slack's validation. */
export async function startSlackFake (opts: Omit<WebhookServerOptions, 'defaultResponse'> = {}): Promise<WebhookServer> {
  return await startWebhookServer({ ...opts, defaultResponse: slackAnswers.accept })
}

/**
 * Slack's per-webhook rate limit ("1 message per second", short bursts tolerated): a request that comes
 * less than `1000 / perSecond` ms after the last accepted one is answered 429 `rate_limited` with
 * `Retry-After: 1`. Otherwise Slack's validation decides.
 */
export function slackRateLimited (perSecond = 1): { responder: (req: RecordedRequest) => ScriptedResponse, limited: () => number } {
  let last = -Infinity
  let limited = 0
  return {
    limited: () => limited,
    responder: (req) => {
      if (req.arrivedAt - last < 1000 / perSecond) {
        limited++
        return slackError(429, 'rate_limited', { 'retry-after': '1' })
      }
      const answer = slackAnswers.accept(req)
      if (answer.status === 200) last = req.arrivedAt
      return answer
    }
  }
}
