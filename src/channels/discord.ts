/**
 * discord: "Execute Webhook" (`POST /api/v10/webhooks/<id>/<token>`) with one embed per alert: colour by
 * severity (green when resolved), the body as description, labels as fields, metadata as a JSON code
 * block, source and event id in the footer, the event time as the embed timestamp.
 *
 * - `allowed_mentions: { parse: [] }` on every message: an `@everyone` in a log line pings nobody.
 * - User text is escaped for Discord markdown (no masked links, no `<@id>` / `<t:…>` tags, no code
 *   fences or headings from a log line), lone surrogates replaced, and cut with `…` to each limit.
 * - Discord counts lengths in code points (its API is Python): title 256, description 4096, 25 fields
 *   (name 256, value 1024), footer 2048, 6000 for all embeds of a message together, 10 embeds, content 2000.
 *   A digest is one compact embed per alert, most severe first, 10 to a message, the headline in `content`.
 * - The webhook URL users copy from Discord has no API version (`/api/webhooks/…`), which Discord serves
 *   as the deprecated v6, where `retry_after` is in milliseconds. Requests go to `/api/v10/…` instead, where
 *   it is in seconds (https://github.com/discord/discord-api-docs/issues/2360).
 */
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, parseRetryAfter } from '../http/outcome.js'
import type { AlertEvent, Severity } from '../event.js'
import { wellFormed } from '../format/escape.js'
import { bySeverity, digestHeadline, labelsText, SEVERITY_WORD, stripControl, subject } from '../format/text.js'
import { boundedJson } from '../format/json.js'
import { ELLIPSIS, headUnits } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import { codePoints, firstProblem, within, type ChannelLimits } from './limits.js'

/** Discord's limits on an Execute Webhook request (`DISCORD_LIMITS`, counted in code points as Discord does). */
const DISCORD_CHECK: ChannelLimits<DiscordMessage>['check'] = (m) => {
  const L = DISCORD_LIMITS
  let total = 0
  const problem = firstProblem(
    within('content', m.content, L.content, codePoints),
    within('embeds', m.embeds, L.embeds),
    m.embeds.length === 0 && (m.content ?? '') === '' ? 'neither content nor embeds' : undefined,
    ...m.embeds.flatMap((e, i) => {
      total += codePoints(e.title) + codePoints(e.description ?? '') + codePoints(e.footer?.text ?? '')
      for (const f of e.fields ?? []) total += codePoints(f.name) + codePoints(f.value)
      return [
        within(`embed ${i + 1} title`, e.title, L.title, codePoints),
        within(`embed ${i + 1} description`, e.description, L.description, codePoints),
        within(`embed ${i + 1} fields`, e.fields, L.fields),
        within(`embed ${i + 1} footer`, e.footer?.text, L.footer, codePoints),
        ...(e.fields ?? []).flatMap((f, k) => [
          within(`embed ${i + 1} field ${k + 1} name`, f.name, L.fieldName, codePoints),
          within(`embed ${i + 1} field ${k + 1} value`, f.value, L.fieldValue, codePoints),
          f.name === '' || f.value === '' ? `embed ${i + 1} field ${k + 1} has an empty name or value` : undefined
        ])
      ]
    })
  )
  return problem ?? (total > L.total ? `the embeds' text is ${total} characters (at most ${L.total})` : undefined)
}

// ---------------------------------------------------------------------------------------------------
// Payload (the subset of Execute Webhook this channel sends)

export interface DiscordEmbedField { name: string, value: string, inline?: boolean }
export interface DiscordEmbed {
  title: string
  description?: string
  color: number
  fields?: DiscordEmbedField[]
  footer?: { text: string }
  timestamp: string
}
export interface DiscordMessage {
  content?: string
  username?: string
  avatar_url?: string
  embeds: DiscordEmbed[]
  allowed_mentions: { parse: [] }
}

/** Discord's documented limits, in characters (code points). */
export const DISCORD_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  /** Sum of title, description, field names and values, footer text and author name over all embeds. */
  total: 6000,
  embeds: 10,
  content: 2000
} as const

