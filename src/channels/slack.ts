/**
 * slack: incoming webhook, Block Kit inside a coloured attachment.
 *
 * One alert is one message: a header block at the top level (severity emoji + `[CRITICAL] source: title`,
 * it also makes the top-level `text` a notification fallback only instead of a visible duplicate) and
 * one attachment whose `color` draws the severity bar (critical red, warn amber, info blue, resolved
 * green) around the title and body, the labels as section fields, the metadata as a code block and a
 * context line (source, time, id). A digest is a header with the headline plus one compact coloured
 * attachment per alert, most severe first, split into several messages so that each stays within
 * Slack's limits (50 blocks, 150-char header, 3000-char texts, 10 fields of 2000) and readable.
 *
 * All user text is escaped (`&`, `<`, `>`: Slack's rule) so a log line cannot write `<!channel>`,
 * `<@U123>` or `<http://evil|click>`; mrkdwn texts are also `verbatim` (no auto-linking of names).
 *
 * Answers: 200 with the plain-text body `ok` is the only success (Slack answers every error with a
 * short plain-text code: `invalid_payload`, `no_text`, `invalid_blocks`, `no_service`, …); 429 and
 * 5xx are retried (429 carries `Retry-After` in seconds); 400/403/404/410 are permanent.
 */
import { httpRequest, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent, Severity } from '../event.js'
import { escapeSlack, wellFormed } from '../format/escape.js'
import { bySeverity, digestHeadline, stripControl, subject } from '../format/text.js'
import { boundedJson } from '../format/json.js'
import { ELLIPSIS, headFor, headUnits } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'
import { firstProblem, within, type ChannelLimits } from './limits.js'

// ---------------------------------------------------------------------------------------------------
// Slack's payload (the subset this channel sends)

export interface SlackText { type: 'plain_text' | 'mrkdwn', text: string, emoji?: boolean, verbatim?: boolean }
export type SlackBlock =
  | { type: 'header', text: SlackText }
  | { type: 'section', text?: SlackText, fields?: SlackText[] }
  | { type: 'context', elements: SlackText[] }
  | { type: 'divider' }
export interface SlackAttachment { color: string, fallback: string, blocks: SlackBlock[] }

/** The JSON body of one incoming-webhook request. */
export interface SlackMessage {
  /** Plain summary: what notifications and clients without Block Kit show. */
  text: string
  blocks: SlackBlock[]
  attachments: SlackAttachment[]
  username?: string
  icon_emoji?: string
}

/** Slack's documented limits (Block Kit reference). */
export const SLACK_LIMITS = {
  /** Blocks per message, top-level and attachment blocks together. */
  blocks: 50,
  header: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  contextText: 3000
} as const

/** Our own budgets, well inside Slack's, so that a message stays readable. */
const BUDGET = {
  /** Top-level `text` (the notification line). */
  fallback: 500,
  /** A label field in a single alert / in a digest item. */
  field: 300,
  digestField: 120,
  /** Labels shown as fields in a single alert (the rest are counted in a last field). */
  labels: 30,
  /** Title / body of one alert in a digest. */
  digestTitle: 250,
  digestBody: 500,
  /** Characters of text in one digest message, all blocks together. */
  digestMessage: 12_000,
  context: 300,
  /** Digests of more alerts than this (two detailed messages) are compact: one line per alert, many per section. */
  detailedDigest: 48,
  /** One line of a compact digest, and the text of one compact message. */
  compactLine: 400,
  compactMessage: 36_000,
  /** Beyond this many alerts a digest lists kinds (severity, source, title) with counts. */
  listedDigest: 1000,
  /** Lines of an aggregated digest before "…and N more". */
  maxDigestLines: 2000
} as const

export const SLACK_COLORS = { critical: '#E01E5A', warn: '#ECB22E', info: '#36C5F0', resolved: '#2EB67D' } as const
export const SLACK_EMOJI = { critical: ':rotating_light:', warn: ':warning:', info: ':information_source:', resolved: ':white_check_mark:' } as const

type Look = Severity | 'resolved'
const lookOf = (e: AlertEvent): Look => (e.status === 'resolved' ? 'resolved' : e.severity)

// ---------------------------------------------------------------------------------------------------
// Text: untrusted → escaped and cut to a limit

/** Well-formed, no control characters (tabs and newlines kept), `\r\n` → `\n`. */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n'))
}

