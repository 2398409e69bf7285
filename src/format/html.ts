/** HTML renderings shared by channels (email): inline styles only, every user string escaped. */
import type { AlertEvent, Severity } from '../event.js'
import { escapeHtml } from './escape.js'
import { bySeverity, digestHeadline, SEVERITY_WORD } from './text.js'

export const SEVERITY_HEX: Readonly<Record<Severity | 'resolved', string>> = {
  critical: '#d32f2f', warn: '#f9a825', info: '#1976d2', resolved: '#2e7d32'
}

export function colourOf (e: AlertEvent): string {
  return e.status === 'resolved' ? SEVERITY_HEX.resolved : SEVERITY_HEX[e.severity]
}

const h = escapeHtml
const CELL = 'padding:4px 8px;border:1px solid #ddd;vertical-align:top;text-align:left'

function valueText (v: unknown): string {
  if (typeof v === 'string') return v
  try { return JSON.stringify(v, null, 2) ?? String(v) } catch { return String(v) }
}

function table (rows: Array<[string, string]>, caption: string): string {
  if (rows.length === 0) return ''
  return `<h3 style="margin:16px 0 4px;font-size:14px">${h(caption)}</h3>` +
    `<table style="border-collapse:collapse;font-size:13px">${rows.map(([k, v]) =>
      `<tr><th style="${CELL};background:#f5f5f5">${h(k)}</th><td style="${CELL};white-space:pre-wrap;font-family:monospace">${h(v)}</td></tr>`).join('')}</table>`
}

/** One alert: a severity colour band, title, body, labels and metadata tables, timestamp and id. */
export function alertHtml (e: AlertEvent): string {
  const word = e.status === 'resolved' ? 'RESOLVED' : SEVERITY_WORD[e.severity]
  return `<div style="font-family:Arial,Helvetica,sans-serif;max-width:720px">` +
    `<div style="background:${colourOf(e)};color:#fff;padding:8px 12px;font-weight:bold">${h(word)} · ${h(e.source)}</div>` +
    `<div style="border:1px solid #ddd;border-top:0;padding:12px">` +
    `<h2 style="margin:0 0 8px;font-size:18px">${h(e.title)}</h2>` +
    (e.body !== '' ? `<p style="white-space:pre-wrap;margin:0 0 8px">${h(e.body)}</p>` : '') +
    table(Object.entries(e.labels), 'Labels') +
    table(Object.entries(e.metadata).map(([k, v]) => [k, valueText(v)]), 'Metadata') +
    `<p style="color:#666;font-size:12px;margin:12px 0 0">${h(e.timestamp)} · id ${h(e.id)} · fingerprint ${h(e.fingerprint)}</p>` +
    `</div></div>`
}

/** A digest: a headline and one table row per alert, most severe first. */
export function digestHtml (events: readonly AlertEvent[]): string {
  const rows = bySeverity(events).map((e) =>
    `<tr><td style="${CELL};background:${colourOf(e)};color:#fff;font-weight:bold">${h(e.status === 'resolved' ? 'RESOLVED' : SEVERITY_WORD[e.severity])}</td>` +
    `<td style="${CELL}">${h(e.source)}</td><td style="${CELL}"><b>${h(e.title)}</b>${e.body !== '' ? `<br><span style="white-space:pre-wrap">${h(e.body)}</span>` : ''}</td>` +
    `<td style="${CELL};white-space:nowrap">${h(e.timestamp)}</td></tr>`).join('')
  return `<div style="font-family:Arial,Helvetica,sans-serif;max-width:900px">` +
    `<h2 style="font-size:18px">${h(digestHeadline(events))}</h2>` +
    `<table style="border-collapse:collapse;font-size:13px"><tr><th style="${CELL}">severity</th><th style="${CELL}">source</th><th style="${CELL}">alert</th><th style="${CELL}">time</th></tr>${rows}</table></div>`
}
