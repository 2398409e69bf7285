/**
 * The one HTTP client every HTTP channel shares (undici, keep-alive), and the one function that maps an
 * HTTP answer to an Outcome: 2xx ok; 408, 429 and 5xx retryable; other 4xx permanent; `Retry-After`
 * (seconds or an HTTP date) becomes the earliest next try.
 */
import { Agent, request } from 'undici'
import type { Outcome } from '../channels/channel.js'
import { redact } from '../redact.js'

let agent: Agent | undefined

/** Lazily created so that a process without HTTP channels never opens a socket pool. */
export function httpAgent (): Agent {
  agent ??= new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: 32, pipelining: 1 })
  return agent
}

let users = 0
/** Every alerter retains the shared agent while it runs; the last one to close closes it. */
export function retainHttpAgent (): void { users++ }
export async function releaseHttpAgent (force = false): Promise<void> {
  if (--users > 0) return
  users = 0
  const a = agent
  agent = undefined
  if (a === undefined) return
  // close() waits for requests in flight; after the shutdown deadline (force) or 1 s, destroy them.
  if (force) { await a.destroy().catch(() => {}); return }
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    a.close().then(() => true, () => true),
    new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), 1000) })
  ])
  clearTimeout(timer)
  if (!closed) await a.destroy().catch(() => {})
}

export interface HttpResponse { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** Bodies of error answers are read up to this many characters: enough for an error text, never a flood. */
const MAX_BODY = 64 * 1024

export async function httpRequest (url: string, init: {
  method?: 'POST' | 'PUT' | 'GET'
  headers?: Record<string, string>
  body?: string | Buffer
  signal: AbortSignal
}): Promise<HttpResponse> {
  const res = await request(url, {
    method: init.method ?? 'POST',
    headers: init.headers,
    body: init.body,
    signal: init.signal,
    dispatcher: httpAgent(),
    // The attempt timeout comes from the signal; undici's own timers only guard dead sockets.
    headersTimeout: 0,
    bodyTimeout: 0
  })
  let body = ''
  for await (const chunk of res.body) {
    if (body.length < MAX_BODY) body += (chunk as Buffer).toString('utf8')
  }
  return { status: res.statusCode, headers: res.headers, body: body.slice(0, MAX_BODY) }
}

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

/** A thrown network error (refused, reset, DNS, abort) → a retryable outcome. */
export function outcomeFromError (err: unknown, what: string, signal: AbortSignal): Outcome {
  if (signal.aborted) return { ok: false, retryable: true, error: `${what}: ${abortReason(signal)}` }
  const e = err as { code?: string, message?: string }
  const code = e.code !== undefined && !String(e.message).includes(e.code) ? ` (${e.code})` : ''
  return { ok: false, retryable: true, error: `${what}: ${e.message ?? String(err)}${code}` }
}

export function abortReason (signal: AbortSignal): string {
  const r = signal.reason as { message?: string } | undefined
  return r?.message ?? 'aborted'
}
