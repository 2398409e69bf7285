import { RE2JS } from 're2js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { ConfigError, PinoAlertsError } from '../src/errors.js'
import { AlertEvent } from '../src/event.js'
import {
  MAX_PATTERN_LENGTH, MatcherError, alertLabelSet, compileTimeIntervals, inTimeIntervals, matchLabels, matchesAlert, parseMatcher, parseMatchers
} from '../src/matchers.js'
import { resolveOptions } from '../src/options.js'
import { Silences, type SilenceStore } from '../src/pipeline/silence.js'
import { Reporter } from '../src/report.js'
import type { StoredSilence } from '../src/store/sqlite.js'
import type { MatchOp, TimeIntervalSpec } from '../src/matchers.js'
import { thrownBy } from './helpers/errors.js'

const matcherError = (fn: () => unknown): MatcherError => thrownBy(MatcherError, fn)

const configError = (fn: () => unknown): ConfigError => thrownBy(ConfigError, fn)

// ---------------------------------------------------------------------------------------------------
// Matcher syntax, case by case from Alertmanager's documented syntax (docs/configuration.md, "Label matchers")

const ACCEPTED: ReadonlyArray<readonly [string, string, MatchOp, string]> = [
  ['foo="bar"', 'foo', '=', 'bar'],
  ['foo!="bar"', 'foo', '!=', 'bar'],
  ['foo=~"b.*"', 'foo', '=~', 'b.*'],
  ['foo!~"^x"', 'foo', '!~', '^x'],
  ['foo=bar', 'foo', '=', 'bar'],
  ['foo = "bar"', 'foo', '=', 'bar'],
  ['  foo  !=  bar  ', 'foo', '!=', 'bar'],
  ['foo\t=~\n"bar"', 'foo', '=~', 'bar'],
  ['foo=""', 'foo', '=', ''],
  ['foo=~""', 'foo', '=~', ''],
  ['foo!=""', 'foo', '!=', ''],
  ['"foo.bar"="x"', 'foo.bar', '=', 'x'],
  ['"foo bar"!~"x"', 'foo bar', '!~', 'x'],
  ['"quo\\"te"="x"', 'quo"te', '=', 'x'],
  ['foo="a\\"b"', 'foo', '=', 'a"b'],
  ['foo="a\\\\b"', 'foo', '=', 'a\\b'],
  ['foo="a\\nb"', 'foo', '=', 'a\nb'],
  ['foo="\\d+"', 'foo', '=', '\\d+'], // a lone backslash is literal (classic rule)
  ['foo=~"\\\\d+"', 'foo', '=~', '\\d+'],
  ['foo="a,b"', 'foo', '=', 'a,b'],
  ['foo="bar baz"', 'foo', '=', 'bar baz'],
  ['foo="{}!=~,\'`"', 'foo', '=', '{}!=~,\'`'],
  ['foo=~[a-zA-Z]+', 'foo', '=~', '[a-zA-Z]+'],
  ['foo=Προμηθεύς', 'foo', '=', 'Προμηθεύς'],
  ['foo="🙂"', 'foo', '=', '🙂'],
  ['foo=bar-baz.qux:1/2', 'foo', '=', 'bar-baz.qux:1/2'],
  ['_foo_1="x"', '_foo_1', '=', 'x'],
  ['alertname = Watchdog', 'alertname', '=', 'Watchdog'],
  ['severity =~ "warning|critical"', 'severity', '=~', 'warning|critical'],
  ['dings != bums', 'dings', '!=', 'bums'],
  ['quote=~"She said: \\"Hi, all!( How\'re you…)?\\""', 'quote', '=~', 'She said: "Hi, all!( How\'re you…)?"'],
  ['foo=~"(?i)bar"', 'foo', '=~', '(?i)bar']
]

const REJECTED: ReadonlyArray<readonly [string, number, RegExp]> = [
  ['', 0, /expected a label name, got end of input/],
  ['   ', 3, /expected a label name/],
  ['foo', 3, /expected an operator/],
  ['="bar"', 0, /expected a label name, got '='/],
  ['foo=="bar"', 4, /expected a label value/],
  ['foo="bar', 8, /unterminated quoted value \(opened at position 4\)/],
  ['foo="bar\\"', 10, /unterminated quoted value/],
  ['foo=~"(unclosed"', 5, /invalid regular expression/],
  ['foo=~"[a-z"', 5, /invalid regular expression/],
  ['foo!~(', 5, /invalid regular expression/],
  ['1foo="x"', 0, /expected a label name, got '1'/],
  ['foo="bar" extra', 10, /unexpected 'e' after the matcher/],
  ['foo=', 4, /expected a label value .*end of input/],
  ['foo bar="x"', 4, /expected an operator .*got 'b'/],
  ['foo=bar baz', 8, /unexpected 'b'/],
  ['foo!"bar"', 3, /expected an operator/],
  ['foo~="bar"', 3, /expected an operator/],
  ['""="x"', 0, /empty label name/],
  ['foo.bar="x"', 3, /expected an operator .*got '\.'/],
  ['foo="bar",', 9, /unexpected ','/],
  ['foo=bar!', 7, /unexpected '!'/],
  ["foo='bar'", 4, /expected a label value/],
  ['foo="a"b"', 7, /unexpected 'b'/],
  ['{foo="bar"}', 0, /expected a label name, got '\{'/],
  ['"foo="x"', 6, /expected an operator/]
]

