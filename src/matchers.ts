/**
 * Alertmanager-style label matchers and time intervals (SPEC §7, §10).
 *
 * Matchers follow Alertmanager's documented syntax: a label name (`[a-zA-Z_][a-zA-Z0-9_]*`, or any
 * non-empty double-quoted string as in its UTF-8 mode), one of `=`, `!=`, `=~`, `!~`, and a value that is
 * double-quoted (escapes `\"`, `\\`, `\n`; any other backslash is literal, as in classic matchers) or an
 * unquoted literal without whitespace or any of `{ } ! = ~ , " ' \``.
 *
 * Regexes (`=~`, `!~`) are RE2 — Go's `regexp`, which Alertmanager uses — run by re2js, so matching takes
 * time linear in the value whatever the pattern (a JavaScript RegExp backtracks: `(.|.)*#` over 40
 * characters would run for hours, freezing the worker and the dashboard's silence preview). Each pattern
 * is fully anchored, as Alertmanager's `^(?:pattern)$`, but must also be valid on its own (so `a)|(b` cannot
 * end the group and escape the anchors), is at most MAX_PATTERN_LENGTH characters, and is compiled once,
 * when parsed. RE2 rejects lookaround and backreferences: a MatcherError at parse time says so.
 *
 * Time intervals follow Alertmanager's `time_intervals` with camelCase keys; every field is evaluated in the
 * wall-clock time of `location` (an IANA zone, "UTC" or "Local"; default UTC).
 */
import { RE2JS, RE2JSException } from 're2js'
import { ConfigError, MatcherError } from './errors.js'
import { describe } from './event.js'
import type { AlertEvent } from './event.js'

export type MatchOp = '=' | '!=' | '=~' | '!~'

/** A compiled `=~` / `!~` pattern: RE2, fully anchored, linear-time `test`. */
export interface MatcherRegex {
  /** The anchored form, as Alertmanager compiles it: `^(?:pattern)$`. */
  readonly source: string
  /** True when the whole of `value` matches the pattern. */
  test (value: string): boolean
}

export interface Matcher {
  name: string
  op: MatchOp
  value: string
  /** for =~ / !~ : compiled once when parsed, RE2, fully anchored */
  re?: MatcherRegex
  /** canonical text, e.g. severity=~"warn|critical" */
  text: string
}

export { MatcherError }

// ---------------------------------------------------------------------------------------------------
// Parsing

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const NAME_START = /[a-zA-Z_]/
const NAME_CHAR = /[a-zA-Z0-9_]/
const WS = /\s/
/** Characters that end an unquoted value (Alertmanager's reserved set, less the backslash). */
const RESERVED = new Set(['{', '}', '!', '=', '~', ',', '"', "'", '`'])
/** The longest `=~` / `!~` pattern accepted, in characters (Alertmanager sets none; this bounds compile work). */
export const MAX_PATTERN_LENGTH = 1024
/**
 * The largest compiled pattern, in RE2 instructions. Counted repeats expand (`\pL{1000}` is 1000), and
 * matching costs up to this much per character of the value: 10 000 keeps a 1 MiB value near 0.1 s.
 */
const MAX_PROGRAM_SIZE = 10_000

class Scanner {
  pos = 0
  constructor (readonly src: string) {}

  fail (pos: number, reason: string): never {
    throw new MatcherError(this.src, pos, reason)
  }

  atEnd (): boolean { return this.pos >= this.src.length }
  peek (): string { return this.src.charAt(this.pos) }

  skipWs (): void {
    while (this.pos < this.src.length && WS.test(this.src.charAt(this.pos))) this.pos++
  }

  found (): string {
    return this.atEnd() ? 'end of input' : `'${this.peek()}'`
  }

  /** A double-quoted string starting at `this.pos` (which holds the opening quote). */
  quoted (what: string): string {
    const open = this.pos
    this.pos++
    let out = ''
    while (this.pos < this.src.length) {
      const c = this.src.charAt(this.pos)
      if (c === '"') { this.pos++; return out }
      if (c === '\\') {
        const n = this.src.charAt(this.pos + 1)
        if (n === '"' || n === '\\') { out += n; this.pos += 2; continue }
        if (n === 'n') { out += '\n'; this.pos += 2; continue }
        // A lone backslash is literal (classic matcher rule), e.g. "\d+".
        out += c
        this.pos++
        continue
      }
      out += c
      this.pos++
    }
    return this.fail(this.src.length, `unterminated quoted ${what} (opened at position ${open})`)
  }

