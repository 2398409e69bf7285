/**
 * pino-alerts/testing: `checkChannel(channel)`, a conformance check for a `Channel` (your own, or a
 * built-in one), independent of any test runner. It resolves to a list of problems, each a sentence
 * naming what is wrong; an empty list means the channel conforms. It never throws for the channel's
 * sake: whatever the channel throws is a problem in the list.
 *
 *   import { checkChannel } from 'pino-alerts/testing'
 *   assert.deepStrictEqual(await checkChannel(myChannel), [])
 *
 * What it checks:
 *  - render: a digest of 30 hostile alerts (whitespace runs, control and bidi characters, lone
 *    surrogates, Slack / Discord / MarkdownV2 / HTML specials, 100 KiB titles and bodies, hundreds of
 *    labels, nested metadata, non-Latin-1 ids; the same 30 every run) renders without throwing into
 *    at least one message within `renderMs` (1 s); so does each of the 30 alone. Every message keeps
 *    the channel's own `limits` (`ChannelLimits`: `maxMessageBytes`, `maxMessageLength`, `check`).
 *  - carries (when the channel has it): for each message of the digest, the ids of alerts of that
 *    digest, and every alert carried by some message.
 *  - send: called with a signal that is already aborted, it must settle within `settleMs` (1 s),
 *    resolving to an outcome (never throwing or rejecting). With `lateAbort: true`, also with a
 *    signal that aborts 50 ms after the call, settling within `settleMs` of the abort. The message
 *    sent is the one plain alert `checkChannel: send check` renders to (its first message).
 *  - acknowledge (when the channel has it): the same with an aborted signal.
 *  - outcomes: exactly `{ ok: true }` or `{ ok: false, retryable: boolean, error: string (not empty),
 *    retryAfterMs?: finite number ≥ 0, status?: integer 100–599, notSent?: true }`, no other keys.
 *  - flush and close (when the channel has them) resolve within 5 s. The channel is closed at the end
 *    (`close: false` leaves it open).
 *
 * Sending: the channel is checked as it is given, so checkChannel cannot choose where it sends. By
 * default it calls `send` only with an already-aborted signal, which a conforming channel answers
 * without a request completing: nothing is delivered. `lateAbort: true` adds the case that matters
 * most in practice, a service that does not answer; that send may reach the network, so point the
 * channel at a target that accepts connections and never answers (e.g. a `net.createServer()` that
 * ignores its sockets) when you set it. A channel that finishes a send at once (console, file) may
 * complete it even with an aborted signal: only settling promptly is required.
 *
 * Render is synchronous: a render that never returns cannot be interrupted, and neither can
 * checkChannel. A send that never settles is abandoned after `settleMs` and reported.
 */
import type { Channel, Outcome } from './channels/channel.js'
import { wireText, type ChannelLimits } from './channels/limits.js'
import { AlertEvent, type AlertEventJSON, type Severity } from './event.js'

export type { ChannelLimits } from './channels/limits.js'
export { wireText } from './channels/limits.js'

export interface CheckChannelOptions {
  /**
   * Also call `send` with a signal that aborts 50 ms after the call (default false). The send may
   * reach the channel's target: point the channel at one that never answers.
   */
  lateAbort?: boolean
  /** How long `send` (and `acknowledge`) may take to settle once its signal has aborted. Default 1000 ms. */
  settleMs?: number
  /** How long rendering the 30-alert digest, or one alert, may take. Default 1000 ms. */
  renderMs?: number
  /** Close the channel at the end, checking that `close` resolves (default true). */
  close?: boolean
}

/** How long after its call the late-abort case aborts the signal. */
const LATE_ABORT_MS = 50
/** How long `flush` and `close` may take. */
const CLOSE_MS = 5000
const KIB = 1024

// ---------------------------------------------------------------------------------------------------
// The hostile alerts: the same 30 every run

interface Hostile { kind: string, event: AlertEvent }

const SEVERITIES: readonly Severity[] = ['critical', 'warn', 'info']
const LEVEL: Record<Severity, number> = { critical: 50, warn: 40, info: 30 }

