/**
 * The dashboard's guards: who may read (the token, when one is set), who may change (the token and a
 * same-origin request), which Host names a token-less loopback dashboard answers to (against DNS
 * rebinding), and the headers every response carries.
 *
 * The token is compared in constant time and never logged, echoed or put in a cookie as is: the login
 * cookie holds an HMAC of it. Wrong tokens (logins and bearer headers) are throttled per client address
 * (AuthThrottle), and off loopback a token must be at least MIN_TOKEN_LENGTH characters long.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { forgetOldest } from '../bounded.js'
import { DashboardError } from '../errors.js'

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

export const SESSION_COOKIE = 'pino_alerts_session'

/** The headers on every response, whatever it is. */
export function securityHeaders (res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
  res.setHeader('Cache-Control', 'no-store')
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost'])

/** Off loopback, the shortest token accepted (characters): with 10 guesses a minute per address, 16 random characters are out of reach. */
export const MIN_TOKEN_LENGTH = 16

/** 127.0.0.1, ::1 and localhost: the binds that need no token. */
export function isLoopbackHost (host: string): boolean {
  return LOOPBACK.has(host.toLowerCase())
}

/**
 * A bind the dashboard may listen on with this token, or a DashboardError: off loopback a token is
 * needed (`PINO_ALERTS_DASHBOARD_NO_TOKEN`), of MIN_TOKEN_LENGTH characters or more
 * (`PINO_ALERTS_DASHBOARD_SHORT_TOKEN`). The token itself, and its length, are never in the message.
 */
export function checkBind (host: string, token: string | undefined): void {
  if (isLoopbackHost(host)) return
  if (token === undefined) {
    throw new DashboardError(`dashboard: refusing to listen on ${host} without a token: anyone who can reach it could read alerts and acknowledge, resolve or silence them. Set a token (--token, or RISK_ALERTS_DASHBOARD_TOKEN) or bind 127.0.0.1`, 'PINO_ALERTS_DASHBOARD_NO_TOKEN')
  }
  if ([...token].length < MIN_TOKEN_LENGTH) { // characters, not UTF-16 units
    throw new DashboardError(`dashboard: refusing to listen on ${host} with a short token: off this machine the dashboard needs a token of at least ${MIN_TOKEN_LENGTH} characters (a random one: openssl rand -hex 24), or bind 127.0.0.1`, 'PINO_ALERTS_DASHBOARD_SHORT_TOKEN')
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** Constant-time string comparison (over digests: the lengths leak nothing either). */
export function safeEqual (a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b))
}

export class Guard {
  /** What the login cookie holds: not the token, an HMAC of it (stable across restarts). */
  private readonly session: string | undefined

  constructor (
    private readonly token: string | undefined,
    /** Origins allowed besides `http://<Host>` (a reverse proxy's public origin). */
    private readonly extraOrigins: readonly string[],
    /** host:port pairs a token-less dashboard answers to. */
    private readonly loopbackHosts: () => readonly string[]
  ) {
    this.session = token === undefined ? undefined : createHmac('sha256', token).update('pino-alerts dashboard session v1').digest('base64url')
  }

  get tokenRequired (): boolean { return this.token !== undefined }

  /**
   * Without a token the dashboard is reachable from this machine only, and a web page elsewhere must
   * not reach it either through a DNS name that resolves to 127.0.0.1 (DNS rebinding): the Host header
   * must be one of the loopback names with our port.
   */
  hostAllowed (req: IncomingMessage): boolean {
    if (this.token !== undefined) return true
    const host = (req.headers.host ?? '').toLowerCase()
    return this.loopbackHosts().includes(host)
  }

  /** The request carries the token (bearer header or login cookie); always true without a token. */
  authenticated (req: IncomingMessage): boolean {
    if (this.token === undefined) return true
    const auth = req.headers.authorization
    if (typeof auth === 'string') {
      const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
      if (m !== null && safeEqual(m[1] as string, this.token)) return true
    }
    const cookie = readCookie(req, SESSION_COOKIE)
    return cookie !== undefined && this.session !== undefined && safeEqual(cookie, this.session)
  }

  /** A token someone typed into the login form. */
  tokenMatches (candidate: string): boolean {
    return this.token !== undefined && safeEqual(candidate, this.token)
  }

  /** `Set-Cookie` for a successful login (HttpOnly, SameSite=Strict). */
  loginCookie (secure: boolean): string {
    return `${SESSION_COOKIE}=${this.session ?? ''}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000${secure ? '; Secure' : ''}`
  }

  static logoutCookie (): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`
  }

  /**
   * A change must come from the dashboard's own page: its `Origin` must be this dashboard's origin
   * (`http://` + the Host it was asked under, or a configured public origin). A missing Origin is
   * refused too: browsers always send it on POST/DELETE, and scripts can set it.
   */
  sameOrigin (req: IncomingMessage): { ok: true } | { ok: false, reason: string } {
    const origin = req.headers.origin
    if (typeof origin !== 'string' || origin === '') return { ok: false, reason: 'changes need a same-origin request (no Origin header)' }
    const site = req.headers['sec-fetch-site']
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return { ok: false, reason: 'changes need a same-origin request (Sec-Fetch-Site: ' + site.slice(0, 40) + ')' }
    const host = req.headers.host
    const own = typeof host === 'string' && host !== '' ? `http://${host.toLowerCase()}` : undefined
    const o = origin.toLowerCase()
    if ((own !== undefined && o === own) || this.extraOrigins.includes(o)) return { ok: true }
    return { ok: false, reason: 'changes need a same-origin request (foreign Origin)' }
  }
}

/** One cookie's value, or undefined. */
export function readCookie (req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (typeof header !== 'string') return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i < 0) continue
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

/** Normalises a configured origin (`https://alerts.example.com/` → `https://alerts.example.com`). */
export function normalizeOrigin (o: string): string {
  let u: URL
  try { u = new URL(o) } catch { throw new TypeError(`dashboard: not an origin: ${JSON.stringify(o)} (expected e.g. "https://alerts.example.com")`) }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`dashboard: not an http(s) origin: ${JSON.stringify(o)}`)
  return u.origin.toLowerCase()
}

