/**
 * Options for the CLI: the `-c` JSON file (validated by the same resolveOptions as the transport's
 * options, so errors name the option path), the RISK_ALERTS_* environment, and `-s` over the store.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import { resolveOptions, type ResolvedOptions } from '../options.js'
import { openStore, StoreError, type AlertStore } from '../store/sqlite.js'
import { CliError, type GlobalOptions } from './command.js'

/** Reads and validates the configuration; exit 2 on any problem. */
export function loadConfig (g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  let raw: unknown = {}
  if (g.config !== undefined) {
    let text: string
    try {
      text = readFileSync(g.config, 'utf8')
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new CliError(`config ${g.config}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 2)
    }
    try {
      raw = JSON.parse(text)
    } catch (err) {
      throw new CliError(`config ${g.config}: not valid JSON: ${(err as Error).message}`, 2)
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CliError(`config ${g.config}: expected a JSON object of options`, 2)
  }
  let opts: ResolvedOptions
  try {
    opts = resolveOptions(raw, env)
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid ${g.config === undefined ? 'options from the environment' : `config ${g.config}`}: ${err.issues.join('; ')}`, 2)
    throw err
  }
  if (g.store !== undefined) {
    opts = { ...opts, store: { path: g.store, maxAgeDays: opts.store?.maxAgeDays ?? 30, maxRows: opts.store?.maxRows ?? 1_000_000, leaseMs: opts.store?.leaseMs ?? 30_000 } }
  }
  return opts
}

/** The store path the commands work on; exit 2 when there is none. */
export function storePath (opts: ResolvedOptions): string {
  if (opts.store === undefined) throw new CliError('no store: pass -s FILE, or set store.path in the config (-c FILE) or RISK_ALERTS_STORE', 2)
  return opts.store.path
}

/** Opens the existing store (read-only unless `write`); exit 2 when it is missing or not a store. */
export function openExistingStore (opts: ResolvedOptions, write = false): AlertStore {
  const path = storePath(opts)
  if (!existsSync(path)) throw new CliError(`store ${resolve(path)} does not exist (it is created by the pipeline: node app.js | pino-alerts -s ${path})`, 2)
  try {
    return openStore(path, { readonly: !write })
  } catch (err) {
    if (err instanceof StoreError) throw new CliError(err.message, 2)
    throw err
  }
}

/** Runs `fn` on the open store and closes it. */
export function withStore<T> (opts: ResolvedOptions, write: boolean, fn: (s: AlertStore) => T): T {
  const s = openExistingStore(opts, write)
  try { return fn(s) } finally { s.close() }
}