const repeat = (s: string, units: number): string => s.repeat(Math.ceil(units / s.length)).slice(0, units).replace(/[\ud800-\udbff]$/, '')
const MARKUP = '<!channel> <!here> <@U123> <#C1|x> <http://evil.example|click> @everyone @here <@&1> <t:0:R> *_[]()~`>#+-=|{}.!\\ <b>&amp;</b> <script>alert(1)</script> &lt; &#39; ``` ~~~ [x](http://evil.example) {{title}} ${x}'
const CONTROL = '\u0000\u0007\b\u000b\f\u001b[2J\u001b]0;pwned\u0007\u007f\u0085\u009b'
const BIDI = '\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u202a\u202b\u202c\u202d'
const WHITESPACE = ' \t\n\r\n\u00a0\u2003\u3000\u2028\u2029\u000b\u000c\u1680\ufeff\u200b'
const SURROGATES = '\ud800 \udfff x\ud83d y\ude80 \udbff\udfff\ud800'

function nested (depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: MARKUP }
  for (let i = 0; i < depth; i++) v = { [`level${i}`]: v, [`s${i}`]: i % 2 === 0 ? ' \n ' : [i, null, true, 'x'] }
  return v
}

function manyLabels (n: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < n; i++) out[`label_${i}${i % 5 === 0 ? ' <!channel>' : ''}`] = i % 3 === 0 ? repeat('v ', 200) : `value ${i} ${MARKUP.slice(0, 40)}`
  return out
}

/** The 30 hostile alerts, in the order the digest has them. */
export function hostileAlerts (): AlertEvent[] {
  return hostile().map((h) => h.event)
}

function hostile (): Hostile[] {
  const out: Hostile[] = []
  const add = (kind: string, f: Partial<AlertEventJSON>): void => {
    const i = out.length
    const severity = SEVERITIES[i % 3] as Severity
    const json: AlertEventJSON = {
      id: `check-${i}`,
      source: 'check_channel',
      severity,
      title: `hostile ${i}`,
      body: '',
      labels: {},
      metadata: {},
      timestamp: new Date(Date.UTC(2025, 0, 2, 3, 4, i)).toISOString(),
      level: LEVEL[severity],
      fingerprint: (i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(2),
      status: 'firing',
      ...f
    }
    out.push({ kind, event: AlertEvent.fromJSON(json) })
  }
  add('a 100 KiB run of spaces in the title', { title: ' '.repeat(100 * KIB) + 'end' })
  add('a 100 KiB run of mixed whitespace in the body', { body: 'start' + repeat(WHITESPACE, 100 * KIB) + 'end' })
  add('control characters', { title: `ctl ${CONTROL} title`, body: repeat(CONTROL + ' body ', 4 * KIB), source: `src${CONTROL}`, labels: { [`k${CONTROL}`]: CONTROL } })
  add('bidi characters', { title: `\u202eevil.exe ${BIDI}`, body: repeat(BIDI + ' text ', 2 * KIB), labels: { desk: `fx${BIDI}`, [`\u202ekey`]: 'v' } })
  add('lone surrogates', { title: `a\ud800b\udc00c ${SURROGATES}\ud83d`, body: repeat('x\ud800', 10 * KIB) + '\udbff', labels: { s: '\udfff'.repeat(20), pair: '🚨\ud800' }, metadata: { m: '\udc00', [`k\ud800`]: SURROGATES } })
  add('Slack and Discord mentions', { title: '<!channel> <!here> @everyone', body: repeat('<!channel> <@U123> @everyone @here <@&1> <#C1|general> <http://evil.example|click here> ', 8 * KIB), labels: { who: '<!everyone>', at: '@everyone' } })
  add('Markdown specials', { title: '*_[]()~`>#+-=|{}.!\\', body: repeat('*bold* _it_ ~s~ `code` ```fence``` > quote # head - list + x = y | z {a} [l](http://evil.example) !\\ ', 8 * KIB), labels: { md: '*_[]()~`>#+-=|{}.!\\' } })
  add('HTML specials', { title: '<b>&amp;</b> <i>x</i>', body: repeat('<b>&amp;</b><script>alert(1)</script>&lt;&gt;&quot;&#39; <a href="http://evil.example">x</a> ', 8 * KIB), labels: { html: '<b>&amp;' } })
  add('a 100 KiB title', { title: repeat('Title-without-spaces', 100 * KIB) })
  add('a 100 KiB body of emoji', { body: '🚨'.repeat(50 * KIB) })
  add('a 100 KiB body of CJK and Cyrillic', { title: 'Zürich Ω 東京 🚨', body: repeat('注文拒否 Ордер отклонён — Zürich € ', 100 * KIB) })
  add('500 labels', { labels: manyLabels(500) })
  add('hostile label names', { labels: { '': 'empty name', [' ']: 'space', ['__proto__']: 'proto', constructor: 'c', 'a.b/c-d': 'x', ['\n']: 'newline', ['1abc']: '1', ['ключ']: 'значение', ['東京']: '¥ 1 000 000' } })
  add('metadata nested 100 levels', { metadata: nested(100) })
  add('wide metadata', { metadata: Object.fromEntries(Array.from({ length: 2000 }, (_, k) => [`key${k}`, k % 2 === 0 ? repeat('meta ', 50) : { k, v: [k, String(k)] }])) })
  add('metadata of every JSON type', { metadata: { s: MARKUP, n: -1.5e300, z: 0, t: true, f: false, nil: null, a: [[[]], {}, ''], o: { '': { ' ': MARKUP } } } })
  add('a non-Latin-1 id', { id: 'ord-1-€' })
  add('a non-BMP, bidi id', { id: '東京-🚨-\u202e-ключ' })
  add('an id with CR/LF', { id: 'ord-2\r\nX-Injected: 1' })
  add('a 1000-character id', { id: repeat('id-', 1000) })
  add('a 10 KiB source', { source: repeat(`src ${MARKUP} `, 10 * KIB) })
  add('empty title and body', { title: '', body: '' })
  add('a title of whitespace only', { title: ' \n\t\u00a0\u2028 ', body: ' \n ' })
  add('fences, headings, quotes and lists', { title: '# heading', body: '```\ncode\n```\n~~~\nx\n~~~\n> quote\n- item\n1. item\n---\n| a | b |\n|---|---|\n' + repeat('```', 3 * KIB) })
  add('a resolved alert', { status: 'resolved', title: `resolved ${MARKUP}`, body: MARKUP })
  add('URLs', { title: 'http://evil.example/?a=<b>&c=d', body: 'javascript:alert(1) data:text/html,<script>alert(1)</script> https://evil.example/' + repeat('a', 4 * KIB), labels: { url: 'http://evil.example/<>&"\'' } })
  add('combining marks', { title: repeat('Z\u0334\u0321\u0328\u0354a\u0336l\u0337g\u0335o', 2 * KIB), body: repeat('e\u0301\u0302\u0303\u0304\u0305\u0306\u0307', 20 * KIB) })
  add('zero-width characters and templates', { title: '\ufeff\u200b\u2060{{title}} {{labels.x}}', body: repeat('\u200b\u200c\u200d\u2060\ufeff', 4 * KIB), labels: { x: '{{body}}' } })
  add('a trace context', { trace: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }, fingerprint: 'fp \u202e <!channel> \n' + repeat('f', 300) })
  add('everything at once', {
    title: `${MARKUP} ${CONTROL} ${BIDI} ${SURROGATES} ` + repeat(WHITESPACE, 2 * KIB),
    body: repeat(`${MARKUP} ${CONTROL} ${BIDI} ${SURROGATES} ${WHITESPACE} 注文 🚨 `, 100 * KIB),
    source: `${MARKUP}${BIDI}`,
    labels: { ...manyLabels(50), [MARKUP]: MARKUP },
    metadata: { deep: nested(30), markup: MARKUP, wide: Array.from({ length: 200 }, (_, k) => `${k}${CONTROL}`) }
  })
  return out
}