describe('parseMatcher: Alertmanager syntax parity', () => {
  it('has at least 30 cases in the parity table', () => {
    expect(ACCEPTED.length + REJECTED.length).toBeGreaterThanOrEqual(30)
  })

  it.each(ACCEPTED)('accepts %j', (input, name, op, value) => {
    const m = parseMatcher(input)
    expect({ name: m.name, op: m.op, value: m.value }).toEqual({ name, op, value })
    if (op === '=~' || op === '!~') expect(m.re?.source).toBe(`^(?:${value})$`)
    else expect(m.re).toBeUndefined()
    // The canonical text parses back to the same matcher.
    const again = parseMatcher(m.text)
    expect({ name: again.name, op: again.op, value: again.value, text: again.text }).toEqual({ name, op, value, text: m.text })
  })

  it.each(REJECTED)('rejects %j at position %i', (input, position, reason) => {
    const err = matcherError(() => parseMatcher(input))
    expect(err.position).toBe(position)
    expect(err.matcher).toBe(input)
    expect(err.message).toMatch(reason)
    expect(err.message).toContain(`bad matcher '${input}' at position ${position}: `)
  })

  it('MatcherError is a PinoAlertsError with a stable code and a readable message', () => {
    const err = matcherError(() => parseMatcher('source="risk'))
    expect(err).toBeInstanceOf(PinoAlertsError)
    expect(err.code).toBe('PINO_ALERTS_BAD_MATCHER')
    expect(err.name).toBe('MatcherError')
    expect(err.message).toBe("bad matcher 'source=\"risk' at position 12: unterminated quoted value (opened at position 7)")
  })

  it('rejects non-strings with a MatcherError', () => {
    expect(matcherError(() => parseMatcher(42 as unknown as string)).position).toBe(0)
  })

  it('writes canonical text: quoted values, bare names when valid, escapes', () => {
    expect(parseMatcher('severity =~ warn|critical').text).toBe('severity=~"warn|critical"')
    expect(parseMatcher('foo=bar').text).toBe('foo="bar"')
    expect(parseMatcher('"foo.bar" != x').text).toBe('"foo.bar"!="x"')
    expect(parseMatcher('foo="a\\"b\\\\c\\nd"').text).toBe('foo="a\\"b\\\\c\\nd"')
  })
})

