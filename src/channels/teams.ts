/**
 * teams: Microsoft Teams through a Power Automate "Workflows" webhook (the "Send webhook alerts to a
 * channel" template that replaced the retired Office 365 connectors). Every message is one Adaptive
 * Card in the `{ type: "message", attachments: [...] }` envelope the template iterates over.
 *
 * - Workflows answers `202 Accepted` (some flows `200`): both are delivered. 429 and 5xx are retried
 *   (`Retry-After` honoured); 400 (bad card), 401/403 (bad signature), 404 (workflow deleted) and
 *   413 (too large) are permanent.
 * - A request body may be at most 28 KB. Cards are measured as the UTF-8 bytes of the JSON that is
 *   sent and built to stay under `TEAMS_BUDGET_BYTES` (27 KB: headroom for however the service counts
 *   "KB"); long texts are cut with `…`, a digest too large for one card is split into several.
 * - Adaptive Card TextBlocks (and FactSet values) render a subset of Markdown: user text is made inert
 *   by backslash-escaping what could start emphasis, links, code or lists. Where a Teams client does
 *   not honour the escapes, the backslashes show, but the construct still does not render.
 */
import { httpRequest, type HttpResponse, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent, Severity } from '../event.js'
import { wellFormed } from '../format/escape.js'
import { bySeverity, digestHeadline, foldBreaks, SEVERITY_WORD, stripControl } from '../format/text.js'
import { byteLength, headFor, headUnits, truncate } from '../format/truncate.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'

/** The request body size Teams accepts (bytes). */
export const TEAMS_MAX_BYTES = 28 * 1024
/** What rendered messages aim for: 1 KB of headroom under the limit. */
export const TEAMS_BUDGET_BYTES = 27 * 1024
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive'

/** One request: the JSON body, ready to POST. */
export interface TeamsMessage { body: string }

type CardElement = Record<string, unknown>

/** Container style and title colour per severity; resolved alerts are green whatever their severity. */
export const TEAMS_LOOK: Readonly<Record<Severity | 'resolved', { style: string, color: string }>> = {
  critical: { style: 'attention', color: 'Attention' },
  warn: { style: 'warning', color: 'Warning' },
  info: { style: 'emphasis', color: 'Default' },
  resolved: { style: 'good', color: 'Good' }
}

// ---------------------------------------------------------------------------------------------------
// Untrusted text → inert Adaptive Card text

// Bidi overrides/isolates could make a title read differently from what it says.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g
/**
 * Inline Markdown: `\`, `*` (emphasis, also intraword), `[`/`]` (links), `` ` `` (code), `~`
 * (strike-through), and `_` where it could open or close emphasis — intraword underscores
 * (`kill_switch`) never do, so identifiers stay as they are.
 */