// ---------------------------------------------------------------------------------------------------
// The check

type Send = (message: unknown, ctx: { signal: AbortSignal }) => unknown

/** Why `o` is not an Outcome, or undefined when it is one. */
function outcomeProblem (o: unknown): string | undefined {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 'not an object'
  const r = o as Record<string, unknown>
  if (r.ok === true) {
    const extra = Object.keys(r).filter((k) => k !== 'ok')
    return extra.length === 0 ? undefined : `{ ok: true } with other keys (${extra.join(', ')})`
  }
  if (r.ok !== false) return '"ok" is neither true nor false'
  const allowed = new Set(['ok', 'retryable', 'error', 'retryAfterMs', 'status', 'notSent'])
  const extra = Object.keys(r).filter((k) => !allowed.has(k))
  if (extra.length > 0) return `unknown keys (${extra.join(', ')})`
  if (typeof r.retryable !== 'boolean') return '"retryable" is not a boolean'
  if (typeof r.error !== 'string' || r.error === '') return '"error" is not a non-empty string'
  if (r.retryAfterMs !== undefined && (typeof r.retryAfterMs !== 'number' || !Number.isFinite(r.retryAfterMs) || r.retryAfterMs < 0)) return '"retryAfterMs" is not a finite number ≥ 0'
  if (r.status !== undefined && (typeof r.status !== 'number' || !Number.isInteger(r.status) || r.status < 100 || r.status > 599)) return '"status" is not an integer from 100 to 599'
  if (r.notSent !== undefined && r.notSent !== true) return '"notSent" is neither absent nor true'
  return undefined
}