describe('regex matchers', () => {
  const m = (s: string, v: string): boolean => matchLabels([parseMatcher(s)], { foo: v })

  it('are fully anchored', () => {
    expect(m('foo=~"b"', 'b')).toBe(true)
    expect(m('foo=~"b"', 'abc')).toBe(false)
    expect(m('foo=~"b.*"', 'bar')).toBe(true)
    expect(m('foo=~"b.*"', 'abar')).toBe(false)
    expect(m('foo!~"b"', 'abc')).toBe(true)
    expect(m('foo!~"b"', 'b')).toBe(false)
    expect(m('foo=~".*b.*"', 'abc')).toBe(true)
  })

  it('anchor the whole alternation, not just its ends', () => {
    expect(m('foo=~"a|b"', 'a')).toBe(true)
    expect(m('foo=~"a|b"', 'b')).toBe(true)
    expect(m('foo=~"a|b"', 'ab')).toBe(false)
    expect(m('foo=~"a|b"', 'xa')).toBe(false)
    expect(m('foo=~"a|b"', 'bx')).toBe(false)
  })

  it('compile once and keep the anchored source', () => {
    const p = parseMatcher('severity=~"warn|critical"')
    expect(p.re?.source).toBe('^(?:warn|critical)$')
    expect(p.re?.test('warn')).toBe(true)
    expect(p.re?.test('warning')).toBe(false)
  })

  it('honour a leading RE2 (?i) flag and unicode', () => {
    expect(m('foo=~"(?i)bar"', 'BaR')).toBe(true)
    expect(m('foo=~"bar"', 'BaR')).toBe(false)
    expect(m('foo=~"."', '🙂')).toBe(true)
    expect(m('foo=~"\\\\d+"', '123')).toBe(true)
    expect(m('foo=~"\\\\d+"', '12a')).toBe(false)
  })

  it('empty regex matches only the empty (or missing) value', () => {
    expect(m('foo=~""', '')).toBe(true)
    expect(m('foo=~""', 'x')).toBe(false)
    expect(matchLabels([parseMatcher('foo=~""')], {})).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------------
// The regex engine: RE2 (Go's regexp), as Alertmanager, compiled as ^(?:pattern)$; linear time

/** [pattern, value, does `foo=~"pattern"` match] as Go's regexp answers for `^(?:pattern)$`. */
const RE2_CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  // RE2-only syntax (each a syntax error for JavaScript's RegExp with the u flag)
  ['(?P<word>a+)b', 'aab', true],
  ['(?<word>a+)b', 'aab', true], // Go 1.22 and later
  ['a\\z', 'a', true],
  ['[[:alpha:]]+', 'abC', true],
  ['[[:alpha:]]+', 'ab1', false],
  ['[[:^digit:]]+', 'ab', true],
  ['\\pL+', 'Προμηθεύς', true],
  ['\\p{Greek}+', 'Προμηθεύς', true],
  ['\\p{Greek}+', 'Prometheus', false],
  ['\\PL', '1', true],
  ['\\Q.*\\E', '.*', true],
  ['\\Q.*\\E', 'ab', false],
  ['\\x{1F642}', '🙂', true],
  ['x(?i)y', 'xY', true],
  ['x(?i)y', 'XY', false],
  ['(?i:a)b', 'Ab', true],
  ['(?i:a)b', 'AB', false],
  ['(?U)a+', 'aaa', true],
  ['a{,3}', 'a{,3}', true], // not a repeat in Go: a literal
  ['a{,3}', 'aa', false],
  // Same syntax, RE2 meaning: \s, \w, \d and \b are ASCII
  ['\\s', '\u00a0', false],
  ['\\s', '\v', false],
  ['\\s', '\f', true],
  ['\\w+', 'é', false],
  ['\\d', '٣', false],
  ['\\101\\x41', 'AA', true], // octal and hex escapes
  ['(?i)k', '\u212a', true], // the Kelvin sign folds to k
  ['.', '🙂', true], // one code point
  ['..', '🙂', false],
  ['.', '\n', false],
  ['(?s).', '\n', true],
  // Fully anchored
  ['foo', 'xfoo', false],
  ['foo', 'foox', false],
  ['foo', 'foo', true],
  ['a|b', 'ab', false],
  ['(?m)a$', 'a\n', false],
  ['^a$', 'a', true], // explicit anchors are harmless
  ['.*foo.*', 'xfoox', true]
]

/** [matcher, what the error says]; each is rejected at the value's position (5) when parsed. */
const RE2_REJECTED: ReadonlyArray<readonly [string, RegExp]> = [
  ['foo=~"(?<=a)b"', /lookbehind `\(\?<=` is not supported/],
  ['foo=~"(?<!a)b"', /lookbehind `\(\?<!` is not supported/],
  ['foo=~"a(?=b)"', /lookahead `\(\?=` is not supported/],
  ['foo!~"a(?!b)"', /lookahead `\(\?!` is not supported/],
  ['foo=~"(a)\\\\1"', /backreferences .*`\\1`.* are not supported/],
  ['foo=~"(?P<n>a)\\\\k<n>"', /invalid escape sequence: `\\k`/],
  ['foo=~"a{1001}"', /invalid repeat count/],
  ['foo=~"\\\\C"', /invalid escape sequence: `\\C`/],
  ['foo=~"\\\\Z"', /invalid escape sequence: `\\Z`/],
  ['foo=~"\\\\u0041"', /invalid escape sequence: `\\u`/], // JavaScript's \\u escape; RE2 writes \\x{41}
  ['foo=~"(?#note)a"', /unsupported Perl syntax/],
  ['foo!~"a++"', /invalid nested repetition operator/],
  // Alertmanager pastes the pattern into ^(?:…)$, where this would end the group and escape the anchors.
  ['foo=~"a)|(b"', /unexpected \)/]
]

describe('regex matchers: RE2 syntax and semantics (Go regexp, as Alertmanager)', () => {
  const m = (pattern: string, v: string): boolean => matchLabels([parseMatcher(`foo=~${JSON.stringify(pattern)}`)], { foo: v })

  it.each(RE2_CASES)('foo=~%j over %j → %s', (pattern, value, want) => {
    expect(m(pattern, value)).toBe(want)
    expect(matchLabels([parseMatcher(`foo!~${JSON.stringify(pattern)}`)], { foo: value })).toBe(!want)
  })

  it.each(RE2_REJECTED)('rejects %j naming the matcher and what RE2 does not support', (input, reason) => {
    const err = matcherError(() => parseMatcher(input))
    expect(err.matcher).toBe(input)
    expect(err.position).toBe(5)
    expect(err.message).toContain(`bad matcher '${input}' at position 5: invalid regular expression: `)
    expect(err.message).toMatch(reason)
  })

  it('=~"foo" does not match "xfoo" (anchored), nor does a list entry escape its anchors', () => {
    expect(matchLabels(parseMatchers(['foo=~"foo"']), { foo: 'xfoo' })).toBe(false)
    expect(matchLabels(parseMatchers('foo=~"foo|bar"'), { foo: 'foobar' })).toBe(false)
    expect(matchLabels(parseMatchers('foo!~"foo"'), { foo: 'xfoo' })).toBe(true)
  })

  it(`caps a pattern at ${1024} characters (a MatcherError beyond)`, () => {
    expect(MAX_PATTERN_LENGTH).toBe(1024)
    const ok = 'a'.repeat(MAX_PATTERN_LENGTH)
    expect(m(ok, ok)).toBe(true)
    const long = `foo=~"${'a'.repeat(MAX_PATTERN_LENGTH + 1)}"`
    const err = matcherError(() => parseMatcher(long))
    expect(err.position).toBe(5)
    expect(err.message).toMatch(/invalid regular expression: longer than 1024 characters \(1025\)/)
    // Counted repeats expand: at most 10 000 RE2 instructions (the work per character of the value).
    expect(m('\\pL{1000}'.repeat(9), 'a'.repeat(9000))).toBe(true)
    const large = `foo=~"${'\\pL{1000}'.repeat(11)}"`
    expect(matcherError(() => parseMatcher(large)).message).toMatch(/invalid regular expression: too large once its repeats are expanded \(11002 RE2 instructions, at most 10000\)/)
    // Equality matchers are not patterns: no cap.
    expect(parseMatcher(`foo="${'a'.repeat(5000)}"`).value).toHaveLength(5000)
  })

  it('a pattern RE2 rejects in the options is a ConfigError naming the option path', () => {
    const endsAt = '2099-01-01T00:00:00Z'
    const err = configError(() => resolveOptions({
      silences: [{ match: 'title=~"(?<=x)y"', endsAt }],
      routes: [{ match: ['severity="critical"', 'source=~"(a)\\\\1"'], channels: ['console'] }]
    }, {}))
    expect(err.issues).toEqual(expect.arrayContaining([
      "routes[0].match: bad matcher 'source=~\"(a)\\\\1\"' at position 8: invalid regular expression: backreferences like `\\1` are not supported (RE2 syntax, as in Alertmanager)",
      "silences[0].match: bad matcher 'title=~\"(?<=x)y\"' at position 7: invalid regular expression: lookbehind `(?<=` is not supported (RE2 syntax, as in Alertmanager)"
    ]))
    expect(err.issues).toHaveLength(2)
  })
})

describe('regex matchers: linear time, compiled once', () => {
  /** The shortest of three runs of `fn`, in ms (a backtracking engine is slow every time; noise is not). */
  async function fastest (fn: () => unknown): Promise<number> {
    let best = Infinity
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      await fn()
      best = Math.min(best, performance.now() - t)
    }
    return best
  }

  let close: (() => Promise<void>) | undefined
  afterEach(async () => { await close?.(); close = undefined })

  it('a silence title=~"(.|.)*#" and a 40-character title: dispatched through createAlerter in under 10 ms', async () => {
    const lines: string[] = []
    const a = createAlerter({
      channels: { console: { enabled: false } },
      dedupe: false,
      silences: [{ match: 'title=~"(.|.)*#"', endsAt: new Date(Date.now() + 3_600_000).toISOString() }]
    }, { env: {}, reporter: new Reporter((t) => { lines.push(t) }) })
    close = async () => { await a.close() }
    await a.ready
    await a.dispatch({ source: 's', title: 'warm-up' })
    // Growing titles: with a backtracking engine each character doubles the time, so this fails at a
    // short title instead of freezing the test (40 characters would take hours).
    for (const n of [8, 16, 20, 24, 28, 32, 40]) {
      const title = 'a'.repeat(n)
      const ms = await fastest(async () => await a.dispatch({ source: 's', title }))
      expect(ms, `${n} characters took ${ms.toFixed(1)} ms`).toBeLessThan(10)
    }
    // Not silenced (no "#"), and a title ending in "#" is.
    const r = await a.dispatch({ source: 's', title: 'a'.repeat(40) + '#' })
    expect(r.suppressed).toBe('silence')
  })

  it('the engine matches (.|.)*# against a 1 MiB value in under 100 ms', async () => {
    const ms = [parseMatcher('foo=~"(.|.)*#"')]
    for (const n of [8, 16, 20, 24, 28]) {
      const v = 'a'.repeat(n)
      expect(await fastest(() => matchLabels(ms, { foo: v })), `${n} characters`).toBeLessThan(10)
    }
    const big = 'a'.repeat(1024 * 1024)
    let t = performance.now()
    expect(matchLabels(ms, { foo: big })).toBe(false)
    expect(performance.now() - t).toBeLessThan(100)
    t = performance.now()
    expect(matchLabels(ms, { foo: big.slice(1) + '#' })).toBe(true)
    expect(performance.now() - t).toBeLessThan(100)
  })

  it('compiles each pattern once, when parsed, not per evaluation', () => {
    const compile = vi.spyOn(RE2JS, 'compile')
    try {
      const ms = parseMatchers(['severity=~"warn|critical"', 'source!~"risk_.*"', 'env="prod"'])
      expect(compile).toHaveBeenCalledTimes(2)
      for (let i = 0; i < 100; i++) matchLabels(ms, { severity: i % 2 === 0 ? 'warn' : 'info', source: 'x' })
      expect(compile).toHaveBeenCalledTimes(2)
      // A matcher built by hand, without `re`: compiled on first use, once.
      const byHand = { name: 'foo', op: '=~' as const, value: 'a|b', text: 'foo=~"a|b"' }
      for (let i = 0; i < 100; i++) expect(matchLabels([byHand], { foo: i % 2 === 0 ? 'a' : 'ab' })).toBe(i % 2 === 0)
      expect(compile).toHaveBeenCalledTimes(3)
    } finally {
      compile.mockRestore()
    }
  })

  it('silences read again from the store keep their compiled matchers', () => {
    let now = Date.parse('2026-03-02T12:00:00Z')
    const silence = (id: string, match: string[]): StoredSilence => ({
      id, match, startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), comment: '', createdBy: 'test', createdAt: new Date(now - 1000).toISOString()
    })
    let stored = [silence('a', ['title=~"Order.*"'])]
    const store: SilenceStore = { silences: () => stored, addSilence: () => {}, expireSilence: () => false }
    const silences = new Silences([], store, () => now)
    const e = AlertEvent.from({ source: 'risk_gate', title: 'Order blocked' })
    const compile = vi.spyOn(RE2JS, 'compile')
    try {
      expect(silences.match(e)?.id).toBe('a')
      expect(compile).toHaveBeenCalledTimes(1)
      for (let i = 0; i < 5; i++) {
        now += 1000 // read again each second
        expect(silences.match(e)?.id).toBe('a')
      }
      expect(compile).toHaveBeenCalledTimes(1)
      // A changed silence (same id, other matchers) is compiled again.
      stored = [{ ...stored[0]!, match: ['title=~"Kill.*"'] }]
      now += 1000
      expect(silences.match(e)).toBeUndefined()
      expect(compile).toHaveBeenCalledTimes(2)
    } finally {
      compile.mockRestore()
    }
  })

  it('a stored silence RE2 rejects (written before) is skipped and reported once; the others stay in force', () => {
    let now = Date.parse('2026-03-02T12:00:00Z')
    const span = { startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), comment: '', createdBy: 'test', createdAt: new Date(now - 1000).toISOString() }
    const stored: StoredSilence[] = [
      { id: 'old-js', match: ['title=~"(?<=Order )blocked"'], ...span },
      { id: 'good', match: ['source="risk_gate"'], ...span }
    ]
    const errors: Error[] = []
    const silences = new Silences([], { silences: () => stored, addSilence: () => {}, expireSilence: () => false }, () => now, (err) => { errors.push(err) })
    const e = AlertEvent.from({ source: 'risk_gate', title: 'Order blocked' })
    expect(silences.match(e)?.id).toBe('good')
    now += 1000
    expect(silences.match(e)?.id).toBe('good')
    expect(errors).toHaveLength(1)
    expect(errors[0]?.message).toMatch(/^silence old-js is not applied: bad matcher 'title=~"\(\?<=Order \)blocked"' at position 7: invalid regular expression: lookbehind/)
  })
})

