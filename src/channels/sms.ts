/**
 * sms: Twilio Programmable Messaging, Messages API: `POST {apiUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
 * form-encoded (`To`, `From` or `MessagingServiceSid`, `Body`), HTTP Basic auth (Account SID : Auth Token).
 *
 * One message per recipient (Twilio takes one `To` per request). Text only, one line per alert:
 * `[CRITICAL] source: title - body`; a digest is ONE short SMS per recipient: the headline
 * ("14 alerts: 3 critical, 11 warn") and the subjects, most severe first, then "+N more".
 *
 * SMS is billed per segment: 160 GSM-7 characters (153 when concatenated), but only 70 (67) as soon as
 * ONE character lies outside GSM-7. So the text this channel adds is GSM-7 (" - " and "..." rather
 * than an em dash and "…"): an alert in plain letters, digits and punctuation stays GSM-7, and at 150
 * characters it costs one segment, not three. The body is cut to Twilio's 1600-character limit, counted in UTF-16 code units (an emoji
 * counts two), which is never fewer than Twilio's own count.
 */
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse, parseRetryAfter } from '../http/outcome.js'
import type { AlertEvent } from '../event.js'
import { wellFormed } from '../format/escape.js'
import { bySeverity, digestHeadline, SEVERITY_WORD, stripControl } from '../format/text.js'
import { truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact } from '../redact.js'
import type { Channel, Outcome } from './channel.js'

/** One SMS to one recipient. */
export interface SmsMessage { to: string, body: string }

/** Twilio's limit on `Body` (error 21617 beyond it). */
export const SMS_MAX_BODY = 1600
/** GSM-7 friendly: "…" and "—" would switch the whole message to UCS-2 (70 characters a segment). */
export const SMS_ELLIPSIS = '...'
export const SMS_SEPARATOR = ' - '
/** A source longer than this is cut: it is a name, not a text. */
const MAX_SOURCE = 100
/** One line of a digest: enough for a subject; more would crowd out the other alerts. */
const MAX_DIGEST_LINE = 160
const DEFAULT_API_URL = 'https://api.twilio.com'

/** What to do about the Twilio errors (https://www.twilio.com/docs/api/errors) a sender meets most: added to the error text. */
const HINTS: Record<number, string> = {
  20003: 'check accountSid and authToken',
  20404: 'check accountSid and apiUrl',
  21211: 'a "to" number is not a valid phone number',
  21408: 'enable SMS to this country in the Twilio console (Messaging > Settings > Geo permissions)',
  21602: 'the message body was empty',
  21606: '"from" cannot send SMS to this destination; use an SMS-capable Twilio number or a Messaging Service',
  21608: 'trial accounts can only send to verified numbers',
  21610: 'the recipient replied STOP; they must reply START to receive alerts again',
  21611: 'the sender has over 10 hours of messages queued; retrying later',
  21612: 'the recipient cannot be reached by SMS from this sender',
  21614: 'the "to" number is not a mobile number',
  21617: 'the body exceeds 1600 characters'
}
/**
 * Retried whatever their HTTP status: 20429 Too Many Requests ("never processed and always safe to
 * retry"), 21611 the sender's queue is full (it drains at the sender's rate: waiting helps).
 */
const RETRYABLE_CODES = new Set([20429, 21611])

interface TwilioError { code?: number, message?: string, status?: number }

/** Whitespace (line breaks included) to one space; control and bidi-override characters and lone surrogates to U+FFFD. */
export function smsText (s: string): string {
  return stripControl(wellFormed(s).replace(/[\s\u0085]+/g, ' ')).replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd').trim()
}

/** `[CRITICAL] source: title` (`[RESOLVED] …`) as `subject()` has it, on one line, the source cut to a name's length. */
function smsSubject (e: AlertEvent): string {
  const source = truncate(smsText(e.source), MAX_SOURCE, SMS_ELLIPSIS)
  return `[${e.status === 'resolved' ? 'RESOLVED' : SEVERITY_WORD[e.severity]}] ${source}: ${smsText(e.title)}`
}

/** One alert: `[CRITICAL] source: title - body`, cut to 1600 code units. */
export function renderAlert (e: AlertEvent): string {
  const body = smsText(e.body)
  const text = body === '' ? smsSubject(e) : smsSubject(e) + SMS_SEPARATOR + body
  return truncate(text, SMS_MAX_BODY, SMS_ELLIPSIS)
}