/**
 * The key a client's failures are counted under: its socket's address (never a forwarded header: any
 * client can write one). An IPv4-mapped IPv6 address is unwrapped (a dual-stack bind sees IPv4
 * clients as `::ffff:a.b.c.d`); an IPv6 address counts by its /64, which one host usually has whole
 * (one budget per address would give it 2^64).
 */
export function clientKey (remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress === '') return 'unknown'
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remoteAddress)
  if (mapped !== null) return mapped[1] as string
  if (!remoteAddress.includes(':')) return remoteAddress
  const address = remoteAddress.split('%')[0] as string // a zone id (fe80::1%eth0)
  const [head = '', tail] = address.split('::')
  const groups = (part: string): string[] => part === '' ? [] : part.split(':').flatMap((g) => g.includes('.') ? ['0', '0'] : [g]) // an embedded IPv4 address is two groups
  const first = groups(head)
  const last = tail === undefined ? [] : groups(tail)
  const all = [...first, ...Array<string>(Math.max(0, 8 - first.length - last.length)).fill('0'), ...last]
  return all.slice(0, 4).map((g) => (Number.parseInt(g, 16) || 0).toString(16)).join(':') + '::/64'
}

/**
 * Failed attempts at the token (wrong logins and wrong bearer tokens, one budget), per client
 * address: after `max` failures within `windowMs` the address is refused until the oldest of them is
 * `windowMs` old (a sliding window: never more than `max` guesses in any `windowMs`). Bounded: at most
 * `max` times are kept per address and `maxEntries` addresses; with each failure the expired entries
 * are swept and, when still full, the address that failed least recently is forgotten.
 */
export class AuthThrottle {
  /** Address → the times of its latest failures, oldest first; the Map is ordered by latest failure. */
  private readonly failures = new Map<string, number[]>()

  constructor (
    private readonly max = 10,
    private readonly windowMs = 60_000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = () => Date.now()
  ) {}

  /** Addresses remembered. */
  get size (): number { return this.failures.size }

  /** 0 when `key` may try; else the milliseconds until it may. */
  retryAfterMs (key: string): number {
    const list = this.failures.get(key)
    if (list === undefined) return 0
    const now = this.now()
    const live = this.live(list, now)
    if (live.length === 0) { this.failures.delete(key); return 0 }
    if (live.length < this.max) return 0
    return (live[live.length - this.max] as number) + this.windowMs - now
  }

  /** One failed attempt from `key`. */
  fail (key: string): void {
    const now = this.now()
    const previous = this.failures.get(key)
    const list = previous === undefined ? [] : this.live(previous, now)
    list.push(now)
    if (list.length > this.max) list.splice(0, list.length - this.max)
    this.failures.delete(key) // re-inserted last: the Map stays ordered by latest failure
    this.sweep(now)
    forgetOldest(this.failures, this.maxEntries - 1)
    this.failures.set(key, list)
  }

  private live (list: number[], now: number): number[] {
    let i = 0
    while (i < list.length && now - (list[i] as number) >= this.windowMs) i++
    return i === 0 ? list : list.slice(i)
  }

  /** Forgets addresses whose latest failure is out of the window (they come first in the Map). */
  private sweep (now: number): void {
    const it = this.failures.entries()
    for (let next = it.next(); next.done !== true; next = it.next()) {
      const [key, list] = next.value
      if (now - (list[list.length - 1] as number) < this.windowMs) return
      this.failures.delete(key)
    }
  }
}