describe('matchLabels: missing labels count as ""', () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>, boolean]> = [
    ['foo=""', {}, true],
    ['foo=""', { foo: '' }, true],
    ['foo=""', { foo: 'x' }, false],
    ['foo!=""', {}, false],
    ['foo!=""', { foo: 'x' }, true],
    ['foo=~".*"', {}, true],
    ['foo=~".+"', {}, false],
    ['foo!="bar"', {}, true],
    ['foo!~"bar"', {}, true],
    ['foo="bar"', {}, false],
    ['constructor=""', {}, true], // no prototype lookups
    ['toString!=""', {}, false]
  ]
  it.each(cases)('%s over %j → %s', (s, labels, want) => {
    expect(matchLabels([parseMatcher(s)], labels)).toBe(want)
  })

  it('requires all matchers to match; no matchers match everything', () => {
    const ms = parseMatchers(['a="1"', 'b=~"x|y"'])
    expect(matchLabels(ms, { a: '1', b: 'y' })).toBe(true)
    expect(matchLabels(ms, { a: '1', b: 'z' })).toBe(false)
    expect(matchLabels(ms, { a: '2', b: 'y' })).toBe(false)
    expect(matchLabels([], {})).toBe(true)
  })
})

describe('matching alerts', () => {
  const e = AlertEvent.from({
    source: 'risk_gate', title: 'Order blocked', severity: 'critical',
    labels: { symbol: 'ES', source: 'label-source', env: 'prod' }
  })

  it('alertLabelSet adds source, severity, title and status, overriding labels of the same name', () => {
    expect(alertLabelSet(e)).toEqual({
      symbol: 'ES', env: 'prod', source: 'risk_gate', severity: 'critical', title: 'Order blocked', status: 'firing'
    })
    expect(e.labels.source).toBe('label-source') // the event itself is untouched
  })

  it('matches on the four fields and on labels', () => {
    expect(matchesAlert(parseMatchers(['source="risk_gate"', 'severity=~"warn|critical"']), e)).toBe(true)
    expect(matchesAlert(parseMatchers('{source="label-source"}'), e)).toBe(false)
    expect(matchesAlert(parseMatchers('title=~"Order.*", status="firing", symbol="ES"'), e)).toBe(true)
    expect(matchesAlert(parseMatchers('status="resolved"'), e)).toBe(false)
    expect(matchesAlert(parseMatchers('env!="prod"'), e)).toBe(false)
    expect(matchesAlert(parseMatchers('team=""'), e)).toBe(true)
    const resolved = AlertEvent.from({ source: 'var_gate', title: 'VaR', severity: 'warning', status: 'resolved' })
    expect(matchesAlert(parseMatchers('severity="warn", status="resolved"'), resolved)).toBe(true)
    expect(matchesAlert(parseMatchers(['severity=~"warn|critical"', 'source!~"risk_.*"']), resolved)).toBe(true)
    expect(matchesAlert(parseMatchers(['severity=~"warn|critical"', 'source!~"risk_.*"']), e)).toBe(false)
  })
})

