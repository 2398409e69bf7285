/**
 * Silences: matchers with a start and an end. From options (in memory) and, with a store, created,
 * listed and expired at run time — also by other processes (the CLI, the dashboard): the store's
 * active silences are re-read at most once a second.
 */
import { randomUUID } from 'node:crypto'
import type { AlertEvent } from '../event.js'
import { MatcherError, matchesAlert, parseMatchers, type Matcher } from '../matchers.js'
import type { ResolvedSilence } from '../options.js'
import type { AlertStore, StoredSilence } from '../store/sqlite.js'

export interface SilenceInput {
  /** Alertmanager matchers: a list, or one `{a="b", c=~"d"}` string. */
  match: string | string[]
  startsAt?: Date | string | number
  /** Either `endsAt` or `durationMs`. */
  endsAt?: Date | string | number
  durationMs?: number
  comment?: string
  createdBy?: string
}

export type Silence = StoredSilence

/** What silences need of the store, and all they may touch: their own table. */
export type SilenceStore = Pick<AlertStore, 'silences' | 'addSilence' | 'expireSilence'>

const ms = (t: Date | string | number): number => (t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t))

export class Silences {
  private readonly fromOptions: Array<Silence & { matchers: Matcher[] }>
  private readonly local: Array<Silence & { matchers: Matcher[] }> = []
  private cached: Array<Silence & { matchers: Matcher[] }> = []
  private readAt = -Infinity
  /** Stored silences whose matchers do not parse, reported already. */
  private readonly unusable = new Set<string>()

  constructor (
    options: readonly ResolvedSilence[],
    private readonly store: SilenceStore | undefined,
    private readonly now: () => number = Date.now,
    /** Told when the store's silences cannot be read (the ones read last time stay in force). */
    private readonly onStoreError?: (err: Error) => void
  ) {
    this.fromOptions = options.map((s, i) => ({
      id: `options-${i}`,
      match: s.match,
      matchers: s.matchers,
      startsAt: new Date(s.startsAt).toISOString(),
      endsAt: new Date(s.endsAt).toISOString(),
      comment: s.comment,
      createdBy: s.createdBy,
      createdAt: new Date(0).toISOString()
    }))
  }

  private active (): Array<Silence & { matchers: Matcher[] }> {
    const t = this.now()
    if (this.store !== undefined && t - this.readAt >= 1000) {
      this.readAt = t
      // On the delivery path: a store that cannot be read (locked past its timeout, damaged) leaves
      // the silences read last time in force and is reported; the alert still goes on.
      try {
        this.cached = this.compiled(this.store.silences(t))
      } catch (err) {
        this.onStoreError?.(err as Error)
      }
    }
    const all = [...this.fromOptions, ...this.local, ...this.cached]
    return all.filter((s) => Date.parse(s.startsAt) <= t && t < Date.parse(s.endsAt))
  }

  /**
   * The store's silences with their matchers, compiled once per silence: one read again keeps the
   * matchers of last time. One whose matchers no longer parse (written by an older version, or by hand)
   * is left out and reported once; the others stay in force.
   */
  private compiled (stored: readonly Silence[]): Array<Silence & { matchers: Matcher[] }> {
    const before = new Map(this.cached.map((s) => [s.id, s]))
    const out: Array<Silence & { matchers: Matcher[] }> = []
    for (const s of stored) {
      const old = before.get(s.id)
      if (old !== undefined && sameList(old.match, s.match)) { out.push({ ...s, matchers: old.matchers }); continue }
      try {
        out.push({ ...s, matchers: parseMatchers(s.match) })
      } catch (err) {
        if (!(err instanceof MatcherError)) throw err
        if (!this.unusable.has(s.id)) {
          this.unusable.add(s.id)
          this.onStoreError?.(new Error(`silence ${s.id} is not applied: ${err.message}`))
        }
      }
    }
    return out
  }

  /** The silence that covers `e` now, if any. */
  match (e: AlertEvent): Silence | undefined {
    for (const s of this.active()) if (matchesAlert(s.matchers, e)) return strip(s)
    return undefined
  }

  add (input: SilenceInput): Silence {
    const matchers = parseMatchers(input.match)
    if (matchers.length === 0) throw new TypeError('a silence needs at least one matcher')
    const t = this.now()
    const startsAt = input.startsAt === undefined ? t : ms(input.startsAt)
    const endsAt = input.endsAt !== undefined ? ms(input.endsAt) : input.durationMs !== undefined ? startsAt + input.durationMs : NaN
    if (Number.isNaN(startsAt) || Number.isNaN(endsAt) || endsAt <= startsAt) throw new TypeError('a silence needs a valid startsAt and an endsAt (or durationMs) after it')
    const s: Silence = {
      id: randomUUID(),
      match: matchers.map((m) => m.text),
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
      comment: input.comment ?? '',
      createdBy: input.createdBy ?? '',
      createdAt: new Date(t).toISOString()
    }
    if (this.store !== undefined) {
      this.store.addSilence(s)
      this.readAt = -Infinity
    } else {
      this.local.push({ ...s, matchers })
    }
    return s
  }

  /** Active and future silences (expired ones too with `includeExpired`, from the store). */
  list (includeExpired = false): Silence[] {
    const t = this.now()
    const stored = this.store?.silences(t, includeExpired) ?? []
    const mem = [...this.fromOptions, ...this.local].filter((s) => includeExpired || Date.parse(s.endsAt) > t).map(strip)
    return [...mem, ...stored]
  }

  expire (id: string): boolean {
    const t = this.now()
    const mem = this.local.find((s) => s.id === id && Date.parse(s.endsAt) > t)
    if (mem !== undefined) { mem.endsAt = new Date(t).toISOString(); return true }
    const done = this.store?.expireSilence(id, t) ?? false
    if (done) this.readAt = -Infinity
    return done
  }
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

function strip (s: Silence & { matchers?: Matcher[] }): Silence {
  const { matchers: _m, ...rest } = s
  return rest
}