const describeError = (err: unknown): string => {
  const m = err instanceof Error ? err.message : String(err)
  return (m.length > 200 ? m.slice(0, 200) + '…' : m).replace(/\s+/g, ' ')
}

const short = (v: unknown): string => {
  let s: string
  try { s = JSON.stringify(v) ?? String(v) } catch { s = String(v) }
  return s.length > 200 ? s.slice(0, 200) + '…' : s
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Settles with what `p` settles with, or 'timeout' after `ms`. */
async function settleWithin<T> (p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms) })
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Problems with the declared limits themselves. */
function limitsProblems (limits: unknown): string[] {
  if (limits === undefined) return []
  if (limits === null || typeof limits !== 'object') return ['limits: not an object']
  const l = limits as Record<string, unknown>
  const out: string[] = []
  for (const k of ['maxMessageBytes', 'maxMessageLength'] as const) {
    const v = l[k]
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) out.push(`limits.${k}: not a number > 0 (${short(v)})`)
  }
  if (l.check !== undefined && typeof l.check !== 'function') out.push('limits.check: not a function')
  return out
}

/** What is wrong with one rendered message under the declared limits, or undefined. */
function messageProblem (m: unknown, limits: ChannelLimits | undefined): string | undefined {
  if (limits === undefined) return undefined
  if (limits.maxMessageBytes !== undefined || limits.maxMessageLength !== undefined) {
    let text: string
    try {
      text = wireText(m)
    } catch (err) {
      return `cannot be measured (${describeError(err)})`
    }
    if (limits.maxMessageBytes !== undefined) {
      const n = utf8(text)
      if (n > limits.maxMessageBytes) return `is ${n} bytes (maxMessageBytes ${limits.maxMessageBytes})`
    }
    if (limits.maxMessageLength !== undefined && text.length > limits.maxMessageLength) return `is ${text.length} characters (maxMessageLength ${limits.maxMessageLength})`
  }
  if (typeof limits.check === 'function') {
    try {
      const p = limits.check(m)
      if (p !== undefined) return `breaks a limit: ${String(p)}`
    } catch (err) {
      return `made limits.check throw: ${describeError(err)}`
    }
  }
  return undefined
}

/**
 * Checks `channel` against the Channel contract (SPEC §14); resolves to the problems found, each a
 * sentence naming what is wrong (empty: it conforms). See the top of this file for what is checked.
 */