/** One line: every run of whitespace (newlines included) becomes one space. */
function oneLine (s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

/**
 * Escapes `raw` for Slack and cuts the result to `max` UTF-16 units, ending with `…` when cut; never
 * splits a surrogate pair or an entity (`&amp;`, `&lt;`, `&gt;`).
 */
export function fitSlack (raw: string, max: number): string {
  // Cleaning shortens only `\r\n` and escaping lengthens: 2 · max + 2 units of `raw` are more than the cut keeps.
  const s = escapeSlack(clean(headUnits(raw, Math.max(0, 2 * max + 2))))
  if (s.length <= max) return s
  if (max <= ELLIPSIS.length) return ELLIPSIS.slice(0, max)
  let end = max - ELLIPSIS.length
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end--
  const amp = s.lastIndexOf('&', end - 1)
  // An entity is at most 5 units long (`&amp;`): a `&` in the last 4 kept units may be cut short.
  if (amp >= 0 && amp > end - 5 && s.indexOf(';', amp) >= end) end = amp
  return s.slice(0, end) + ELLIPSIS
}

/** Code blocks: a ``` inside the text would close ours early. */
function noFence (s: string): string {
  return s.replace(/```/g, '`\u200b`\u200b`')
}

const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text, verbatim: true })
const plain = (text: string): SlackText => ({ type: 'plain_text', text, emoji: true })

/** `2025-01-02 03:04:05 UTC` (the event's ISO timestamp; shown as is when it is not one). */
function when (iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso)
  return m === null ? iso : `${m[1] ?? ''} ${m[2] ?? ''} UTC`
}

/** Label fields, `*key*\nvalue`, at most `limit` of them, the last one saying how many were left out. */
function labelFields (labels: Record<string, string>, limit: number, each: number): SlackText[] {
  const keys = Object.keys(labels)
  const shown = keys.length > limit ? keys.slice(0, limit - 1) : keys
  const fields = shown.map((k) => {
    const key = fitSlack(oneLine(headFor(k, 100)) || '(empty)', Math.min(100, each - 10))
    const room = each - key.length - 3
    const value = fitSlack(labels[k] ?? '', room)
    return mrkdwn(`*${key}*\n${value === '' ? ' ' : value}`)
  })
  if (shown.length < keys.length) fields.push(mrkdwn(`_…and ${keys.length - shown.length} more label${keys.length - shown.length === 1 ? '' : 's'}_`))
  return fields
}

function chunk<T> (list: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size))
  return out
}

/** The title on one line, as far as a cut to `max` can show it (`headFor`). */
function titleOf (e: AlertEvent, max: number): string {
  const t = headFor(e.title, max)
  return oneLine(clean(t)) === '' ? '(no title)' : oneLine(t)
}

/** `[CRITICAL] source: title` on one line, as far as any cut here (at most the fallback's) can show it. */
function subjectLine (e: AlertEvent): string {
  return oneLine(headFor(subject(e), BUDGET.fallback))
}

function metadataText (metadata: Record<string, unknown>): string | undefined {
  if (Object.keys(metadata).length === 0) return undefined
  let json: string
  try {
    // Only what the cut below can show is written (`boundedJson`): no deep value overflows the stack.
    json = boundedJson(metadata, 2 * SLACK_LIMITS.sectionText, undefined, 2) ?? ''
  } catch (err) {
    json = `(metadata not serialisable: ${(err as Error).message})`
  }
  if (json === '') return undefined
  // "```\n" + text + "\n```": the fences take 8 units. Fences inside are broken up before the cut
  // (breaking one adds 2 units: after the cut it could push the text past the limit).
  const body = fitSlack(noFence(json), SLACK_LIMITS.sectionText - 8)
  return '```\n' + body + '\n```'
}

function contextElements (e: AlertEvent, withId: boolean): SlackText[] {
  const els = [
    mrkdwn(`*source:* ${fitSlack(oneLine(headFor(e.source, BUDGET.context)), BUDGET.context)}`),
    mrkdwn(fitSlack(when(e.timestamp), 60))
  ]
  if (withId) els.push(mrkdwn(`id: ${fitSlack(e.id, 120)}`))
  if (e.trace !== undefined) els.push(mrkdwn(`trace: ${fitSlack(e.trace.traceId, 64)}`))
  return els
}

// ---------------------------------------------------------------------------------------------------
// Rendering

