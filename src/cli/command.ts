/**
 * The shape every command module has, the options every command takes, and the errors that decide
 * the exit code: 0 ok, 1 a delivery or check failed, 2 usage or configuration error.
 */
import type { ParseArgsConfig } from 'node:util'
import { CliError, UsageError } from '../errors.js'

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>

export interface GlobalOptions {
  /** `-c, --config FILE` */
  config?: string
  /** `-s, --store FILE` */
  store?: string
  debug: boolean
}

export interface Context {
  /** Parsed options of the command (global ones included). */
  values: Values
  positionals: string[]
  global: GlobalOptions
  /** stdout */
  out: (text: string) => void
  /** stderr */
  err: (text: string) => void
}

export interface Command {
  /** One line: `pino-alerts history [options]`. */
  usage: string
  /** Options besides the global ones. */
  options: OptionSpecs
  /** Takes positional arguments (IDs, matchers, sub-commands). */
  positionals: boolean
  /** Full `--help` text, examples included (the usage line and global options are added). */
  help: string
  /** Resolves to the exit code. */
  run: (ctx: Context) => Promise<number>
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  config: { type: 'string', short: 'c' },
  store: { type: 'string', short: 's' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

export const GLOBAL_HELP = `Global options:
  -c, --config FILE   JSON options (the transport's options; see README "Options")
  -s, --store FILE    SQLite store path (overrides the config's store.path and RISK_ALERTS_STORE)
      --debug         stack traces on errors
  -h, --help          this help`

export { CliError, UsageError }

export const str = (v: Values[string]): string | undefined => (typeof v === 'string' ? v : undefined)
export const bool = (v: Values[string]): boolean => v === true
