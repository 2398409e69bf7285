/** Plain-text renderings shared by channels. */
import { SEVERITY_RANK, type AlertEvent } from '../event.js'

export const SEVERITY_WORD = { info: 'INFO', warn: 'WARN', critical: 'CRITICAL' } as const

/** Most severe first, then oldest first: the order of every digest. */
export function bySeverity (events: readonly AlertEvent[]): AlertEvent[] {
  // Timestamps are ISO 8601 UTC: plain comparison orders them (localeCompare took seconds on 100 000).
  return [...events].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
}

/** `[CRITICAL] risk_gate: Order blocked`, `[RESOLVED] …` for resolved events. */
export function subject (e: AlertEvent): string {
  return `[${e.status === 'resolved' ? 'RESOLVED' : SEVERITY_WORD[e.severity]}] ${e.source}: ${e.title}`
}

export function labelsText (labels: Record<string, string>): string {
  const keys = Object.keys(labels)
  return keys.length === 0 ? '' : keys.map((k) => `${k}=${labels[k]}`).join(' ')
}

/** "14 alerts: 3 critical, 11 warn" */
export function digestHeadline (events: readonly AlertEvent[]): string {
  const counts = { critical: 0, warn: 0, info: 0 }
  for (const e of events) counts[e.severity]++
  const parts = (['critical', 'warn', 'info'] as const).filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`)
  return `${events.length} alerts: ${parts.join(', ')}`
}

/**
 * Every whitespace run that holds a line break (with `tabs`, a line break or a tab) becomes one space;
 * other runs stay as they are. In one pass what the patterns `\s*\n\s*` and `\s*[\n\t]\s*` (global)
 * gave: those backtracked over every start in a run of spaces without a line break (quadratic: 10 000
 * spaces took ~100 ms, a 1 MiB run minutes), while `\s+` takes each run once, whole.
 */
export function foldBreaks (s: string, tabs = false): string {
  if (!s.includes('\n') && !(tabs && s.includes('\t'))) return s
  return s.replace(/\s+/g, (run) => (run.includes('\n') || (tabs && run.includes('\t')) ? ' ' : run))
}

/** Control characters (other than tab/newline) would let a log line rewrite a terminal. */
export function stripControl (s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '�')
}
