/**
 * Builds the RecordContext from resolved options and, when pino sent it, pino's level table (custom
 * levels included). Without pino's config (CLI, library use) pino's default levels apply.
 */
import { ConfigError } from './errors.js'
import { PINO_LEVELS, type RecordContext } from './event.js'
import type { ResolvedOptions } from './options.js'

export interface PinoLevels { labels?: Record<string, string>, values?: Record<string, number> }

export function recordContext (opts: ResolvedOptions, pinoLevels?: PinoLevels, messageKey = 'msg'): RecordContext {
  const levelValues = new Map<string, number>(Object.entries(PINO_LEVELS))
  for (const [name, value] of Object.entries(pinoLevels?.values ?? {})) levelValues.set(name, value)
  const levelNames = new Map<number, string>()
  for (const [name, value] of levelValues) levelNames.set(value, name)

  const severityByNumber = new Map<number, 'info' | 'warn' | 'critical'>()
  const severityByName = new Map<string, 'info' | 'warn' | 'critical'>()
  for (const [key, sev] of Object.entries(opts.severityByLevel)) {
    if (/^\d+$/.test(key)) severityByNumber.set(Number(key), sev)
    else severityByName.set(key, sev)
  }

  let minLevel: number | undefined
  const m = opts.minLevel
  if (typeof m === 'number') minLevel = m
  else if (typeof m === 'string') {
    minLevel = /^\d+$/.test(m) ? Number(m) : levelValues.get(m)
    if (minLevel === undefined) {
      throw new ConfigError([`match.minLevel: got ${JSON.stringify(m)}; expected a level name (${[...levelValues.keys()].join(', ')}) or number`])
    }
  }
  return { alertKey: opts.alertKey, messageKey, levelNames, levelValues, severityByNumber, severityByName, minLevel }
}