/** One alert → one message. */
export function renderOne (e: AlertEvent, extra: Pick<SlackMessage, 'username' | 'icon_emoji'> = {}): SlackMessage {
  const look = lookOf(e)
  const header = plain(fitSlack(`${SLACK_EMOJI[look]} ${subjectLine(e)}`, SLACK_LIMITS.header))
  const title = `*${fitSlack(titleOf(e, 500), 500)}*`
  const room = SLACK_LIMITS.sectionText - title.length - 1
  const body = e.body.trim() === '' ? '' : fitSlack(e.body.trim(), room)
  const blocks: SlackBlock[] = [{ type: 'section', text: mrkdwn(body === '' ? title : `${title}\n${body}`) }]
  const fields = labelFields(e.labels, BUDGET.labels, BUDGET.field)
  for (const group of chunk(fields, SLACK_LIMITS.fields)) blocks.push({ type: 'section', fields: group })
  const meta = metadataText(e.metadata)
  if (meta !== undefined) blocks.push({ type: 'section', text: mrkdwn(meta) })
  blocks.push({ type: 'context', elements: contextElements(e, true) })
  return {
    text: fitSlack(subjectLine(e), BUDGET.fallback),
    blocks: [{ type: 'header', text: header }],
    attachments: [{ color: SLACK_COLORS[look], fallback: fitSlack(subjectLine(e), BUDGET.fallback), blocks }],
    ...extra
  }
}

/** One alert of a digest: a coloured attachment of two blocks (title + body + label fields, context). */
function digestItem (e: AlertEvent): SlackAttachment {
  const look = lookOf(e)
  const word = look === 'resolved' ? 'RESOLVED' : look.toUpperCase()
  const head = `${SLACK_EMOJI[look]} *[${word}] ${fitSlack(oneLine(headFor(e.source, 100)), 100)}: ${fitSlack(titleOf(e, BUDGET.digestTitle), BUDGET.digestTitle)}*`
  const body = e.body.trim() === '' ? '' : fitSlack(e.body.trim(), BUDGET.digestBody)
  const section: SlackBlock = { type: 'section', text: mrkdwn(body === '' ? head : `${head}\n${body}`) }
  const fields = labelFields(e.labels, SLACK_LIMITS.fields, BUDGET.digestField)
  if (fields.length > 0) section.fields = fields
  return {
    color: SLACK_COLORS[look],
    fallback: fitSlack(subjectLine(e), BUDGET.fallback),
    blocks: [section, { type: 'context', elements: contextElements(e, true) }]
  }
}

/** Characters of text in blocks (what `digestMessage` budgets). */
function textSize (blocks: readonly SlackBlock[]): number {
  let n = 0
  for (const b of blocks) {
    if (b.type === 'header') n += b.text.text.length
    else if (b.type === 'section') {
      n += b.text?.text.length ?? 0
      for (const f of b.fields ?? []) n += f.text.length
    } else if (b.type === 'context') for (const el of b.elements) n += el.text.length
  }
  return n
}

/** Several alerts → one or more messages: a headline header and one attachment per alert. */
export function renderDigest (events: readonly AlertEvent[], extra: Pick<SlackMessage, 'username' | 'icon_emoji'> = {}): SlackMessage[] {
  const sorted = bySeverity(events)
  const firing = sorted.filter((e) => e.status !== 'resolved')
  const resolved = sorted.length - firing.length
  const headline = digestHeadline(sorted) + (resolved > 0 ? ` (${resolved} resolved)` : '')
  const top: Look = firing[0]?.severity ?? 'resolved'
  if (sorted.length > BUDGET.detailedDigest) return renderCompactDigest(sorted, headline, top, extra)

  // Pack items: one header block per message, then items until 50 blocks or the text budget is reached.
  const parts: SlackAttachment[][] = []
  let current: SlackAttachment[] = []
  let blocks = 1
  let size = 0
  for (const e of sorted) {
    const item = digestItem(e)
    const n = item.blocks.length
    const s = textSize(item.blocks)
    if (current.length > 0 && (blocks + n > SLACK_LIMITS.blocks || size + s > BUDGET.digestMessage)) {
      parts.push(current)
      current = []
      blocks = 1
      size = 0
    }
    current.push(item)
    blocks += n
    size += s
  }
  if (current.length > 0) parts.push(current)

  return parts.map((attachments, i) => {
    const part = parts.length > 1 ? ` (${i + 1}/${parts.length})` : ''
    const line = headline + part
    return {
      text: fitSlack(line, BUDGET.fallback),
      blocks: [{ type: 'header', text: plain(fitSlack(`${SLACK_EMOJI[top]} ${line}`, SLACK_LIMITS.header)) }],
      attachments,
      ...extra
    }
  })
}

