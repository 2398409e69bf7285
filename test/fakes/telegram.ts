/**
 * A local fake of the Telegram Bot API's `sendMessage`, on the generic webhook server (127.0.0.1,
 * port 0). It answers the way the Bot API does (`{ ok, result }` / `{ ok: false, error_code,
 * description, parameters }`), and it is STRICT: the MarkdownV2 parser below follows Telegram's spec
 * (https://core.telegram.org/bots/api#markdownv2-style) and rejects, with Telegram's
 * `400 Bad Request: can't parse entities: …`, anything Telegram would reject — and a little more:
 *  - a `\` not followed by a character with code 1..126 (Telegram keeps such a `\` as text, but the spec
 *    says `\` must be escaped), a bare `&` in HTML (Telegram keeps it), unknown body fields;
 *  - the 4096 limit is counted in UTF-16 code units, never fewer than Telegram's own count.
 * So a message this fake accepts, Telegram accepts too.
 *
 * Also: 401 for a wrong token, 404 for a wrong path or method, 400 "chat not found" for unknown chats,
 * 403 for chats that blocked/kicked the bot, 400 + `migrate_to_chat_id` for upgraded groups, "message
 * thread not found", "message text is empty", "message is too long"; and on demand 429 with
 * `parameters.retry_after`, 5xx, or a hang (see `rateLimit`, `fail`, `hang`).
 */
import type { RecordedRequest, ScriptedResponse, WebhookServer } from './webhook-server.js'
import { startWebhookServer } from './webhook-server.js'

// ---------------------------------------------------------------------------------------------------
// Parsed text

export type EntityType =
  | 'bold' | 'italic' | 'underline' | 'strikethrough' | 'spoiler' | 'code' | 'pre' | 'text_link'
  | 'custom_emoji' | 'blockquote' | 'expandable_blockquote'

export interface Entity { type: EntityType, offset: number, length: number, url?: string, language?: string, custom_emoji_id?: string }

/** What Telegram stores and shows: the text after entity parsing (offsets in UTF-16 code units). */
export interface ParsedText { text: string, entities: Entity[] }

/** The `…` of `Bad Request: can't parse entities: …`. */
export class EntityParseError extends Error {}

const TYPE_NAME: Record<EntityType, string> = {
  bold: 'Bold',
  italic: 'Italic',
  underline: 'Underline',
  strikethrough: 'Strikethrough',
  spoiler: 'Spoiler',
  code: 'Code',
  pre: 'Pre',
  text_link: 'TextUrl',
  custom_emoji: 'CustomEmoji',
  blockquote: 'BlockQuote',
  expandable_blockquote: 'ExpandableBlockQuote'
}