describe('parseMatchers', () => {
  const simple = (ms: ReturnType<typeof parseMatchers>): string[][] => ms.map((m) => [m.name, m.op, m.value])

  it('accepts a list of matcher strings', () => {
    expect(simple(parseMatchers(['foo = bar', 'dings != bums']))).toEqual([['foo', '=', 'bar'], ['dings', '!=', 'bums']])
    expect(simple(parseMatchers(['foo = "bar,baz"', 'dings != bums']))).toEqual([['foo', '=', 'bar,baz'], ['dings', '!=', 'bums']])
    expect(parseMatchers([])).toEqual([])
  })

  it('accepts list entries holding several matchers, as Alertmanager does', () => {
    expect(simple(parseMatchers(['{foo="bar", dings!="bums"}', 'x=~"y"']))).toEqual([['foo', '=', 'bar'], ['dings', '!=', 'bums'], ['x', '=~', 'y']])
  })

  it.each([
    ['{alertname="Watchdog", severity=~"warning|critical"}'],
    ['{alertname="Watchdog", severity=~"warning|critical",}'],
    ['alertname="Watchdog", severity=~"warning|critical"'],
    ['alertname="Watchdog",severity=~"warning|critical",'],
    ['{\n   alertname = "Watchdog",\n   severity =~ "warning|critical",\n}'],
    ['  { alertname=Watchdog , severity=~"warning|critical" }  ']
  ])('parses the string form %j', (input) => {
    expect(simple(parseMatchers(input))).toEqual([['alertname', '=', 'Watchdog'], ['severity', '=~', 'warning|critical']])
  })

  it('an empty string or {} is an empty list', () => {
    expect(parseMatchers('')).toEqual([])
    expect(parseMatchers('{}')).toEqual([])
    expect(parseMatchers(' { } ')).toEqual([])
  })

  it.each([
    ['{alertname="Watchdog", severity=~"warning|critical"', 51, /missing '}'/],
    ['alertname="Watchdog", severity=~"warning|critical"}', 50, /unexpected '}'/],
    ['{{alertname="Watchdog", severity=~"warning|critical",}}', 1, /expected a label name, got '\{'/],
    ['{a="b",,c="d"}', 7, /expected a label name, got ','/],
    ['{,a="b"}', 1, /expected a label name, got ','/],
    ['a="b" c="d"', 6, /unexpected 'c', expected ','/],
    ['{a="b" c="d"}', 7, /expected ',' or '}'/],
    ['{a="b"}}', 7, /unexpected '}' after '}'/],
    ['a="b",,', 6, /expected a label name/],
    ['{a="b"', 6, /missing '}'/]
  ])('rejects the string form %j at position %i', (input, position, reason) => {
    const err = matcherError(() => parseMatchers(input))
    expect(err.position).toBe(position)
    expect(err.matcher).toBe(input)
    expect(err.message).toMatch(reason)
  })

  it('reports the failing list entry and the position inside it', () => {
    const err = matcherError(() => parseMatchers(['a="b"', 'source="risk']))
    expect(err.matcher).toBe('source="risk')
    expect(err.position).toBe(12)
    const empty = matcherError(() => parseMatchers(['a="b"', '']))
    expect(empty.matcher).toBe('')
    expect(empty.position).toBe(0)
    expect(matcherError(() => parseMatchers(['a="b"', 7 as unknown as string])).message).toMatch(/expected a string/)
  })
})

// ---------------------------------------------------------------------------------------------------
// Time intervals

type Case = readonly [string, TimeIntervalSpec, string, boolean]

const at = (iso: string): Date => new Date(iso)
const check = (spec: TimeIntervalSpec, iso: string): boolean => {
  const compiled = compileTimeIntervals({ t: [spec] }).get('t')
  if (compiled === undefined) throw new Error('not compiled')
  return inTimeIntervals(compiled, at(iso))
}

const business: TimeIntervalSpec = { weekdays: ['monday:friday'], times: [{ start: '09:00', end: '17:00' }], location: 'Europe/Berlin' }
const berlin9to5: TimeIntervalSpec = { times: [{ start: '09:00', end: '17:00' }], location: 'Europe/Berlin' }