/**
 * A large digest (a burst held back by the rate limit): one line per alert, packed into section texts
 * of up to 3000 characters, up to 49 sections per message, so that hundreds of alerts take a handful
 * of messages (each message costs a rate-limit token). The colour bar is the most severe alert's.
 */
function renderCompactDigest (sorted: readonly AlertEvent[], headline: string, top: Look, extra: Pick<SlackMessage, 'username' | 'icon_emoji'>): SlackMessage[] {
  let lines: string[]
  if (sorted.length > BUDGET.listedDigest) {
    // A flood: alerts with the same severity, source and title are one line with a count, so that
    // every alert is represented in a few messages (each costs a rate-limit token).
    // Keyed look → source → title without building a key string per alert (a flood has 100 000);
    // `groups` keeps the kinds in order of first appearance.
    const groups: Array<{ e: AlertEvent, n: number }> = []
    const index = new Map<string, Map<string, Map<string, { e: AlertEvent, n: number }>>>()
    for (const e of sorted) {
      const look = lookOf(e)
      let bySource = index.get(look)
      if (bySource === undefined) index.set(look, bySource = new Map())
      let byTitle = bySource.get(e.source)
      if (byTitle === undefined) bySource.set(e.source, byTitle = new Map())
      const g = byTitle.get(e.title)
      if (g === undefined) {
        const created = { e, n: 1 }
        byTitle.set(e.title, created)
        groups.push(created)
      } else g.n++
    }
    lines = groups.map(({ e, n }) => {
      const look = lookOf(e)
      const word = look === 'resolved' ? 'RESOLVED' : look.toUpperCase()
      return `${SLACK_EMOJI[look]} *[${word}] ${fitSlack(oneLine(headFor(e.source, 80)), 80)}: ${fitSlack(titleOf(e, 200), 200)}*${n > 1 ? ` ×${n}` : ''}`
    })
    if (lines.length > BUDGET.maxDigestLines) {
      const shown = lines.slice(0, BUDGET.maxDigestLines)
      const restGroups = groups.slice(BUDGET.maxDigestLines)
      const restAlerts = restGroups.reduce((sum, g) => sum + g.n, 0)
      shown.push(`_…and ${restAlerts} more alert${restAlerts === 1 ? '' : 's'} of ${restGroups.length} other kind${restGroups.length === 1 ? '' : 's'} (see the history)_`)
      lines = shown
    }
  } else {
    lines = sorted.map((e) => {
      const look = lookOf(e)
      const word = look === 'resolved' ? 'RESOLVED' : look.toUpperCase()
      const head = `${SLACK_EMOJI[look]} *[${word}] ${fitSlack(oneLine(headFor(e.source, 80)), 80)}: ${fitSlack(titleOf(e, 200), 200)}*`
      const body = oneLine(clean(headFor(e.body, BUDGET.compactLine)))
      return body === '' ? head : `${head} — ${fitSlack(body, Math.max(20, BUDGET.compactLine - head.length - 3))}`
    })
  }
  const messages: string[][][] = [] // message → section → lines
  let sections: string[][] = []
  let section: string[] = []
  let sectionLen = 0
  let messageLen = 0
  const closeSection = (): void => {
    if (section.length > 0) sections.push(section)
    section = []
    sectionLen = 0
  }
  for (const line of lines) {
    if (sectionLen + line.length + 1 > SLACK_LIMITS.sectionText) closeSection()
    if (sections.length >= SLACK_LIMITS.blocks - 1 - (section.length > 0 ? 1 : 0) || messageLen + line.length > BUDGET.compactMessage) {
      closeSection()
      messages.push(sections)
      sections = []
      messageLen = 0
    }
    section.push(line)
    sectionLen += line.length + 1
    messageLen += line.length + 1
  }
  closeSection()
  if (sections.length > 0) messages.push(sections)
  return messages.map((secs, i) => {
    const line = headline + (messages.length > 1 ? ` (${i + 1}/${messages.length})` : '')
    return {
      text: fitSlack(line, BUDGET.fallback),
      blocks: [{ type: 'header', text: plain(fitSlack(`${SLACK_EMOJI[top]} ${line}`, SLACK_LIMITS.header)) }],
      attachments: [{ color: SLACK_COLORS[top], fallback: fitSlack(line, BUDGET.fallback), blocks: secs.map((l) => ({ type: 'section', text: mrkdwn(l.join('\n')) })) }],
      ...extra
    }
  })
}

