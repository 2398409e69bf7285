import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve, win32 } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError } from '../errors.js'
import type { AlertEvent } from '../event.js'
import { applyTemplate, type ResolvedTemplate } from '../format/template.js'
import { redact } from '../redact.js'
import type { ChannelLimits } from './limits.js'
import type { ResolvedChannel } from '../options.js'

/**
 * What one attempt produced, as data: the delivery wrapper decides on retries, never the channel.
 * `retryAfterMs` is the earliest next try the service asked for (`Retry-After`, `retry_after`).
 */
export type Outcome =
  | { ok: true }
  | { ok: false, retryable: boolean, retryAfterMs?: number, status?: number, error: string, notSent?: true }

/**
 * One configured channel instance. `render` turns one event or a digest into the messages its service
 * accepts; `send` talks to the service once. Channels never retry, sleep, rate-limit or log secrets.
 */
export interface Channel<M = unknown> {
  readonly name: string
  readonly type: string
  render (events: readonly AlertEvent[]): M[]
  send (message: M, ctx: { signal: AbortSignal }): Promise<Outcome>
  /**
   * The ids of the alerts a rendered message carries. For channels that split one batch into parts
   * (webhook, otlp, alertmanager under `maxBodyBytes`): the delivery wrapper then reports each alert
   * by the part that carried it, so a 413 on one part fails only that part's alerts. Without it, the
   * messages of a digest succeed or fail together.
   */
  carries? (message: M): readonly string[]
  /**
   * The alert was acknowledged by a person (`alerter.ack`): services with an incident state
   * (PagerDuty) are told. Only called for channels that delivered the alert.
   */
  acknowledge? (event: AlertEvent, ctx: { signal: AbortSignal }): Promise<Outcome>
  /** What the service accepts; `checkChannel` holds rendered messages to it. */
  readonly limits?: ChannelLimits
  /** Make what was sent durable (file: fsync). */
  flush? (): Promise<void>
  close? (): Promise<void>
}

/** What `create` of a channel module is given (SPEC §14): the channel's name and its `options`, as configured. */
export interface ChannelContext {
  /** The key under `channels` (`"pager"` for `channels.pager`). */
  readonly name: string
  /** The channel's `options`, as configured (JSON in a pino transport); `undefined` without any. */
  readonly options: unknown
}

/**
 * A channel module (`type: 'module'`): it exports `create(ctx)`, named or on its default export, which
 * returns the Channel, or a promise of it. See docs/extending.md.
 */
export interface ChannelModule {
  create (ctx: ChannelContext): Channel | Promise<Channel>
}

/** A built-in channel's module: its `create` gets the whole resolved config. */
interface BuiltInModule { create: (cfg: ResolvedChannel) => Channel | Promise<Channel> }

/** Lazy: configuring only `webhook` never loads the others' dependencies. */
const registry: Record<string, () => Promise<BuiltInModule>> = {
  console: async () => await import('./console.js'),
  file: async () => await import('./file.js'),
  webhook: async () => await import('./webhook.js'),
  email: async () => await import('./email.js'),
  slack: async () => await import('./slack.js'),
  telegram: async () => await import('./telegram.js'),
  discord: async () => await import('./discord.js'),
  teams: async () => await import('./teams.js'),
  pagerduty: async () => await import('./pagerduty.js'),
  alertmanager: async () => await import('./alertmanager.js'),
  otlp: async () => await import('./otlp.js'),
  sms: async () => await import('./sms.js')
}

/**
 * The channel of a configuration, templates applied. A channel module (`type: 'module'`) that cannot
 * be imported, has no `create`, whose `create` throws or makes no channel: a ConfigError naming
 * `channels.<name>.module`.
 */
export async function createChannel (cfg: ResolvedChannel): Promise<Channel> {
  if (cfg.type === 'module') return templated(guarded(await createModuleChannel(cfg), cfg.name), cfg.template)
  const load = registry[cfg.type]
  if (load === undefined) throw new Error(`pino-alerts: no channel module for type "${cfg.type}"`)
  const mod = await load()
  return templated(await mod.create(cfg), cfg.template)
}

