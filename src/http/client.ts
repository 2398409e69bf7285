/**
 * The one HTTP client every HTTP channel shares: undici, with keep-alive pooling and proxies.
 *
 * - By default `EnvHttpProxyAgent`: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (either case) are
 *   honoured, as curl and the OpenTelemetry Collector do. Plain-HTTP targets are forwarded by the proxy
 *   (absolute-URI requests, what Squid and tinyproxy allow by default); HTTPS targets go through a
 *   `CONNECT` tunnel, TLS end to end.
 * - A channel's `proxy: URL` overrides the environment (Basic credentials in the URL become a
 *   `Proxy-Authorization` header; they are secrets of the channel, masked wherever text leaves it);
 *   `proxy: false` connects directly.
 * - A channel's `tls: { ca, rejectUnauthorized }` applies to its service (through a tunnel too) and to
 *   an `https:` proxy. `ca` replaces the default trust list, as Node's `tls.connect` does.
 *
 * One dispatcher per distinct (proxy, tls) pair, created when first used: a process without HTTP
 * channels never loads a socket pool. Idle sockets close after 4 s (before the usual 5 s keep-alive
 * of servers) and never keep the process alive.
 */
import { createRequire } from 'node:module'
import type * as Undici from 'undici'
import type { Dispatcher } from 'undici'

type RequestOptions = Dispatcher.RequestOptions & { dispatcher?: undefined }
interface UndiciParts {
  Agent: typeof Undici.Agent
  ProxyAgent: typeof Undici.ProxyAgent
  EnvHttpProxyAgent: typeof Undici.EnvHttpProxyAgent
  /** undici's request API, called on a dispatcher. */
  request: (this: Dispatcher, opts: RequestOptions) => Promise<Dispatcher.ResponseData>
}
let undici: UndiciParts | undefined

/**
 * undici, loaded when the first HTTP request is made (a process with only console and file channels
 * never loads it), and only the parts used: the agents and the request API (as undici's index.js
 * installs it on every dispatcher). Measured in a worker
 * thread (bench/module-cost.mjs): all of undici (fetch, WebSocket, cache, mocks…) adds 8.4 MB of RSS,
 * these parts 2.9 MB, and this is paid in every pino worker. undici has no `exports` map, so these
 * paths are reachable; should a release move them, the whole package is loaded instead (the same
 * classes, more memory), never a failure.
 */
export function loadUndici (): UndiciParts {
  if (undici !== undefined) return undici
  const require = createRequire(import.meta.url)
  try {
    // What undici's index.js does first: the request API (request, connect — a proxy tunnel uses it…) on
    // every dispatcher. The same functions, so loading the whole package later changes nothing.
    const api = require('undici/lib/api/index.js') as Record<string, unknown> & { request: UndiciParts['request'] }
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object }
    if (typeof api.request !== 'function' || typeof api.connect !== 'function') throw new Error('unexpected undici layout')
    Object.assign(Dispatcher.prototype, api)
    undici = {
      Agent: require('undici/lib/dispatcher/agent.js') as UndiciParts['Agent'],
      ProxyAgent: require('undici/lib/dispatcher/proxy-agent.js') as UndiciParts['ProxyAgent'],
      EnvHttpProxyAgent: require('undici/lib/dispatcher/env-http-proxy-agent.js') as UndiciParts['EnvHttpProxyAgent'],
      request: api.request
    }
    if (typeof undici.Agent !== 'function' || typeof undici.EnvHttpProxyAgent !== 'function') throw new Error('unexpected undici layout')
  } catch {
    const all = require('undici') as typeof Undici
    undici = { Agent: all.Agent, ProxyAgent: all.ProxyAgent, EnvHttpProxyAgent: all.EnvHttpProxyAgent, request: all.Dispatcher.prototype.request as UndiciParts['request'] }
  }
  return undici
}

/** A channel's network options, as `resolveOptions` leaves them in its `config`. */
export interface NetOptions {
  /** Absent: the environment decides; `false`: direct. */
  proxy?: string | false | undefined
  tls?: { ca?: string[] | undefined, rejectUnauthorized?: boolean | undefined } | undefined
}

const POOL = { keepAliveTimeout: 4000, keepAliveMaxTimeout: 4000, connections: 32 } as const