  name (): string {
    this.skipWs()
    const start = this.pos
    if (this.peek() === '"') {
      const n = this.quoted('label name')
      if (n === '') this.fail(start, 'empty label name')
      return n
    }
    if (this.atEnd() || !NAME_START.test(this.peek())) {
      return this.fail(start, `expected a label name, got ${this.found()}`)
    }
    while (!this.atEnd() && NAME_CHAR.test(this.peek())) this.pos++
    return this.src.slice(start, this.pos)
  }

  op (): MatchOp {
    this.skipWs()
    const two = this.src.slice(this.pos, this.pos + 2)
    if (two === '=~' || two === '!=' || two === '!~') { this.pos += 2; return two }
    if (this.peek() === '=') { this.pos++; return '=' }
    return this.fail(this.pos, `expected an operator (=, !=, =~ or !~), got ${this.found()}`)
  }

  value (): { value: string, at: number } {
    this.skipWs()
    const at = this.pos
    if (this.peek() === '"') return { value: this.quoted('value'), at }
    while (!this.atEnd()) {
      const c = this.peek()
      if (WS.test(c) || RESERVED.has(c)) break
      this.pos++
    }
    if (this.pos === at) {
      this.fail(at, `expected a label value (use "" for the empty value), got ${this.found()}`)
    }
    return { value: this.src.slice(at, this.pos), at }
  }

  matcher (): Matcher {
    const name = this.name()
    const op = this.op()
    const { value, at } = this.value()
    const m: Matcher = { name, op, value, text: matcherText(name, op, value) }
    if (op === '=~' || op === '!~') {
      const re = compilePattern(value)
      if (typeof re === 'string') this.fail(at, `invalid regular expression: ${re}`)
      m.re = re
    }
    return m
  }
}

const UNSUPPORTED = '(RE2 syntax, as in Alertmanager)'

/**
 * `pattern` compiled by RE2 and matched whole, or why RE2 rejects it. The pattern is compiled on its own
 * and matched anchored at both ends: the same answers as Alertmanager's `^(?:pattern)$`, except that a
 * pattern unbalanced on its own (`a)|(b`) is rejected instead of escaping the anchors.
 */
