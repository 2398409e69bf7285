/**
 * The one function that maps an HTTP answer to an Outcome: 2xx ok; 408, 429 and 5xx retryable; other
 * 4xx permanent; `Retry-After` (seconds or an HTTP date) becomes the earliest next try. A thrown
 * network error (refused, reset, DNS, proxy, abort) is retryable; an untrusted certificate and a
 * request the client refused to build (the alert's own content: an id that cannot be a header value)
 * are permanent.
 */
import type { Outcome } from '../channels/channel.js'
import { redact } from '../redact.js'
import type { HttpResponse } from './client.js'

/** `Retry-After`: delta-seconds or an HTTP date → milliseconds from now (never negative). */
export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  const t = v.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Math.ceil(Number(t) * 1000)
  const date = Date.parse(t)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * `secrets` are masked in the service's answer before it is shortened: a secret echoed across the cut
 * would otherwise survive in part, where whole-string masking no longer finds it.
 */
export function outcomeFromResponse (res: HttpResponse, what: string, secrets: readonly string[] = []): Outcome {
  const { status } = res
  if (status >= 200 && status < 300) return { ok: true }
  const detail = redact(res.body.trim().replace(/\s+/g, ' '), secrets).slice(0, 200)
  const error = `${what}: HTTP ${status}${detail === '' ? '' : ` ${detail}`}`
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'])
    return retryAfterMs === undefined ? { ok: false, retryable: true, status, error } : { ok: false, retryable: true, status, retryAfterMs, error }
  }
  return { ok: false, retryable: false, status, error }
}

/** Certificate errors (Node's TLS codes): a configuration problem, not a passing one (HTTP and SMTP alike). */
export const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID'
])

/**
 * Errors an HTTP client throws while it builds a request, before a byte is sent: a header value with
 * CR/LF, a control or non-Latin-1 character (undici's InvalidArgumentError, Node's http), an invalid
 * header name. The alert's own content caused them (an id in `webhook-id`, a label in a header):
 * sending it again fails the same way, and the service was never asked.
 */
const NOT_SENT_CODES = new Set(['ERR_INVALID_CHAR', 'ERR_HTTP_INVALID_HEADER_VALUE', 'ERR_INVALID_HTTP_TOKEN', 'ERR_UNESCAPED_CHARACTERS'])

/**
 * undici's InvalidArgumentError (UND_ERR_INVALID_ARG) for a header it refuses: `invalid webhook-id
 * header`, `invalid header key`. The same code also names configuration errors and, through a
 * ProxyAgent, a proxy's 407 after the request was sent: only the header ones are the alert's doing.
 */
function refusedHeader (e: { code?: string, message?: string }): boolean {
  if (e.code === undefined) return false
  if (NOT_SENT_CODES.has(e.code)) return true
  return e.code === 'UND_ERR_INVALID_ARG' && /^invalid (.+ header|header key)$/i.test(e.message ?? '')
}

/**
 * An outcome of a request that never left this process because of what it carried: permanent (not
 * retried), and no sign of the service's health, so the channel's circuit breaker does not count it
 * (five alerts with a bad id must not turn a working channel "unhealthy" for every other alert).
 * `notSent` survives the channels' `{ ...outcome, error }` masking.
 */
type NotSent = { ok: false, retryable: false, error: string, notSent: true }

/** True for an outcome that says nothing about the service (see NotSent). */
export function isNotSent (o: Outcome): boolean {
  return !o.ok && (o as Partial<NotSent>).notSent === true
}

/**
 * A thrown network error (refused, reset, DNS, proxy, abort) → a retryable outcome. A certificate the
 * client does not trust is permanent (retrying cannot help; failover can), with the option that fixes it.
 * A request the client refused to build for a header (`refusedHeader`) is permanent and marked `notSent`.
 */
export function outcomeFromError (err: unknown, what: string, signal: AbortSignal): Outcome {
  if (signal.aborted) return { ok: false, retryable: true, error: `${what}: ${abortReason(signal)}` }
  const e = err as { code?: string, message?: string, cause?: { code?: string, message?: string } }
  // undici wraps some socket errors (a tunnel's TLS handshake) in one of its own, with the cause inside.
  const inner = e.code !== undefined && CERTIFICATE_CODES.has(e.code) ? e : e.cause?.code !== undefined && CERTIFICATE_CODES.has(e.cause.code) ? e.cause : undefined
  if (inner !== undefined) {
    return { ok: false, retryable: false, error: `${what}: TLS: ${inner.message ?? String(inner.code)} (${String(inner.code)}; a private CA goes into the channel's tls.ca)` }
  }
  // The proxy's own answer: "Proxy Authentication Required (407)" (forwarding), "Proxy response (407) !==
  // 200 when HTTP Tunneling" (CONNECT). Wrong credentials stay wrong; a proxy's 5xx may pass.
  const proxy = /^Proxy .*\((\d{3})\)/.exec(e.message ?? '')
  if (proxy !== null) {
    const status = Number(proxy[1])
    const error = `${what}: the proxy answered HTTP ${status}${status === 407 ? ' Proxy Authentication Required (check the credentials of the channel\'s proxy)' : ''}`
    return { ok: false, retryable: status !== 407 && status !== 403, error }
  }
  if (refusedHeader(e)) {
    const out: NotSent = { ok: false, retryable: false, notSent: true, error: `${what}: ${e.message ?? String(err)} (${String(e.code)}; the alert's content cannot be sent in a request, nothing was sent)` }
    return out
  }
  const code = e.code !== undefined && !String(e.message).includes(e.code) ? ` (${e.code})` : ''
  return { ok: false, retryable: true, error: `${what}: ${e.message ?? String(err)}${code}` }
}

export function abortReason (signal: AbortSignal): string {
  const r = signal.reason as { message?: string } | undefined
  return r?.message ?? 'aborted'
}