/** `create(ctx)` of the configured module, checked: every failure is a ConfigError naming the option. */
async function createModuleChannel (cfg: ResolvedChannel): Promise<Channel> {
  const spec = cfg.config.module
  const what = typeof spec === 'string' ? JSON.stringify(spec) : 'the module object'
  const fail = (problem: string): ConfigError => new ConfigError([redact(`channels.${cfg.name}.module: ${problem}`, cfg.secrets)])
  const mod = typeof spec === 'string' ? await importModule(spec, fail) : spec
  const create = createOf(mod)
  if (create === undefined) throw fail(`${what} exports no create(ctx) function (named, or on the default export)${exportsOf(mod)}`)
  let channel: unknown
  try {
    channel = await create({ name: cfg.name, options: cfg.config.options })
  } catch (err) {
    throw fail(`create(ctx) of ${what} threw: ${messageOf(err)}`)
  }
  const problem = notAChannel(channel)
  if (problem !== undefined) throw fail(`create(ctx) of ${what} returned ${problem}`)
  return channel as Channel
}

/**
 * A path (`./x.js`, `../x.js`, `/abs/x.js`, `C:\\x.js`, `file:` URL) is resolved against the working
 * directory, as pino resolves a target (require's lookup: `.js`, `/index.js`); anything else is a package
 * name, found in `node_modules` from the working directory up, else from where pino-alerts is installed.
 */
async function importModule (spec: string, fail: (problem: string) => ConfigError): Promise<unknown> {
  const cwd = process.cwd()
  const req = createRequire(join(cwd, 'noop.js'))
  let url: string | undefined
  if (spec.startsWith('file:')) {
    url = spec
  } else if (spec.startsWith('.') || isAbsolute(spec) || win32.isAbsolute(spec)) {
    const path = resolve(cwd, spec)
    try {
      url = pathToFileURL(req.resolve(path)).href
    } catch {
      throw fail(`cannot find the file ${JSON.stringify(spec)}${path === spec ? '' : ` (${path}: a path is relative to the working directory)`}`)
    }
  } else {
    try {
      const found = req.resolve(spec)
      // A Node built-in (`fs`) resolves to its own name.
      url = isAbsolute(found) ? pathToFileURL(found).href : found
    } catch (err) {
      // An ESM-only package (an `import` export condition only) cannot be resolved by require.
      const entry = (err as { code?: string }).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' ? importEntry(spec, cwd) : undefined
      if (entry !== undefined) url = pathToFileURL(entry).href
    }
  }
  try {
    // Neither a path nor found from the working directory: the package as pino-alerts itself would import it.
    return await import(url ?? spec)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (url === undefined && (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') && messageOf(err).includes(`'${spec}'`)) {
      throw fail(`cannot find the package ${JSON.stringify(spec)} (looked in node_modules from the working directory ${cwd} up, and from pino-alerts' own installation; a file path starts with ./ or ../)`)
    }
    throw fail(`cannot import ${JSON.stringify(spec)}: ${messageOf(err)}`)
  }
}

/** The file an ESM-only package exports as `.` under the `node` / `import` / `default` conditions, looked up from `cwd`. */
function importEntry (name: string, cwd: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name)
    if (existsSync(join(pkgDir, 'package.json'))) {
      let pkg: { exports?: unknown }
      try { pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { exports?: unknown } } catch { return undefined }
      const target = exportTarget(pkg?.exports)
      return target === undefined ? undefined : join(pkgDir, target)
    }
    if (dirname(dir) === dir) return undefined
  }
}

function exportTarget (exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp
  if (Array.isArray(exp)) {
    for (const e of exp) { const t = exportTarget(e); if (t !== undefined) return t }
    return undefined
  }
  if (exp === null || typeof exp !== 'object') return undefined
  const map = exp as Record<string, unknown>
  if (Object.keys(map).some((k) => k.startsWith('.'))) return exportTarget(map['.'])
  for (const [k, v] of Object.entries(map)) {
    if (k !== 'node' && k !== 'import' && k !== 'default') continue
    const t = exportTarget(v)
    if (t !== undefined) return t
  }
  return undefined
}

