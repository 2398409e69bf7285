/**
 * Prometheus Alertmanager for the tests, two ways:
 *
 * 1. `startAlertmanager()` starts the REAL binary (Debian package `prometheus-alertmanager`, or the
 *    upstream `alertmanager`; `ALERTMANAGER_BIN` overrides) on 127.0.0.1 with a throw-away config and
 *    storage directory and clustering off, and waits until `GET /-/ready` answers 200. There is no
 *    skip: without the binary the start fails with a message that says how to install it.
 *    `checkAlertmanager()` is the same check on its own, for CI (`{ path, version }` or that error).
 *
 * 2. `startAlertmanagerFake()`: the generic webhook server answering as Alertmanager 0.25's
 *    `POST /api/v2/alerts` does (checked against the real binary), for what the real one cannot be
 *    made to do (429, 5xx, hang):
 *    - wrong path → 404 `{"code":404,"message":"path … was not found"}`; a method other than POST/GET
 *      → 405; a content type other than `application/json` → 415;
 *    - a body that is not a JSON array of alerts, a non-string label/annotation value or a bad time
 *      → 400 `{"code":400,"message":"parsing alerts body from \"\" failed, because …"}`;
 *    - `labels` missing → 422 `{"code":602,"message":"0.labels in body is required"}`; a
 *      `generatorURL` that is not a URI → 422 code 601;
 *    - an alert without labels, an invalid label or annotation name, or `endsAt` before `startsAt`
 *      → 400 with a JSON string (`"invalid label set: invalid name \"1x\""`), the valid alerts of the
 *      same POST kept all the same (as the real one does);
 *    - optional Basic auth (as `--web.config.file` sets up): 401 without the right credentials.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { programPath } from '../../scripts/programs.mjs'
import type { FakeAnswers } from '../channels/suite.js'
import { startWebhookServer, type RecordedRequest, type ScriptedResponse, type WebhookServer } from './webhook-server.js'

// ---------------------------------------------------------------------------------------------------
// The real binary

/** Where the Alertmanager binary is (`ALERTMANAGER_BIN`, else on PATH): the same lookup as `npm test`'s pretest step. Throws, with the install commands, when none is found. */
export function alertmanagerBinary (env: NodeJS.ProcessEnv = process.env): string {
  return programPath('alertmanager', env)
}