const TIME_CASES: readonly Case[] = [
  // weekdays (2026-03-02 is a Monday, 2026-02-28 a Saturday, 2026-03-01 a Sunday)
  ['monday:friday on a Monday', { weekdays: ['monday:friday'] }, '2026-03-02T12:00:00Z', true],
  ['monday:friday on a Saturday', { weekdays: ['monday:friday'] }, '2026-02-28T12:00:00Z', false],
  ['saturday, sunday on a Sunday', { weekdays: ['saturday', 'sunday'] }, '2026-03-01T12:00:00Z', true],
  ['names are case-insensitive', { weekdays: ['Monday'] }, '2026-03-02T00:00:00Z', true],
  ['sunday:sunday', { weekdays: ['sunday:sunday'] }, '2026-03-02T00:00:00Z', false],
  // times, [start, end)
  ['09:00-17:00 at 09:00', { times: [{ start: '09:00', end: '17:00' }] }, '2026-03-02T09:00:00Z', true],
  ['09:00-17:00 at 08:59', { times: [{ start: '09:00', end: '17:00' }] }, '2026-03-02T08:59:59Z', false],
  ['09:00-17:00 at 16:59', { times: [{ start: '09:00', end: '17:00' }] }, '2026-03-02T16:59:59Z', true],
  ['09:00-17:00 at 17:00', { times: [{ start: '09:00', end: '17:00' }] }, '2026-03-02T17:00:00Z', false],
  ['17:00-24:00 at 23:59', { times: [{ start: '17:00', end: '24:00' }] }, '2026-03-02T23:59:59Z', true],
  ['17:00-24:00 at 00:00', { times: [{ start: '17:00', end: '24:00' }] }, '2026-03-03T00:00:00Z', false],
  ['two ranges, in the second', { times: [{ start: '00:00', end: '06:00' }, { start: '22:00', end: '24:00' }] }, '2026-03-02T23:00:00Z', true],
  ['two ranges, in neither', { times: [{ start: '00:00', end: '06:00' }, { start: '22:00', end: '24:00' }] }, '2026-03-02T12:00:00Z', false],
  // daysOfMonth, negative from the end, clamped to the month
  ['1:5 on the 5th', { daysOfMonth: ['1:5'] }, '2026-03-05T23:59:00Z', true],
  ['1:5 on the 6th', { daysOfMonth: ['1:5'] }, '2026-03-06T00:00:00Z', false],
  ['-1 on 2026-02-28', { daysOfMonth: ['-1'] }, '2026-02-28T10:00:00Z', true],
  ['-1 on 2026-02-27', { daysOfMonth: ['-1'] }, '2026-02-27T10:00:00Z', false],
  ['-1 on leap 2024-02-29', { daysOfMonth: ['-1'] }, '2024-02-29T10:00:00Z', true],
  ['-1 on leap 2024-02-28', { daysOfMonth: ['-1'] }, '2024-02-28T10:00:00Z', false],
  ['-3:-1 on Jan 29', { daysOfMonth: ['-3:-1'] }, '2026-01-29T00:00:00Z', true],
  ['-3:-1 on Jan 28', { daysOfMonth: ['-3:-1'] }, '2026-01-28T23:59:00Z', false],
  ['1:-1 any day', { daysOfMonth: ['1:-1'] }, '2026-02-17T00:00:00Z', true],
  ['28:31 clamped in February', { daysOfMonth: ['28:31'] }, '2026-02-28T00:00:00Z', true],
  ['30:31 never in February', { daysOfMonth: ['30:31'] }, '2026-02-28T00:00:00Z', false],
  ['-31:-30 in February resolves before the 1st: never', { daysOfMonth: ['-31:-30'] }, '2026-02-01T00:00:00Z', false],
  ['-31:-30 in January is the 1st and 2nd', { daysOfMonth: ['-31:-30'] }, '2026-01-02T00:00:00Z', true],
  ['-31:-1 in February is the whole month (clamped)', { daysOfMonth: ['-31:-1'] }, '2026-02-01T00:00:00Z', true],
  // months, names or numbers
  ['january:march in March', { months: ['january:march'] }, '2026-03-31T23:59:00Z', true],
  ['january:march in April', { months: ['january:march'] }, '2026-04-01T00:00:00Z', false],
  ['1:3 in February', { months: ['1:3'] }, '2026-02-10T00:00:00Z', true],
  ['December, may', { months: ['December', 'may'] }, '2026-05-10T00:00:00Z', true],
  ['12 in November', { months: ['12'] }, '2026-11-30T00:00:00Z', false],
  // years
  ['2026', { years: ['2026'] }, '2026-06-01T00:00:00Z', true],
  ['2027:2028 in 2026', { years: ['2027:2028'] }, '2026-12-31T23:59:59Z', false],
  ['2027:2028 in 2028', { years: ['2027:2028'] }, '2028-12-31T23:59:59Z', true],
  // location: every field in local wall-clock time
  ['New York 09:00-17:00 at 14:00Z (09:00 EST)', { times: [{ start: '09:00', end: '17:00' }], location: 'America/New_York' }, '2026-01-15T14:00:00Z', true],
  ['New York 09:00-17:00 at 13:59Z (08:59 EST)', { times: [{ start: '09:00', end: '17:00' }], location: 'America/New_York' }, '2026-01-15T13:59:00Z', false],
  ['saturday in Auckland on Friday 12:00Z (Sat 01:00 NZDT)', { weekdays: ['saturday'], location: 'Pacific/Auckland' }, '2026-01-16T12:00:00Z', true],
  ['saturday in UTC on Friday 12:00Z', { weekdays: ['saturday'] }, '2026-01-16T12:00:00Z', false],
  ['day 1 in Berlin on Jan 31 23:30Z (Feb 1 local)', { daysOfMonth: ['1'], location: 'Europe/Berlin' }, '2026-01-31T23:30:00Z', true],
  ['day 1 in UTC on Jan 31 23:30Z', { daysOfMonth: ['1'], location: 'UTC' }, '2026-01-31T23:30:00Z', false],
  ['february in Berlin on Jan 31 23:30Z', { months: ['february'], location: 'Europe/Berlin' }, '2026-01-31T23:30:00Z', true],
  ['2027 in Berlin on 2026-12-31 23:30Z', { years: ['2027'], location: 'Europe/Berlin' }, '2026-12-31T23:30:00Z', true],
  ['-1 in Berlin on Feb 28 23:30Z (Mar 1 local)', { daysOfMonth: ['-1'], location: 'Europe/Berlin' }, '2026-02-28T23:30:00Z', false],
  ['monday in Berlin on Sunday 22:30Z after spring-forward (Mon 00:30 CEST)', { weekdays: ['monday'], location: 'Europe/Berlin' }, '2026-03-29T22:30:00Z', true],
  ['monday in Berlin on Sunday 22:30Z in winter (Sun 23:30 CET)', { weekdays: ['monday'], location: 'Europe/Berlin' }, '2026-03-22T22:30:00Z', false],
  // Europe/Berlin, spring forward on Sunday 2026-03-29 (02:00 CET → 03:00 CEST at 01:00Z)
  ['Berlin 9-17, Friday before spring-forward 08:30Z (09:30 CET)', berlin9to5, '2026-03-27T08:30:00Z', true],
  ['Berlin 9-17, Friday before spring-forward 07:30Z (08:30 CET)', berlin9to5, '2026-03-27T07:30:00Z', false],
  ['Berlin 9-17, Friday before spring-forward 15:30Z (16:30 CET)', berlin9to5, '2026-03-27T15:30:00Z', true],
  ['Berlin 9-17, Friday before spring-forward 16:30Z (17:30 CET)', berlin9to5, '2026-03-27T16:30:00Z', false],
  ['Berlin 9-17, Monday after spring-forward 08:30Z (10:30 CEST)', berlin9to5, '2026-03-30T08:30:00Z', true],
  ['Berlin 9-17, Monday after spring-forward 16:30Z (18:30 CEST)', berlin9to5, '2026-03-30T16:30:00Z', false],
  ['Berlin 9-17, Monday after spring-forward 06:30Z (08:30 CEST)', berlin9to5, '2026-03-30T06:30:00Z', false],
  ['Berlin 9-17, Monday after spring-forward 07:00Z (09:00 CEST)', berlin9to5, '2026-03-30T07:00:00Z', true],
  ['Berlin 9-17, Monday after spring-forward 14:59Z (16:59 CEST)', berlin9to5, '2026-03-30T14:59:00Z', true],
  ['Berlin 9-17, Monday after spring-forward 15:00Z (17:00 CEST)', berlin9to5, '2026-03-30T15:00:00Z', false],
  ['Berlin 01:00-02:00 on the switch, 00:30Z (01:30 CET)', { times: [{ start: '01:00', end: '02:00' }], location: 'Europe/Berlin' }, '2026-03-29T00:30:00Z', true],
  ['Berlin 02:00-03:00 on the switch, 00:59Z (01:59 CET)', { times: [{ start: '02:00', end: '03:00' }], location: 'Europe/Berlin' }, '2026-03-29T00:59:00Z', false],
  ['Berlin 02:00-03:00 on the switch, 01:00Z (03:00 CEST): the hour does not exist', { times: [{ start: '02:00', end: '03:00' }], location: 'Europe/Berlin' }, '2026-03-29T01:00:00Z', false],
  ['Berlin 03:00-04:00 on the switch, 01:00Z (03:00 CEST)', { times: [{ start: '03:00', end: '04:00' }], location: 'Europe/Berlin' }, '2026-03-29T01:00:00Z', true],
  // Europe/Berlin, fall back on Sunday 2026-10-25 (03:00 CEST → 02:00 CET at 01:00Z)
  ['Berlin 9-17, Friday before fall-back 07:30Z (09:30 CEST)', berlin9to5, '2026-10-23T07:30:00Z', true],
  ['Berlin 9-17, Friday before fall-back 15:30Z (17:30 CEST)', berlin9to5, '2026-10-23T15:30:00Z', false],
  ['Berlin 9-17, Monday after fall-back 08:30Z (09:30 CET)', berlin9to5, '2026-10-26T08:30:00Z', true],
  ['Berlin 9-17, Monday after fall-back 07:30Z (08:30 CET)', berlin9to5, '2026-10-26T07:30:00Z', false],
  ['Berlin 9-17, Monday after fall-back 15:30Z (16:30 CET)', berlin9to5, '2026-10-26T15:30:00Z', true],
  ['Berlin 9-17, Monday after fall-back 16:30Z (17:30 CET)', berlin9to5, '2026-10-26T16:30:00Z', false],
  ['Berlin 02:00-03:00 on fall-back, 00:30Z (02:30 CEST)', { times: [{ start: '02:00', end: '03:00' }], location: 'Europe/Berlin' }, '2026-10-25T00:30:00Z', true],
  ['Berlin 02:00-03:00 on fall-back, 01:30Z (02:30 CET, again)', { times: [{ start: '02:00', end: '03:00' }], location: 'Europe/Berlin' }, '2026-10-25T01:30:00Z', true],
  ['Berlin 02:00-03:00 on fall-back, 02:00Z (03:00 CET)', { times: [{ start: '02:00', end: '03:00' }], location: 'Europe/Berlin' }, '2026-10-25T02:00:00Z', false],
  ['Berlin 02:00-03:00 on fall-back, 23:59Z the day before (01:59 CEST)', { times: [{ start: '02:00', end: '03:00' }], location: 'Europe/Berlin' }, '2026-10-24T23:59:00Z', false],
  // all fields together
  ['business hours, Monday 10:30 CEST', business, '2026-03-30T08:30:00Z', true],
  ['business hours, Saturday 10:30 CEST', business, '2026-04-04T08:30:00Z', false],
  ['business hours, Monday 18:30 CEST', business, '2026-03-30T16:30:00Z', false],
  ['everything given and matching', { times: [{ start: '00:00', end: '24:00' }], weekdays: ['sunday'], daysOfMonth: ['-3:-1'], months: ['march'], years: ['2026'], location: 'Europe/Berlin' }, '2026-03-29T12:00:00Z', true],
  ['everything given, one field (year) failing', { times: [{ start: '00:00', end: '24:00' }], weekdays: ['sunday'], daysOfMonth: ['-3:-1'], months: ['march'], years: ['2027'], location: 'Europe/Berlin' }, '2026-03-29T12:00:00Z', false],
  ['an empty interval matches always', {}, '2031-07-04T04:04:00Z', true],
  ['empty lists count as unspecified', { weekdays: [], times: [] }, '2031-07-04T04:04:00Z', true]
]