type Create = (ctx: ChannelContext) => unknown
function createOf (mod: unknown): Create | undefined {
  if (mod === null || (typeof mod !== 'object' && typeof mod !== 'function')) return undefined
  const m = mod as { create?: unknown, default?: { create?: unknown } | null }
  if (typeof m.create === 'function') return m.create.bind(m) as Create
  const d = m.default
  if (d !== null && (typeof d === 'object' || typeof d === 'function') && typeof d.create === 'function') return d.create.bind(d) as Create
  return undefined
}

/** `; it exports: a, b` (what the module has instead), or nothing to say. */
function exportsOf (mod: unknown): string {
  if (mod === null || typeof mod !== 'object') return ''
  const names = Object.keys(mod)
  return names.length === 0 ? '; it exports nothing' : `; it exports: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`
}

const METHODS = ['close', 'flush', 'acknowledge', 'carries'] as const

/** Why `v` is not a Channel (`undefined`: it is one). */
function notAChannel (v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return `${v === null ? 'null' : typeof v}, not a channel (an object with render(events) and send(message, { signal }))`
  const c = v as Record<string, unknown>
  const missing = ['render', 'send'].filter((k) => typeof c[k] !== 'function')
  if (missing.length > 0) return `an object without ${missing.map((k) => `${k}()`).join(' and ')}: a channel has render(events) and send(message, { signal })`
  const wrong = METHODS.filter((k) => c[k] !== undefined && typeof c[k] !== 'function')
  if (wrong.length > 0) return `a channel whose ${wrong.join(', ')} ${wrong.length === 1 ? 'is not a function' : 'are not functions'}`
  return undefined
}

function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * A module's channel held to the contract the delivery wrapper relies on: `render` gives an array,
 * `send` an Outcome. Anything else becomes a failure of that render or attempt (permanent: the same
 * code would answer the same), never a broken delivery loop.
 */
function guarded (channel: Channel, name: string): Channel {
  const render = (events: readonly AlertEvent[]): unknown[] => {
    const out = channel.render(events)
    if (!Array.isArray(out)) throw new Error(`render(events) returned ${describe(out)}, not an array of messages`)
    return out
  }
  const send = async (message: unknown, ctx: { signal: AbortSignal }): Promise<Outcome> => outcomeOf(await channel.send(message, ctx), name)
  return new Proxy(channel, {
    get (target, prop) {
      if (prop === 'render') return render
      if (prop === 'send') return send
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

function outcomeOf (o: unknown, name: string): Outcome {
  const x = o as Partial<{ ok: unknown, retryable: unknown, retryAfterMs: unknown, status: unknown, error: unknown, notSent: unknown }> | null | undefined
  if (x?.ok === true) return { ok: true }
  if (x?.ok !== false) return { ok: false, retryable: false, error: `${name}: send() resolved to ${describe(o)}, not an Outcome ({ ok: true } or { ok: false, retryable, error })` }
  const out: Outcome = { ok: false, retryable: x.retryable === true, error: typeof x.error === 'string' && x.error !== '' ? x.error : `${name}: failed (the channel gave no error)` }
  if (typeof x.retryAfterMs === 'number' && Number.isFinite(x.retryAfterMs) && x.retryAfterMs >= 0) out.retryAfterMs = x.retryAfterMs
  if (typeof x.status === 'number') out.status = x.status
  if (x.notSent === true) out.notSent = true
  return out
}

function describe (v: unknown): string {
  if (v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : typeof v
}

/**
 * The channel with its templates applied: `render` gets each event with the title and body the
 * templates make, so the channel's own escaping and limits apply to them as to any alert. Everything
 * else is the channel's own (methods bound to it).
 */
export function templated<M> (channel: Channel<M>, template: ResolvedTemplate | undefined): Channel<M> {
  if (template === undefined) return channel
  const render = (events: readonly AlertEvent[]): M[] => channel.render(events.map((e) => applyTemplate(e, template)))
  return new Proxy(channel, {
    get (target, prop) {
      if (prop === 'render') return render
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}
