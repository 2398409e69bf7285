/**
 * The dashboard (SPEC §12): a small node:http server over an alert store that other processes write
 * to — a live alert list (server-sent events), filters, per-channel delivery receipts, a volume chart,
 * ack / resolve / silence, `/metrics` for Prometheus and `/healthz`.
 *
 * Safe by default: binds 127.0.0.1; any other bind needs a token of at least 16 characters; with a
 * token every request but `/healthz`, `/login` and the static files needs it (bearer header or the
 * login cookie), and a client address that sent 10 wrong tokens (logins and bearer headers together)
 * within a minute gets 429 for everything behind the token until that minute has passed; every change
 * also needs a same-origin request; every response has a strict Content-Security-Policy, and the page
 * renders data as text only.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Alerter } from '../alerter.js'
import { DashboardError } from '../errors.js'
import { openStore, type AlertStore } from '../store/sqlite.js'
import { Api, ApiError, type ApiResult } from './api.js'
import { LiveFeed } from './events.js'
import { METRICS_CONTENT_TYPE, metricsText } from './metrics.js'
import { AuthThrottle, Guard, checkBind, clientKey, normalizeOrigin, securityHeaders } from './security.js'

export interface DashboardOptions {
  /** A store path (opened read-write: acks and silences are written to it), or an open AlertStore. */
  store: string | AlertStore
  /** Default 9099; 0 picks a free port. */
  port?: number
  /** Default 127.0.0.1. Anything but 127.0.0.1, ::1 or localhost needs `token`. */
  host?: string
  /**
   * Needed for every request (but /healthz and the login page) when set; at least 16 characters when
   * `host` is not loopback. Wrong tokens are throttled per client address (10 a minute).
   */
  token?: string
  /** With an alerter, a resolve is dispatched through it (the channels get RESOLVED) and acks reach channels that keep incident state. */
  alerter?: Alerter
  /** Public origins besides `http://<Host>` that changes may come from (a TLS reverse proxy: `https://alerts.example.com`). */
  origins?: string[]
}

export interface Dashboard {
  /** `http://host:port/` */
  url: string
  port: number
  close: () => Promise<void>
}

export { DashboardError }

const STATIC: Record<string, { file: string, type: string }> = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' }
}

/**
 * Where the page's files are: next to this module (src/dashboard/public, or dist/dashboard/public when
 * the build copies them), else the package's src/dashboard/public seen from dist/dashboard/.
 */
export function publicDir (): string {
  const candidates = [new URL('./public/', import.meta.url), new URL('../../src/dashboard/public/', import.meta.url)]
  for (const c of candidates) {
    const p = fileURLToPath(c)
    if (existsSync(p + 'index.html')) return p
  }
  throw new DashboardError(`dashboard: the page's files are missing (looked in ${candidates.map((c) => fileURLToPath(c)).join(' and ')}); reinstall pino-alerts`)
}

const MAX_BODY = 64 * 1024