/** Embed colours: red, amber, blue; green for resolved. */
export const DISCORD_COLORS: Readonly<Record<Severity | 'resolved', number>> = {
  critical: 0xed4245,
  warn: 0xfaa61a,
  info: 0x3498db,
  resolved: 0x57f287
}

export function colorOf (e: AlertEvent): number {
  return e.status === 'resolved' ? DISCORD_COLORS.resolved : DISCORD_COLORS[e.severity]
}

// ---------------------------------------------------------------------------------------------------
// Text: escaping and fitting, counted in code points as Discord counts

/** Code points, as Discord (Python) counts string lengths. */
export function discordLength (s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * `discordLength(s)` when it is below `cap`, else `cap`: without counting past it (a label value may be
 * a megabyte long; the budgets it is compared with are a few thousand).
 */
function lengthUpTo (s: string, cap: number): number {
  return s.length >= 2 * cap ? cap : Math.min(cap, discordLength(s))
}

/**
 * What `max` code points of rendering can come from: each code point is at least one of its own (an
 * escape makes two), cleaning at most halves (`\r\n`), and a code point is at most two units.
 */
const rawFor = (raw: string, max: number): string => headUnits(raw, Math.max(0, 4 * max + 4))

/** Markdown specials anywhere in a line: emphasis, code, spoilers, masked links, `<@id>`-style tags, mentions. */
const MD_ANYWHERE = new Set(['\\', '*', '_', '~', '`', '|', '[', ']', '<', '@'])
/** Specials only at the start of a line: headings, `-#` subtext, lists, block quotes. */
const MD_LINE_START = new Set(['#', '-', '+', '>'])

/** Untrusted text → well-formed, no control characters (tab and newline kept), `\n` line ends. */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n'))
}

/**
 * Untrusted text → the pieces Discord shows as that text, one piece per code point (a special character
 * becomes `\` + itself), so that cutting between pieces never leaves half an escape. Backslash before
 * any ASCII punctuation shows the punctuation alone, so the text reads as it was logged.
 */
function markdownPieces (raw: string, multiline: boolean): string[] {
  const chars = Array.from(clean(raw))
  const out: string[] = []
  let lineStart = true
  for (let i = 0; i < chars.length; i++) {
    let c = chars[i] as string
    if (c === '\n' || c === '\t') {
      if (multiline) {
        out.push(c)
        if (c === '\n') lineStart = true
        continue
      }
      c = ' '
    }
    if (lineStart && c === ' ') { out.push(c); continue }
    if (MD_ANYWHERE.has(c) || (lineStart && MD_LINE_START.has(c))) {
      out.push('\\' + c)
    } else if (lineStart && c >= '0' && c <= '9') {
      // "1. item" is an ordered list: escape the dot after a leading number.
      let j = i
      while (j < chars.length && (chars[j] as string) >= '0' && (chars[j] as string) <= '9') out.push(chars[j++] as string)
      if (chars[j] === '.') { out.push('\\.'); j++ }
      i = j - 1
    } else {
      out.push(c)
    }
    lineStart = false
  }
  return out
}

/** Joins pieces up to `max` code points; when cut, the last one is `…`. */
function fitPieces (pieces: readonly string[], max: number): string {
  if (max <= 0) return ''
  let total = 0
  for (const p of pieces) total += p.length === 1 ? 1 : discordLength(p)
  if (total <= max) return pieces.join('')
  let used = 0
  let out = ''
  for (const p of pieces) {
    const n = p.length === 1 ? 1 : discordLength(p)
    if (used + n > max - 1) break
    out += p
    used += n
  }
  return out + ELLIPSIS
}

/** Untrusted text for a markdown context (title, description, field name/value), at most `max` code points. */
export function fitMarkdown (raw: string, max: number, multiline = false): string {
  return fitPieces(markdownPieces(rawFor(raw, max), multiline), max)
}

