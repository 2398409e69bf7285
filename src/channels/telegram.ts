/**
 * telegram: Bot API `sendMessage` (`POST {apiUrl}/bot<token>/sendMessage`), `parse_mode` MarkdownV2
 * (default) or HTML, link previews off.
 *
 * Every message is first built as a small document (lines of plain/bold/italic/code spans and `pre`
 * blocks) whose *visible* text is known exactly; limits are met on that document, by cutting raw user
 * text before it is escaped, so a cut can never land inside an escape sequence or an entity. Only then
 * is it rendered to MarkdownV2 or HTML, with every piece of text (user text and our own) escaped.
 *
 * Telegram counts the 4096-character limit after entity parsing; we count UTF-16 code units, which is
 * never fewer than Telegram's count, so a message we accept is never "too long" for Telegram.
 *
 * The bot token is part of the request path: it never appears in an outcome (errors show `bot***`).
 */
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse, parseRetryAfter } from '../http/outcome.js'
import type { AlertEvent } from '../event.js'
import { escapeHtml, escapeMarkdownV2, escapeMarkdownV2Code, wellFormed } from '../format/escape.js'
import { bySeverity, digestHeadline, stripControl, subject } from '../format/text.js'
import { boundedJson } from '../format/json.js'
import { headFor, truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import type { ChannelLimits } from './limits.js'

export type TelegramParseMode = 'MarkdownV2' | 'HTML'

/** The JSON body of one `sendMessage` request. */
export interface TelegramMessage {
  chat_id: number | string
  text: string
  parse_mode: TelegramParseMode
  link_preview_options: { is_disabled: true }
  message_thread_id?: number
  disable_notification?: boolean
}

/** Telegram's limit on a message's text after entity parsing. */
export const TELEGRAM_MAX_TEXT = 4096

/** Per-field caps (visible characters) for one alert; the body gets whatever is left. */
const CAP = {
  source: 128,
  title: 512,
  labelKey: 64,
  labelValue: 256,
  labels: 1024,
  metadata: 1536,
  /** In a digest each alert is kept short, so that many fit in one message. */
  digestBody: 300,
  digestLabels: 200,
  digestTitle: 300,
  /** Larger digests are compact: one line per alert. */
  detailedDigest: 10,
  compactTitle: 120,
  compactBody: 100
} as const

// ---------------------------------------------------------------------------------------------------
// The document: what the reader sees, independent of the markup

export type Style = 'plain' | 'bold' | 'italic'
export interface Span { text: string, style: Style }
/** A `line` may contain newlines (a body); blocks are joined with one newline. `pre` is JSON metadata. */
export type Block = { kind: 'line', spans: Span[] } | { kind: 'pre', lang: string, text: string }

const plain = (text: string): Span => ({ text, style: 'plain' })
const bold = (text: string): Span => ({ text, style: 'bold' })
const italic = (text: string): Span => ({ text, style: 'italic' })
const line = (...spans: Span[]): Block => ({ kind: 'line', spans })
const BLANK: Block = line()

function blockLength (b: Block): number {
  return b.kind === 'pre' ? b.text.length : b.spans.reduce((n, s) => n + s.text.length, 0)
}

/** Visible length (UTF-16 code units) of the document once Telegram has parsed it. */
export function visibleLength (blocks: readonly Block[]): number {
  return blocks.reduce((n, b) => n + blockLength(b), 0) + Math.max(0, blocks.length - 1)
}

function renderMarkdownV2 (blocks: readonly Block[]): string {
  return blocks.map((b) => {
    // "```json\n…```": the language, then one skipped newline; content escapes only ` and \.
    if (b.kind === 'pre') return '```' + b.lang + '\n' + escapeMarkdownV2Code(b.text) + '```'
    // Styled spans are never adjacent to one another (`_a__b_` would read as underline): the
    // documents below always put plain text between them.
    let out = ''
    for (const s of b.spans) {
      if (s.text === '') continue // an empty `__` would open an underline
      if (s.style === 'plain') out += escapeMarkdownV2(s.text)
      else if (s.style === 'bold') out += '*' + escapeMarkdownV2(s.text) + '*'
      else out += '_' + escapeMarkdownV2(s.text) + '_'
    }
    return out
  }).join('\n')
}

function renderHtml (blocks: readonly Block[]): string {
  return blocks.map((b) => {
    if (b.kind === 'pre') return `<pre><code class="language-${b.lang}">${escapeHtml(b.text)}</code></pre>`
    return b.spans.map((s) => {
      if (s.text === '') return ''
      const t = escapeHtml(s.text)
      return s.style === 'plain' ? t : s.style === 'bold' ? `<b>${t}</b>` : `<i>${t}</i>`
    }).join('')
  }).join('\n')
}

// ---------------------------------------------------------------------------------------------------
// Untrusted text → safe, bounded text

/** Well-formed Unicode, CRLF → LF, no control characters but tab and newline. */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n'))
}