/** Characters that must be escaped outside code/pre (`\` aside). */
export const MARKDOWN_V2_RESERVED = '_*[]()~`>#+-=|{}.!'

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function validLink (url: string): boolean {
  if (/^tg:\/\/\S+$/.test(url)) return true
  try {
    const u = new URL(url)
    return (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ton:') && u.host !== ''
  } catch { return false }
}

/**
 * Telegram's MarkdownV2, strictly. Throws EntityParseError with Telegram's wording where known.
 */
export function parseMarkdownV2 (src: string): ParsedText {
  const n = src.length
  let out = ''
  const entities: Entity[] = []
  interface Open { type: EntityType, start: number, at: number, language?: string }
  const stack: Open[] = []
  let quote: { start: number, expandable: boolean } | undefined
  const byteAt = (i: number): number => Buffer.byteLength(src.slice(0, i), 'utf8')
  const fail = (msg: string): never => { throw new EntityParseError(msg) }
  const reserved = (i: number): never =>
    fail(`Character '${src[i] ?? ''}' is reserved and must be escaped with the preceding '\\'`)
  const closeQuote = (end: number): void => {
    if (quote === undefined) return
    if (end > quote.start) entities.push({ type: quote.expandable ? 'expandable_blockquote' : 'blockquote', offset: quote.start, length: end - quote.start })
    quote = undefined
  }

  let i = 0
  while (i < n) {
    const c = src[i] as string
    const top = stack[stack.length - 1]
    const inCode = top !== undefined && (top.type === 'code' || top.type === 'pre')

    // Block quotations: lines starting with '>' (or '**>' for an expandable one), outside entities.
    if (!inCode && stack.length === 0 && (i === 0 || src[i - 1] === '\n')) {
      if (src.startsWith('**>', i)) {
        closeQuote(out.length > 0 ? out.length - 1 : 0)
        quote = { start: out.length, expandable: true }
        i += 3
        continue
      }
      if (c === '>') {
        quote ??= { start: out.length, expandable: false }
        i++
        continue
      }
      if (quote !== undefined) closeQuote(out.length - 1)
    }

    if (c === '\\') {
      const next = src.charCodeAt(i + 1)
      if (i + 1 < n && next >= 1 && next <= 126) {
        out += src[i + 1] as string
        i += 2
        continue
      }
      // Stricter than Telegram (which keeps such a '\' as text): the spec says '\' must be escaped.
      fail(`Character '\\' at byte offset ${byteAt(i)} must be followed by a character with code 1..126 (a bad escape)`)
    }

    if (inCode ? c !== '`' : !MARKDOWN_V2_RESERVED.includes(c)) {
      out += c
      i++
      continue
    }

    // The '||' that ends an expandable quotation, at the end of its last line.
    if (c === '|' && src[i + 1] === '|' && (i + 2 === n || src[i + 2] === '\n') && stack.length === 0 && quote?.expandable === true) {
      i += 2
      closeQuote(out.length)
      continue
    }

    let isEnd = false
    if (top !== undefined) {
      switch (top.type) {
        case 'bold': isEnd = c === '*'; break
        case 'italic': isEnd = c === '_' && src[i + 1] !== '_'; break
        case 'underline': isEnd = c === '_' && src[i + 1] === '_'; break
        case 'strikethrough': isEnd = c === '~'; break
        case 'spoiler': isEnd = c === '|' && src[i + 1] === '|'; break
        case 'code': isEnd = c === '`'; break
        case 'pre': isEnd = src.startsWith('```', i); break
        case 'text_link': case 'custom_emoji': isEnd = c === ']'; break
        default: break
      }
    }

    if (!isEnd) {
      if (inCode) fail(`Character '\`' is reserved and must be escaped with the preceding '\\'`) // a lone ` inside pre
      const at = i
      let type: EntityType
      let language: string | undefined
      switch (c) {
        case '_':
          if (src[i + 1] === '_') { type = 'underline'; i += 2 } else { type = 'italic'; i++ }
          break
        case '*': type = 'bold'; i++; break
        case '~': type = 'strikethrough'; i++; break
        case '|':
          if (src[i + 1] !== '|') reserved(i)
          type = 'spoiler'
          i += 2
          break
        case '[': type = 'text_link'; i++; break
        case '!':
          if (src[i + 1] !== '[') reserved(i)
          type = 'custom_emoji'
          i += 2
          break
        case '`':
          if (src.startsWith('```', i)) {
            type = 'pre'
            i += 3
            let end = i
            while (end < n && !/\s/.test(src[end] as string) && src[end] !== '`') end++
            if (end !== i && end < n && src[end] !== '`') {
              language = src.slice(i, end)
              i = end
            }
            // One newline right after the opening (and language) is not part of the text.
            if (src[i] === '\n' || src[i] === '\r') {
              i += (src[i + 1] === '\n' || src[i + 1] === '\r') && src[i] !== src[i + 1] ? 2 : 1
            }
          } else {
            type = 'code'
            i++
          }
          break
        default:
          return reserved(i)
      }
      // "All other entities can't contain each other": nothing opaque inside a link.
      if (stack.some((e) => e.type === 'text_link' || e.type === 'custom_emoji') &&
        (type === 'text_link' || type === 'custom_emoji' || type === 'pre' || type === 'code')) {
        fail(`Entity ${TYPE_NAME[type]} at byte offset ${byteAt(at)} can't be nested in a link`)
      }
      const open: Open = { type, start: out.length, at }
      if (language !== undefined) open.language = language
      stack.push(open)
      continue
    }

    // The end of the innermost entity.
    const e = stack.pop() as Open
    const entity: Entity = { type: e.type, offset: e.start, length: out.length - e.start }
    let skip = entity.length === 0
    switch (e.type) {
      case 'underline': case 'spoiler': i += 2; break
      case 'pre': i += 3; break
      case 'text_link': case 'custom_emoji': {
        i++
        let url = ''
        if (src[i] === '(') {
          const urlAt = i + 1
          i++
          while (i < n && src[i] !== ')') {
            const next = src.charCodeAt(i + 1)
            if (src[i] === '\\' && i + 1 < n && next >= 1 && next <= 126) { url += src[i + 1] as string; i += 2; continue }
            url += src[i] as string
            i++
          }
          if (i >= n) fail(`Can't find end of a URL at byte offset ${byteAt(urlAt)}`)
          i++
        } else {
          if (e.type === 'custom_emoji') fail(`Custom emoji entity must contain a tg://emoji URL at byte offset ${byteAt(e.at)}`)
          url = out.slice(e.start)
        }
        if (e.type === 'custom_emoji') {
          const m = /^tg:\/\/emoji\?id=(\d+)$/.exec(url)
          if (m === null) fail(`Custom emoji URL must have an emoji identifier at byte offset ${byteAt(e.at)}`)
          entity.custom_emoji_id = (m as RegExpExecArray)[1] as string
        } else if (validLink(url)) {
          entity.url = url
        } else {
          skip = true // Telegram drops a link it cannot use, keeping its text
        }
        break
      }
      default: i++
    }
    if (e.language !== undefined) entity.language = e.language
    if (!skip) entities.push(entity)
  }
  const open = stack[stack.length - 1]
  if (open !== undefined) fail(`Can't find end of ${TYPE_NAME[open.type]} entity at byte offset ${byteAt(open.at)}`)
  closeQuote(out.length)
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length)
  return { text: out, entities }
}