function compilePattern (pattern: string): MatcherRegex | string {
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters (${pattern.length})`
  let re: RE2JS
  try {
    // No flags: RE2JS.LOOKBEHINDS would accept what Go's regexp (and so Alertmanager) rejects.
    re = RE2JS.compile(pattern)
  } catch (err) {
    if (err instanceof RE2JSException) return re2Reason(err)
    return err instanceof Error ? err.message : String(err)
  }
  const size = re.programSize()
  if (size > MAX_PROGRAM_SIZE) return `too large once its repeats are expanded (${size} RE2 instructions, at most ${MAX_PROGRAM_SIZE})`
  return { source: `^(?:${pattern})$`, test: (value) => re.testExact(value) }
}

/** RE2's own message, made plain for what JavaScript users most often try. */
function re2Reason (err: RE2JSException): string {
  const message = err.message.replace(/^error parsing regexp: /, '')
  const look = /`\(\?(<=|<!|=|!)/.exec(message)
  if (look !== null) {
    const which = look[1] === '=' || look[1] === '!' ? 'lookahead' : 'lookbehind'
    return `${which} \`(?${look[1] ?? ''}\` is not supported ${UNSUPPORTED}`
  }
  const backref = /^invalid escape sequence: `(\\[1-9])`/.exec(message)
  if (backref !== null) return `backreferences like \`${backref[1] ?? ''}\` are not supported ${UNSUPPORTED}`
  return message
}

function quote (s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"'
}

function matcherText (name: string, op: MatchOp, value: string): string {
  return `${LABEL_NAME.test(name) ? name : quote(name)}${op}${quote(value)}`
}

/** One matcher, e.g. `severity=~"warn|critical"`; throws MatcherError naming the position. */
export function parseMatcher (s: string): Matcher {
  if (typeof s !== 'string') throw new MatcherError(String(s), 0, `expected a string, got ${describe(s)}`)
  const sc = new Scanner(s)
  const m = sc.matcher()
  sc.skipWs()
  if (!sc.atEnd()) sc.fail(sc.pos, `unexpected ${sc.found()} after the matcher`)
  return m
}

/** `{a="b", c=~"d"}` or `a="b", c=~"d"`: braces optional but paired, one trailing comma allowed. */
function parseMatcherList (s: string): Matcher[] {
  if (typeof s !== 'string') throw new MatcherError(String(s), 0, `expected a string, got ${describe(s)}`)
  const sc = new Scanner(s)
  sc.skipWs()
  const braced = sc.peek() === '{'
  const open = sc.pos
  if (braced) sc.pos++
  const out: Matcher[] = []
  for (;;) {
    sc.skipWs()
    if (sc.atEnd() || (braced && sc.peek() === '}')) break
    out.push(sc.matcher())
    sc.skipWs()
    if (sc.peek() === ',') { sc.pos++; continue }
    break
  }
  sc.skipWs()
  if (braced) {
    if (sc.atEnd()) sc.fail(sc.pos, `missing '}' to close the '{' at position ${open}`)
    if (sc.peek() !== '}') sc.fail(sc.pos, `expected ',' or '}', got ${sc.found()}`)
    sc.pos++
    sc.skipWs()
  }
  if (!sc.atEnd()) sc.fail(sc.pos, `unexpected ${sc.found()}${braced ? " after '}'" : ", expected ','"}`)
  return out
}

/** A list of matcher strings, or one Alertmanager-style string `{a="b", c=~"d"}` / `a="b", c=~"d"` (comma-separated, braces optional). */
export function parseMatchers (input: string | readonly string[]): Matcher[] {
  if (typeof input === 'string') return parseMatcherList(input)
  if (!Array.isArray(input)) throw new MatcherError(String(input), 0, `expected a string or a list of strings, got ${describe(input)}`)
  const out: Matcher[] = []
  for (const item of input as readonly unknown[]) {
    if (typeof item !== 'string') throw new MatcherError(String(item), 0, `expected a string, got ${describe(item)}`)
    // Each list entry may itself hold several matchers (`'{foo="bar", dings!="bums"}'`), as in Alertmanager.
    const ms = parseMatcherList(item)
    if (ms.length === 0) throw new MatcherError(item, item.length, 'expected a label name, got end of input')
    out.push(...ms)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Matching

/** Patterns of matchers built by hand (without `re`), compiled on first use. */
const handBuilt = new WeakMap<Matcher, MatcherRegex>()

/** The matcher's compiled pattern: from parsing, or compiled once per matcher object here. */
function regexOf (m: Matcher): MatcherRegex {
  if (m.re !== undefined) return m.re
  let re = handBuilt.get(m)
  if (re === undefined) {
    const c = compilePattern(m.value)
    if (typeof c === 'string') throw new MatcherError(m.text, 0, `invalid regular expression: ${c}`)
    re = c
    handBuilt.set(m, re)
  }
  return re
}

function matchOne (m: Matcher, v: string): boolean {
  switch (m.op) {
    case '=': return v === m.value
    case '!=': return v !== m.value
    case '=~': return regexOf(m).test(v)
    case '!~': return !regexOf(m).test(v)
  }
}

/** All matchers must match; a missing label counts as "" (Alertmanager semantics: `foo=""` matches absence, `foo!=""` requires presence). */
export function matchLabels (matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of matchers) {
    const v = Object.hasOwn(labels, m.name) ? labels[m.name] : undefined
    if (!matchOne(m, typeof v === 'string' ? v : '')) return false
  }
  return true
}

type AlertLike = Pick<AlertEvent, 'labels' | 'source' | 'severity' | 'title' | 'status'>

/** The label set an alert is matched on: its labels plus `source`, `severity`, `title`, `status` (these four override labels of the same name). */
export function alertLabelSet (e: AlertLike): Record<string, string> {
  return { ...e.labels, source: e.source, severity: e.severity, title: e.title, status: e.status }
}

export function matchesAlert (matchers: readonly Matcher[], e: AlertLike): boolean {
  return matchLabels(matchers, alertLabelSet(e))
}

// ---------------------------------------------------------------------------------------------------
// Time intervals

export interface TimeRangeSpec { start: string, end: string }
export interface TimeIntervalSpec {
  times?: TimeRangeSpec[]
  weekdays?: string[]
  daysOfMonth?: string[]
  months?: string[]
  years?: string[]
  location?: string
}

/** A validated interval; `contains` evaluates every given field in the interval's location. */
export interface CompiledTimeInterval {
  /** The zone the interval is evaluated in ("UTC", an IANA name, or "Local"). */
  readonly location: string
  contains (at: Date): boolean
}

type Range = readonly [number, number]

interface LocalTime { year: number, month: number, day: number, weekday: number, minute: number, daysInMonth: number }

const WEEKDAYS: Readonly<Record<string, number>> = {
  sunday: 0, monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6
}
const MONTHS: Readonly<Record<string, number>> = {
  january: 1, february: 2, march: 3, april: 4, may: 5, june: 6, july: 7, august: 8, september: 9, october: 10, november: 11, december: 12
}
const TIME_OF_DAY = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/
const INTERVAL_KEYS = new Set(['times', 'weekdays', 'daysOfMonth', 'months', 'years', 'location'])
const SNAKE_HINTS: Readonly<Record<string, string>> = {
  days_of_month: 'daysOfMonth', time_zone: 'location', start_time: 'start', end_time: 'end', startTime: 'start', endTime: 'end'
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/** A cached formatter for the zone ("Local" = the machine's zone); throws RangeError for an unknown zone. */
function formatterFor (zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone === 'Local' ? undefined : zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric'
    })
    formatters.set(zone, f)
  }
  return f
}