/** A digest: headline, then one subject per line, most severe first, as many as fit; then "+N more". */
export function renderDigest (events: readonly AlertEvent[]): string {
  const sorted = bySeverity(events)
  let text = digestHeadline(sorted)
  let shown = 0
  for (const e of sorted) {
    const line = '\n' + truncate(smsSubject(e), MAX_DIGEST_LINE, SMS_ELLIPSIS)
    const rest = sorted.length - shown - 1
    // Room for this line and, unless it is the last one, the "+N more" line after it.
    const reserve = rest > 0 ? `\n+${rest} more`.length : 0
    if (text.length + line.length + reserve > SMS_MAX_BODY) break
    text += line
    shown++
  }
  if (shown < sorted.length) text += `\n+${sorted.length - shown} more`
  return truncate(text, SMS_MAX_BODY, SMS_ELLIPSIS)
}

export function create (cfg: ResolvedChannel): Channel<SmsMessage> {
  const net = netOf(cfg.config)
  const accountSid = String(cfg.config.accountSid)
  const authToken = String(cfg.config.authToken)
  const from = String(cfg.config.from)
  const to = cfg.config.to as string[]
  const base = String(cfg.config.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '')
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`
  const credentials = Buffer.from(`${accountSid}:${authToken}`).toString('base64')
  // The Basic credentials in every form a service or proxy might echo: never in an error text. The
  // Account SID is masked too: with the token it is the login, and Twilio's 404s repeat it.
  const secrets = [...cfg.secrets, authToken, accountSid, credentials]
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, secrets) })
  const sender: [string, string] = from.startsWith('MG') ? ['MessagingServiceSid', from] : ['From', from]

  return {
    name: cfg.name,
    type: 'sms',
    // Twilio's Body: at most 1600 characters (counted here in UTF-16 units, never fewer than Twilio's count), not empty.
    limits: { maxMessageLength: SMS_MAX_BODY, check: (m: SmsMessage) => (m.body.trim() === '' ? 'an empty Body (Twilio error 21602)' : undefined) },
    render (events: readonly AlertEvent[]): SmsMessage[] {
      if (events.length === 0) return []
      const body = events.length === 1 ? renderAlert(events[0] as AlertEvent) : renderDigest(events)
      return to.map((recipient) => ({ to: recipient, body }))
    },
    async send (message: SmsMessage, { signal }): Promise<Outcome> {
      const where = `${cfg.name} (to ${message.to})`
      const form = new URLSearchParams()
      form.set('To', message.to)
      form.set(sender[0], sender[1])
      form.set('Body', message.body)
      try {
        const res = await httpRequest(url, {
          method: 'POST',
          headers: {
            authorization: `Basic ${credentials}`,
            'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
            accept: 'application/json',
            'user-agent': 'pino-alerts'
          },
          body: form.toString(),
          signal,
          net
        })
        return masked(outcomeFromTwilio(res, where, secrets))
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
    }
  }
}

/**
 * 2xx: delivered (Twilio answers 201 with the queued message). Twilio's error body
 * `{ code, message, more_info, status }`: 20429 / HTTP 429 and 21611 (sender queue full) retried
 * (after `Retry-After` when given), 5xx and 408 retried, every other error permanent. An answer that
 * is not Twilio's (a proxy's page) is mapped by its HTTP status alone.
 */
export function outcomeFromTwilio (res: HttpResponse, where: string, secrets: readonly string[]): Outcome {
  const { status } = res
  if (status >= 200 && status < 300) return { ok: true }
  let err: TwilioError | undefined
  try {
    const parsed = JSON.parse(res.body) as unknown
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as TwilioError).code === 'number') err = parsed as TwilioError
  } catch { /* not Twilio's answer */ }
  if (err === undefined) return outcomeFromResponse(res, where, secrets)
  const code = err.code as number
  const text = redact(String(err.message ?? '').replace(/\s+/g, ' ').trim(), secrets).slice(0, 200)
  const hint = HINTS[code]
  const error = `${where}: HTTP ${status} Twilio error ${code}${text === '' ? '' : `: ${text}`}${hint === undefined ? '' : ` (${hint})`}`
  if (RETRYABLE_CODES.has(code) || status === 429 || status === 408 || status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'])
    return retryAfterMs === undefined ? { ok: false, retryable: true, status, error } : { ok: false, retryable: true, status, retryAfterMs, error }
  }
  return { ok: false, retryable: false, status, error }
}