/** Slack's limits on an incoming-webhook message (`SLACK_LIMITS`; top-level `text` 40 000, 100 attachments). */
const SLACK_CHECK: ChannelLimits<SlackMessage>['check'] = (m) => {
  const L = SLACK_LIMITS
  const blocks = [...m.blocks, ...m.attachments.flatMap((a) => a.blocks)]
  return firstProblem(
    within('text', m.text, 40_000),
    within('attachments', m.attachments, 100),
    within('blocks (top-level and in attachments)', blocks, L.blocks),
    ...blocks.flatMap((b, i): Array<string | undefined> => {
      const n = `block ${i + 1}`
      if (b.type === 'header') return [within(`${n} (header) text`, b.text.text, L.header), b.text.type === 'plain_text' ? undefined : `${n} (header) text is not plain_text`]
      if (b.type === 'section') {
        return [
          b.text === undefined && (b.fields ?? []).length === 0 ? `${n} (section) has neither text nor fields` : undefined,
          within(`${n} (section) text`, b.text?.text, L.sectionText),
          within(`${n} (section) fields`, b.fields, L.fields),
          ...(b.fields ?? []).map((f, k) => within(`${n} field ${k + 1}`, f.text, L.fieldText))
        ]
      }
      if (b.type === 'context') return [within(`${n} (context) elements`, b.elements, L.contextElements), ...b.elements.map((el, k) => within(`${n} element ${k + 1}`, el.text, L.contextText))]
      return []
    }),
    ...blocks.flatMap((b) => b.type === 'section' ? [b.text, ...(b.fields ?? [])] : b.type === 'header' ? [b.text] : b.type === 'context' ? b.elements : [])
      .map((t) => t !== undefined && t.text === '' ? 'an empty text object (Slack answers invalid_blocks)' : undefined)
  )
}

// ---------------------------------------------------------------------------------------------------
// Answers

/** What Slack's error codes mean for the person reading the delivery error. */
const HINTS: Record<string, string> = {
  no_service: 'the webhook was removed or revoked: create a new one',
  no_team: 'the workspace of this webhook is gone',
  channel_not_found: 'the webhook\'s channel no longer exists',
  channel_is_archived: 'the webhook\'s channel is archived',
  action_prohibited: 'an admin restriction blocks this webhook',
  invalid_token: 'the webhook URL is not valid: copy it again from the app\'s settings',
  posting_to_general_channel_denied: 'only admins may post to this channel'
}

/** Slack answers in one short plain-text word; a 200 with anything but `ok` is no delivery. */
export function outcomeFromSlack (res: { status: number, headers: Record<string, string | string[] | undefined>, body: string }, where: string, secrets: readonly string[] = []): Outcome {
  const code = res.body.trim()
  if (res.status === 200 && code === 'ok') return { ok: true }
  if (res.status >= 200 && res.status < 300) {
    const detail = oneLine(code).slice(0, 200)
    return { ok: false, retryable: false, status: res.status, error: `${where}: HTTP ${res.status} without "ok" (${detail === '' ? 'empty body' : detail}): not a Slack webhook?` }
  }
  const out = outcomeFromResponse(res, where, secrets)
  if (out.ok) return out
  const hint = HINTS[code]
  return hint === undefined ? out : { ...out, error: `${out.error} (${hint})` }
}

// ---------------------------------------------------------------------------------------------------

export function create (cfg: ResolvedChannel): Channel<SlackMessage> {
  const net = netOf(cfg.config)
  const url = String(cfg.config.url ?? cfg.config.webhookUrl)
  const extra: Pick<SlackMessage, 'username' | 'icon_emoji'> = {}
  if (typeof cfg.config.username === 'string') extra.username = cfg.config.username
  if (typeof cfg.config.iconEmoji === 'string') extra.icon_emoji = cfg.config.iconEmoji
  // The webhook's path is its credential; Slack (and proxies) may echo it in error pages.
  const where = `${cfg.name} (${safeUrl(url)})`
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, cfg.secrets) })
  return {
    name: cfg.name,
    type: 'slack',
    limits: { check: SLACK_CHECK },
    render (events: readonly AlertEvent[]): SlackMessage[] {
      if (events.length === 0) return []
      if (events.length === 1) return [renderOne(events[0] as AlertEvent, extra)]
      return renderDigest(events, extra)
    },
    async send (message: SlackMessage, { signal }): Promise<Outcome> {
      const headers = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'pino-alerts' }
      try {
        const res = await httpRequest(url, { method: 'POST', headers, body: JSON.stringify(message), signal, net })
        return masked(outcomeFromSlack(res, where, cfg.secrets))
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
    }
  }
}
