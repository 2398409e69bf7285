#!/usr/bin/env node
/**
 * `pino-alerts`: with no command, the stdin → stdout pipeline that dispatches alerts; otherwise one
 * command of the table below. Each command is its own module, loaded only when it runs; adding one
 * (the dashboard, Step 9) is one line in COMMANDS and one file.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { PinoAlertsError } from '../errors.js'
import { CliError, GLOBAL_HELP, GLOBAL_OPTIONS, UsageError, type Command, type Context, type GlobalOptions } from './command.js'

interface Entry { summary: string, load: () => Promise<{ default: Command }> }

/** name → command module. */
export const COMMANDS: Record<string, Entry> = {
  test: { summary: 'send a test alert to each configured channel and print the results', load: async () => await import('./test.js') },
  history: { summary: 'list stored alerts', load: async () => await import('./history.js') },
  stats: { summary: 'alert counts by severity, source and channel, with a volume chart', load: async () => await import('./stats.js') },
  receipts: { summary: "one alert's delivery outcome per channel", load: async () => await import('./receipts.js') },
  silence: { summary: 'add, list or expire silences', load: async () => await import('./silence.js') },
  ack: { summary: 'acknowledge an alert (stops its escalation)', load: async () => await import('./ack.js') },
  resolve: { summary: 'send the resolved notification of a stored alert', load: async () => await import('./resolve.js') },
  dashboard: { summary: 'serve the web dashboard over the store (live alerts, ack, resolve, silence, /metrics)', load: async () => await import('./dashboard.js') }
}

/** No command: the pipeline. */
const PIPELINE: Entry = { summary: 'stdin → stdout pass-through, alerts dispatched', load: async () => await import('./pipeline.js') }

const TOP_USAGE = 'usage: pino-alerts [-c alerts.json] [-s alerts.db] [--no-passthrough] | pino-alerts <command> [options]'

function topHelp (): string {
  const names = Object.keys(COMMANDS)
  const w = Math.max(...names.map((n) => n.length))
  return `pino-alerts — alerts from pino logs

${TOP_USAGE}

With no command: reads pino NDJSON on stdin, writes every line to stdout unchanged and in order,
and dispatches the alerts among them. At the end of input (or on SIGINT / SIGTERM) it waits for
deliveries in flight (up to shutdownTimeoutMs) and exits 0.

Commands:
${names.map((n) => `  ${n.padEnd(w)}  ${(COMMANDS[n] as Entry).summary}`).join('\n')}
  ${'help'.padEnd(w)}  help for one command: pino-alerts help history

Pipeline options:
      --no-passthrough  do not copy stdin to stdout (only dispatch alerts)
      --progress        always show the progress line on stderr (default: only on a TTY)
      --no-progress     never show it

${GLOBAL_HELP}
      --version       print the version

Examples:
  node app.js | pino-alerts -c alerts.json | pino-pretty
  pino-alerts test -c alerts.json
  pino-alerts history -s alerts.db --since 2h --severity critical
  pino-alerts silence add -s alerts.db 'source="risk_gate"' --for 2h --comment "maintenance"

Exit codes: 0 ok, 1 a delivery or check failed, 2 usage or configuration error.
`
}

function commandHelp (name: string, cmd: Command): string {
  return `usage: ${cmd.usage}\n\n${cmd.help.trimEnd()}\n\n${GLOBAL_HELP}\n`
}

export function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** The command's name (the first positional, skipping global options' values) and the other arguments. */
function splitCommand (argv: string[]): { name: string | undefined, rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') break
    if (a === '-c' || a === '--config' || a === '-s' || a === '--store') { i++; continue }
    if (a.startsWith('-') && a !== '-') continue
    return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] }
  }
  return { name: undefined, rest: argv }
}

/** node:util parseArgs's messages, shortened to what the user typed. */
function usageMessage (err: Error & { code?: string }): string {
  const m = err.message
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${/'([^']+)'/.exec(m)?.[1] ?? m}`
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${/'([^']+)'/.exec(m)?.[1] ?? m}`
  return m.split('\n')[0] as string
}

export async function main (argv: string[], io: Pick<Context, 'out' | 'err'>): Promise<number> {
  const { name, rest } = splitCommand(argv)
  if (name === 'help') {
    const target = rest.find((a) => !a.startsWith('-'))
    if (target === undefined) { io.out(topHelp()); return 0 }
    const entry = COMMANDS[target]
    if (entry === undefined) throw new UsageError(`unknown command "${target}"`, TOP_USAGE)
    io.out(commandHelp(target, (await entry.load()).default))
    return 0
  }
  if (name !== undefined && COMMANDS[name] === undefined) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`, TOP_USAGE)
  if (name === undefined) {
    // Answered without loading the pipeline (and the engine behind it).
    const flags = rest.slice(0, rest.includes('--') ? rest.indexOf('--') : undefined)
    if (flags.includes('--version')) { io.out(version() + '\n'); return 0 }
    if (flags.includes('--help') || flags.includes('-h')) { io.out(topHelp()); return 0 }
  }
  const entry = name === undefined ? PIPELINE : COMMANDS[name] as Entry
  const cmd = (await entry.load()).default
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, version: { type: 'boolean' }, ...cmd.options }, allowPositionals: cmd.positionals, strict: true })
  } catch (err) {
    throw new UsageError(usageMessage(err as Error), name === undefined ? TOP_USAGE : `usage: ${cmd.usage}`)
  }
  const values = parsed.values as Context['values']
  if (values.version === true) { io.out(version() + '\n'); return 0 }
  if (values.help === true) { io.out(name === undefined ? topHelp() : commandHelp(name, cmd)); return 0 }
  const global: GlobalOptions = { debug: values.debug === true }
  if (typeof values.config === 'string') global.config = values.config
  if (typeof values.store === 'string') global.store = values.store
  return await cmd.run({ values, positionals: parsed.positionals, global, ...io })
}

/** Leaves once stdout has taken everything (a pipe reader may be slower than us). */
function exit (code: number): void {
  const out = process.stdout
  if (out.writableLength === 0 || out.destroyed) process.exit(code)
  out.once('drain', () => process.exit(code))
  out.once('error', () => process.exit(code))
}

function report (err: unknown, debug: boolean): number {
  const e = err as Error & { exitCode?: number, usage?: string, alreadyReported?: boolean, code?: string }
  const code = err instanceof CliError ? err.exitCode : err instanceof PinoAlertsError && err.code === 'PINO_ALERTS_INVALID_OPTIONS' ? 2 : 1
  // Each whitespace run with a line break (and a "- " list mark after it) becomes "; ". `\s+` takes a
  // run once, whole; the lookbehind runs once per run. (`\s*\n\s*` retried every start in a run of
  // spaces without a line break: quadratic.)
  const oneLine = String(e?.message ?? err).replace(/\s+(?:(?<=\n\s*)- )?/g, (m) => (m.includes('\n') ? '; ' : m))
  if (!(err instanceof CliError && err.alreadyReported)) process.stderr.write(`pino-alerts: ${oneLine}\n`)
  if (err instanceof UsageError && err.usage !== undefined) process.stderr.write(`${err.usage}\n`)
  if (debug && e?.stack !== undefined) process.stderr.write(`${e.stack}\n`)
  return code
}

const argv = process.argv.slice(2)
main(argv, { out: (t) => { process.stdout.write(t) }, err: (t) => { process.stderr.write(t) } })
  .then(exit, (err: unknown) => exit(report(err, argv.includes('--debug'))))