const INLINE = /[\\*[\]`~]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu

/** Valid Unicode, `\n` line ends, no control or bidi-override characters. */
function clean (s: string): string {
  return stripControl(wellFormed(s).replace(/\r\n?/g, '\n')).replace(BIDI, '\ufffd')
}

/** One line of cleaned text made inert: inline escapes, line-start constructs, `{{DATE(…)}}` functions. */
function inertLine (line: string): string {
  return line
    .replace(INLINE, '\\$&')
    // lists, headings, quotes, rules and setext underlines only count at the start of a line
    .replace(/^(\s*)([-+#>=|])/, '$1\\$2')
    .replace(/^(\s*\d+)([.)])/, '$1\\$2')
    // TextBlocks substitute {{DATE(…)}} / {{TIME(…)}}; a zero-width space breaks the opener
    .replace(/\{\{/g, '{\u200b{')
}

/**
 * Untrusted text for a single-line field (title, source, fact): cleaned, whitespace runs with a line
 * break folded into one space, cut to `max` UTF-16 units (with `…`), then escaped. Only what the cut
 * can keep is cleaned (`headFor`), and the folding is one pass (`foldBreaks`).
 */
export function teamsInline (s: string, max: number): string {
  return inertLine(truncate(foldBreaks(clean(headFor(s, max))), max))
}

/**
 * Untrusted multi-line text (the body): cleaned, cut to `max` units, every non-blank line its own
 * paragraph (TextBlock Markdown needs a blank line for a line break), each line escaped.
 */
export function teamsParagraphs (s: string, max: number): string {
  // Cleaning shortens only `\r\n`: twice the limit in units is more than the cut can keep.
  return truncate(clean(headUnits(s, 2 * max + 2)), max).split('\n').filter((l) => l.trim() !== '').map(inertLine).join('\n\n')
}

// ---------------------------------------------------------------------------------------------------
// Cards

interface Caps { title: number, source: number, body: number, facts: number, factKey: number, factValue: number }
/**
 * Starting limits (UTF-16 units) for one alert on its own card, and for each alert of a digest. A lone
 * alert's body is then limited by bytes only: whatever room the card leaves.
 */
const SINGLE: Caps = { title: 500, source: 200, body: 30_000, facts: 40, factKey: 100, factValue: 1000 }
const DIGEST: Caps = { title: 300, source: 100, body: 500, facts: 8, factKey: 60, factValue: 200 }
const ID_MAX = 100

function eventContainer (e: AlertEvent, caps: Caps, inDigest: boolean): CardElement {
  const resolved = e.status === 'resolved'
  const look = TEAMS_LOOK[resolved ? 'resolved' : e.severity]
  const word = resolved ? 'RESOLVED' : SEVERITY_WORD[e.severity]
  const source = teamsInline(e.source, caps.source)
  // subject(): "[CRITICAL] source: title" — built here from escaped parts.
  const items: CardElement[] = [{
    type: 'TextBlock',
    text: `[${word}] ${source}: ${teamsInline(e.title, caps.title)}`,
    weight: 'Bolder',
    size: 'Medium',
    color: look.color,
    wrap: true
  }]
  const body = caps.body > 0 ? teamsParagraphs(e.body, caps.body) : ''
  if (body !== '') items.push({ type: 'TextBlock', text: body, wrap: true })
  const keys = Object.keys(e.labels)
  const shown = keys.slice(0, caps.facts)
  if (keys.length > 0) {
    const facts = shown.map((k) => ({ title: teamsInline(k, caps.factKey), value: teamsInline(e.labels[k] ?? '', caps.factValue) }))
    if (shown.length < keys.length) facts.push({ title: '…', value: `${keys.length - shown.length} more label${keys.length - shown.length === 1 ? '' : 's'}` })
    items.push({ type: 'FactSet', facts })
  }
  const trace = e.trace === undefined ? '' : ` · trace ${teamsInline(e.trace.traceId, 64)}`
  items.push({
    type: 'TextBlock',
    text: `${source} · ${e.timestamp} · id ${teamsInline(e.id, ID_MAX)}${trace}`,
    size: 'Small',
    isSubtle: true,
    wrap: true,
    spacing: 'Small'
  })
  const container: CardElement = { type: 'Container', style: look.style, items }
  if (inDigest) { container.separator = true; container.spacing = 'Medium' }
  return container
}

/** The Workflows envelope around one Adaptive Card with these body elements. */
export function teamsPayload (body: readonly CardElement[]): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [{
      contentType: ADAPTIVE_CARD_CONTENT_TYPE,
      contentUrl: null,
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body,
        msteams: { width: 'Full' }
      }
    }]
  }
}

const ENVELOPE_BYTES = byteLength(JSON.stringify(teamsPayload([])))

/**
 * The largest rendering of one alert whose JSON is at most `maxBytes`: the body is cut first, then
 * label values, the number of labels, the title and the source.
 */
function fitEvent (e: AlertEvent, start: Caps, maxBytes: number, inDigest: boolean): { element: CardElement, bytes: number } {
  const caps = { ...start }
  let push = 1
  for (;;) {
    const element = eventContainer(e, caps, inDigest)
    const bytes = byteLength(JSON.stringify(element))
    if (bytes <= maxBytes) return { element, bytes }
    const excess = bytes - maxBytes
    const bodyLen = Math.min(caps.body, e.body.length)
    if (bodyLen > 0) {
      // Every UTF-16 unit cut saves at least one byte; cut more each round in case blank lines saved none.
      caps.body = Math.max(0, bodyLen - (excess + 8) * push)
      push *= 2
    } else if (caps.factValue > 40) caps.factValue = Math.floor(caps.factValue / 2)
    else if (caps.facts > 0) caps.facts = Math.floor(caps.facts / 2)
    else if (caps.title > 80) caps.title = Math.floor(caps.title / 2)
    else if (caps.source > 40) caps.source = Math.floor(caps.source / 2)
    else if (caps.factKey > 20) caps.factKey = Math.floor(caps.factKey / 2)
    // At the floor an alert is well under 2 KB: never reached with the budgets used here.
    else return { element, bytes }
  }
}

function message (body: readonly CardElement[]): TeamsMessage {
  return { body: JSON.stringify(teamsPayload(body)) }
}

/** Renders one alert, or a digest (most severe first) split into cards that each fit the budget. */
export function renderTeams (events: readonly AlertEvent[], budget = TEAMS_BUDGET_BYTES): TeamsMessage[] {
  if (events.length === 0) return []
  if (events.length === 1) {
    return [message([fitEvent(events[0] as AlertEvent, SINGLE, budget - ENVELOPE_BYTES, false).element])]
  }
  const headline = digestHeadline(events)
  const header = (part: string): CardElement => ({ type: 'TextBlock', text: headline + part, weight: 'Bolder', size: 'Large', wrap: true })
  // Room for the alerts of one card: the header is reserved at its widest ("part 999 of 999").
  const room = budget - ENVELOPE_BYTES - byteLength(JSON.stringify(header(' (part 999 of 999)')))
  const cards: CardElement[][] = []
  let current: CardElement[] = []
  let used = 0
  for (const e of bySeverity(events)) {
    const { element, bytes } = fitEvent(e, DIGEST, room - 1, true)
    // each element after the header costs its bytes plus one comma
    if (current.length > 0 && used + bytes + 1 > room) { cards.push(current); current = []; used = 0 }
    current.push(element)
    used += bytes + 1
  }
  cards.push(current)
  return cards.map((items, i) => message([header(cards.length === 1 ? '' : ` (part ${i + 1} of ${cards.length})`), ...items]))
}

// ---------------------------------------------------------------------------------------------------
// Answers

/**
 * Workflows (Logic Apps) errors are `{ "error": { "code", "message" } }`; their messages may name the
 * workflow. Shown as `code: message`, masked by the caller.
 */
function errorDetail (body: string): string {
  try {
    const o = JSON.parse(body) as { error?: { code?: unknown, message?: unknown } }
    if (o !== null && typeof o === 'object' && o.error !== null && typeof o.error === 'object') {
      const code = typeof o.error.code === 'string' ? o.error.code : ''
      const msg = typeof o.error.message === 'string' ? o.error.message : ''
      const text = [code, msg].filter((s) => s !== '').join(': ')
      if (text !== '') return text
    }
  } catch { /* not JSON: shown as it is */ }
  return body
}

/**
 * The secret parts of the Workflows URLs beyond what options.ts lists (whole URL, path + query): the
 * workflow id and the `sig` on their own, as error pages echo them separately.
 */
function urlTokens (urls: readonly string[]): string[] {
  const out: string[] = []
  for (const u of urls) {
    try {
      const url = new URL(u)
      for (const seg of url.pathname.split('/')) if (/^[\w-]{16,}$/.test(seg)) out.push(seg)
      for (const v of url.searchParams.values()) if (/^[\w-]{16,}$/.test(v)) out.push(v)
    } catch { /* validated by options.ts */ }
  }
  return out
}

export function create (cfg: ResolvedChannel): Channel<TeamsMessage> {
  const net = netOf(cfg.config)
  const webhookUrl = String(cfg.config.webhookUrl)
  const target = typeof cfg.config.url === 'string' ? cfg.config.url : webhookUrl
  const where = `${cfg.name} (${safeUrl(target)})`
  const secrets = [...cfg.secrets, ...urlTokens([webhookUrl, target])].sort((a, b) => b.length - a.length)
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, secrets) })
  return {
    name: cfg.name,
    type: 'teams',
    // The Workflows webhook takes request bodies of at most 28 KB (cards are built to 27 KB).
    limits: { maxMessageBytes: TEAMS_MAX_BYTES },
    render: (events) => renderTeams(events),
    async send (msg: TeamsMessage, { signal }): Promise<Outcome> {
      let res: HttpResponse
      try {
        res = await httpRequest(target, {
          method: 'POST',
          // Without a charset the service has been seen to count the body as UTF-16 (twice the bytes).
          headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'pino-alerts' },
          body: msg.body,
          signal,
          net
        })
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
      // 200/202 delivered; 408, 429, 5xx retryable (Retry-After); 400, 401, 403, 404, 413 permanent.
      return masked(outcomeFromResponse({ ...res, body: errorDetail(res.body) }, where, cfg.secrets))
    }
  }
}