/** For one-line fields (source, title, labels): every run of whitespace becomes one space. */
function oneLine (s: string, max: number): string {
  return truncate(clean(headFor(s, max)).replace(/\s+/g, ' ').trim(), max)
}

function icon (e: AlertEvent): string {
  if (e.status === 'resolved') return '✅'
  return e.severity === 'critical' ? '🔴' : e.severity === 'warn' ? '🟠' : '🔵'
}

/** `🔴 [CRITICAL] source: title` with the subject in bold. */
function headerLine (e: AlertEvent, titleMax: number): Block {
  const safe = { ...e, source: oneLine(e.source, CAP.source), title: oneLine(e.title, titleMax) } as AlertEvent
  return line(plain(icon(e) + ' '), bold(subject(safe)))
}

function labelsLine (labels: Record<string, string>, max: number): Block | undefined {
  const keys = Object.keys(labels)
  if (keys.length === 0) return undefined
  // Only as many labels as the cut can show (a log line may carry thousands).
  let text = ''
  for (const k of keys) {
    if (text.length > max) break
    text += (text === '' ? '' : ' · ') + `${oneLine(k, CAP.labelKey)}=${oneLine(String(labels[k]), CAP.labelValue)}`
  }
  return line(plain('🏷 ' + truncate(text, max)))
}

function metadataBlock (metadata: Record<string, unknown>): Block | undefined {
  if (Object.keys(metadata).length === 0) return undefined
  let json: string
  try {
    // Only what the cut below can show is written (`boundedJson`): no deep value overflows the stack.
    json = boundedJson(metadata, CAP.metadata + 1, undefined, 2) ?? ''
  } catch {
    json = '[metadata not serialisable]'
  }
  const text = truncate(clean(json), CAP.metadata)
  return text === '' ? undefined : { kind: 'pre', lang: 'json', text }
}

function footerLine (e: AlertEvent): Block {
  let text = '🕒 ' + oneLine(e.timestamp, 64)
  if (e.trace !== undefined) text += ' · trace ' + oneLine(e.trace.traceId, 64)
  return line(italic(text))
}

/** One alert → one document of at most `max` visible characters; the body takes what is left. */
export function alertDocument (e: AlertEvent, max = TELEGRAM_MAX_TEXT): Block[] {
  const head = headerLine(e, CAP.title)
  const tail: Block[] = []
  const labels = labelsLine(e.labels, CAP.labels)
  if (labels !== undefined) tail.push(labels)
  const meta = metadataBlock(e.metadata)
  if (meta !== undefined) tail.push(meta)
  tail.push(footerLine(e))
  const fixed = visibleLength([head, BLANK, ...tail])
  const body = clean(headFor(e.body, max)).trim()
  if (body === '') return [head, BLANK, ...tail]
  // head, blank, body, blank, tail: the body and one blank line add body.length + 2.
  const room = max - fixed - 2
  const blocks = room > 0 ? [head, BLANK, line(plain(truncate(body, room))), BLANK, ...tail] : [head, BLANK, ...tail]
  return blocks
}

/** One alert of a small digest: header, a short body, a short labels line. */
function digestEntry (e: AlertEvent): Block[] {
  const out = [headerLine(e, CAP.digestTitle)]
  const body = oneLine(e.body, CAP.digestBody)
  if (body !== '') out.push(line(plain(body)))
  const labels = labelsLine(e.labels, CAP.digestLabels)
  if (labels !== undefined) out.push(labels)
  return out
}

/** One alert of a large digest (a burst held back by the rate limit): one line. */
function compactEntry (e: AlertEvent): Block[] {
  const head = headerLine(e, CAP.compactTitle)
  const body = oneLine(e.body, CAP.compactBody)
  if (body !== '' && head.kind === 'line') head.spans.push(plain(' — ' + body))
  return [head]
}

/**
 * A digest → documents of at most `max` visible characters each: a headline ("14 alerts: 3 critical,
 * 11 warn", with "(2/3)" when split), then the alerts, most severe first, never one cut in two. Up to
 * `CAP.detailedDigest` alerts are shown with body and labels; more, one line each, so that a burst of
 * hundreds of alerts stays a handful of messages.
 */