class BodyError extends ApiError {}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new BodyError(413, `body larger than ${MAX_BODY} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function readJson (req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  const text = await readBody(req)
  if (text.trim() === '') return {}
  // JSON only: a cross-site form cannot send it without a CORS preflight, which this server never grants.
  if (type !== 'application/json') throw new ApiError(415, 'expected Content-Type: application/json')
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new ApiError(400, 'the body is not valid JSON') }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, 'expected a JSON object')
  return v as Record<string, unknown>
}

function send (res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...headers })
  res.end(body)
}

function json (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers)
}

function hostForUrl (host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/** The checked options: a non-loopback bind needs a token of MIN_TOKEN_LENGTH characters or more; the port is 0 to 65535. */
function checkOptions (opts: DashboardOptions): { host: string, token: string | undefined, port: number, origins: string[] } {
  const host = opts.host ?? '127.0.0.1'
  const token = opts.token === undefined || opts.token === '' ? undefined : opts.token
  checkBind(host, token)
  const port = opts.port ?? 9099
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DashboardError(`dashboard: port: expected an integer from 0 to 65535, got ${String(port)}`)
  const origins = (opts.origins ?? []).map(normalizeOrigin)
  return { host, token, port, origins }
}

/** The page's files, read once: the pages and every static file, by file name. */
function readPublicFiles (): Map<string, Buffer> {
  const dir = publicDir()
  const files = new Map<string, Buffer>()
  for (const f of ['index.html', 'login.html', ...Object.values(STATIC).map((s) => s.file)]) files.set(f, readFileSync(dir + f))
  return files
}

/** What a request is answered from. */
interface Ctx {
  store: AlertStore
  token: string | undefined
  files: Map<string, Buffer>
  guard: Guard
  /** Wrong tokens per client address (logins and bearer headers); used only with a token. */
  throttle: AuthThrottle
  api: Api
  live: LiveFeed
  session: { auth: boolean, alerterAttached: boolean }
}

function methodNotAllowed (res: ServerResponse, allow: string): void {
  json(res, 405, { error: 'method not allowed' }, { Allow: allow })
}

function loginPage (ctx: Ctx, error?: string): string {
  const html = (ctx.files.get('login.html') as Buffer).toString('utf8')
  // Fixed texts only: nothing from the request is ever put into a page.
  return html.replace('<!--error-->', error === undefined ? '' : `<p class="error" role="alert">${error}</p>`)
}

/** `/healthz`: open to all; 503 when the store cannot be read. */
function serveHealth (ctx: Ctx, method: string, res: ServerResponse): void {
  if (method !== 'GET' && method !== 'HEAD') { methodNotAllowed(res, 'GET'); return }
  try {
    ctx.store.lastRowId()
    json(res, 200, { ok: true, ...(ctx.live.lastError === undefined ? {} : { warning: 'the last poll of the store failed' }) })
  } catch {
    json(res, 503, { ok: false, error: 'the store cannot be read' })
  }
}

const THROTTLED = 'Too many failed attempts from your address; try again in a minute.'

/** `Retry-After` in whole seconds, at least 1. */
const retryAfter = (ms: number): Record<string, string> => ({ 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) })

/**
 * A throttled client address: 429 with Retry-After, whatever the request carries (the right token
 * included: while throttled, a guess is never checked). A page gets the login form with the reason.
 */
function throttled (ctx: Ctx, req: IncomingMessage, res: ServerResponse, page: boolean): boolean {
  if (ctx.token === undefined) return false
  const wait = ctx.throttle.retryAfterMs(clientKey(req.socket.remoteAddress))
  if (wait <= 0) return false
  if (page) send(res, 429, 'text/html; charset=utf-8', loginPage(ctx, THROTTLED), retryAfter(wait))
  else json(res, 429, { error: 'too many failed attempts at the token from this address; retry later' }, retryAfter(wait))
  return true
}

/** `/login`: the form (GET) and the token check (POST, same-origin, throttled per address) that sets the cookie. */
async function serveLogin (ctx: Ctx, method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { guard, throttle } = ctx
  if (ctx.token === undefined) { res.writeHead(303, { Location: '/' }).end(); return }
  if (method === 'GET') { send(res, 200, 'text/html; charset=utf-8', loginPage(ctx)); return }
  if (method !== 'POST') { methodNotAllowed(res, 'GET, POST'); return }
  const so = guard.sameOrigin(req)
  if (!so.ok) { send(res, 403, 'text/plain; charset=utf-8', so.reason); return }
  if (throttled(ctx, req, res, true)) return
  let candidate = ''
  try { candidate = new URLSearchParams(await readBody(req)).get('token') ?? '' } catch { /* too large: a wrong token */ }
  if (!guard.tokenMatches(candidate)) {
    throttle.fail(clientKey(req.socket.remoteAddress))
    send(res, 401, 'text/html; charset=utf-8', loginPage(ctx, 'That token is not right.'), { 'WWW-Authenticate': 'Bearer realm="pino-alerts"' })
    return
  }
  res.writeHead(303, { Location: '/', 'Set-Cookie': guard.loginCookie(req.headers.origin?.startsWith('https://') === true) }).end()
}

/** `/logout`: POST, same-origin; clears the cookie. */
function serveLogout (ctx: Ctx, method: string, req: IncomingMessage, res: ServerResponse): void {
  if (method !== 'POST') { methodNotAllowed(res, 'POST'); return }
  const so = ctx.guard.sameOrigin(req)
  if (!so.ok) { send(res, 403, 'text/plain; charset=utf-8', so.reason); return }
  res.writeHead(303, { Location: ctx.token === undefined ? '/' : '/login', 'Set-Cookie': Guard.logoutCookie() }).end()
}

/**
 * Everything behind the token: the page, the live feed, `/metrics` and the API. False when the
 * request is turned away (its address throttled, not authenticated, or a change from another origin)
 * and answered already. A wrong `Authorization` header counts against the address; no credentials,
 * or a login cookie that is not (or no longer) right, do not: the cookie is an HMAC nobody guesses,
 * and a browser with a stale one must not lock its own address out.
 */
function admitted (ctx: Ctx, path: string, change: boolean, req: IncomingMessage, res: ServerResponse): boolean {
  const page = !change && (path === '/' || path === '/index.html')
  if (throttled(ctx, req, res, page)) return false
  if (!ctx.guard.authenticated(req)) {
    const auth = req.headers.authorization
    if (typeof auth === 'string' && auth.trim() !== '') ctx.throttle.fail(clientKey(req.socket.remoteAddress))
    if (page) { res.writeHead(303, { Location: '/login' }).end(); return false }
    // A change without the token is forbidden (403, SPEC/issue wording); a read is "who are you?" (401).
    json(res, change ? 403 : 401, { error: 'unauthorized: this dashboard needs its token (Authorization: Bearer …, or log in at /login)' }, { 'WWW-Authenticate': 'Bearer realm="pino-alerts"' })
    return false
  }
  if (change) {
    const so = ctx.guard.sameOrigin(req)
    if (!so.ok) { json(res, 403, { error: so.reason }); return false }
  }
  return true
}

async function handle (ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  securityHeaders(res)
  const method = req.method ?? 'GET'
  const url = new URL(req.url ?? '/', 'http://dashboard.invalid')
  const path = url.pathname

  if (path === '/healthz') { serveHealth(ctx, method, res); return }

  if (!ctx.guard.hostAllowed(req)) {
    json(res, 403, { error: 'unexpected Host header: without a token this dashboard answers to 127.0.0.1, localhost and [::1] only' })
    return
  }

  const staticFile = STATIC[path]
  if (staticFile !== undefined) {
    if (method !== 'GET' && method !== 'HEAD') { methodNotAllowed(res, 'GET'); return }
    send(res, 200, staticFile.type, ctx.files.get(staticFile.file) as Buffer)
    return
  }

  const change = method !== 'GET' && method !== 'HEAD'
  if (path === '/login') { await serveLogin(ctx, method, req, res); return }
  if (path === '/logout') { serveLogout(ctx, method, req, res); return }
  if (!admitted(ctx, path, change, req, res)) return

  if (path === '/' || path === '/index.html') {
    if (change) { methodNotAllowed(res, 'GET'); return }
    send(res, 200, 'text/html; charset=utf-8', ctx.files.get('index.html') as Buffer)
    return
  }
  if (path === '/events') {
    if (change) { methodNotAllowed(res, 'GET'); return }
    ctx.live.attach(req, res)
    return
  }
  if (path === '/metrics') {
    if (change) { methodNotAllowed(res, 'GET'); return }
    send(res, 200, METRICS_CONTENT_TYPE, metricsText(ctx.store))
    return
  }
  if (path.startsWith('/api/')) {
    const r = await route(ctx, method, path, url.searchParams, req)
    json(res, r.status, r.body)
    return
  }
  json(res, 404, { error: 'not found' })
}

/** `/api/…`: the JSON API. */
async function route (ctx: Ctx, method: string, path: string, params: URLSearchParams, req: IncomingMessage): Promise<ApiResult> {
  const { api, session } = ctx
  const parts = path.split('/').slice(2).map((p) => decodeURIComponent(p)) // ['alerts', id, 'ack']
  const allow = (...methods: string[]): void => {
    if (!methods.includes(method)) throw new ApiError(405, `method not allowed (allowed: ${methods.join(', ')})`)
  }
  const [what, id, action] = parts
  if (what === 'alerts' && id === undefined) { allow('GET'); return api.listAlerts(params) }
  if (what === 'alerts' && id !== undefined && action === undefined) { allow('GET'); return api.getAlert(id) }
  if (what === 'alerts' && id !== undefined && action === 'ack' && parts.length === 3) { allow('POST'); return api.ack(id, await readJson(req)) }
  if (what === 'alerts' && id !== undefined && action === 'resolve' && parts.length === 3) { allow('POST'); return await api.resolve(id, await readJson(req)) }
  if (what === 'silences' && id === 'preview' && action === undefined) { allow('GET'); return api.previewSilence(params) }
  if (what === 'silences' && id === undefined) {
    allow('GET', 'POST')
    return method === 'GET' ? api.silences(params) : api.addSilence(await readJson(req))
  }
  if (what === 'silences' && id !== undefined && action === undefined) { allow('DELETE'); return api.expireSilence(id) }
  if (what === 'stats' && id === undefined) { allow('GET'); return api.stats(params, session) }
  if (what === 'processes' && id === undefined) { allow('GET'); return api.processes() }
  if (what === 'route' && id === undefined) { allow('GET'); return api.route(params) }
  if (what === 'session' && id === undefined) { allow('GET'); return { status: 200, body: session } }
  throw new ApiError(404, 'not found')
}

/** The server: a failed request is answered with its status (ApiError), 400 (bad URL encoding) or 500. */
function createDashboardServer (ctx: Ctx): Server {
  const server: Server = createServer((req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) { res.destroy(); return }
      if (err instanceof ApiError) { json(res, err.status, { error: err.message }); return }
      if (err instanceof URIError) { json(res, 400, { error: 'bad URL encoding' }); return }
      json(res, 500, { error: `internal error: ${(err as Error).message}` })
    })
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  return server
}

/** Listens, or throws a DashboardError (port in use, or any other reason). */
async function listen (server: Server, port: number, host: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE') throw new DashboardError(`dashboard: ${host}:${port} is in use (another dashboard?); pick another --port`, 'PINO_ALERTS_DASHBOARD_IN_USE')
    throw new DashboardError(`dashboard: cannot listen on ${host}:${port}: ${e.message}`)
  }
}

export async function startDashboard (opts: DashboardOptions): Promise<Dashboard> {
  const { host, token, port, origins } = checkOptions(opts)
  const files = readPublicFiles()

  const ownsStore = typeof opts.store === 'string'
  const store = typeof opts.store === 'string' ? openStore(opts.store, { readonly: false }) : opts.store

  let boundPort = port
  const guard = new Guard(token, origins, () => [`127.0.0.1:${boundPort}`, `localhost:${boundPort}`, `[::1]:${boundPort}`])
  // Built before the feed; the feed's broadcast is late-bound so the Api can notify it.
  let feed: LiveFeed | undefined
  const api = new Api(store, opts.alerter, (event, data) => feed?.broadcast(event, data))
  feed = new LiveFeed(store, () => api.silenceList(), () => api.processes().body)
  const live = feed
  const session = { auth: token !== undefined, alerterAttached: opts.alerter !== undefined }
  const server = createDashboardServer({ store, token, files, guard, throttle: new AuthThrottle(), api, live, session })

  try {
    await listen(server, port, host)
  } catch (err) {
    if (ownsStore) store.close()
    throw err
  }
  boundPort = (server.address() as AddressInfo).port

  let closing: Promise<void> | undefined
  return {
    url: `http://${hostForUrl(host)}:${boundPort}/`,
    port: boundPort,
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        live.close()
        server.close(() => {
          if (ownsStore) store.close()
          resolve()
        })
        server.closeAllConnections()
      })
      await closing
    }
  }
}
