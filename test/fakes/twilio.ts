/**
 * A local fake of Twilio Programmable Messaging's Messages API (create a message), on the generic
 * webhook server (127.0.0.1, port 0):
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json
 *   Authorization: Basic base64(AccountSid:AuthToken)
 *   Content-Type: application/x-www-form-urlencoded
 *   To=+4915112345678&From=+15005550006&Body=…        (or MessagingServiceSid=MG… instead of From)
 *
 * It answers as Twilio does: 201 with the message resource (`sid` SM…, `status` "queued", or
 * "accepted" with a Messaging Service), errors as `{ code, message, more_info, status }`
 * (https://www.twilio.com/docs/api/errors): 401/20003 for missing or wrong credentials, 404/20404 for
 * an unknown path or another account, 400 with 21604 (To missing), 21211 (To not E.164), 21603 (neither
 * From nor MessagingServiceSid), 21212 (From not E.164), 21606 (From not one of the account's senders),
 * 21701 (unknown Messaging Service), 21602 / 21619 (Body missing), 21617 (Body over 1600 characters),
 * 21610 (unsubscribed recipient), 21408 (no permission for the recipient's region). On demand:
 * 429/20429 (with or without `Retry-After`), 5xx, any permanent code, or a hang (see `rateLimit`,
 * `fail`, `reject`, `hang`).
 *
 * Stricter than Twilio, so that what this fake accepts Twilio accepts too: the 1600 limit is counted
 * in UTF-16 code units (an emoji counts two); unknown or repeated parameters and form data that is not
 * valid UTF-8 once percent-decoded (a lone surrogate sent raw) are refused (400 / 20001).
 */
import type { RecordedRequest, ScriptedResponse, WebhookServer } from './webhook-server.js'
import { startWebhookServer } from './webhook-server.js'

export const TWILIO_MAX_BODY = 1600
const E164 = /^\+[1-9]\d{6,14}$/
const MESSAGING_SERVICE_SID = /^MG[0-9a-fA-F]{32}$/
const PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/

/** Parameters of "Create a Message" (Twilio ignores unknown ones; this fake refuses them). */
const CREATE_PARAMS = new Set([
  'To', 'From', 'MessagingServiceSid', 'Body', 'MediaUrl', 'ContentSid', 'ContentVariables', 'StatusCallback',
  'ApplicationSid', 'MaxPrice', 'ProvideFeedback', 'Attempt', 'ValidityPeriod', 'ForceDelivery', 'ContentRetention',
  'AddressRetention', 'SmartEncoded', 'PersistentAction', 'ShortenUrls', 'ScheduleType', 'SendAt', 'SendAsMms', 'RiskCheck'
])

/** Twilio's error answer. */
export function twilioError (status: number, code: number, message: string, headers: Record<string, string> = {}): ScriptedResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }
  }
}

/** 429 Too Many Requests (20429), with `Retry-After: seconds` when given. */
export function twilioTooManyRequests (seconds?: number): ScriptedResponse {
  return twilioError(429, 20429, 'Too Many Requests', seconds === undefined ? {} : { 'retry-after': String(seconds) })
}