// ---------------------------------------------------------------------------------------------------
// HTML

const HTML_TAGS: Record<string, EntityType> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  a: 'text_link',
  'tg-emoji': 'custom_emoji',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote'
}
const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' }

function decodeEntity (src: string, i: number): { ch: string, len: number } | undefined {
  const m = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/.exec(src.slice(i, i + 12))
  if (m === null) return undefined
  const name = m[1] as string
  let ch: string
  if (name.startsWith('#')) {
    const cp = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined
    ch = String.fromCodePoint(cp)
  } else {
    ch = NAMED_ENTITIES[name] as string
  }
  return { ch, len: m[0].length }
}

function decodeAttr (v: string): string {
  let out = ''
  for (let i = 0; i < v.length;) {
    const d = v[i] === '&' ? decodeEntity(v, i) : undefined
    if (d !== undefined) { out += d.ch; i += d.len } else { out += v[i] as string; i++ }
  }
  return out
}

/** Telegram's HTML style: supported tags only, balanced, known character entities only. */
export function parseTelegramHtml (src: string): ParsedText {
  let out = ''
  const entities: Entity[] = []
  interface Open { tag: string, type: EntityType, start: number, at: number, attrs: Record<string, string> }
  const stack: Open[] = []
  const byteAt = (i: number): number => Buffer.byteLength(src.slice(0, i), 'utf8')
  const fail = (msg: string): never => { throw new EntityParseError(msg) }
  let i = 0
  while (i < src.length) {
    const c = src[i] as string
    if (c === '&') {
      const d = decodeEntity(src, i)
      // Stricter than Telegram (which keeps an unknown '&…' as text).
      if (d === undefined) fail(`Unsupported HTML entity at byte offset ${byteAt(i)}`)
      out += (d as { ch: string }).ch
      i += (d as { len: number }).len
      continue
    }
    if (c !== '<') { out += c; i++; continue }
    const top = stack[stack.length - 1]
    if (src[i + 1] === '/') {
      const m = /^<\/([a-zA-Z][a-zA-Z0-9-]*)\s*>/.exec(src.slice(i, i + 64))
      if (m === null) fail(`Can't find end tag at byte offset ${byteAt(i)}`)
      const name = (m as RegExpExecArray)[1]?.toLowerCase() ?? ''
      if (top === undefined) fail(`Unexpected end tag at byte offset ${byteAt(i)}`)
      if ((top as Open).tag !== name) fail(`Unmatched end tag at byte offset ${byteAt(i)}, expected "</${(top as Open).tag}>", found "</${name}>"`)
      const e = stack.pop() as Open
      i += (m as RegExpExecArray)[0].length
      const entity: Entity = { type: e.type, offset: e.start, length: out.length - e.start }
      if (e.type === 'text_link') entity.url = e.attrs.href ?? ''
      if (e.type === 'custom_emoji') entity.custom_emoji_id = e.attrs['emoji-id'] ?? ''
      if (e.type === 'blockquote' && 'expandable' in e.attrs) entity.type = 'expandable_blockquote'
      if (e.tag === 'code' && stack[stack.length - 1]?.tag === 'pre') {
        // <pre><code class="language-x">: the language of the enclosing pre, recorded at its end.
        const lang = /^language-(.+)$/.exec(e.attrs.class ?? '')?.[1]
        if (lang !== undefined) (stack[stack.length - 1] as Open).attrs['data-language'] = lang
        continue
      }
      if (e.tag === 'pre' && e.attrs['data-language'] !== undefined) entity.language = e.attrs['data-language']
      if (entity.length > 0 && !(e.type === 'text_link' && !validLink(entity.url ?? ''))) entities.push(entity)
      continue
    }
    const m = /^<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*>/.exec(src.slice(i, i + 2048))
    if (m === null) fail(`Unsupported start tag at byte offset ${byteAt(i)}`)
    const mm = m as RegExpExecArray
    const tag = (mm[1] as string).toLowerCase()
    const type = HTML_TAGS[tag]
    if (type === undefined) return fail(`Unsupported start tag "${tag}" at byte offset ${byteAt(i)}`)
    const attrs: Record<string, string> = {}
    for (const a of (mm[2] ?? '').matchAll(/([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
      attrs[(a[1] as string).toLowerCase()] = decodeAttr(a[2] ?? a[3] ?? a[4] ?? '')
    }
    if (tag === 'span' && attrs.class !== 'tg-spoiler') fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteAt(i)}`)
    if (tag === 'a' && attrs.href === undefined) fail(`Tag "a" must have attribute "href" at byte offset ${byteAt(i)}`)
    if (tag === 'tg-emoji' && !/^\d+$/.test(attrs['emoji-id'] ?? '')) fail(`Tag "tg-emoji" must have attribute "emoji-id" at byte offset ${byteAt(i)}`)
    if (top !== undefined && (top.type === 'code' || (top.type === 'pre' && tag !== 'code'))) {
      fail(`Tag "${tag}" can't be nested inside "${top.tag}" at byte offset ${byteAt(i)}`)
    }
    if ((type === 'blockquote') && stack.some((e) => e.type === 'blockquote')) fail(`Blockquotes can't be nested at byte offset ${byteAt(i)}`)
    stack.push({ tag, type, start: out.length, at: i, attrs })
    i += mm[0].length
  }
  const open = stack[stack.length - 1]
  if (open !== undefined) fail(`Can't find end tag corresponding to start tag "${open.tag}"`)
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length)
  return { text: out, entities }
}