describe('time intervals', () => {
  it.each(TIME_CASES)('%s → %s', (_name, spec, iso, want) => {
    expect(check(spec, iso)).toBe(want)
  })

  it('an instant is in a named list when any interval matches; an empty list matches nothing', () => {
    const m = compileTimeIntervals({
      offhours: [
        { times: [{ start: '00:00', end: '09:00' }, { start: '17:00', end: '24:00' }] },
        { weekdays: ['saturday', 'sunday'] }
      ],
      never: []
    })
    const off = m.get('offhours') ?? []
    expect(off).toHaveLength(2)
    expect(inTimeIntervals(off, at('2026-03-02T12:00:00Z'))).toBe(false) // Monday noon
    expect(inTimeIntervals(off, at('2026-03-02T18:00:00Z'))).toBe(true) // Monday evening
    expect(inTimeIntervals(off, at('2026-03-01T12:00:00Z'))).toBe(true) // Sunday noon
    expect(inTimeIntervals(m.get('never') ?? [], at('2026-03-01T12:00:00Z'))).toBe(false)
    expect(inTimeIntervals(off, new Date(Number.NaN))).toBe(false)
    expect(off[0]?.contains(at('2026-03-02T18:00:00Z'))).toBe(true)
  })

  it('accepts "UTC", "Local" and integer days, months and years', () => {
    const m = compileTimeIntervals({ a: [{ location: 'UTC' }, { location: 'Local' }, { daysOfMonth: [1] as unknown as string[], months: [3] as unknown as string[], years: [2026] as unknown as string[] }] })
    const [utc, local, nums] = m.get('a') ?? []
    expect(utc?.location).toBe('UTC')
    expect(local?.location).toBe('Local')
    expect(nums?.contains(at('2026-03-01T00:00:00Z'))).toBe(true)
    expect(nums?.contains(at('2026-03-02T00:00:00Z'))).toBe(false)
  })
})