/** For CI: the binary and its version (`0.25.0`), or an error saying how to install it. */
export function checkAlertmanager (env: NodeJS.ProcessEnv = process.env): { path: string, version: string } {
  const path = alertmanagerBinary(env)
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 })
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`
  const m = /version (\d+\.\d+\.\d+)/.exec(out)
  if (r.status !== 0 || m === null) throw new Error(`${path} --version failed (${r.error?.message ?? `exit ${String(r.status)}`}): ${out.slice(0, 300)}`)
  return { path, version: m[1] as string }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

/** An alert as `GET /api/v2/alerts` lists it. */
export interface GettableAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  updatedAt: string
  fingerprint: string
  generatorURL?: string
  status: { state: string, silencedBy: string[], inhibitedBy: string[] }
  receivers: Array<{ name: string }>
}

export interface RealAlertmanager {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  /** The command line it was started with. */
  readonly command: string[]
  /** Its stdout + stderr so far (for failure messages). */
  output: () => string
  /** `GET /api/v2/alerts` (only alerts not resolved: Alertmanager lists no resolved alert), optionally `filter=` matchers. */
  alerts: (filter?: string[]) => Promise<GettableAlert[]>
  /** Polls `alerts(filter)` until `until` holds for the list; returns it; throws after `timeoutMs` (default 5000). */
  waitForAlerts: (filter: string[], until: (alerts: GettableAlert[]) => boolean, timeoutMs?: number) => Promise<GettableAlert[]>
  /** SIGTERM (SIGKILL after 3 s), then the temp dir is removed. Idempotent. */
  stop: () => Promise<void>
}

export interface StartAlertmanagerOptions {
  /** Listen here (e.g. to bring a member back where it was); default a free port. */
  port?: number
  /** `global.resolve_timeout`; default Alertmanager's (5m). */
  resolveTimeout?: string
  /** Give up waiting for `/-/ready` after this long. Default 15000. */
  readyTimeoutMs?: number
}

const running = new Set<ChildProcess>()
let exitHook = false
/** A test worker that dies must not leave Alertmanagers behind. */
function killAllOnExit (): void {
  if (exitHook) return
  exitHook = true
  process.once('exit', () => { for (const c of running) c.kill('SIGKILL') })
}

/**
 * Starts the real Alertmanager:
 *   <bin> --config.file=<tmp>/alertmanager.yml --storage.path=<tmp>/data
 *         --web.listen-address=127.0.0.1:<port> --cluster.listen-address= --log.level=warn
 * with the config `{ route: { receiver: 'null' }, receivers: [{ name: 'null' }] }`.
 */
export async function startAlertmanager (opts: StartAlertmanagerOptions = {}): Promise<RealAlertmanager> {
  const bin = alertmanagerBinary()
  const dir = mkdtempSync(join(tmpdir(), 'pino-alerts-am-'))
  const config = { ...(opts.resolveTimeout === undefined ? {} : { global: { resolve_timeout: opts.resolveTimeout } }), route: { receiver: 'null' }, receivers: [{ name: 'null' }] }
  // JSON is YAML.
  writeFileSync(join(dir, 'alertmanager.yml'), JSON.stringify(config, null, 2))
  let lastError: Error | undefined
  // A free port may be taken between freePort() and the bind: try again on another one.
  for (let attempt = 0; attempt < (opts.port === undefined ? 3 : 1); attempt++) {
    const port = opts.port ?? await freePort()
    try {
      return await launch(bin, dir, port, opts.readyTimeoutMs ?? 15_000)
    } catch (err) {
      lastError = err as Error
      if (!/address already in use/.test(lastError.message)) break
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError ?? new Error('could not start Alertmanager')
}

async function launch (bin: string, dir: string, port: number, readyTimeoutMs: number): Promise<RealAlertmanager> {
  const url = `http://127.0.0.1:${port}`
  const command = [
    bin,
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn'
  ]
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
  running.add(child)
  killAllOnExit()
  let out = ''
  const collect = (d: Buffer): void => { if (out.length < 64 * 1024) out += d.toString() }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  let exited: { code: number | null, signal: NodeJS.Signals | null } | undefined
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => { exited = { code, signal }; running.delete(child); resolve() })
    child.once('error', (err) => { out += `\n${err.message}`; exited ??= { code: null, signal: null }; running.delete(child); resolve() })
  })

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      if (exited === undefined) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exit
        clearTimeout(t)
      }
      rmSync(dir, { recursive: true, force: true })
    })()
    await stopping
  }

  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    if (exited !== undefined) {
      await stop()
      throw new Error(`Alertmanager (${command.join(' ')}) exited (${exited.code ?? exited.signal ?? 'error'}) before it was ready: ${out.trim().slice(-1000)}`)
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`Alertmanager did not answer 200 on ${url}/-/ready within ${readyTimeoutMs} ms: ${out.trim().slice(-1000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }

  const alerts = async (filter: string[] = []): Promise<GettableAlert[]> => {
    const q = filter.map((f) => `filter=${encodeURIComponent(f)}`).join('&')
    const res = await fetch(`${url}/api/v2/alerts${q === '' ? '' : `?${q}`}`, { signal: AbortSignal.timeout(5000) })
    if (res.status !== 200) throw new Error(`GET /api/v2/alerts: HTTP ${res.status} ${await res.text()}`)
    return await res.json() as GettableAlert[]
  }
  return {
    url,
    port,
    command,
    output: () => out,
    alerts,
    async waitForAlerts (filter, until, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs
      let last: GettableAlert[] = []
      for (;;) {
        last = await alerts(filter)
        if (until(last)) return last
        if (Date.now() > end) throw new Error(`Alertmanager ${url}: the alerts matching ${filter.join(', ')} did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(last).slice(0, 1500)}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    stop
  }
}

// ---------------------------------------------------------------------------------------------------
// The fake

