/**
 * A fake of Discord's "Execute Webhook" (`POST /api[/v{n}]/webhooks/{id}/{token}[?wait=true]`) on
 * 127.0.0.1, built on the generic webhook server. It answers as Discord does:
 *
 * - unknown webhook id → 404 `{"message":"Unknown Webhook","code":10015}`; known id, wrong token → 401
 *   `{"message":"Invalid Webhook Token","code":50027}`; an id that is no snowflake → 400; another path → 404;
 * - a body that is not JSON → 400 code 50109; no content and no embeds → 400 code 50006;
 * - any limit broken → 400 `{"code":50035,"errors":{…},"message":"Invalid Form Body"}` with Discord's
 *   nested `_errors` (title 256, description 4096, 25 fields, field name 256 / value 1024 and not blank,
 *   footer 2048, author name 256, all embeds' text together 6000, 10 embeds, content 2000, colour 0..0xFFFFFF,
 *   ISO 8601 timestamp, allowed_mentions.parse values, username 1–80 without "discord"/"clyde");
 *   lengths counted in code points, as Discord's Python API counts them;
 * - accepted → 204, or 200 with the created message (mentions resolved) when `?wait=true`.
 *
 * `answers(...)` gives the shared channel suite Discord's forms of "rate limited" (429 with the body's
 * `retry_after` in seconds as a float on v8+, in milliseconds on the unversioned/v6 API, plus `Retry-After`
 * and `X-RateLimit-*` headers), "unavailable" (Cloudflare's 502 page) and "rejected" (50035).
 */
import { randomBytes } from 'node:crypto'
import type { FakeAnswers } from '../channels/suite.js'
import { startWebhookServer, type RecordedRequest, type ScriptedResponse, type WebhookServer } from './webhook-server.js'

/** id → token of the webhooks the fake knows. */
export type DiscordHooks = Readonly<Record<string, string>>

/** A snowflake-like id and a 68-character token, as Discord hands out. */
export function makeDiscordHook (): { id: string, token: string } {
  const id = String(1_200_000_000_000_000_000n + BigInt(randomBytes(6).readUIntBE(0, 6)))
  const token = randomBytes(51).toString('base64url').slice(0, 68)
  return { id, token }
}

export const len = (s: string): number => Array.from(s).length

/** Lone surrogates cannot be encoded: Discord refuses them. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

// ---------------------------------------------------------------------------------------------------
// Validation of the JSON body, with Discord's error shape

type ErrorTree = { _errors?: Array<{ code: string, message: string }> } & { [k: string]: ErrorTree | Array<{ code: string, message: string }> | undefined }

class FormErrors {
  readonly tree: ErrorTree = {}
  count = 0
  add (path: Array<string | number>, code: string, message: string): void {
    let node = this.tree
    for (const p of path) {
      const k = String(p)
      node[k] ??= {}
      node = node[k] as ErrorTree
    }
    (node._errors ??= []).push({ code, message })
    this.count++
  }
}

export interface DiscordAnswer { status: number, body: unknown }

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function checkString (errs: FormErrors, path: Array<string | number>, v: unknown, max: number, opts: { required?: boolean, min?: number } = {}): string {
  if (v === undefined || v === null) {
    if (opts.required === true) errs.add(path, 'BASE_TYPE_REQUIRED', 'This field is required')
    return ''
  }
  if (typeof v !== 'string') {
    errs.add(path, 'BASE_TYPE_STRING', 'Must be a string.')
    return ''
  }
  if (LONE_SURROGATE.test(v)) errs.add(path, 'STRING_TYPE_INVALID', 'Contains invalid Unicode.')
  if (opts.required === true && v.trim() === '') {
    errs.add(path, 'BASE_TYPE_REQUIRED', 'This field is required')
    return v
  }
  const n = len(v)
  if (n > max) errs.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`)
  if (opts.min !== undefined && n < opts.min) errs.add(path, 'BASE_TYPE_BAD_LENGTH', `Must be between ${opts.min} and ${max} in length.`)
  return v
}

/**
 * Validates an Execute Webhook JSON body as Discord does: `null` when Discord would accept it, else the
 * 400 answer Discord gives.
 */
