/**
 * email: SMTP via nodemailer (pooled connections), a `multipart/alternative` with a text and an HTML
 * part, subject `[CRITICAL] risk_gate: Order blocked`, headers `X-Alert-Id`, `X-Alert-Severity`,
 * `X-Alert-Fingerprint`. SMTP 4xx replies and connection trouble are retried, 5xx are permanent.
 *
 * An attempt given up (its signal aborts: the attempt timeout, the shutdown deadline) is cancelled in
 * nodemailer, not merely left behind: the pool drops it from its queue or closes the connection
 * carrying it, so it can never complete beside the retry, and `send` settles at once.
 * With `user`/`password` the session must be TLS (`secure`, or STARTTLS: `requireTLS` defaults to
 * true then), so a server or a man in the middle that strips STARTTLS never sees the password.
 */
import { createTransport } from 'nodemailer'
import type { AlertEvent } from '../event.js'
import { alertHtml, digestHtml } from '../format/html.js'
import { bySeverity, digestHeadline, labelsText, SEVERITY_WORD, subject } from '../format/text.js'
import { truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { abortReason, CERTIFICATE_CODES } from '../http/outcome.js'
import { redact } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import { firstProblem, type ChannelLimits } from './limits.js'

/**
 * Text and HTML parts together at most 5 MiB of UTF-8: sent base64- or quoted-printable-encoded they
 * grow by a third or more, and 10 MB is what most SMTP servers take (Postfix's default
 * `message_size_limit`). The subject and every header value one line (no header injection) of at
 * most 998 characters (RFC 5322).
 */
const EMAIL_MAX_CONTENT_BYTES = 5 * 1024 * 1024
const oneHeaderLine = (name: string, v: string): string | undefined =>
  // eslint-disable-next-line no-control-regex
  /[\r\n\u0000]/.test(v) ? `${name} is not one line` : v.length > 998 ? `${name} is ${v.length} characters (at most 998)` : undefined
const EMAIL_LIMITS: ChannelLimits<EmailMessage> = {
  check (m: EmailMessage): string | undefined {
    const bytes = Buffer.byteLength(m.text, 'utf8') + Buffer.byteLength(m.html, 'utf8')
    return firstProblem(
      bytes > EMAIL_MAX_CONTENT_BYTES ? `text and html are ${bytes} bytes (at most ${EMAIL_MAX_CONTENT_BYTES})` : undefined,
      oneHeaderLine('the subject', m.subject),
      ...Object.entries(m.headers).map(([k, v]) => oneHeaderLine(`header ${k}`, v))
    )
  }
}

export interface EmailMessage {
  subject: string
  text: string
  html: string
  headers: Record<string, string>
}

/** Header values are one line: CR, LF and other control characters become spaces (no header injection). */
export function headerSafe (s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  return truncate(s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim(), max)
}

function metadataText (m: Record<string, unknown>): string {
  return Object.entries(m).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n')
}

export function alertText (e: AlertEvent): string {
  const lines = [subject(e), '']
  if (e.body !== '') lines.push(e.body, '')
  const labels = labelsText(e.labels)
  if (labels !== '') lines.push(`Labels: ${labels}`)
  const meta = metadataText(e.metadata)
  if (meta !== '') lines.push('Metadata:', meta)
  lines.push(`Time: ${e.timestamp}`, `Alert id: ${e.id}`, `Fingerprint: ${e.fingerprint}`)
  return lines.join('\n') + '\n'
}

export function renderEmail (events: readonly AlertEvent[], prefix: string): EmailMessage {
  const pre = prefix === '' ? '' : prefix + ' '
  if (events.length === 1) {
    const e = events[0] as AlertEvent
    return {
      subject: headerSafe(pre + subject(e), 250),
      text: alertText(e),
      html: alertHtml(e),
      headers: { 'X-Alert-Id': headerSafe(e.id), 'X-Alert-Severity': e.severity, 'X-Alert-Fingerprint': headerSafe(e.fingerprint) }
    }
  }
  const sorted = bySeverity(events)
  const top = sorted[0] as AlertEvent
  const titles = sorted.map((e) => e.title).join(', ')
  return {
    subject: headerSafe(`${pre}[${SEVERITY_WORD[top.severity]}] ${digestHeadline(events).replace(/^(\d+ alerts): .*$/, '$1')}: ${titles}`, 250),
    text: `${digestHeadline(events)}\n\n${sorted.map((e) => alertText(e)).join('\n---\n\n')}`,
    html: digestHtml(events),
    headers: {
      'X-Alert-Id': headerSafe(sorted.map((e) => e.id).join(', '), 900),
      'X-Alert-Severity': top.severity,
      'X-Alert-Fingerprint': headerSafe(sorted.map((e) => e.fingerprint).join(', '), 900),
      'X-Alert-Count': String(events.length)
    }
  }
}

interface SmtpError { code?: string, originalCode?: string, command?: string, responseCode?: number, message?: string, response?: string }

const oneLine = (s: string, max = 300): string => s.replace(/\s+/g, ' ').trim().slice(0, max)

/**
 * SMTP replies and nodemailer error codes → an outcome. `credentials`: the channel has a password, so
 * a server that will not start TLS is told apart (the password was not sent).
 */
export function outcomeFromSmtpError (err: unknown, where: string, credentials = false): Outcome {
  const e = err as SmtpError
  // The server answered STARTTLS with anything but 2xx (it offered none, or someone took it out of
  // its EHLO): requireTLS stopped the session before AUTH. Waiting does not change that.
  if (e.code === 'ETLS' && e.command === 'STARTTLS' && typeof e.responseCode === 'number') {
    const what = credentials
      ? 'the server offered no STARTTLS; the password is not sent in clear; set requireTLS: false to allow it'
      : 'the server offered no STARTTLS and requireTLS is set; set requireTLS: false to send without TLS'
    return { ok: false, retryable: false, status: e.responseCode, error: `${where}: ${what} (STARTTLS answered: ${oneLine(e.response ?? String(e.responseCode), 200)})` }
  }
  // nodemailer reports Node's certificate errors as ESOCKET with the TLS code in `originalCode`.
  const tlsCode = [e.originalCode, e.code].find((c) => c !== undefined && CERTIFICATE_CODES.has(c))
  if (tlsCode !== undefined) {
    return { ok: false, retryable: false, error: `${where}: TLS: ${oneLine(e.message ?? tlsCode)} (${tlsCode}; a private CA goes into the channel's tls.ca)` }
  }
  const text = `${where}: ${oneLine(e.message ?? String(err))}`
  const reply = e.responseCode
  if (typeof reply === 'number' && reply >= 400 && reply < 500) return { ok: false, retryable: true, status: reply, error: text }
  if (typeof reply === 'number' && reply >= 500) return { ok: false, retryable: false, status: reply, error: text }
  // No reply code: authentication without a reply, a bad envelope, a TLS or configuration problem will
  // not fix themselves; connection trouble and timeouts might.
  const permanent = ['EAUTH', 'ENOAUTH', 'EENVELOPE', 'ECONFIG', 'ETLS', 'EREQUIRETLS', 'EMAXRECIPIENTS']
  return { ok: false, retryable: !permanent.includes(e.code ?? ''), error: text }
}

export function create (cfg: ResolvedChannel): Channel<EmailMessage> {
  const c = cfg.config as {
    host: string, port?: number, secure?: boolean, requireTLS?: boolean, user?: string, password?: string,
    from: string, to: string[], cc?: string[], subjectPrefix?: string, tls?: { ca?: string[], rejectUnauthorized?: boolean }, pool?: boolean
  }
  const secure = c.secure ?? c.port === 465
  const port = c.port ?? (secure ? 465 : 587)
  const credentials = c.user !== undefined
  // A password goes only over TLS unless the user says otherwise: TLS from the first byte, or STARTTLS
  // required (nodemailer then sends STARTTLS even when the EHLO does not offer it, and stops when
  // the server refuses, before AUTH).
  const requireTLS = c.requireTLS ?? (credentials && !secure)
  const where = `${cfg.name} (smtp ${c.host}:${port})`
  const t = cfg.timeoutMs
  const transportOptions = {
    pool: (c.pool ?? true) as true,
    host: c.host,
    port,
    secure,
    requireTLS,
    auth: c.user !== undefined ? { user: c.user, pass: c.password as string } : undefined,
    tls: c.tls === undefined ? undefined : { ...(c.tls.ca === undefined ? {} : { ca: c.tls.ca }), ...(c.tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: c.tls.rejectUnauthorized }) },
    // One attempt may not outlive timeoutMs at any stage, a silent server included.
    connectionTimeout: t,
    greetingTimeout: t,
    socketTimeout: t,
    maxConnections: 2,
    disableFileAccess: true,
    disableUrlAccess: true
  }
  const transport = createTransport(transportOptions)
  const prefix = c.subjectPrefix ?? ''

  return {
    name: cfg.name,
    type: 'email',
    limits: EMAIL_LIMITS,
    render (events: readonly AlertEvent[]): EmailMessage[] {
      return [renderEmail(events, prefix)]
    },
    async send (m: EmailMessage, ctx: { signal: AbortSignal }): Promise<Outcome> {
      const { signal } = ctx
      try {
        // nodemailer (>= 10.5) cancels for real on abort: the pool takes the mail out of its queue, or
        // closes the connection carrying it (it can no longer complete beside a retry), and sendMail
        // rejects at once with EABORT.
        await transport.sendMail({ from: c.from, to: c.to, cc: c.cc, subject: m.subject, text: m.text, html: m.html, headers: m.headers, signal })
        return { ok: true }
      } catch (err) {
        const out: Outcome = signal.aborted
          ? { ok: false, retryable: true, error: `${where}: ${abortReason(signal)} (send cancelled)` }
          : outcomeFromSmtpError(err, where, credentials)
        return out.ok ? out : { ...out, error: redact(out.error, cfg.secrets) }
      }
    },
    async close (): Promise<void> {
      transport.close()
    }
  }
}