/** Parses `text` as Telegram would for `parse_mode` (none: plain text). */
export function parseTelegramText (text: string, parseMode: string | undefined): ParsedText {
  if (parseMode === 'MarkdownV2') return parseMarkdownV2(text)
  if (parseMode === 'HTML') return parseTelegramHtml(text)
  return { text, entities: [] }
}

// ---------------------------------------------------------------------------------------------------
// The Bot API answers

/** `{ ok: false, error_code, description, parameters? }` with the matching HTTP status. */
export function tgError (code: number, description: string, parameters?: Record<string, unknown>): ScriptedResponse {
  return {
    status: code,
    headers: { 'content-type': 'application/json' },
    body: { ok: false, error_code: code, description, ...(parameters === undefined ? {} : { parameters }) }
  }
}

/** What Telegram answers a flood: 429 with `parameters.retry_after` (no Retry-After header). */
export function tgRateLimited (seconds: number): ScriptedResponse {
  return tgError(429, `Too Many Requests: retry after ${seconds}`, { retry_after: seconds })
}

export const TELEGRAM_MAX_TEXT = 4096

/** Parameters of `sendMessage` (the Bot API ignores unknown ones; this fake rejects them to catch typos). */
const SEND_MESSAGE_FIELDS = new Set([
  'business_connection_id', 'chat_id', 'message_thread_id', 'direct_messages_topic_id', 'text', 'parse_mode', 'entities',
  'link_preview_options', 'disable_notification', 'protect_content', 'allow_paid_broadcast', 'message_effect_id',
  'suggested_post_parameters', 'reply_parameters', 'reply_markup', 'disable_web_page_preview', 'reply_to_message_id',
  'allow_sending_without_reply'
])

