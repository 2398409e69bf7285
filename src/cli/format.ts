/**
 * What every command prints with: durations (`90s`, `15m`, `2h`, `7d`), times, tables and the
 * stats bar chart. Cell text comes from log records, so control characters (terminal escapes) are
 * made visible instead of being sent to the terminal.
 */
import { UsageError } from './command.js'
import { printable } from '../report.js'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `90s`, `15m`, `2h`, `7d`, `500ms`, `1h30m` → milliseconds; undefined when `text` is not one. */
export function parseDuration (text: string): number | undefined {
  const s = text.trim()
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(s)) return undefined
  let total = 0
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(n) * (UNIT_MS[unit as string] as number)
  return Math.round(total)
}

/** A duration option's value, or a usage error naming the option. */
export function durationOption (value: string, option: string): number {
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) throw new UsageError(`--${option}: got ${JSON.stringify(value)}; expected a duration like 90s, 15m, 2h or 7d`)
  return ms
}

/** `--since 2h` (that long ago) or an ISO 8601 time / date → epoch ms. */
export function timeOption (value: string, option: string, now = Date.now()): number {
  const ago = parseDuration(value)
  if (ago !== undefined) return now - ago
  const t = Date.parse(value)
  if (Number.isNaN(t)) throw new UsageError(`--${option}: got ${JSON.stringify(value)}; expected a duration ago (90s, 15m, 2h, 7d) or an ISO 8601 time`)
  return t
}

/** A positive integer option. */
export function intOption (value: string, option: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${option}: got ${JSON.stringify(value)}; expected a positive whole number`)
  return Number(value)
}

/** 7_200_000 → "2h", 5_400_000 → "1h 30m", 45_000 → "45s". */
export function formatDuration (ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`
  let s = Math.round(ms / 1000)
  const parts: string[] = []
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) { parts.push(`${Math.floor(s / size)}${unit}`); s %= size }
  }
  return parts.slice(0, 2).join(' ')
}

/** 1234567 → "1,234,567". */
export function count (n: number): string {
  return n.toLocaleString('en-US')
}

/** A latency: "12 ms", "1.4 s". */
export function formatLatency (ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

const pad2 = (n: number): string => String(n).padStart(2, '0')

/** An ISO time as local `YYYY-MM-DD HH:MM:SS` (set TZ=UTC for UTC; --json keeps ISO 8601 UTC). */
export function formatTime (iso: string | number): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return String(iso)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
}

/** Control characters shown as `\n`, `\x1b`, … so that a log line cannot drive the terminal (bidi controls too). */
export const visible = printable

/** Cuts `text` to `max` characters (code points), ending in "…". */
export function truncate (text: string, max: number): string {
  const chars = [...text]
  return chars.length <= max ? text : chars.slice(0, Math.max(0, max - 1)).join('') + '…'
}

const width = (s: string): number => [...s].length

export interface TableOptions {
  /** Columns aligned right (numbers). */
  right?: number[]
  /** Longest cell per column; longer ones are cut with "…". */
  max?: Record<number, number>
}

/** A plain-text table: a header row, a rule, one row per entry; columns two spaces apart. */
export function table (headers: string[], rows: Array<Array<string | number>>, o: TableOptions = {}): string {
  const cells = rows.map((r) => r.map((c, i) => {
    const text = visible(String(c))
    const max = o.max?.[i]
    return max === undefined ? text : truncate(text, max)
  }))
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))))
  const line = (r: string[]): string => r.map((c, i) => {
    const w = widths[i] as number
    const fill = ' '.repeat(Math.max(0, w - width(c)))
    if (i === r.length - 1 && !(o.right ?? []).includes(i)) return c
    return (o.right ?? []).includes(i) ? fill + c : c + fill
  }).join('  ').trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n'
}

/** JSON for `--json`: two-space indent, newline at the end. */
export function json (value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n'
}

export type SeverityCounts = Record<'critical' | 'warn' | 'info', number>

/** One bar per bucket, one block character per severity (critical █, warn ▓, info ░), scaled to `barWidth`. */
export function barChart (buckets: Array<{ label: string } & SeverityCounts>, barWidth = 40): string {
  const max = Math.max(1, ...buckets.map((b) => b.critical + b.warn + b.info))
  const labelWidth = Math.max(0, ...buckets.map((b) => width(b.label)))
  const totalWidth = String(max).length
  const lines = buckets.map((b) => {
    const total = b.critical + b.warn + b.info
    // Each non-empty severity gets at least one block, so a single critical alert is never invisible.
    const cells = (n: number): number => (n === 0 ? 0 : Math.max(1, Math.round((n / max) * barWidth)))
    const bar = '█'.repeat(cells(b.critical)) + '▓'.repeat(cells(b.warn)) + '░'.repeat(cells(b.info))
    const detail = total === 0 ? '' : `  ${[b.critical > 0 ? `${b.critical} critical` : '', b.warn > 0 ? `${b.warn} warn` : '', b.info > 0 ? `${b.info} info` : ''].filter((x) => x !== '').join(', ')}`
    return `${b.label.padEnd(labelWidth)}  ${String(total).padStart(totalWidth)} ${bar.padEnd(barWidth + 2)}${detail}`.trimEnd()
  })
  return lines.join('\n') + '\n'
}
