/**
 * A real `node:http` server on 127.0.0.1, port 0, that imitates a webhook receiver: it records every
 * request (method, path, headers, raw body, arrival time) and answers as the test scripts it — a queue
 * of responses or functions, consumed one per request, then a default. It can also refuse big bodies
 * (413), answer late (`delayMs`), hold requests until `release()` (a hung service), or drop the
 * connection without an answer.
 *
 * Generic on purpose: the fakes of Slack, Discord, Telegram… are this server plus their own canned
 * answers (see `ChannelFake` in test/channels/suite.ts).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'

export interface RecordedRequest {
  /** 0-based order in `requests` (requests are recorded once their body is in). */
  index: number
  method: string
  /** Path and query, as sent (`/hooks/abc?x=1`). */
  url: string
  /** Path only. */
  path: string
  /** Lower-cased header names, as node parses them. */
  headers: IncomingHttpHeaders
  /** The raw body (empty when it was refused as too large). */
  body: Buffer
  /** `performance.now()` when the request's headers arrived: for intervals. */
  arrivedAt: number
  /** `Date.now()` when the request's headers arrived: for wall-clock checks. */
  arrivedAtEpoch: number
  /** The status this fake answered with; `undefined` while held or when the connection was dropped. */
  status?: number
  /** The body as UTF-8 text. */
  text: () => string
  /** The body parsed as JSON (throws when it is not JSON). */
  json: <T = unknown>() => T
  /** One header as a string (first value of a list), `undefined` when absent. */
  header: (name: string) => string | undefined
}

export interface ScriptedResponse {
  /** Default 200. */
  status?: number
  headers?: Record<string, string | number | string[]>
  /** A string or Buffer is sent as is; anything else as JSON (content-type set unless given). */
  body?: unknown
  /** Answer after this many ms (the request is recorded at once). */
  delayMs?: number
  /** Never answer until `release()` (or `close()`, which drops the connection). */
  hold?: boolean
  /** Drop the connection without answering. */
  destroy?: boolean
}

export type Responder = (req: RecordedRequest) => ScriptedResponse | Promise<ScriptedResponse>
export type Script = ScriptedResponse | Responder

export interface WebhookServerOptions {
  /** What requests get once the script is used up. Default `{ status: 200, body: 'ok' }`. */
  defaultResponse?: Script
  /** Bodies larger than this are answered 413 (and not recorded beyond their headers). Default 1 MiB. */
  maxBodyBytes?: number
  /** Listen on this port (a receiver coming back where it was); default 0, any free port. */
  port?: number
}

export interface WebhookServer {
  /** `http://127.0.0.1:PORT` (no trailing slash); append any path. */
  readonly origin: string
  /** `origin` + `/hook`: a ready-made URL. */
  readonly url: string
  readonly port: number
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[]
  /** Requests currently held (not yet answered). */
  readonly held: number
  /** Appends answers for the next requests, one each, in order. */
  script: (...responses: Script[]) => void
  /** Replaces the answer given once the script is used up. */
  setDefault: (response: Script) => void
  /** Answers every held request (with `response`, default the default response); later ones are held no more unless scripted. */
  release: (response?: ScriptedResponse) => void
  /** Resolves with the first `n` requests once they have arrived; rejects after `timeoutMs` (default 5000). */
  waitFor: (n: number, timeoutMs?: number) => Promise<RecordedRequest[]>
  /** Forgets requests and the script (the default stays). */
  reset: () => void
  /** Drops every connection (held ones included) and stops listening. Idempotent. */
  close: () => Promise<void>
}

const OK: ScriptedResponse = { status: 200, body: 'ok' }

