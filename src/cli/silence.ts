/** `pino-alerts silence add|list|expire`: silences in the store, seen by every process using it within a second. */
import { userInfo } from 'node:os'
import { MatcherError, parseMatchers } from '../matchers.js'
import { Silences, type Silence } from '../pipeline/silence.js'
import { bool, CliError, str, UsageError, type Command } from './command.js'
import { loadConfig, openExistingStore } from './config.js'
import { durationOption, formatDuration, formatTime, json, table, timeOption } from './format.js'

const USAGE = 'pino-alerts silence add MATCHER... (--for 2h | --until TIME) [--comment TEXT] [--by NAME] | list [--all] | expire ID'

export function whoami (): string {
  try { return userInfo().username } catch { return process.env.USER ?? '' }
}

function state (s: Silence, now: number): string {
  if (Date.parse(s.endsAt) <= now) return 'expired'
  if (Date.parse(s.startsAt) > now) return 'pending'
  return `active, ${formatDuration(Date.parse(s.endsAt) - now)} left`
}

const command: Command = {
  usage: USAGE,
  options: {
    for: { type: 'string' },
    until: { type: 'string' },
    comment: { type: 'string' },
    by: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' }
  },
  positionals: true,
  help: `Silenced alerts are recorded (history shows "not sent: silence") but not sent. A silence has
Alertmanager matchers over source, severity, title, status and labels (=, !=, =~, !~; all must
match) and an end; a running pipeline using the same store sees a new silence within a second.

  silence add MATCHER...   create one; --for DURATION or --until TIME is required
      --for DURATION       90s, 15m, 2h, 7d
      --until TIME         an ISO 8601 time
      --comment TEXT       why
      --by NAME            who (default: your user name)
  silence list             active and pending silences (--all: expired ones too)
  silence expire ID        end a silence now (exit 1 when there is no such active silence)
      --json               JSON output (add, list)

Examples:
  pino-alerts silence add -s alerts.db 'source="risk_gate"' 'desk=~"eq.*"' --for 2h --comment "deploy"
  pino-alerts silence add -s alerts.db severity=info --until 2030-01-01T00:00:00Z
  pino-alerts silence list -s alerts.db --all
  pino-alerts silence expire -s alerts.db 5b0e0b4e-8d8e-4c43-9d77-0f0c3b1f6a2e`,

  async run (ctx) {
    const [sub, ...args] = ctx.positionals
    const opts = loadConfig(ctx.global)
    const usage = `usage: ${USAGE}`
    if (sub === 'add') {
      if (args.length === 0) throw new UsageError('silence add: expected at least one matcher, like \'source="risk_gate"\'', usage)
      try { parseMatchers(args) } catch (err) { if (err instanceof MatcherError) throw new UsageError(`silence add: ${err.message}`, usage); throw err }
      const forText = str(ctx.values.for)
      const untilText = str(ctx.values.until)
      if ((forText === undefined) === (untilText === undefined)) throw new UsageError('silence add: expected --for DURATION or --until TIME (one of them)', usage)
      const store = openExistingStore(opts, true)
      try {
        const s = new Silences(opts.silences, store).add({
          match: args,
          ...(forText !== undefined ? { durationMs: durationOption(forText, 'for') } : { endsAt: timeOption(untilText as string, 'until') }),
          comment: str(ctx.values.comment) ?? '',
          createdBy: str(ctx.values.by) ?? whoami()
        })
        ctx.out(bool(ctx.values.json) ? json(s) : `silence ${s.id}\n  ${s.match.join(', ')}\n  until ${formatTime(s.endsAt)} (${formatDuration(Date.parse(s.endsAt) - Date.parse(s.startsAt))})\n`)
      } catch (err) {
        if (err instanceof TypeError) throw new UsageError(`silence add: ${err.message}`, usage)
        throw err
      } finally { store.close() }
      return 0
    }
    if (sub === 'list') {
      if (args.length > 0) throw new UsageError(`unexpected argument ${args[0] as string}`, usage)
      const store = openExistingStore(opts, false)
      let list: Silence[]
      try { list = new Silences(opts.silences, store).list(bool(ctx.values.all)) } finally { store.close() }
      if (bool(ctx.values.json)) { ctx.out(json(list)); return 0 }
      if (list.length === 0) { ctx.out(`no ${bool(ctx.values.all) ? '' : 'active '}silences\n`); return 0 }
      const now = Date.now()
      ctx.out(table(['id', 'matchers', 'starts', 'ends', 'state', 'by', 'comment'],
        list.map((s) => [s.id, s.match.join(', '), formatTime(s.startsAt), formatTime(s.endsAt), state(s, now), s.createdBy, s.comment]),
        { max: { 1: 60, 6: 60 } }))
      return 0
    }
    if (sub === 'expire') {
      const [id, ...extra] = args
      if (id === undefined || extra.length > 0) throw new UsageError(id === undefined ? 'silence expire: expected a silence id' : `unexpected argument ${extra[0] as string}`, usage)
      const store = openExistingStore(opts, true)
      let done: boolean
      try { done = new Silences(opts.silences, store).expire(id) } finally { store.close() }
      if (!done) throw new CliError(`no active silence ${id} in the store${id.startsWith('options-') ? ' (silences from the config file end when they are removed from it)' : ''}`)
      ctx.out(`silence ${id} expired\n`)
      return 0
    }
    throw new UsageError(sub === undefined ? 'silence: expected add, list or expire' : `silence: unknown sub-command "${sub}" (add, list, expire)`, usage)
  }
}
export default command