/** Untrusted text for a plain context (footer: no markdown there), one line, at most `max` code points. */
export function fitPlain (raw: string, max: number): string {
  return fitPieces(Array.from(clean(rawFor(raw, max)).replace(/[\n\t]/g, ' ')), max)
}

const FENCE_OPEN = '```json\n'
const FENCE_CLOSE = '\n```'

/** JSON in a code block of at most `max` code points; backticks cannot close the fence early. */
function codeBlock (json: string, max: number): string | undefined {
  const inner = max - discordLength(FENCE_OPEN) - discordLength(FENCE_CLOSE)
  if (inner < 8) return undefined
  // A zero-width space after each backtick: no run of three can form inside the block.
  const pieces = Array.from(clean(rawFor(json, inner))).map((c) => (c === '`' ? '`\u200b' : c))
  return FENCE_OPEN + fitPieces(pieces, inner) + FENCE_CLOSE
}

/** Lone surrogates in keys and strings become U+FFFD (JSON.stringify would write them as `\ud800` text). */
function jsonReplacer (_k: string, v: unknown): unknown {
  if (typeof v === 'string') return wellFormed(v)
  if (typeof v === 'bigint') return v.toString()
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[wellFormed(k)] = x
    return out
  }
  return v
}

/**
 * Metadata as JSON, as far as any limit here can show it: up to `JSON_CAP` units (a prefix of the whole
 * text beyond that), which is more than the budgets it is measured against (1200) and the field (1024).
 */
const JSON_CAP = 8192

function jsonOf (value: unknown, pretty: boolean): string {
  try {
    return boundedJson(value, JSON_CAP, jsonReplacer, pretty ? 2 : 0) ?? 'null'
  } catch {
    return '"[not serialisable]"'
  }
}

/**
 * `[CRITICAL] source: title` within `max`: the `[WORD] ` prefix is ours and stays as is (it ends in a
 * space, so no masked link can start there); source and title are escaped.
 */
function titleOf (e: AlertEvent, max: number): string {
  const s = subject(e)
  const cut = s.indexOf('] ') + 2
  return s.slice(0, cut) + fitMarkdown(s.slice(cut), max - cut)
}

/** `source · id` in plain text within `max`: a long source is cut first, so the id stays whole where it can. */
function footerOf (e: AlertEvent, max: number): string {
  const id = fitPlain(e.id, Math.floor(max / 2))
  return fitPlain(e.source, max - discordLength(id) - 3) + ' · ' + id
}

/** Discord refuses empty (or blank) field names and values. */
const nonBlank = (s: string): string => (s.trim() === '' ? '—' : s)

// ---------------------------------------------------------------------------------------------------
// Embeds

function embedTextLength (e: DiscordEmbed): number {
  let n = discordLength(e.title) + discordLength(e.description ?? '') + discordLength(e.footer?.text ?? '')
  for (const f of e.fields ?? []) n += discordLength(f.name) + discordLength(f.value)
  return n
}