export async function startWebhookServer (opts: WebhookServerOptions = {}): Promise<WebhookServer> {
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024
  let fallback: Script = opts.defaultResponse ?? OK
  let queue: Script[] = []
  let requests: RecordedRequest[] = []
  const holding = new Set<{ res: ServerResponse, rec: RecordedRequest }>()
  const waiters = new Set<() => void>()
  const timers = new Set<NodeJS.Timeout>()
  let closed: Promise<void> | undefined

  const notify = (): void => { for (const w of [...waiters]) w() }

  const answer = (res: ServerResponse, rec: RecordedRequest, r: ScriptedResponse): void => {
    if (res.writableEnded || res.destroyed) return
    if (r.destroy === true) {
      res.socket?.destroy()
      return
    }
    const status = r.status ?? 200
    const headers: Record<string, string | number | string[]> = { ...(r.headers ?? {}) }
    let payload: string | Buffer = ''
    if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) payload = r.body
    else if (r.body !== undefined) {
      payload = JSON.stringify(r.body)
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
    }
    rec.status = status
    res.writeHead(status, headers)
    res.end(payload)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrivedAt = performance.now()
    const arrivedAtEpoch = Date.now()
    const url = req.url ?? '/'
    const rec: RecordedRequest = {
      index: -1,
      method: req.method ?? 'GET',
      url,
      path: url.split('?')[0] ?? url,
      headers: req.headers,
      body: Buffer.alloc(0),
      arrivedAt,
      arrivedAtEpoch,
      text: () => rec.body.toString('utf8'),
      json: <T>() => JSON.parse(rec.body.toString('utf8')) as T,
      header: (name: string) => {
        const v = rec.headers[name.toLowerCase()]
        return Array.isArray(v) ? v[0] : v
      }
    }
    // Recorded once the body is in, so that `requests` and `waitFor` only ever show whole requests.
    const record = (): void => {
      rec.index = requests.length
      requests.push(rec)
      notify()
    }

    const declared = Number(req.headers['content-length'] ?? NaN)
    if (declared > maxBodyBytes) {
      req.resume()
      record()
      answer(res, rec, { status: 413, headers: { connection: 'close' }, body: 'payload too large' })
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > maxBodyBytes) tooLarge = true
      else chunks.push(chunk as Buffer)
    }
    if (tooLarge) {
      record()
      answer(res, rec, { status: 413, headers: { connection: 'close' }, body: 'payload too large' })
      return
    }
    rec.body = Buffer.concat(chunks)
    record()

    const next = queue.shift() ?? fallback
    const r = typeof next === 'function' ? await next(rec) : next
    if (r.hold === true) {
      const entry = { res, rec }
      holding.add(entry)
      res.on('close', () => holding.delete(entry))
      return
    }
    if (r.delayMs !== undefined && r.delayMs > 0) {
      const t = setTimeout(() => { timers.delete(t); answer(res, rec, r) }, r.delayMs)
      timers.add(t)
      return
    }
    answer(res, rec, r)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`fake webhook server: ${(err as Error).message}`)
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  const origin = `http://127.0.0.1:${port}`

  return {
    origin,
    url: `${origin}/hook`,
    port,
    get requests () { return requests },
    get held () { return holding.size },
    script (...responses) { queue.push(...responses) },
    setDefault (response) { fallback = response },
    release (response) {
      for (const entry of [...holding]) {
        holding.delete(entry)
        const r = response ?? (typeof fallback === 'function' ? OK : fallback)
        answer(entry.res, entry.rec, r.hold === true ? OK : r)
      }
    },
    async waitFor (n, timeoutMs = 5000) {
      if (requests.length >= n) return requests.slice(0, n)
      return await new Promise<RecordedRequest[]>((resolve, reject) => {
        const check = (): void => {
          if (requests.length < n) return
          cleanup()
          resolve(requests.slice(0, n))
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`fake webhook server: expected ${n} request(s) within ${timeoutMs} ms, got ${requests.length}`))
        }, timeoutMs)
        const cleanup = (): void => { clearTimeout(timer); waiters.delete(check) }
        waiters.add(check)
      })
    },
    reset () {
      requests = []
      queue = []
    },
    async close () {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t)
        timers.clear()
        for (const { res } of holding) res.socket?.destroy()
        holding.clear()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await closed
    }
  }
}