export function validateDiscordMessage (payload: unknown): DiscordAnswer | null {
  if (!isObject(payload)) return { status: 400, body: { message: 'Cannot send an empty message', code: 50006 } }
  const errs = new FormErrors()

  const content = checkString(errs, ['content'], payload.content, 2000)
  if (payload.username !== undefined) {
    const name = checkString(errs, ['username'], payload.username, 80, { min: 1 })
    const lower = name.toLowerCase()
    for (const word of ['discord', 'clyde']) {
      if (lower.includes(word)) errs.add(['username'], 'USERNAME_INVALID_CONTAINS', `Username cannot contain "${word}"`)
    }
    if (lower === 'everyone' || lower === 'here') errs.add(['username'], 'USERNAME_INVALID', `Username cannot be "${lower}"`)
  }
  if (payload.avatar_url !== undefined && (typeof payload.avatar_url !== 'string' || !/^https?:\/\/\S+$/.test(payload.avatar_url))) {
    errs.add(['avatar_url'], 'URL_TYPE_INVALID_URL', 'Not a well formed URL.')
  }
  const am = payload.allowed_mentions
  if (am !== undefined) {
    if (!isObject(am)) errs.add(['allowed_mentions'], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType')
    else if (am.parse !== undefined) {
      if (!Array.isArray(am.parse)) errs.add(['allowed_mentions', 'parse'], 'BASE_TYPE_ARRAY', 'Must be an array.')
      else {
        am.parse.forEach((p, i) => {
          if (p !== 'users' && p !== 'roles' && p !== 'everyone') errs.add(['allowed_mentions', 'parse', i], 'ENUM_TYPE_COERCE', `Value "${String(p)}" is not a valid enum value.`)
        })
      }
    }
  }

  let embeds: unknown[] = []
  if (payload.embeds !== undefined && payload.embeds !== null) {
    if (!Array.isArray(payload.embeds)) errs.add(['embeds'], 'BASE_TYPE_ARRAY', 'Must be an array.')
    else embeds = payload.embeds
  }
  if (embeds.length > 10) errs.add(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.')
  let total = 0
  embeds.forEach((embed, i) => {
    const at = (...p: Array<string | number>): Array<string | number> => ['embeds', i, ...p]
    if (!isObject(embed)) { errs.add(at(), 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType'); return }
    total += len(checkString(errs, at('title'), embed.title, 256))
    total += len(checkString(errs, at('description'), embed.description, 4096))
    if (embed.color !== undefined && embed.color !== null) {
      if (typeof embed.color !== 'number' || !Number.isInteger(embed.color)) errs.add(at('color'), 'NUMBER_TYPE_COERCE', `Value "${String(embed.color)}" is not int.`)
      else if (embed.color < 0 || embed.color > 0xffffff) errs.add(at('color'), 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.')
    }
    if (embed.timestamp !== undefined && embed.timestamp !== null) {
      const ts = embed.timestamp
      if (typeof ts !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.test(ts) || Number.isNaN(Date.parse(ts))) {
        errs.add(at('timestamp'), 'DATE_TYPE_PARSE', `Could not parse ${String(ts)}. Should be ISO8601.`)
      }
    }
    if (embed.footer !== undefined && embed.footer !== null) {
      if (!isObject(embed.footer)) errs.add(at('footer'), 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType')
      else total += len(checkString(errs, at('footer', 'text'), embed.footer.text, 2048, { required: true }))
    }
    if (embed.author !== undefined && embed.author !== null) {
      if (!isObject(embed.author)) errs.add(at('author'), 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType')
      else total += len(checkString(errs, at('author', 'name'), embed.author.name, 256, { required: true }))
    }
    if (embed.fields !== undefined && embed.fields !== null) {
      if (!Array.isArray(embed.fields)) { errs.add(at('fields'), 'BASE_TYPE_ARRAY', 'Must be an array.'); return }
      if (embed.fields.length > 25) errs.add(at('fields'), 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.')
      embed.fields.forEach((f: unknown, j: number) => {
        if (!isObject(f)) { errs.add(at('fields', j), 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType'); return }
        total += len(checkString(errs, at('fields', j, 'name'), f.name, 256, { required: true }))
        total += len(checkString(errs, at('fields', j, 'value'), f.value, 1024, { required: true }))
        if (f.inline !== undefined && typeof f.inline !== 'boolean') errs.add(at('fields', j, 'inline'), 'BASE_TYPE_BOOLEAN', 'Must be either true or false.')
      })
    }
  })
  if (total > 6000) errs.add(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000')

  if (errs.count > 0) return { status: 400, body: { message: 'Invalid Form Body', code: 50035, errors: errs.tree } }
  if (content.trim() === '' && embeds.length === 0) return { status: 400, body: { message: 'Cannot send an empty message', code: 50006 } }
  return null
}

/** Who a message would notify, as Discord resolves `allowed_mentions` (only `content` can ping; embeds never do). */
export function pingsOf (payload: Record<string, unknown>): { everyone: boolean, users: string[], roles: string[] } {
  const content = typeof payload.content === 'string' ? payload.content : ''
  const am = isObject(payload.allowed_mentions) ? payload.allowed_mentions : undefined
  // Without allowed_mentions, every kind of mention in the content is parsed.
  const parse = am === undefined ? ['users', 'roles', 'everyone'] : Array.isArray(am.parse) ? am.parse as string[] : []
  const explicitUsers = am !== undefined && Array.isArray(am.users) ? am.users as string[] : []
  const explicitRoles = am !== undefined && Array.isArray(am.roles) ? am.roles as string[] : []
  // A backslash-escaped mention is shown as text and pings nobody.
  const unescaped = (re: RegExp): string[] => [...content.matchAll(re)].filter((m) => content[(m.index ?? 0) - 1] !== '\\').map((m) => m[1] ?? m[0])
  const users = unescaped(/<@!?(\d+)>/g).filter((id) => parse.includes('users') || explicitUsers.includes(id))
  const roles = unescaped(/<@&(\d+)>/g).filter((id) => parse.includes('roles') || explicitRoles.includes(id))
  const everyone = parse.includes('everyone') && unescaped(/@(everyone|here)\b/g).length > 0
  return { everyone, users: [...new Set(users)], roles: [...new Set(roles)] }
}

// ---------------------------------------------------------------------------------------------------
// The HTTP side

const PATH = /^\/api(?:\/v(\d+))?\/webhooks\/([^/]+)\/([^/]+)\/?$/

/** The API version a request path speaks: unversioned is Discord's default, the deprecated v6. */
export function apiVersionOf (path: string): number {
  const m = PATH.exec(path)
  return m?.[1] === undefined ? 6 : Number(m[1])
}

let sequence = 0
function snowflake (): string {
  sequence = (sequence + 1) % 4096
  return String((BigInt(Date.now() - 1_420_070_400_000) << 22n) | BigInt(sequence))
}

/** Discord's answer to an Execute Webhook request, for the given known webhooks. */
export function discordResponder (hooks: DiscordHooks): (req: RecordedRequest) => ScriptedResponse {
  return (req: RecordedRequest): ScriptedResponse => {
    const json = (status: number, body: unknown): ScriptedResponse => ({ status, headers: { 'content-type': 'application/json' }, body })
    const m = PATH.exec(req.path)
    if (m === null) return json(404, { message: '404: Not Found', code: 0 })
    const version = m[1] === undefined ? 6 : Number(m[1])
    if (version < 6 || version > 10) return json(400, { message: 'Invalid API version', code: 50041 })
    if (req.method !== 'POST') return json(405, { message: '405: Method Not Allowed', code: 0 })
    const id = m[2] as string
    const token = decodeURIComponent(m[3] as string)
    if (!/^\d{17,20}$/.test(id)) return json(400, { webhook_id: [`Value "${id}" is not snowflake.`] })
    const known = hooks[id]
    if (known === undefined) return json(404, { message: 'Unknown Webhook', code: 10015 })
    if (known !== token) return json(401, { message: 'Invalid Webhook Token', code: 50027 })

    const type = req.header('content-type') ?? ''
    if (!type.toLowerCase().startsWith('application/json')) return json(400, { message: 'Cannot send an empty message', code: 50006 })
    let payload: unknown
    try {
      payload = JSON.parse(req.text())
    } catch {
      return json(400, { message: 'The request body contains invalid JSON.', code: 50109 })
    }
    const refused = validateDiscordMessage(payload)
    if (refused !== null) return json(refused.status, refused.body)

    const wait = new URL(req.url, 'http://x').searchParams.get('wait')
    if (wait !== 'true' && wait !== '1') return { status: 204 }
    const p = payload as Record<string, unknown>
    const pings = pingsOf(p)
    return json(200, {
      id: snowflake(),
      type: 0,
      content: p.content ?? '',
      channel_id: '1100000000000000001',
      author: { id, username: p.username ?? 'Captain Hook', avatar: null, discriminator: '0000', bot: true },
      attachments: [],
      embeds: (Array.isArray(p.embeds) ? p.embeds as Array<Record<string, unknown>> : []).map((e) => ({ type: 'rich', ...e })),
      mentions: pings.users.map((u) => ({ id: u })),
      mention_roles: pings.roles,
      mention_everyone: pings.everyone,
      pinned: false,
      tts: false,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      flags: 0,
      components: [],
      webhook_id: id
    })
  }
}

/** Discord's 429: the body's `retry_after` is float seconds on v8+, integer milliseconds on v6/unversioned. */
export function rateLimitedAnswer (seconds: number, req?: RecordedRequest, opts: { global?: boolean } = {}): ScriptedResponse {
  const v6 = req !== undefined && apiVersionOf(req.path) < 8
  return {
    status: 429,
    headers: {
      'content-type': 'application/json',
      'retry-after': v6 ? String(Math.ceil(seconds * 1000)) : String(Math.ceil(seconds)),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': (Date.now() / 1000 + seconds).toFixed(3),
      'x-ratelimit-reset-after': seconds.toFixed(3),
      'x-ratelimit-bucket': 'f3b5c8d2e1a0',
      'x-ratelimit-scope': opts.global === true ? 'global' : 'shared'
    },
    body: { message: 'You are being rate limited.', retry_after: v6 ? Math.ceil(seconds * 1000) : seconds, global: opts.global === true }
  }
}

/** What Discord's edge answers while the API is down. */
export const unavailableAnswer: ScriptedResponse = {
  status: 502,
  headers: { 'content-type': 'text/html' },
  body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>'
}

/** A 50035 as Discord sends it for a too-long title. */
export const rejectedAnswer: ScriptedResponse = {
  status: 400,
  headers: { 'content-type': 'application/json' },
  body: {
    message: 'Invalid Form Body',
    code: 50035,
    errors: { embeds: { 0: { title: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 256 or fewer in length.' }] } } } }
  }
}

/** The shared suite's answers in Discord's forms. */
export function discordAnswers (hooks: DiscordHooks): FakeAnswers {
  return {
    accept: discordResponder(hooks),
    unavailable: () => unavailableAnswer,
    rateLimited: (seconds, req) => rateLimitedAnswer(seconds, req),
    rejected: () => rejectedAnswer
  }
}

export interface DiscordFake extends WebhookServer {
  readonly hooks: DiscordHooks
  /** `origin/api/webhooks/<id>/<token>` (unversioned, as Discord shows it), or with `/v{version}`. */
  webhookUrl: (id: string, version?: number) => string
  /** The next request gets a 429 (Discord's body and headers for the request's API version). */
  rateLimitNext: (seconds: number, opts?: { global?: boolean }) => void
}

/** Starts the fake; every request is validated and answered as Discord would, unless scripted otherwise. */
export async function startDiscordFake (hooks: DiscordHooks): Promise<DiscordFake> {
  const server = await startWebhookServer({ defaultResponse: discordResponder(hooks), maxBodyBytes: 8 * 1024 * 1024 })
  return Object.assign(server, {
    hooks,
    webhookUrl: (id: string, version?: number) =>
      `${server.origin}/api${version === undefined ? '' : `/v${version}`}/webhooks/${id}/${hooks[id] ?? 'no-such-token'}`,
    rateLimitNext: (seconds: number, opts: { global?: boolean } = {}) => {
      server.script((req) => rateLimitedAnswer(seconds, req, opts))
    }
  })
}