export async function checkChannel (channel: Channel<any>, options: CheckChannelOptions = {}): Promise<string[]> {
  const settleMs = options.settleMs ?? 1000
  const renderMs = options.renderMs ?? 1000
  const problems: string[] = []
  const limits = channel.limits as ChannelLimits | undefined
  const limitsBad = limitsProblems(limits)
  problems.push(...limitsBad)
  const usable = limitsBad.length === 0 ? limits : undefined

  /** Renders `events`; the messages, or undefined after reporting why not. */
  const render = (events: readonly AlertEvent[], what: string): unknown[] | undefined => {
    let messages: unknown
    const started = performance.now()
    try {
      messages = channel.render(events)
    } catch (err) {
      problems.push(`render: threw on ${what}: ${describeError(err)}`)
      return undefined
    }
    const ms = performance.now() - started
    if (!Array.isArray(messages)) {
      problems.push(`render: returned ${short(messages)} for ${what}, not an array of messages`)
      return undefined
    }
    if (messages.length === 0) problems.push(`render: no message for ${what}`)
    if (ms > renderMs) problems.push(`render: took ${Math.round(ms)} ms for ${what} (at most ${renderMs})`)
    messages.forEach((m: unknown, i) => {
      const p = messageProblem(m, usable)
      if (p !== undefined) problems.push(`render: message ${i + 1} of ${messages.length} for ${what} ${p}`)
    })
    return messages
  }

  // Render: the digest, then each alert alone.
  const alerts = hostile()
  const events = alerts.map((h) => h.event)
  const digest = render(events, `the digest of ${events.length} hostile alerts`)
  alerts.forEach((h, i) => render([h.event], `hostile alert ${i + 1} (${h.kind})`))

  // carries: the ids of alerts of the digest, and every alert carried.
  if (typeof channel.carries === 'function' && digest !== undefined) {
    const ids = new Set(events.map((e) => e.id))
    const carried = new Set<string>()
    digest.forEach((m, i) => {
      let list: unknown
      try {
        list = channel.carries?.(m)
      } catch (err) {
        problems.push(`carries: threw on message ${i + 1} of the digest: ${describeError(err)}`)
        return
      }
      if (!Array.isArray(list)) {
        problems.push(`carries: returned ${short(list)} for message ${i + 1} of the digest, not an array of alert ids`)
        return
      }
      for (const id of list as unknown[]) {
        if (typeof id === 'string' && ids.has(id)) carried.add(id)
        else problems.push(`carries: message ${i + 1} of the digest names ${short(id)}, no alert of the digest`)
      }
    })
    const missing = events.filter((e) => !carried.has(e.id))
    if (missing.length > 0 && !problems.some((p) => p.startsWith('carries: threw') || p.includes('not an array of alert ids'))) {
      problems.push(`carries: ${missing.length} alert${missing.length === 1 ? ' is' : 's are'} carried by no message of the digest (${missing.slice(0, 3).map((e) => short(e.id)).join(', ')}${missing.length > 3 ? ', …' : ''})`)
    }
  }

  // send and acknowledge: settled promptly once the signal aborts, with an outcome.
  const plain = AlertEvent.fromJSON({
    id: 'check-send', source: 'check_channel', severity: 'info', title: 'checkChannel: send check', body: 'a conformance check of pino-alerts; nothing to do',
    labels: {}, metadata: {}, timestamp: '2025-01-02T03:04:05.000Z', level: 30, fingerprint: 'check-send', status: 'firing'
  })
  let message: unknown
  let rendered = false
  try {
    const ms = channel.render([plain]) as unknown
    if (Array.isArray(ms) && ms.length > 0) {
      message = ms[0]
      rendered = true
    }
  } catch { /* reported below */ }
  if (!rendered) problems.push('send: not checked, the plain alert "checkChannel: send check" rendered no message')

  const call = async (name: string, fn: Send | undefined, arg: unknown, how: string, abortAfter?: number): Promise<void> => {
    if (fn === undefined) return
    const what = `${name} (${how})`
    const controller = new AbortController()
    let timer: NodeJS.Timeout | undefined
    if (abortAfter === undefined) controller.abort(new Error('checkChannel: aborted before the call'))
    else timer = setTimeout(() => controller.abort(new Error(`checkChannel: aborted ${abortAfter} ms after the call`)), abortAfter)
    let result: unknown
    try {
      result = fn.call(channel, arg, { signal: controller.signal })
    } catch (err) {
      clearTimeout(timer)
      problems.push(`${what}: threw: ${describeError(err)}`)
      return
    }
    if (result === null || typeof (result as { then?: unknown })?.then !== 'function') {
      clearTimeout(timer)
      problems.push(`${what}: returned ${short(result)}, not a promise of an outcome`)
      return
    }
    const settled = await settleWithin(Promise.resolve(result as Promise<unknown>), (abortAfter ?? 0) + settleMs)
    clearTimeout(timer)
    if (settled === 'timeout') {
      problems.push(`${what}: did not settle within ${settleMs} ms of the abort`)
      return
    }
    if ('error' in settled) {
      problems.push(`${what}: rejected: ${describeError(settled.error)}`)
      return
    }
    const p = outcomeProblem(settled.value)
    if (p !== undefined) problems.push(`${what}: resolved to a malformed outcome (${p}): ${short(settled.value)}`)
  }
  if (rendered) {
    const send = channel.send as Send
    await call('send', send, message, 'signal already aborted')
    if (options.lateAbort === true) await call('send', send, message, `signal aborted ${LATE_ABORT_MS} ms after the call`, LATE_ABORT_MS)
  }
  await call('acknowledge', channel.acknowledge as Send | undefined, plain, 'signal already aborted')

  // flush and close: resolve, within CLOSE_MS.
  const finish = async (name: 'flush' | 'close'): Promise<void> => {
    const fn = channel[name]
    if (typeof fn !== 'function') return
    let result: unknown
    try {
      result = fn.call(channel)
    } catch (err) {
      problems.push(`${name}: threw: ${describeError(err)}`)
      return
    }
    const settled = await settleWithin(Promise.resolve(result), CLOSE_MS)
    if (settled === 'timeout') problems.push(`${name}: did not settle within ${CLOSE_MS} ms`)
    else if ('error' in settled) problems.push(`${name}: rejected: ${describeError(settled.error)}`)
  }
  await finish('flush')
  if (options.close !== false) await finish('close')
  return problems
}