const dispatchers = new Map<string, Dispatcher>()
/** Requests under way (close waits for them). */
let active = 0
let idle: Array<() => void> = []

/** Per channel (its NetOptions object, made once): the dispatcher, without building the key per request. */
let byNet = new WeakMap<NetOptions, Dispatcher>()

function dispatcherFor (net: NetOptions | undefined): Dispatcher {
  if (net === undefined) return dispatcherForKey(undefined)
  let d = byNet.get(net)
  if (d === undefined) byNet.set(net, d = dispatcherForKey(net))
  return d
}

function dispatcherForKey (net: NetOptions | undefined): Dispatcher {
  const proxy = net?.proxy
  const tls = net?.tls === undefined ? undefined : { ...(net.tls.ca === undefined ? {} : { ca: net.tls.ca }), ...(net.tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: net.tls.rejectUnauthorized }) }
  // The number of keys is bounded by the channels configured (one per distinct pair).
  const key = JSON.stringify([proxy ?? null, tls ?? null])
  let d = dispatchers.get(key)
  if (d !== undefined) return d
  const { Agent, ProxyAgent, EnvHttpProxyAgent } = loadUndici()
  const tlsOptions = tls === undefined ? {} : { connect: tls, requestTls: tls, proxyTls: tls }
  if (proxy === false) d = new Agent({ ...POOL, ...(tls === undefined ? {} : { connect: tls }) })
  else if (proxy !== undefined) d = new ProxyAgent({ ...POOL, ...tlsOptions, uri: proxy, proxyTunnel: false })
  else d = new EnvHttpProxyAgent({ ...POOL, ...tlsOptions, proxyTunnel: false })
  dispatchers.set(key, d)
  return d
}

let users = 0
/** Every alerter retains the shared dispatchers while it runs; the last one to close closes them. */
export function retainHttpAgent (): void { users++ }
export async function releaseHttpAgent (force = false): Promise<void> {
  if (--users > 0) return
  users = 0
  const all = [...dispatchers.values()]
  dispatchers.clear()
  byNet = new WeakMap()
  if (all.length === 0) return
  // Requests in flight may finish (up to 1 s) unless the shutdown deadline has passed (force).
  if (!force && active > 0) {
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      idle.push(resolve)
      timer = setTimeout(resolve, 1000)
    })
    clearTimeout(timer)
  }
  await Promise.all(all.map(async (d) => { await d.destroy().catch(() => {}) }))
}

export interface HttpResponse { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** Bodies of answers are kept up to this many characters: enough for an error text, never a flood. */
const MAX_BODY = 64 * 1024

export async function httpRequest (url: string, init: {
  method?: 'POST' | 'PUT' | 'GET'
  headers?: Record<string, string>
  body?: string | Buffer
  signal: AbortSignal
  /** The channel's `proxy` and `tls` (its resolved config). */
  net?: NetOptions | undefined
}): Promise<HttpResponse> {
  const target = new URL(url)
  if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new Error(`unsupported protocol ${target.protocol}`)
  const dispatcher = dispatcherFor(init.net)
  active++
  try {
    // The attempt timeout comes from the signal: an abort ends the request (and its socket).
    const res = await loadUndici().request.call(dispatcher, {
      origin: target.origin,
      path: target.pathname + target.search,
      method: init.method ?? 'POST',
      headers: init.headers ?? {},
      body: init.body,
      signal: init.signal
    })
    let text = ''
    res.body.setEncoding('utf8')
    // Read to the end (a reusable socket), keep the beginning; a receiver that never stops is cut by the signal.
    for await (const chunk of res.body as AsyncIterable<string>) if (text.length < MAX_BODY) text += chunk
    return { status: res.statusCode, headers: res.headers, body: text.slice(0, MAX_BODY) }
  } finally {
    if (--active === 0 && idle.length > 0) {
      const waiting = idle
      idle = []
      for (const resolve of waiting) resolve()
    }
  }
}

/** A channel's `proxy` and `tls`, picked from its resolved config. */
export function netOf (config: Record<string, unknown>): NetOptions {
  return { proxy: config.proxy as NetOptions['proxy'], tls: config.tls as NetOptions['tls'] }
}
