/**
 * The one function that maps an HTTP answer to an Outcome: 2xx ok; 408, 429 and 5xx retryable; other
 * 4xx permanent; `Retry-After` (seconds or an HTTP date) becomes the earliest next try. A thrown
 * network error (refused, reset, DNS, proxy, TLS, abort) is retryable.
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

/** Certificate errors (Node's TLS codes): a configuration problem, not a passing one. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID'
])

/**
 * A thrown network error (refused, reset, DNS, proxy, abort) → a retryable outcome. A certificate the
 * client does not trust is permanent (retrying cannot help; failover can), with the option that fixes it.
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
  const code = e.code !== undefined && !String(e.message).includes(e.code) ? ` (${e.code})` : ''
  return { ok: false, retryable: true, error: `${what}: ${e.message ?? String(err)}${code}` }
}

export function abortReason (signal: AbortSignal): string {
  const r = signal.reason as { message?: string } | undefined
  return r?.message ?? 'aborted'
}