function daysIn (year: number, month: number): number {
  const d = new Date(0)
  d.setUTCFullYear(year, month, 0)
  return d.getUTCDate()
}

function weekdayOf (year: number, month: number, day: number): number {
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  return d.getUTCDay()
}

/** Wall-clock fields of `at` in `zone`. */
function localTime (zone: string, at: Date): LocalTime {
  let year: number, month: number, day: number, hour: number, minute: number
  if (zone === 'UTC') {
    year = at.getUTCFullYear(); month = at.getUTCMonth() + 1; day = at.getUTCDate()
    hour = at.getUTCHours(); minute = at.getUTCMinutes()
  } else {
    year = month = day = hour = minute = 0
    for (const p of formatterFor(zone).formatToParts(at)) {
      switch (p.type) {
        case 'year': year = Number(p.value); break
        case 'month': month = Number(p.value); break
        case 'day': day = Number(p.value); break
        case 'hour': hour = Number(p.value) % 24; break
        case 'minute': minute = Number(p.value); break
      }
    }
  }
  return { year, month, day, weekday: weekdayOf(year, month, day), minute: hour * 60 + minute, daysInMonth: daysIn(year, month) }
}

const inRanges = (ranges: readonly Range[], v: number): boolean => ranges.some(([a, b]) => v >= a && v <= b)

class CompiledInterval implements CompiledTimeInterval {
  constructor (
    readonly location: string,
    private readonly times: readonly Range[] | undefined, // [startMinute, endMinute)
    private readonly weekdays: readonly Range[] | undefined,
    private readonly daysOfMonth: readonly Range[] | undefined,
    private readonly months: readonly Range[] | undefined,
    private readonly years: readonly Range[] | undefined
  ) {}

  contains (at: Date): boolean {
    if (Number.isNaN(at.getTime())) return false
    return this.matches(localTime(this.location, at))
  }

  matches (t: LocalTime): boolean {
    if (this.times !== undefined && !this.times.some(([a, b]) => t.minute >= a && t.minute < b)) return false
    if (this.weekdays !== undefined && !inRanges(this.weekdays, t.weekday)) return false
    if (this.months !== undefined && !inRanges(this.months, t.month)) return false
    if (this.years !== undefined && !inRanges(this.years, t.year)) return false
    if (this.daysOfMonth !== undefined) {
      const n = t.daysInMonth
      const ok = this.daysOfMonth.some(([a, b]) => {
        const begin = a < 0 ? n + a + 1 : a
        const end = b < 0 ? n + b + 1 : b
        // Clamped to the month: "28:31" in February is the 28th, "30:31" never matches.
        return t.day >= Math.max(begin, 1) && t.day <= Math.min(end, n)
      })
      if (!ok) return false
    }
    return true
  }
}

/** True when `at` falls in any of the intervals (each interval: all its given fields must match; an empty interval matches always). */
export function inTimeIntervals (intervals: readonly CompiledTimeInterval[], at: Date): boolean {
  if (intervals.length === 0 || Number.isNaN(at.getTime())) return false
  const byZone = new Map<string, LocalTime>()
  for (const i of intervals) {
    if (!(i instanceof CompiledInterval)) {
      if (i.contains(at)) return true
      continue
    }
    let t = byZone.get(i.location)
    if (t === undefined) { t = localTime(i.location, at); byZone.set(i.location, t) }
    if (i.matches(t)) return true
  }
  return false
}