export const AM_FAKE_PATH = '/api/v2/alerts'
const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
// Go's time.Time JSON form (RFC 3339, optional fraction and offset).
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/

const json = (status: number, body: unknown, headers: Record<string, string> = {}): ScriptedResponse =>
  ({ status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
const apiError = (status: number, message: string, code = status): ScriptedResponse => json(status, { code, message })
const parseFailed = (why: string): ScriptedResponse => apiError(400, `parsing alerts body from "" failed, because ${why}`)

export const amAccepted = (): ScriptedResponse => ({ status: 200, body: '' })
/** Alertmanager never rate-limits; a proxy in front of it does, with `Retry-After`. */
export const amThrottled = (seconds: number): ScriptedResponse => ({ status: 429, headers: { 'retry-after': String(seconds), 'content-type': 'text/plain' }, body: 'Too Many Requests' })
export const amUnavailable = (status = 503): ScriptedResponse => ({ status, headers: { 'content-type': 'text/plain' }, body: status === 502 ? 'Bad Gateway' : 'Service Unavailable' })
/** What Alertmanager answers for an invalid alert: 400 with a JSON string. */
export const amInvalid = (message: string): ScriptedResponse => json(400, message)

/** The suite's answers, as Alertmanager (or the proxy in front of it) gives them. */
export const alertmanagerAnswers: Partial<FakeAnswers> = {
  accept: () => amAccepted(),
  unavailable: () => amUnavailable(503),
  rateLimited: (seconds) => amThrottled(seconds),
  rejected: () => amInvalid('invalid label set: invalid name "1x"')
}

export interface FakeAlert { labels: Record<string, string>, annotations: Record<string, string>, startsAt?: string, endsAt?: string, generatorURL?: string }

export interface Verdict {
  /** The answer Alertmanager gives. */
  response: ScriptedResponse
  /** The alerts it stores (also on a 400 for the invalid ones in the same POST). */
  stored: FakeAlert[]
}

/** Judges one request as Alertmanager 0.25 does. `basicAuth` as `user:password`. */
export function judgeAlertmanagerRequest (req: RecordedRequest, opts: { prefix?: string, basicAuth?: string } = {}): Verdict {
  const none = (response: ScriptedResponse): Verdict => ({ response, stored: [] })
  if (opts.basicAuth !== undefined) {
    const want = 'Basic ' + Buffer.from(opts.basicAuth).toString('base64')
    if (req.header('authorization') !== want) return none({ status: 401, headers: { 'www-authenticate': 'Basic', 'content-type': 'text/plain; charset=utf-8' }, body: 'Unauthorized\n' })
  }
  const path = opts.prefix === undefined ? AM_FAKE_PATH : opts.prefix.replace(/\/+$/, '') + AM_FAKE_PATH
  if (req.path !== path) return none(apiError(404, `path ${req.path} was not found`))
  if (req.method !== 'POST' && req.method !== 'GET') return none({ ...apiError(405, `method ${req.method} is not allowed, but [POST,GET] are`), headers: { allow: 'POST,GET', 'content-type': 'application/json' } })
  if (req.method === 'GET') return none(json(200, []))
  const type = (req.header('content-type') ?? 'application/x-www-form-urlencoded').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') return none(apiError(415, `unsupported media type "${type ?? ''}", only [application/json] are allowed`))

  let body: unknown
  try { body = JSON.parse(req.text()) } catch (err) { return none(parseFailed((err as Error).message)) }
  if (!Array.isArray(body)) return none(parseFailed(`json: cannot unmarshal ${body === null ? 'null' : typeof body} into Go value of type models.PostableAlerts`))
  // Decoding: the types of every field.
  for (const [i, a] of body.entries()) {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) return none(parseFailed(`json: cannot unmarshal into Go value of type models.PostableAlert (alert ${i})`))
    const o = a as Record<string, unknown>
    for (const field of ['labels', 'annotations'] as const) {
      const v = o[field]
      if (v === undefined || v === null) continue
      if (typeof v !== 'object' || Array.isArray(v)) return none(parseFailed(`json: cannot unmarshal into Go struct field .${field}`))
      for (const x of Object.values(v as Record<string, unknown>)) if (typeof x !== 'string') return none(parseFailed(`json: cannot unmarshal ${typeof x} into Go struct field .${field} of type string`))
    }
    for (const field of ['startsAt', 'endsAt'] as const) {
      const v = o[field]
      if (v === undefined) continue
      if (typeof v !== 'string' || !RFC3339.test(v) || Number.isNaN(Date.parse(v))) return none(parseFailed(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00"`))
    }
  }
  // Swagger validation.
  for (const [i, a] of (body as Array<Record<string, unknown>>).entries()) {
    if (a.labels === undefined || a.labels === null) return none(apiError(422, `${i}.labels in body is required`, 602))
    const g = a.generatorURL
    if (g !== undefined && (typeof g !== 'string' || !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(g))) return none(apiError(422, `${i}.generatorURL in body must be of type uri: ${JSON.stringify(g)}`, 601))
  }
  // Alert validation: invalid alerts are reported, the others stored.
  const errors: string[] = []
  const stored: FakeAlert[] = []
  for (const a of body as FakeAlert[]) {
    const labels = Object.fromEntries(Object.entries(a.labels).filter(([, v]) => v !== ''))
    const badLabel = Object.keys(a.labels).find((k) => !NAME.test(k))
    const badAnnotation = Object.keys(a.annotations ?? {}).find((k) => !NAME.test(k))
    if (badLabel !== undefined) errors.push(`invalid label set: invalid name ${JSON.stringify(badLabel)}`)
    else if (Object.keys(labels).length === 0) errors.push('at least one label pair required')
    else if (badAnnotation !== undefined) errors.push(`invalid annotations: invalid name ${JSON.stringify(badAnnotation)}`)
    else if (a.startsAt !== undefined && a.endsAt !== undefined && Date.parse(a.endsAt) < Date.parse(a.startsAt)) errors.push('start time must be before end time')
    else stored.push({ ...a, labels })
  }
  return { response: errors.length > 0 ? amInvalid(errors.join(';')) : amAccepted(), stored }
}

export interface AlertmanagerFake extends WebhookServer {
  /** `origin` + prefix: the URL to configure (`/api/v2/alerts` is appended by the channel). */
  readonly baseUrl: string
  /** Every alert stored, in arrival order (firing and resolved, re-sent ones again). */
  readonly posted: readonly FakeAlert[]
  /** The verdict the fake gave each request, by request index. */
  verdicts: () => Verdict[]
}

/**
 * The fake, accepting what Alertmanager accepts; `script()` on it still overrides answers (429, 5xx,
 * hold). `prefix`: serve under a route prefix (`--web.route-prefix`); `basicAuth`: `user:password`;
 * `maxBodyBytes`: bodies larger are answered 413, as a reverse proxy in front of it does (nginx's
 * `client_max_body_size`; default 64 MiB, Alertmanager itself has no limit).
 */
export async function startAlertmanagerFake (opts: { prefix?: string, basicAuth?: string, port?: number, maxBodyBytes?: number } = {}): Promise<AlertmanagerFake> {
  const verdicts: Verdict[] = []
  let posted: FakeAlert[] = []
  const judge = (req: RecordedRequest): ScriptedResponse => {
    const v = judgeAlertmanagerRequest(req, opts)
    verdicts[req.index] = v
    posted.push(...v.stored)
    return v.response
  }
  const server = await startWebhookServer({ defaultResponse: judge, maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024 * 1024, ...(opts.port === undefined ? {} : { port: opts.port }) })
  const prefix = (opts.prefix ?? '').replace(/\/+$/, '')
  const fake: AlertmanagerFake = Object.create(server, {
    baseUrl: { value: server.origin + prefix },
    posted: { get: () => posted },
    verdicts: { value: () => verdicts },
    reset: { value: () => { server.reset(); posted = []; verdicts.length = 0 } }
  })
  return fake
}

/** The suite's `accept`: the fake's own judgement (a message Alertmanager would refuse is refused). */
export function judgeAsAccept (opts: { prefix?: string, basicAuth?: string } = {}): (req: RecordedRequest) => ScriptedResponse {
  return (req) => judgeAlertmanagerRequest(req, opts).response
}