/** The full embed of one alert, within `budget` characters in all (≤ 6000). */
function fullEmbed (e: AlertEvent, budget: number): DiscordEmbed {
  const L = DISCORD_LIMITS
  const title = titleOf(e, L.title)
  const footer = footerOf(e, 256)
  let left = budget - discordLength(title) - discordLength(footer)
  const fields: DiscordEmbedField[] = []
  const add = (f: DiscordEmbedField): void => { fields.push(f); left -= discordLength(f.name) + discordLength(f.value) }

  add({ name: 'Severity', value: SEVERITY_WORD[e.severity] + (e.status === 'resolved' ? ' · resolved' : ''), inline: true })
  add({ name: 'Source', value: nonBlank(fitMarkdown(e.source, 256)), inline: true })

  // What the details below would like; the body gets everything else, up to its own limit.
  const labelKeys = Object.keys(e.labels)
  const meta = Object.keys(e.metadata).length > 0 ? jsonOf(e.metadata, true) : undefined
  const wanted = Math.min(1200, labelKeys.reduce((n, k) => Math.min(1200, n + lengthUpTo(k, 1200) + lengthUpTo(e.labels[k] ?? '', 1200) + 4), 0) +
    (meta === undefined ? 0 : lengthUpTo(meta, 1200) + 20) + (e.trace === undefined ? 0 : 70))
  let description: string | undefined
  if (e.body.trim() !== '') {
    description = fitMarkdown(e.body, Math.min(L.description, left - wanted), true)
    left -= discordLength(description)
  }

  // Labels: one inline field each while they fit; the rest summed up in one field.
  const slots = L.fields - fields.length - (meta === undefined ? 0 : 1) - (e.trace === undefined ? 0 : 1) - 1
  let shown = 0
  for (const k of labelKeys) {
    if (shown >= slots) break
    const name = nonBlank(fitMarkdown(k, 100))
    const value = nonBlank(fitMarkdown(e.labels[k] ?? '', 300))
    if (discordLength(name) + discordLength(value) > left - 40) break
    add({ name, value, inline: true })
    shown++
  }
  if (shown < labelKeys.length && left > 40) {
    const rest: Record<string, string> = {}
    for (const k of labelKeys.slice(shown)) rest[k] = e.labels[k] ?? ''
    const name = `+${labelKeys.length - shown} more labels`
    // Capped, so that the metadata keeps room after it.
    add({ name, value: nonBlank(fitMarkdown(labelsText(rest), Math.min(500, left - discordLength(name)))) })
  }
  if (meta !== undefined) {
    const max = Math.min(L.fieldValue, left - 8)
    const block = codeBlock(lengthUpTo(meta, 2048) + 12 <= max ? meta : jsonOf(e.metadata, false), max)
    if (block !== undefined) add({ name: 'Metadata', value: block })
  }
  if (e.trace !== undefined && left > 20) {
    const value = fitMarkdown(`${e.trace.traceId} / ${e.trace.spanId}`, Math.min(200, left - 5))
    if (value !== '') add({ name: 'Trace', value: nonBlank(value) })
  }

  const embed: DiscordEmbed = { title, color: colorOf(e), timestamp: e.timestamp }
  if (description !== undefined && description !== '') embed.description = description
  embed.fields = fields
  embed.footer = { text: footer }
  return embed
}

/** A digest's embed: title, the body cut short, labels in one field, footer; within `budget` characters. */
function compactEmbed (e: AlertEvent, budget: number): DiscordEmbed {
  const title = titleOf(e, Math.min(DISCORD_LIMITS.title, Math.floor(budget * 0.4)))
  const footer = footerOf(e, Math.min(128, Math.floor(budget * 0.2)))
  let left = budget - discordLength(title) - discordLength(footer)
  const labels = labelsText(e.labels)
  const labelsWanted = labels === '' ? 0 : Math.min(lengthUpTo(labels, DISCORD_LIMITS.total) * 2 + 6, Math.floor(left / 3))
  const embed: DiscordEmbed = { title, color: colorOf(e), timestamp: e.timestamp }
  if (e.body.trim() !== '') {
    const description = fitMarkdown(e.body, Math.min(DISCORD_LIMITS.description, left - labelsWanted), true)
    if (description !== '' && description !== ELLIPSIS) {
      embed.description = description
      left -= discordLength(description)
    }
  }
  if (labels !== '' && left >= 16) {
    const value = fitMarkdown(labels, Math.min(DISCORD_LIMITS.fieldValue, left - 6))
    if (value.trim() !== '') embed.fields = [{ name: 'Labels', value }]
  }
  embed.footer = { text: footer }
  return embed
}

// ---------------------------------------------------------------------------------------------------
// Answers

interface DiscordError { message?: unknown, code?: unknown, errors?: unknown, retry_after?: unknown, global?: unknown }

function parseJson (body: string): DiscordError | undefined {
  try {
    const v = JSON.parse(body) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as DiscordError : undefined
  } catch { return undefined }
}