/** Validates and compiles `{ name: [interval, …] }`; throws ConfigError whose issues name the path. */
export function compileTimeIntervals (
  defs: Readonly<Record<string, readonly TimeIntervalSpec[]>>,
  pathPrefix = 'timeIntervals'
): Map<string, CompiledTimeInterval[]> {
  const issues: string[] = []
  const out = new Map<string, CompiledTimeInterval[]>()
  if (defs === null || typeof defs !== 'object' || Array.isArray(defs)) {
    throw new ConfigError([`${pathPrefix}: got ${describe(defs)}; expected an object of named interval lists, like { "business-hours": [{ "weekdays": ["monday:friday"] }] }`])
  }
  for (const [name, list] of Object.entries(defs as Record<string, unknown>)) {
    const path = `${pathPrefix}.${name}`
    if (!Array.isArray(list)) {
      issues.push(`${path}: got ${describe(list)}; expected a list of intervals`)
      continue
    }
    const compiled: CompiledTimeInterval[] = []
    list.forEach((spec: unknown, i: number) => {
      const c = compileInterval(spec, `${path}[${i}]`, issues)
      if (c !== undefined) compiled.push(c)
    })
    out.set(name, compiled)
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return out
}

function compileInterval (spec: unknown, path: string, issues: string[]): CompiledTimeInterval | undefined {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    issues.push(`${path}: got ${describe(spec)}; expected an object with any of times, weekdays, daysOfMonth, months, years, location`)
    return undefined
  }
  const o = spec as Record<string, unknown>
  const before = issues.length
  for (const k of Object.keys(o)) {
    if (INTERVAL_KEYS.has(k)) continue
    const hint = SNAKE_HINTS[k]
    issues.push(`${path}.${k}: unknown field${hint !== undefined && INTERVAL_KEYS.has(hint) ? `; did you mean "${hint}"?` : '; expected one of times, weekdays, daysOfMonth, months, years, location'}`)
  }

  let location = 'UTC'
  if (o.location !== undefined) {
    const loc = o.location
    const bad = `${path}.location: got ${describe(loc)}; expected an IANA time zone like "Europe/Berlin", "UTC" or "Local"`
    if (typeof loc !== 'string' || loc.trim() === '') issues.push(bad)
    else {
      try {
        formatterFor(loc)
        location = loc
      } catch {
        issues.push(bad)
      }
    }
  }

  const times = list(o, 'times', path, issues, (v, p) => timeRange(v, p, issues))
  const weekdays = list(o, 'weekdays', path, issues, (v, p) => namedRange(v, p, issues, {
    names: WEEKDAYS,
    numeric: false,
    expected: 'a weekday or range like "monday:friday"',
    order: 'the week runs from sunday to saturday; use two entries like "saturday" and "sunday"'
  }))
  const daysOfMonth = list(o, 'daysOfMonth', path, issues, (v, p) => dayRange(v, p, issues))
  const months = list(o, 'months', path, issues, (v, p) => namedRange(v, p, issues, {
    names: MONTHS,
    numeric: true,
    min: 1,
    max: 12,
    expected: 'a month (name or 1-12) or range like "january:march" or "1:3"',
    order: 'the start month must not be after the end month'
  }))
  const years = list(o, 'years', path, issues, (v, p) => namedRange(v, p, issues, {
    names: {},
    numeric: true,
    min: 1,
    max: 9999,
    expected: 'a year or range like "2026" or "2026:2028"',
    order: 'the start year must not be after the end year'
  }))
  if (issues.length > before) return undefined
  return new CompiledInterval(location, times, weekdays, daysOfMonth, months, years)
}

/** An optional list field; `undefined` (matches anything) when absent or empty. */
function list (
  o: Record<string, unknown>, key: string, path: string, issues: string[],
  item: (v: unknown, path: string) => Range | undefined
): Range[] | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (!Array.isArray(v)) {
    issues.push(`${path}.${key}: got ${describe(v)}; expected a list`)
    return undefined
  }
  const out: Range[] = []
  v.forEach((x: unknown, i: number) => {
    const r = item(x, `${path}.${key}[${i}]`)
    if (r !== undefined) out.push(r)
  })
  return out.length > 0 ? out : undefined
}