describe('time interval validation', () => {
  const issuesOf = (defs: Record<string, unknown>, prefix?: string): readonly string[] =>
    configError(() => compileTimeIntervals(defs as Record<string, TimeIntervalSpec[]>, prefix)).issues

  it('names the path, the value and what is expected', () => {
    expect(issuesOf({ 'business-hours': [{ weekdays: ['mon-fri'] }] })).toEqual([
      'timeIntervals.business-hours[0].weekdays[0]: got "mon-fri"; expected a weekday or range like "monday:friday"'
    ])
  })

  it('ConfigError carries the stable code', () => {
    const err = configError(() => compileTimeIntervals({ x: [{ weekdays: ['funday'] }] }))
    expect(err.code).toBe('PINO_ALERTS_INVALID_OPTIONS')
    expect(err.message).toContain('timeIntervals.x[0].weekdays[0]: got "funday"')
  })

  it.each([
    [{ weekdays: ['friday:monday'] }, 'timeIntervals.t[0].weekdays[0]: got "friday:monday"; the week runs from sunday to saturday'],
    [{ weekdays: ['mon'] }, 'timeIntervals.t[0].weekdays[0]: got "mon"; expected a weekday'],
    [{ weekdays: ['1'] }, 'timeIntervals.t[0].weekdays[0]: got "1"; expected a weekday'],
    [{ weekdays: ['monday:tuesday:friday'] }, 'timeIntervals.t[0].weekdays[0]: got "monday:tuesday:friday"'],
    [{ weekdays: 'monday' }, 'timeIntervals.t[0].weekdays: got "monday"; expected a list'],
    [{ times: [{ start: '9:00', end: '17:00' }] }, 'timeIntervals.t[0].times[0].start: got "9:00"; expected "HH:MM"'],
    [{ times: [{ start: '09:00', end: '24:01' }] }, 'timeIntervals.t[0].times[0].end: got "24:01"; expected "HH:MM"'],
    [{ times: [{ start: '24:00', end: '24:00' }] }, 'timeIntervals.t[0].times[0].start: got "24:00"'],
    [{ times: [{ start: '09:60', end: '17:00' }] }, 'timeIntervals.t[0].times[0].start: got "09:60"'],
    [{ times: [{ start: '17:00', end: '09:00' }] }, 'timeIntervals.t[0].times[0]: start "17:00" must be before end "09:00"'],
    [{ times: [{ start: '09:00', end: '09:00' }] }, 'timeIntervals.t[0].times[0]: start "09:00" must be before end "09:00"'],
    [{ times: [{ start: '09:00' }] }, 'timeIntervals.t[0].times[0].end: required'],
    [{ times: [{ start_time: '09:00', end: '17:00' }] }, 'timeIntervals.t[0].times[0].start_time: unknown field; did you mean "start"?'],
    [{ times: ['09:00-17:00'] }, 'timeIntervals.t[0].times[0]: got "09:00-17:00"; expected { "start": "HH:MM", "end": "HH:MM" }'],
    [{ daysOfMonth: ['0'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "0"; expected a day of the month'],
    [{ daysOfMonth: ['32'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "32"'],
    [{ daysOfMonth: ['-32:-1'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "-32:-1"'],
    [{ daysOfMonth: ['-3:2'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "-3:2"; the end day must be negative when the start day is negative'],
    [{ daysOfMonth: ['5:1'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "5:1"; end day 1 is always before start day 5'],
    [{ daysOfMonth: ['-1:-3'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "-1:-3"; end day -3 is always before start day -1'],
    [{ daysOfMonth: ['first'] }, 'timeIntervals.t[0].daysOfMonth[0]: got "first"'],
    [{ months: ['13'] }, 'timeIntervals.t[0].months[0]: got "13"; expected a month'],
    [{ months: ['jan'] }, 'timeIntervals.t[0].months[0]: got "jan"; expected a month'],
    [{ months: ['march:january'] }, 'timeIntervals.t[0].months[0]: got "march:january"; the start month must not be after the end month'],
    [{ years: ['26x'] }, 'timeIntervals.t[0].years[0]: got "26x"; expected a year'],
    [{ years: ['2028:2026'] }, 'timeIntervals.t[0].years[0]: got "2028:2026"; the start year must not be after the end year'],
    [{ location: 'Mars/Olympus_Mons' }, 'timeIntervals.t[0].location: got "Mars/Olympus_Mons"; expected an IANA time zone'],
    [{ location: 42 }, 'timeIntervals.t[0].location: got number 42; expected an IANA time zone'],
    [{ days_of_month: ['1'] }, 'timeIntervals.t[0].days_of_month: unknown field; did you mean "daysOfMonth"?'],
    [{ weekday: ['monday'] }, 'timeIntervals.t[0].weekday: unknown field; expected one of'],
    ['monday', 'timeIntervals.t[0]: got "monday"; expected an object']
  ])('rejects %j', (spec, issue) => {
    const issues = issuesOf({ t: [spec] })
    expect(issues).toHaveLength(1)
    expect(issues[0]).toContain(issue)
  })

  it('rejects a name that is not a list, and a definition that is not an object', () => {
    expect(issuesOf({ t: { weekdays: ['monday'] } })).toEqual(['timeIntervals.t: got an object; expected a list of intervals'])
    expect(configError(() => compileTimeIntervals([] as unknown as Record<string, TimeIntervalSpec[]>)).issues[0]).toMatch(/^timeIntervals: got an array; expected an object/)
  })

  it('collects every issue at once and honours pathPrefix', () => {
    const issues = issuesOf({
      ok: [{ weekdays: ['monday'] }],
      a: [{ weekdays: ['mon-fri'], times: [{ start: '9', end: '17:00' }] }, { months: ['smarch'] }],
      b: [{ location: 'Nowhere/City' }]
    }, 'options.timeIntervals')
    expect(issues).toEqual([
      'options.timeIntervals.a[0].times[0].start: got "9"; expected "HH:MM" (24-hour, 00:00 to 23:59, e.g. "09:00")',
      'options.timeIntervals.a[0].weekdays[0]: got "mon-fri"; expected a weekday or range like "monday:friday"',
      'options.timeIntervals.a[1].months[0]: got "smarch"; expected a month (name or 1-12) or range like "january:march" or "1:3"',
      'options.timeIntervals.b[0].location: got "Nowhere/City"; expected an IANA time zone like "Europe/Berlin", "UTC" or "Local"'
    ])
  })
})
