/**
 * The dashboard's guards: who may read (the token, when one is set), who may change (the token and a
 * same-origin request), which Host names a token-less loopback dashboard answers to (against DNS
 * rebinding), and the headers every response carries.
 *
 * The token is compared in constant time and never logged, echoed or put in a cookie as is: the login
 * cookie holds an HMAC of it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

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

/** 127.0.0.1, ::1 and localhost: the binds that need no token. */
export function isLoopbackHost (host: string): boolean {
  return LOOPBACK.has(host.toLowerCase())
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
 * Failed logins: at most `max` per `windowMs` (for every client together: the dashboard is a small
 * tool, and a guesser should not get far).
 */
export class LoginThrottle {
  private failures: number[] = []
  constructor (private readonly max = 10, private readonly windowMs = 60_000) {}
  blocked (now = Date.now()): boolean {
    this.failures = this.failures.filter((t) => now - t < this.windowMs)
    return this.failures.length >= this.max
  }

  fail (now = Date.now()): void { this.failures.push(now) }
}