/** `{ embeds: { 0: { title: { _errors: [{ message }] } } } }` → `embeds.0.title: Must be 256 or fewer in length.` */
function formErrors (errors: unknown, path: string[] = [], out: string[] = []): string[] {
  if (out.length >= 3 || errors === null || typeof errors !== 'object') return out
  for (const [k, v] of Object.entries(errors as Record<string, unknown>)) {
    if (k === '_errors' && Array.isArray(v)) {
      for (const err of v) {
        const m = (err as { message?: unknown })?.message
        if (typeof m === 'string' && out.length < 3) out.push(`${path.join('.') || '(body)'}: ${m}`)
      }
    } else {
      formErrors(v, [...path, k], out)
    }
  }
  return out
}

const HINTS: Record<number, string> = {
  10015: 'the webhook was deleted or webhookUrl is wrong',
  50027: 'the token in webhookUrl is wrong'
}

/** What Discord said, in one short line. */
function detailOf (res: HttpResponse, json: DiscordError | undefined): string {
  if (json === undefined) return res.body.trim().replace(/\s+/g, ' ').slice(0, 200)
  const parts: string[] = []
  if (typeof json.message === 'string') parts.push(json.message.slice(0, 120))
  if (typeof json.code === 'number' && json.code !== 0) parts.push(`(code ${json.code}${HINTS[json.code] === undefined ? '' : `: ${HINTS[json.code] as string}`})`)
  const form = formErrors(json.errors)
  if (form.length > 0) parts.push('— ' + form.join('; ').slice(0, 300))
  if (json.global === true) parts.push('(global rate limit)')
  return parts.join(' ')
}

/** The earliest next try Discord asked for: body `retry_after`, else `Retry-After`, else `X-RateLimit-Reset-After`. */
function retryAfterOf (res: HttpResponse, json: DiscordError | undefined, unitMs: boolean): number | undefined {
  const toMs = (n: number): number => Math.max(0, Math.ceil(unitMs ? n : n * 1000))
  const body = json?.retry_after
  if (typeof body === 'number' && Number.isFinite(body) && body >= 0) return toMs(body)
  const header = res.headers['retry-after']
  if (unitMs) {
    const v = Number(Array.isArray(header) ? header[0] : header)
    if (header !== undefined && Number.isFinite(v) && v >= 0) return toMs(v)
  } else {
    const ms = parseRetryAfter(header)
    if (ms !== undefined) return ms
  }
  const reset = res.headers['x-ratelimit-reset-after']
  const r = Number(Array.isArray(reset) ? reset[0] : reset)
  if (reset !== undefined && Number.isFinite(r) && r >= 0) return Math.ceil(r * 1000)
  return undefined
}

// ---------------------------------------------------------------------------------------------------
// URL

