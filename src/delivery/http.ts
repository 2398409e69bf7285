/**
 * The one HTTP client every HTTP channel shares (node:http / node:https, keep-alive), and the one
 * function that maps an HTTP answer to an Outcome: 2xx ok; 408, 429 and 5xx retryable; other 4xx
 * permanent; `Retry-After` (seconds or an HTTP date) becomes the earliest next try.
 *
 * Node's own client rather than undici: loading undici costs the transport's worker about 22 MB of
 * memory, node:http about 2 MB; bench/latency.mjs meets its goals with it.
 */
import http from 'node:http'
import https from 'node:https'
import type { Outcome } from '../channels/channel.js'
import { redact } from '../redact.js'

interface Agents { http: http.Agent, https: https.Agent }
let agents: Agents | undefined
/** Requests under way (close waits for them). */
let active = 0
let idle: Array<() => void> = []

/**
 * Lazily created so that a process without HTTP channels never opens a socket pool. Idle sockets are
 * closed after 4 s, before the usual 5 s keep-alive of servers, so a reused socket is rarely one the
 * server is closing; they never keep the process alive.
 */
function httpAgents (): Agents {
  const o = { keepAlive: true, maxSockets: 32, timeout: 4000, noDelay: true }
  agents ??= { http: new http.Agent(o), https: new https.Agent(o) }
  return agents
}

let users = 0
/** Every alerter retains the shared agent while it runs; the last one to close closes it. */
export function retainHttpAgent (): void { users++ }
export async function releaseHttpAgent (force = false): Promise<void> {
  if (--users > 0) return
  users = 0
  const a = agents
  agents = undefined
  if (a === undefined) return
  // Requests in flight may finish (up to 1 s) unless the shutdown deadline has passed (force).
  if (!force && active > 0) {
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      idle.push(resolve)
      timer = setTimeout(resolve, 1000)
    })
    clearTimeout(timer)
  }
  a.http.destroy()
  a.https.destroy()
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
  const target = new URL(url)
  const secure = target.protocol === 'https:'
  if (!secure && target.protocol !== 'http:') throw new Error(`unsupported protocol ${target.protocol}`)
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body
  const headers: Record<string, string> = { ...init.headers }
  if (body !== undefined) headers['content-length'] = String(body.length)
  const pool = httpAgents()
  active++
  try {
    return await new Promise<HttpResponse>((resolve, reject) => {
      // The attempt timeout comes from the signal: an abort destroys the request (and the socket).
      const options = { method: init.method ?? 'POST', headers, signal: init.signal }
      const onResponse = (res: http.IncomingMessage): void => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { if (text.length < MAX_BODY) text += chunk })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text.slice(0, MAX_BODY) }))
        res.on('error', reject)
        res.on('close', () => { if (!res.complete) reject(new Error('connection closed before the answer was complete')) })
      }
      const req = secure
        ? https.request(target, { ...options, agent: pool.https }, onResponse)
        : http.request(target, { ...options, agent: pool.http }, onResponse)
      req.on('error', reject)
      req.end(body)
    })
  } finally {
    if (--active === 0 && idle.length > 0) {
      const waiting = idle
      idle = []
      for (const resolve of waiting) resolve()
    }
  }
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