export interface TelegramApiOptions {
  /** The bot token requests must carry in their path. */
  token: string
  /** Chats the bot may post to: numeric ids or `@channelname`. */
  chats: ReadonlyArray<number | string>
  /** Chats that blocked or kicked the bot (403). */
  blocked?: ReadonlyArray<number | string>
  /** Old group id → new supergroup id (400 with `migrate_to_chat_id`). */
  migrated?: Readonly<Record<string, number>>
  /** Forum topics that exist; any `message_thread_id` is accepted when absent. */
  threads?: readonly number[]
}

/** One request as the Bot API sees it, once validated. */
export interface SentMessage {
  chatId: string
  parseMode: string | undefined
  /** The raw `text` field (markup). */
  raw: string
  /** What the user sees, with its entities. */
  parsed: ParsedText
  body: Record<string, unknown>
}

let messageIds = 0

/** Validates one request as the Bot API does: the Bot API's error answer, or the accepted message. */
export function checkSendMessage (req: RecordedRequest, opts: TelegramApiOptions): { error: ScriptedResponse } | { sent: SentMessage } {
  const m = /^\/bot([^/]*)\/([A-Za-z]+)$/.exec(req.path)
  if (m === null) return { error: tgError(404, 'Not Found') }
  if (decodeURIComponent(m[1] as string) !== opts.token) return { error: tgError(401, 'Unauthorized') }
  if ((m[2] as string).toLowerCase() !== 'sendmessage') return { error: tgError(404, 'Not Found: method not found') }
  if (req.method !== 'POST') return { error: tgError(400, 'Bad Request: this fake only takes POST') }
  if (!/^application\/json\b/i.test(req.header('content-type') ?? '')) return { error: tgError(400, 'Bad Request: message text is empty') }
  let body: unknown
  try { body = JSON.parse(req.text()) } catch { return { error: tgError(400, "Bad Request: can't parse JSON") } }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { error: tgError(400, 'Bad Request: chat_id is empty') }
  const b = body as Record<string, unknown>
  for (const k of Object.keys(b)) if (!SEND_MESSAGE_FIELDS.has(k)) return { error: tgError(400, `Bad Request: unknown parameter "${k}"`) }
  const chat = b.chat_id
  if ((typeof chat !== 'number' || !Number.isInteger(chat)) && (typeof chat !== 'string' || chat === '')) return { error: tgError(400, 'Bad Request: chat_id is empty') }
  if (typeof b.text !== 'string') return { error: tgError(400, 'Bad Request: message text is empty') }
  if (b.parse_mode !== undefined && !['MarkdownV2', 'HTML', 'Markdown'].includes(String(b.parse_mode))) return { error: tgError(400, 'Bad Request: unsupported parse_mode') }
  if (b.link_preview_options !== undefined && (b.link_preview_options === null || typeof b.link_preview_options !== 'object' || Array.isArray(b.link_preview_options))) {
    return { error: tgError(400, 'Bad Request: can\'t parse link preview options JSON object') }
  }
  if (b.disable_notification !== undefined && typeof b.disable_notification !== 'boolean') return { error: tgError(400, 'Bad Request: disable_notification must be a Boolean') }
  if (b.message_thread_id !== undefined && (typeof b.message_thread_id !== 'number' || !Number.isInteger(b.message_thread_id))) {
    return { error: tgError(400, 'Bad Request: message_thread_id must be an Integer') }
  }
  const chatId = String(chat)
  const known = (list: ReadonlyArray<number | string> | undefined): boolean => (list ?? []).some((c) => String(c) === chatId)
  const newId = opts.migrated?.[chatId]
  if (newId !== undefined) return { error: tgError(400, 'Bad Request: group chat was upgraded to a supergroup chat', { migrate_to_chat_id: newId }) }
  if (known(opts.blocked)) return { error: tgError(403, 'Forbidden: bot was kicked from the supergroup chat') }
  if (!known(opts.chats)) return { error: tgError(400, 'Bad Request: chat not found') }
  if (b.message_thread_id !== undefined && opts.threads !== undefined && !opts.threads.includes(b.message_thread_id as number)) {
    return { error: tgError(400, 'Bad Request: message thread not found') }
  }
  const text = b.text
  if (LONE_SURROGATE.test(text)) return { error: tgError(400, 'Bad Request: strings must be encoded in UTF-8') }
  let parsed: ParsedText
  try {
    parsed = parseTelegramText(text, b.parse_mode as string | undefined)
  } catch (err) {
    if (err instanceof EntityParseError) return { error: tgError(400, `Bad Request: can't parse entities: ${err.message}`) }
    throw err
  }
  if (parsed.text.trim() === '') return { error: tgError(400, 'Bad Request: message text is empty') }
  if (parsed.text.length > TELEGRAM_MAX_TEXT) return { error: tgError(400, 'Bad Request: message is too long') }
  return { sent: { chatId, parseMode: b.parse_mode as string | undefined, raw: text, parsed, body: b } }
}