const DISCORD_PATH = /^\/api\/(?:v(\d+)\/)?webhooks\/(\d+)\/([^/?#]+)\/?$/

/**
 * Where requests go: `url` (tests, proxies) or `webhookUrl`; an unversioned Discord webhook path becomes
 * `/api/v10/…`; `wait=true` added when asked. Returns the URL and the API version it speaks.
 */
export function targetUrl (base: string, wait: boolean): { url: string, version: number | undefined, token: string | undefined } {
  const u = new URL(base)
  const m = DISCORD_PATH.exec(u.pathname)
  let version: number | undefined
  let token: string | undefined
  if (m !== null) {
    token = m[3]
    if (m[1] === undefined) {
      u.pathname = u.pathname.replace(/^\/api\/webhooks\//, '/api/v10/webhooks/')
      version = 10
    } else {
      version = Number(m[1])
    }
  }
  if (wait) u.searchParams.set('wait', 'true')
  return { url: u.toString(), version, token }
}

/** Webhook names Discord refuses (USERNAME_INVALID_CONTAINS / USERNAME_INVALID). */
function usernameProblem (name: string): string | undefined {
  const lower = name.toLowerCase()
  for (const word of ['discord', 'clyde']) if (lower.includes(word)) return `Discord refuses webhook names containing "${word}"`
  if (lower === 'everyone' || lower === 'here') return `Discord refuses the webhook name "${name}"`
  return undefined
}

// ---------------------------------------------------------------------------------------------------

export function create (cfg: ResolvedChannel): Channel<DiscordMessage> {
  const net = netOf(cfg.config)
  const webhookUrl = String(cfg.config.webhookUrl)
  const username = cfg.config.username as string | undefined
  const avatarUrl = cfg.config.avatarUrl as string | undefined
  const wait = cfg.config.wait === true
  if (username !== undefined) {
    const problem = usernameProblem(username)
    if (problem !== undefined) throw new Error(`channels.${cfg.name}.username: got ${JSON.stringify(username)}; ${problem}`)
  }
  if (/\/(slack|github)\/?$/.test(new URL(webhookUrl).pathname)) {
    throw new Error(`channels.${cfg.name}.webhookUrl: the Slack/GitHub-compatible endpoint takes another payload; use the plain webhook URL, without the "/slack" or "/github" suffix`)
  }
  const target = targetUrl(String(cfg.config.url ?? webhookUrl), wait)
  // The request URL differs from the configured one (version, query): mask its forms too.
  const secrets = [...cfg.secrets]
  const t = new URL(target.url)
  secrets.push(target.url, t.pathname + t.search, t.pathname)
  if (target.token !== undefined) secrets.push(target.token)
  const hook = targetUrl(webhookUrl, false)
  if (hook.token !== undefined) secrets.push(hook.token)
  // API v6/v7 (and an unversioned path we could not rewrite) give `retry_after` in milliseconds.
  const retryAfterInMs = target.version !== undefined ? target.version < 8 : /\/api\/webhooks\//.test(t.pathname)
  const where = `${cfg.name} (${safeUrl(target.url)})`
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, secrets) })

  const message = (embeds: DiscordEmbed[], content?: string): DiscordMessage => {
    const m: DiscordMessage = { embeds, allowed_mentions: { parse: [] } }
    if (content !== undefined) m.content = content
    if (username !== undefined) m.username = username
    if (avatarUrl !== undefined) m.avatar_url = avatarUrl
    return m
  }

  return {
    name: cfg.name,
    type: 'discord',
    limits: { check: DISCORD_CHECK },
    render (events: readonly AlertEvent[]): DiscordMessage[] {
      if (events.length === 0) return []
      if (events.length === 1) return [message([fullEmbed(events[0] as AlertEvent, DISCORD_LIMITS.total)])]
      const sorted = bySeverity(events)
      const budget = Math.floor(DISCORD_LIMITS.total / Math.min(DISCORD_LIMITS.embeds, sorted.length))
      const embeds = sorted.map((e) => compactEmbed(e, budget))
      const groups: DiscordEmbed[][] = []
      let group: DiscordEmbed[] = []
      let size = 0
      for (const embed of embeds) {
        const n = embedTextLength(embed)
        if (group.length > 0 && (group.length >= DISCORD_LIMITS.embeds || size + n > DISCORD_LIMITS.total)) {
          groups.push(group)
          group = []
          size = 0
        }
        group.push(embed)
        size += n
      }
      if (group.length > 0) groups.push(group)
      const headline = digestHeadline(sorted)
      return groups.map((g, i) => message(g, `**${headline}**${groups.length > 1 ? ` (part ${i + 1}/${groups.length})` : ''}`))
    },
    async send (msg: DiscordMessage, { signal }): Promise<Outcome> {
      let res: HttpResponse
      try {
        res = await httpRequest(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'pino-alerts' },
          body: JSON.stringify(msg),
          signal,
          net
        })
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
      const { status } = res
      if (status >= 200 && status < 300) return { ok: true }
      const json = parseJson(res.body)
      const detail = detailOf(res, json)
      const error = `${where}: HTTP ${status}${detail === '' ? '' : ` ${detail}`}`
      if (status === 429 || status === 408 || status >= 500) {
        const retryAfterMs = retryAfterOf(res, json, retryAfterInMs)
        return masked(retryAfterMs === undefined
          ? { ok: false, retryable: true, status, error }
          : { ok: false, retryable: true, status, retryAfterMs, error })
      }
      return masked({ ok: false, retryable: false, status, error })
    }
  }
}