/** The canned answers of the permanent errors a sender meets most. */
export const PERMANENT_ERRORS: Readonly<Record<number, { status: number, message: string }>> = {
  20003: { status: 401, message: 'Authenticate' },
  21211: { status: 400, message: "The 'To' number +1555000 is not a valid phone number." },
  21408: { status: 400, message: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +8613800000000." },
  21606: { status: 400, message: "The 'From' phone number provided (+15005550001) is not a valid message-capable Twilio phone number for this destination." },
  21610: { status: 400, message: 'Attempt to send to unsubscribed recipient' },
  21617: { status: 400, message: 'The concatenated message body exceeds the 1600 character limit.' }
}

export interface TwilioApiOptions {
  accountSid: string
  authToken: string
  /** Phone numbers and Messaging Service SIDs the account may send from. */
  senders: readonly string[]
  /** Recipients who replied STOP (21610). */
  unsubscribed?: readonly string[]
  /** Recipients in a region the account may not send to (21408). */
  forbiddenRegions?: readonly string[]
}

export type SmsEncoding = 'GSM-7' | 'UCS-2'

/** One message as Twilio accepted it. */
export interface SentSms {
  sid: string
  to: string
  from: string | null
  messagingServiceSid: string | null
  body: string
  encoding: SmsEncoding
  segments: number
}

// GSM 03.38: the basic character set (one septet each) and its extension table (two septets each).
const GSM7_BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'
const GSM7_EXTENDED = '^{}\\[~]|€\f'

/** How an SMS body is encoded and into how many billed segments it is split. */
export function smsSegments (body: string): { encoding: SmsEncoding, segments: number } {
  let septets = 0
  for (const ch of body) {
    if (GSM7_BASIC.includes(ch)) septets += 1
    else if (GSM7_EXTENDED.includes(ch)) septets += 2
    else {
      const units = body.length
      return { encoding: 'UCS-2', segments: units <= 70 ? 1 : Math.ceil(units / 67) }
    }
  }
  return { encoding: 'GSM-7', segments: septets <= 160 ? 1 : Math.ceil(septets / 153) }
}

/**
 * `application/x-www-form-urlencoded` decoded strictly: percent-escapes must be valid UTF-8 (a lone
 * surrogate encoded as CESU bytes is refused, where URLSearchParams would quietly make it U+FFFD).
 */
function decodeForm (raw: string): Array<[string, string]> | undefined {
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  const decode = (s: string): string => {
    const bytes: number[] = []
    const plain = s.replace(/\+/g, ' ')
    for (let i = 0; i < plain.length; i++) {
      const c = plain[i] as string
      if (c === '%') {
        const hex = plain.slice(i + 1, i + 3)
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error('bad escape')
        bytes.push(parseInt(hex, 16))
        i += 2
      } else {
        bytes.push(...Buffer.from(c, 'utf8'))
      }
    }
    return utf8.decode(Uint8Array.from(bytes))
  }
  try {
    return raw === '' ? [] : raw.split('&').map((pair) => {
      const eq = pair.indexOf('=')
      return eq < 0 ? [decode(pair), ''] : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))]
    })
  } catch {
    return undefined
  }
}

/** The user name and password of a Basic `authorization` header. */
export function basicCredentials (header: string | undefined): { user: string, password: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '')
  if (m === null) return undefined
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

let counter = 0
const sidOf = (prefix: string): string => prefix + (++counter).toString(16).padStart(32, '0')

