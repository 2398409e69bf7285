/**
 * Message templates (SPEC §14): `template: { title?, body? }` on a channel or at the top level.
 * `{{source}}`, `{{severity}}`, `{{title}}`, `{{body}}`, `{{status}}`, `{{id}}`, `{{fingerprint}}`,
 * `{{timestamp}}`, `{{level}}`, `{{labels.NAME}}` and `{{metadata.PATH}}` (a dot path; objects as
 * JSON). A missing value renders empty; any other name is an error at start naming the template's
 * path.
 *
 * A template only makes the event's title and body: the channel then escapes and cuts them as it
 * does any alert, so a template can never re-open markup injection or push a message over a
 * service's limit. Compiling and rendering are single passes over the template and the values.
 */
import { AlertEvent } from '../event.js'
import { boundedJson } from './json.js'

/** The fields a template may name directly. */
export const TEMPLATE_FIELDS = ['source', 'severity', 'title', 'body', 'status', 'id', 'fingerprint', 'timestamp', 'level'] as const
type Field = typeof TEMPLATE_FIELDS[number]

/** A template longer than this is refused (a title or a body, not a document). */
export const MAX_TEMPLATE_LENGTH = 10_000
/** What one rendered template may grow to, in UTF-16 units (a template repeating `{{body}}` of a 1 MiB alert). */
const MAX_OUTPUT = 1024 * 1024
/** How much of a metadata object is written as JSON into a template. */
const MAX_JSON = 64 * 1024

type Part =
  | { kind: 'text', text: string }
  | { kind: 'field', name: Field }
  | { kind: 'label', name: string }
  | { kind: 'metadata', path: string[] }

export interface Template {
  /** As configured. */
  readonly source: string
  readonly parts: readonly Part[]
  /** The fields, labels and metadata it names (`status`, `labels.desk`, …), as written. */
  readonly names: readonly string[]
}

/** A channel's resolved templates (the channel's own over the top-level one, field by field). */
export interface ResolvedTemplate { title?: Template, body?: Template }

const EXPECTED = `expected one of ${TEMPLATE_FIELDS.map((f) => `{{${f}}}`).join(', ')}, {{labels.NAME}} or {{metadata.PATH}}`

/** Parses a template; `undefined` (and an issue naming `path`) when it names something unknown. */
export function compileTemplate (source: string, path: string, issues: string[]): Template | undefined {
  if (source.length > MAX_TEMPLATE_LENGTH) {
    issues.push(`${path}: a template of ${source.length} characters; expected at most ${MAX_TEMPLATE_LENGTH}`)
    return undefined
  }
  const parts: Part[] = []
  const names: string[] = []
  let at = 0
  const before = issues.length
  while (at < source.length) {
    const open = source.indexOf('{{', at)
    if (open === -1) { parts.push({ kind: 'text', text: source.slice(at) }); break }
    if (open > at) parts.push({ kind: 'text', text: source.slice(at, open) })
    const close = source.indexOf('}}', open + 2)
    if (close === -1) {
      issues.push(`${path}: "{{" at position ${open} is never closed with "}}"`)
      break
    }
    const name = source.slice(open + 2, close).trim()
    const part = partFor(name)
    if (part === undefined) issues.push(`${path}: unknown name {{${name}}} at position ${open}; ${EXPECTED}`)
    else { parts.push(part); names.push(name) }
    at = close + 2
  }
  return issues.length > before ? undefined : { source, parts, names }
}

function partFor (name: string): Part | undefined {
  if ((TEMPLATE_FIELDS as readonly string[]).includes(name)) return { kind: 'field', name: name as Field }
  if (name.startsWith('labels.') && name.length > 'labels.'.length) return { kind: 'label', name: name.slice('labels.'.length) }
  if (name.startsWith('metadata.')) {
    const path = name.slice('metadata.'.length).split('.')
    if (path.every((p) => p !== '')) return { kind: 'metadata', path }
  }
  return undefined
}

/**
 * The template's text for one event: missing values empty, at most 1 Mi UTF-16 units (cut there, never
 * inside a surrogate pair). Values are inserted as they are: a `{{…}}` inside a value is text.
 */
export function renderTemplate (t: Template, e: AlertEvent): string {
  let out = ''
  for (const p of t.parts) {
    const v = valueOf(p, e)
    if (out.length + v.length > MAX_OUTPUT) {
      // Cut at the cap, never between the two halves of a surrogate pair (an emoji).
      let end = MAX_OUTPUT - out.length
      const c = v.charCodeAt(end - 1)
      if (end > 0 && c >= 0xd800 && c <= 0xdbff) end--
      return out + v.slice(0, end)
    }
    out += v
  }
  return out
}

function valueOf (p: Part, e: AlertEvent): string {
  switch (p.kind) {
    case 'text': return p.text
    case 'field': return String(e[p.name])
    case 'label': return Object.hasOwn(e.labels, p.name) ? e.labels[p.name] as string : ''
    case 'metadata': {
      let v: unknown = e.metadata
      for (const k of p.path) {
        if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return ''
        v = (v as Record<string, unknown>)[k]
      }
      if (v === undefined || v === null) return ''
      if (typeof v === 'string') return v
      try { return (boundedJson(v, MAX_JSON) ?? '').slice(0, MAX_JSON) } catch { return '' }
    }
  }
}

/** The event as the channel renders it: title and body made by the templates, everything else kept. */
export function applyTemplate (e: AlertEvent, t: ResolvedTemplate): AlertEvent {
  if (t.title === undefined && t.body === undefined) return e
  const json = e.toJSON()
  if (t.title !== undefined) json.title = renderTemplate(t.title, e)
  if (t.body !== undefined) json.body = renderTemplate(t.body, e)
  return new AlertEvent(json)
}