export function digestDocuments (events: readonly AlertEvent[], max = TELEGRAM_MAX_TEXT): Block[][] {
  const headline = digestHeadline(events)
  const detailed = events.length <= CAP.detailedDigest
  const entries = bySeverity(events).map(detailed ? digestEntry : compactEntry)
  const gap: Block[] = detailed ? [BLANK] : []
  // The part marker " (999/999)" is reserved before the count of parts is known.
  const reserve = visibleLength([line(plain('📣 '), bold(headline), plain(' (999/999)')), ...(detailed ? [] : [BLANK])])
  const parts: Block[][][] = []
  let current: Block[][] = []
  let used = reserve
  for (const entry of entries) {
    const size = visibleLength([...gap, ...entry]) + 1 // and the newline before it
    if (current.length > 0 && used + size > max) {
      parts.push(current)
      current = []
      used = reserve
    }
    current.push(entry)
    used += size
  }
  if (current.length > 0) parts.push(current)
  return parts.map((part, i) => {
    const marker = parts.length > 1 ? ` (${i + 1}/${parts.length})` : ''
    const blocks: Block[] = [line(plain('📣 '), bold(headline), plain(marker))]
    if (!detailed) blocks.push(BLANK)
    for (const entry of part) blocks.push(...gap, ...entry)
    return blocks
  })
}

/**
 * The length of a message's text once Telegram has parsed its entities, read back from the markup
 * (independent of the document it was rendered from): MarkdownV2 escapes count one, markers
 * (`*`, `_`, `~`, `|`, `` ` ``, the fences of `pre` and their language) none; in HTML, tags count
 * none and an entity one.
 */