/** Validates one request as the Messages API does: Twilio's error answer, or the accepted message. */
export function checkCreateMessage (req: RecordedRequest, opts: TwilioApiOptions): { error: ScriptedResponse } | { sent: SentSms } {
  const creds = basicCredentials(req.header('authorization'))
  if (creds === undefined || creds.user !== opts.accountSid || creds.password !== opts.authToken) {
    return { error: { ...twilioError(401, 20003, 'Authenticate'), headers: { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Basic realm="Twilio API"' } } }
  }
  const m = PATH.exec(req.path)
  if (m === null || decodeURIComponent(m[1] as string) !== opts.accountSid) {
    return { error: twilioError(404, 20404, `The requested resource ${req.path} was not found`) }
  }
  if (req.method !== 'POST') return { error: twilioError(405, 20004, 'Method not allowed') }
  // Twilio reads form fields only: a JSON body has no `To` as far as it is concerned.
  const form = /^application\/x-www-form-urlencoded\b/i.test(req.header('content-type') ?? '') ? decodeForm(req.text()) : []
  if (form === undefined) return { error: twilioError(400, 20001, 'Invalid parameter: the form data is not valid UTF-8') }
  const params = new Map<string, string>()
  for (const [k, v] of form) {
    if (!CREATE_PARAMS.has(k)) return { error: twilioError(400, 20001, `Unknown parameter: ${k}`) }
    if (params.has(k)) return { error: twilioError(400, 20001, `Parameter ${k} given more than once`) }
    params.set(k, v)
  }
  const to = params.get('To')
  if (to === undefined || to === '') return { error: twilioError(400, 21604, "A 'To' phone number is required.") }
  if (!E164.test(to)) return { error: twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`) }
  const from = params.get('From')
  const service = params.get('MessagingServiceSid')
  if ((from === undefined || from === '') && (service === undefined || service === '')) {
    return { error: twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message") }
  }
  if (service !== undefined && service !== '') {
    if (!MESSAGING_SERVICE_SID.test(service) || !opts.senders.includes(service)) {
      return { error: twilioError(400, 21701, `The Messaging Service Sid ${service} is invalid.`) }
    }
  }
  if (from !== undefined && from !== '') {
    if (!E164.test(from)) return { error: twilioError(400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`) }
    if (!opts.senders.includes(from)) {
      return { error: twilioError(400, 21606, `The 'From' phone number provided (${from}) is not a valid message-capable Twilio phone number for this destination.`) }
    }
  }
  const body = params.get('Body') ?? ''
  if (body === '' && params.get('MediaUrl') === undefined && params.get('ContentSid') === undefined) {
    return { error: from === undefined || from === '' ? twilioError(400, 21619, 'A text message body, media URL or content SID is required') : twilioError(400, 21602, 'Message body is required.') }
  }
  if (body.length > TWILIO_MAX_BODY) return { error: twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.') }
  if ((opts.unsubscribed ?? []).includes(to)) return { error: twilioError(400, 21610, 'Attempt to send to unsubscribed recipient') }
  if ((opts.forbiddenRegions ?? []).includes(to)) {
    return { error: twilioError(400, 21408, `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`) }
  }
  const { encoding, segments } = smsSegments(body)
  return {
    sent: {
      sid: '',
      to,
      from: from === undefined || from === '' ? null : from,
      messagingServiceSid: service === undefined || service === '' ? null : service,
      body,
      encoding,
      segments
    }
  }
}

/** A responder that answers like "Create a Message": 201 with the message resource, or Twilio's error. */
export function twilioApi (opts: TwilioApiOptions, onSent?: (sms: SentSms) => void): (req: RecordedRequest) => ScriptedResponse {
  return (req) => {
    const r = checkCreateMessage(req, opts)
    if ('error' in r) return r.error
    const sms: SentSms = { ...r.sent, sid: sidOf('SM') }
    onSent?.(sms)
    const now = new Date().toUTCString().replace('GMT', '+0000')
    return {
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8', 'twilio-request-id': sidOf('RQ') },
      body: {
        account_sid: opts.accountSid,
        api_version: '2010-04-01',
        body: sms.body,
        date_created: now,
        date_sent: null,
        date_updated: now,
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: sms.from,
        messaging_service_sid: sms.messagingServiceSid,
        num_media: '0',
        num_segments: String(sms.segments),
        price: null,
        price_unit: 'USD',
        sid: sms.sid,
        // With a Messaging Service Twilio picks the sender later: "accepted", then "queued".
        status: sms.messagingServiceSid === null ? 'queued' : 'accepted',
        subresource_uris: { media: `/2010-04-01/Accounts/${opts.accountSid}/Messages/${sms.sid}/Media.json` },
        to: sms.to,
        uri: `/2010-04-01/Accounts/${opts.accountSid}/Messages/${sms.sid}.json`
      }
    }
  }
}

export interface TwilioFake extends WebhookServer {
  /** Point the channel's `apiUrl` here. */
  readonly apiUrl: string
  readonly options: TwilioApiOptions
  /** The messages accepted (answered 201) since the last `reset()`, in order. */
  delivered: () => SentSms[]
  /** The next `times` requests get 429 / 20429, with `Retry-After: seconds` when given. */
  rateLimit: (seconds?: number, times?: number) => void
  /** The next `times` requests get a 5xx Twilio error (20500 / 20503). */
  fail: (status?: number, times?: number) => void
  /** The next `times` requests get the permanent error `code` (see PERMANENT_ERRORS). */
  reject: (code: number, times?: number) => void
  /** The next request is never answered (until `release()` or `close()`). */
  hang: () => void
}

export async function startTwilioFake (opts: TwilioApiOptions): Promise<TwilioFake> {
  let sent: SentSms[] = []
  const api = twilioApi(opts, (sms) => { sent.push(sms) })
  const server = await startWebhookServer({ defaultResponse: api })
  const reset = server.reset
  const fake: TwilioFake = Object.assign(Object.create(null) as object, server, {
    apiUrl: server.origin,
    options: opts,
    reset: () => { reset(); sent = [] },
    delivered: () => [...sent],
    rateLimit: (seconds?: number, times = 1) => { for (let k = 0; k < times; k++) server.script(twilioTooManyRequests(seconds)) },
    fail: (status = 500, times = 1) => {
      for (let k = 0; k < times; k++) {
        server.script(status === 503 ? twilioError(503, 20503, 'Service Unavailable') : twilioError(status, 20500, 'An internal server error has occurred'))
      }
    },
    reject: (code: number, times = 1) => {
      const known = PERMANENT_ERRORS[code] ?? { status: 400, message: `Error ${code}` }
      for (let k = 0; k < times; k++) server.script(twilioError(known.status, code, known.message))
    },
    hang: () => { server.script({ hold: true }) }
  })
  // `requests` and `held` are getters on the server object: keep them live.
  Object.defineProperty(fake, 'requests', { get: () => server.requests })
  Object.defineProperty(fake, 'held', { get: () => server.held })
  return fake
}