/** A responder that answers like `sendMessage`: the validated message, or the Bot API's error. */
export function telegramApi (opts: TelegramApiOptions): (req: RecordedRequest) => ScriptedResponse {
  return (req) => {
    const r = checkSendMessage(req, opts)
    if ('error' in r) return r.error
    const id = Number(r.sent.chatId)
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: {
        ok: true,
        result: {
          message_id: ++messageIds,
          from: { id: Number(opts.token.split(':')[0]), is_bot: true, first_name: 'fake', username: 'fake_bot' },
          chat: Number.isNaN(id) ? { id: -1001, type: 'channel', username: r.sent.chatId.slice(1) } : { id, type: id < 0 ? 'supergroup' : 'private' },
          date: Math.floor(Date.now() / 1000),
          text: r.sent.parsed.text,
          ...(r.sent.parsed.entities.length > 0 ? { entities: r.sent.parsed.entities } : {}),
          ...(r.sent.body.message_thread_id !== undefined ? { message_thread_id: r.sent.body.message_thread_id } : {})
        }
      }
    }
  }
}

export interface TelegramFake extends WebhookServer {
  /** Point the channel's `apiUrl` here. */
  readonly apiUrl: string
  readonly options: TelegramApiOptions
  /** The messages accepted so far (answered 200), parsed as Telegram shows them. */
  delivered: () => SentMessage[]
  /** The next `times` requests get 429 with `parameters.retry_after: seconds`. */
  rateLimit: (seconds: number, times?: number) => void
  /** The next `times` requests get a 5xx Bot API error. */
  fail: (status?: number, times?: number) => void
  /** The next request is never answered (until `release()` or `close()`). */
  hang: () => void
}

export async function startTelegramFake (opts: TelegramApiOptions): Promise<TelegramFake> {
  const api = telegramApi(opts)
  const server = await startWebhookServer({ defaultResponse: api })
  const fake: TelegramFake = Object.assign(Object.create(null) as object, server, {
    apiUrl: server.origin,
    options: opts,
    delivered: () => server.requests.filter((r) => r.status === 200).map((r) => {
      const c = checkSendMessage(r, opts)
      if ('error' in c) throw new Error('fake telegram: an answered 200 does not validate')
      return c.sent
    }),
    rateLimit: (seconds: number, times = 1) => { for (let k = 0; k < times; k++) server.script(tgRateLimited(seconds)) },
    fail: (status = 500, times = 1) => {
      for (let k = 0; k < times; k++) server.script(tgError(status, status === 502 ? 'Bad Gateway' : 'Internal Server Error'))
    },
    hang: () => { server.script({ hold: true }) }
  })
  // `requests` and `held` are getters on the server object: keep them live.
  Object.defineProperty(fake, 'requests', { get: () => server.requests })
  Object.defineProperty(fake, 'held', { get: () => server.held })
  return fake
}