function parsedLength (text: string, mode: TelegramParseMode): number {
  if (mode === 'HTML') return text.replace(/<[^>]*>/g, '').replace(/&(?:[a-z]+|#\d+|#x[0-9a-f]+);/gi, '&').length
  let n = 0
  let pre = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\') { n++; i++; continue } // an escaped character (always ASCII)
    if (text.startsWith('```', i)) {
      i += 2
      if (!pre) { const nl = text.indexOf('\n', i); i = nl < 0 ? text.length : nl }
      pre = !pre
      continue
    }
    if (!pre && (c === '*' || c === '_' || c === '~' || c === '|' || c === '`')) continue
    n++
  }
  return n
}

/** Telegram's limit: 1 to 4096 characters of text after entity parsing. */
const TELEGRAM_CHECK: ChannelLimits<TelegramMessage>['check'] = (m) => {
  const n = parsedLength(m.text, m.parse_mode)
  if (n > TELEGRAM_MAX_TEXT) return `the text is ${n} characters after entity parsing (at most ${TELEGRAM_MAX_TEXT})`
  return n === 0 ? 'an empty text' : undefined
}

// ---------------------------------------------------------------------------------------------------
// Answers of the Bot API

interface ApiAnswer {
  ok: boolean
  error_code?: number
  description?: string
  parameters?: { retry_after?: number, migrate_to_chat_id?: number }
}

function apiAnswer (body: string): ApiAnswer | undefined {
  try {
    const v = JSON.parse(body) as unknown
    if (v !== null && typeof v === 'object' && typeof (v as ApiAnswer).ok === 'boolean') return v as ApiAnswer
  } catch { /* not JSON: a proxy or gateway answered */ }
  return undefined
}

/**
 * Maps one HTTP answer of `sendMessage` to an outcome. `secrets` are masked in the answer before it is
 * shortened (a token echoed across the cut would survive in part); the caller masks the result again.
 */
export function outcomeFromTelegram (res: HttpResponse, where: string, secrets: readonly string[] = []): Outcome {
  const { status } = res
  const api = apiAnswer(res.body)
  if (api === undefined) {
    if (status >= 200 && status < 300) {
      // Delivered or not? Unknown: a 2xx that is not the Bot API's answer is a misrouted request.
      return { ok: false, retryable: true, status, error: `${where}: HTTP ${status} without a Bot API answer (is apiUrl right?)` }
    }
    return outcomeFromResponse(res, where, secrets)
  }
  if (api.ok) return { ok: true }
  const code = typeof api.error_code === 'number' ? api.error_code : status
  const desc = redact(String(api.description ?? `HTTP ${status}`).replace(/\s+/g, ' '), secrets).slice(0, 200)
  const params = api.parameters ?? {}
  const header = parseRetryAfter(res.headers['retry-after'])

  if (params.migrate_to_chat_id !== undefined) {
    return {
      ok: false,
      retryable: false,
      status,
      error: `${where}: ${code} ${desc}: the group became a supergroup; set chatId to ${String(params.migrate_to_chat_id)}`
    }
  }
  if (code === 429 || status === 429) {
    const fromBody = typeof params.retry_after === 'number' && params.retry_after >= 0 ? Math.ceil(params.retry_after * 1000) : undefined
    const retryAfterMs = fromBody === undefined ? header : Math.max(fromBody, header ?? 0)
    const out: Outcome = { ok: false, retryable: true, status, error: `${where}: 429 ${desc}` }
    return retryAfterMs === undefined ? out : { ...out, retryAfterMs }
  }
  if (code >= 500 || status >= 500 || status === 408) {
    const out: Outcome = { ok: false, retryable: true, status, error: `${where}: ${code} ${desc}` }
    return header === undefined ? out : { ...out, retryAfterMs: header }
  }
  let hint = ''
  if (code === 401) hint = ': the bot token is wrong or was revoked (@BotFather → /token)'
  else if (code === 403) hint = ': add the bot to the chat (or unblock it) and allow it to post'
  else if (code === 404) hint = ': no such Bot API method (check apiUrl and the token format)'
  else if (/chat not found/i.test(desc)) hint = ': check chatId; the bot must be a member of the chat (channels: an admin)'
  else if (/thread not found/i.test(desc)) hint = ': check messageThreadId (the forum topic)'
  else if (/can't parse entities/i.test(desc)) hint = ' (a pino-alerts escaping bug: please report it)'
  return { ok: false, retryable: false, status, error: `${where}: ${code} ${desc}${hint}` }
}

// ---------------------------------------------------------------------------------------------------

export function create (cfg: ResolvedChannel): Channel<TelegramMessage> {
  const net = netOf(cfg.config)
  const token = String(cfg.config.botToken)
  const chatId = cfg.config.chatId as number | string
  const parseMode = (cfg.config.parseMode ?? 'MarkdownV2') as TelegramParseMode
  const apiUrl = String(cfg.config.apiUrl ?? 'https://api.telegram.org').replace(/\/+$/, '')
  const threadId = cfg.config.messageThreadId as number | undefined
  const quietNonCritical = cfg.config.disableNotification === true

  const endpoint = `${apiUrl}/bot${token}/sendMessage`
  const base = new URL(apiUrl)
  const where = `${cfg.name} (${base.protocol}//${base.host}${base.pathname === '/' || base.pathname === '' ? '' : '/***'}/bot***/sendMessage)`
  // The token, its secret half and the bot id, besides what options.ts lists (apiUrl path…).
  const [botId = '', secretHalf = ''] = token.split(':')
  const secrets = [...cfg.secrets, token, secretHalf, ...(botId.length >= 6 ? [botId] : [])]
  const mask = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, secrets).replace(/\/bot[^/\s]*\//g, '/bot***/') })

  const toMessage = (blocks: readonly Block[], events: readonly AlertEvent[]): TelegramMessage => {
    const m: TelegramMessage = {
      chat_id: chatId,
      text: parseMode === 'HTML' ? renderHtml(blocks) : renderMarkdownV2(blocks),
      parse_mode: parseMode,
      link_preview_options: { is_disabled: true }
    }
    if (threadId !== undefined) m.message_thread_id = threadId
    // Silent unless something critical is firing.
    if (quietNonCritical && !events.some((e) => e.severity === 'critical' && e.status === 'firing')) m.disable_notification = true
    return m
  }

  return {
    name: cfg.name,
    type: 'telegram',
    limits: { check: TELEGRAM_CHECK },
    render (events: readonly AlertEvent[]): TelegramMessage[] {
      if (events.length === 0) return []
      if (events.length === 1) return [toMessage(alertDocument(events[0] as AlertEvent), events)]
      return digestDocuments(events).map((doc) => toMessage(doc, events))
    },
    async send (message: TelegramMessage, { signal }): Promise<Outcome> {
      try {
        const res = await httpRequest(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'pino-alerts' },
          body: JSON.stringify(message),
          signal,
          net
        })
        return mask(outcomeFromTelegram(res, where, secrets))
      } catch (err) {
        return mask(outcomeFromError(err, where, signal))
      }
    }
  }
}