function minuteOf (v: unknown, allow24: boolean): number | undefined {
  if (typeof v !== 'string') return undefined
  const m = TIME_OF_DAY.exec(v.trim())
  if (m === null) return undefined
  if (m[3] !== undefined) return allow24 ? 1440 : undefined
  return Number(m[1]) * 60 + Number(m[2])
}

function timeRange (v: unknown, path: string, issues: string[]): Range | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    issues.push(`${path}: got ${describe(v)}; expected { "start": "HH:MM", "end": "HH:MM" }`)
    return undefined
  }
  const o = v as Record<string, unknown>
  let ok = true
  const hinted = new Set<string>()
  for (const k of Object.keys(o)) {
    if (k === 'start' || k === 'end') continue
    const hint = SNAKE_HINTS[k]
    if (hint !== undefined) hinted.add(hint)
    issues.push(`${path}.${k}: unknown field${hint !== undefined ? `; did you mean "${hint}"?` : '; expected "start" and "end"'}`)
    ok = false
  }
  const start = minuteOf(o.start, false)
  const end = minuteOf(o.end, true)
  if (start === undefined) {
    if (o.start !== undefined || !hinted.has('start')) issues.push(o.start === undefined
      ? `${path}.start: required, expected "HH:MM" (24-hour, e.g. "09:00")`
      : `${path}.start: got ${describe(o.start)}; expected "HH:MM" (24-hour, 00:00 to 23:59, e.g. "09:00")`)
    ok = false
  }
  if (end === undefined) {
    if (o.end !== undefined || !hinted.has('end')) issues.push(o.end === undefined
      ? `${path}.end: required, expected "HH:MM" (24-hour, e.g. "17:00", or "24:00")`
      : `${path}.end: got ${describe(o.end)}; expected "HH:MM" (24-hour, 00:00 to 24:00, e.g. "17:00")`)
    ok = false
  }
  if (!ok || start === undefined || end === undefined) return undefined
  if (start >= end) {
    issues.push(`${path}: start ${describe(o.start)} must be before end ${describe(o.end)}; split a range across midnight into two, e.g. "22:00"-"24:00" and "00:00"-"06:00"`)
    return undefined
  }
  return [start, end]
}

interface RangeRules {
  names: Readonly<Record<string, number>>
  numeric: boolean
  min?: number
  max?: number
  expected: string
  order: string
}

function namedRange (v: unknown, path: string, issues: string[], r: RangeRules): Range | undefined {
  const s = typeof v === 'number' && r.numeric && Number.isInteger(v) ? String(v) : v
  const bad = (): undefined => { issues.push(`${path}: got ${describe(v)}; expected ${r.expected}`); return undefined }
  if (typeof s !== 'string') return bad()
  const parts = s.trim().toLowerCase().split(':')
  if (parts.length > 2) return bad()
  const nums: number[] = []
  for (const p of parts) {
    const t = p.trim()
    let n: number | undefined = Object.hasOwn(r.names, t) ? r.names[t] : undefined
    if (n === undefined && r.numeric && /^\d+$/.test(t)) n = Number(t)
    if (n === undefined || (r.min !== undefined && n < r.min) || (r.max !== undefined && n > r.max)) return bad()
    nums.push(n)
  }
  const a = nums[0] as number
  const b = nums[1] ?? a
  if (a > b) {
    issues.push(`${path}: got ${describe(v)}; ${r.order}`)
    return undefined
  }
  return [a, b]
}

function dayRange (v: unknown, path: string, issues: string[]): Range | undefined {
  const s = typeof v === 'number' && Number.isInteger(v) ? String(v) : v
  const expected = 'a day of the month (1 to 31, or -1 to -31 counting from the end) or range like "1:5" or "-3:-1"'
  const bad = (why = `expected ${expected}`): undefined => { issues.push(`${path}: got ${describe(v)}; ${why}`); return undefined }
  if (typeof s !== 'string') return bad()
  const m = /^\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?$/.exec(s)
  if (m === null) return bad()
  const a = Number(m[1])
  const b = m[2] === undefined ? a : Number(m[2])
  if (a === 0 || b === 0 || Math.abs(a) > 31 || Math.abs(b) > 31) return bad()
  if (a < 0 && b > 0) return bad('the end day must be negative when the start day is negative')
  // Reject ranges that are empty in every month (a 28-day month is the shortest), as Alertmanager does.
  if ((a < 0 ? 28 + a : a) > (b < 0 ? 28 + b : b)) return bad(`end day ${b} is always before start day ${a}`)
  return [a, b]
}
