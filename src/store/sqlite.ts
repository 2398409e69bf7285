/**
 * The store: alert history, delivery receipts and the crash-safe outbox, in one SQLite file
 * (better-sqlite3, WAL). Every accepted alert is written before any delivery is attempted; each
 * channel's final outcome is a receipt; the alert is "settled" once every routed channel (or its
 * stand-in) has reached one. What is unsettled at the next start was cut off by a crash, SIGKILL or
 * the shutdown deadline, and is delivered again to the channels that had not delivered it, with the
 * original id as the idempotency key.
 *
 * Shared by several processes (SPEC §15), an unsettled alert and a pending escalation step belong to
 * the process that wrote them (`owner`); each such process heartbeats in `runtime_stats`, and only what
 * no live process owns is taken over (`takeOverAlerts`, `takeOverSteps`).
 *
 * better-sqlite3 is an optional dependency, loaded only when a store is configured.
 */
import { createRequire } from 'node:module'
import { mkdirSync, readFileSync, readlinkSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, resolve } from 'node:path'
import { StoreError } from '../errors.js'
import type { AlertEventJSON, AlertStatus, Severity } from '../event.js'

export { StoreError }

// ---------------------------------------------------------------------------------------------------
// Schema: each migration takes the file from version i to i + 1 (PRAGMA user_version).

export const MIGRATIONS: readonly string[] = [
  // 1: alerts (history + outbox) and receipts
  `CREATE TABLE alerts (
     id TEXT PRIMARY KEY,
     ts INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     source TEXT NOT NULL,
     severity TEXT NOT NULL,
     status TEXT NOT NULL,
     title TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     event TEXT NOT NULL,
     routes TEXT NOT NULL,
     settled INTEGER NOT NULL DEFAULT 0,
     settled_at INTEGER
   );
   CREATE TABLE receipts (
     alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
     channel TEXT NOT NULL,
     ok INTEGER NOT NULL,
     attempts INTEGER NOT NULL,
     error TEXT,
     stand_in_for TEXT,
     at INTEGER NOT NULL,
     PRIMARY KEY (alert_id, channel)
   );
   CREATE INDEX alerts_ts ON alerts(ts);`,
  // 2: query indexes; silences and acknowledgements (used from Step 6 on)
  `CREATE INDEX alerts_severity_ts ON alerts(severity, ts);
   CREATE INDEX alerts_source_ts ON alerts(source, ts);
   CREATE INDEX alerts_unsettled ON alerts(settled) WHERE settled = 0;
   CREATE INDEX alerts_fingerprint ON alerts(fingerprint, ts);
   CREATE INDEX alerts_ts_cover ON alerts(ts, severity, source);
   ALTER TABLE receipts ADD COLUMN alert_ts INTEGER;
   UPDATE receipts SET alert_ts = (SELECT ts FROM alerts WHERE alerts.id = receipts.alert_id);
   CREATE INDEX receipts_ts_cover ON receipts(alert_ts, channel, ok);
   CREATE TABLE silences (
     id TEXT PRIMARY KEY,
     matchers TEXT NOT NULL,
     starts_at INTEGER NOT NULL,
     ends_at INTEGER NOT NULL,
     comment TEXT NOT NULL DEFAULT '',
     created_by TEXT NOT NULL DEFAULT '',
     created_at INTEGER NOT NULL
   );
   CREATE INDEX silences_ends ON silences(ends_at);
   CREATE TABLE acks (
     alert_id TEXT PRIMARY KEY,
     by TEXT NOT NULL DEFAULT '',
     comment TEXT NOT NULL DEFAULT '',
     at INTEGER NOT NULL
   );`,
  // 3: why an alert was not sent (silence, inhibit, dedupe, …); escalations that survive a restart
  `ALTER TABLE alerts ADD COLUMN suppressed TEXT;
   CREATE TABLE escalations (
     alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
     step INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     channels TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending',
     PRIMARY KEY (alert_id, step)
   );
   CREATE INDEX escalations_pending ON escalations(due_at) WHERE state = 'pending';`,
  // 4: live counters of the processes writing to this store (for the dashboard's /metrics)
  `CREATE TABLE runtime_stats (
     process TEXT PRIMARY KEY,
     at INTEGER NOT NULL,
     stats TEXT NOT NULL
   );`,
  // 5: a store shared by several processes (SPEC §15): the owner of each unsettled alert and pending
  // escalation step; runtime_stats is also each process's heartbeat (at), with its lease, pid and
  // host (to tell a process gone from this machine) and when it ended cleanly. Rows written before
  // have no owner: the first process to look takes them.
  `ALTER TABLE alerts ADD COLUMN owner TEXT;
   ALTER TABLE escalations ADD COLUMN owner TEXT;
   ALTER TABLE runtime_stats ADD COLUMN lease_ms INTEGER;
   ALTER TABLE runtime_stats ADD COLUMN pid INTEGER;
   ALTER TABLE runtime_stats ADD COLUMN host TEXT;
   ALTER TABLE runtime_stats ADD COLUMN started_at INTEGER;
   ALTER TABLE runtime_stats ADD COLUMN ended_at INTEGER;
   CREATE INDEX alerts_unsettled_owner ON alerts(owner) WHERE settled = 0;
   CREATE INDEX runtime_stats_at ON runtime_stats(at);`,
  // 6: each writing process's resolved configuration, secrets left out (SPEC §15, the dashboard's
  // "Channels & routing"): a JSON snapshot written when its heartbeat row is first written.
  'ALTER TABLE runtime_stats ADD COLUMN config TEXT;'
]
export const SCHEMA_VERSION = MIGRATIONS.length

// ---------------------------------------------------------------------------------------------------

export type TimeInput = Date | string | number

export interface HistoryQuery {
  since?: TimeInput
  until?: TimeInput
  severity?: Severity | Severity[]
  source?: string
  status?: AlertStatus
  /** Default 100, at most 10000. */
  limit?: number
}

/** One stored alert: the event exactly as it was dispatched, plus what the store knows of it. */
export interface HistoryEntry extends AlertEventJSON {
  receivedAt: string
  /** Every routed channel (or its stand-in) reached a final outcome. */
  settled: boolean
  /** Why it was not sent: `silence`, `inhibit`, `dedupe`, `resolve-unknown`. */
  suppressed?: string
}

interface Row { event: string, received_at: number, settled: number, suppressed: string | null }
function entry (r: Row): HistoryEntry {
  const out: HistoryEntry = { ...(JSON.parse(r.event) as AlertEventJSON), receivedAt: iso(r.received_at), settled: r.settled === 1 }
  if (r.suppressed !== null) out.suppressed = r.suppressed
  return out
}

export interface Receipt {
  channel: string
  ok: boolean
  attempts: number
  error?: string
  standInFor?: string
  at: string
}

export interface SummaryQuery { since?: TimeInput, until?: TimeInput, bucketMs?: number }
export interface Summary {
  since: string
  until: string
  total: number
  bySeverity: Record<Severity, number>
  bySource: Record<string, number>
  byChannel: Record<string, { delivered: number, failed: number }>
  /** Counts per time bucket (by the alert's timestamp), oldest first, empty buckets included. */
  buckets: Array<{ start: string } & Record<Severity, number>>
}

export interface StoredSilence {
  id: string
  /** Alertmanager matchers, as written. */
  match: string[]
  startsAt: string
  endsAt: string
  comment: string
  createdBy: string
  createdAt: string
}

export interface Outboxed { event: AlertEventJSON, routes: string[], receipts: Receipt[] }

export interface StoreOptions {
  path: string
  maxAgeDays: number
  maxRows: number
  readonly?: boolean
  /**
   * How long a write waits for another connection's lock once the store is open (opening and migrating
   * wait up to 5 s). Default 5000. The engine passes less: better-sqlite3 waits synchronously, and on a
   * delivery path every millisecond of it holds every alert back.
   */
  busyTimeoutMs?: number
  /**
   * Apply retention (`maxAgeDays`, `maxRows`, and the rows of processes silent for a day) at open and
   * hourly. Default false: only the engine that owns the outbox (one that replays) passes true; tools
   * beside the app (CLI, dashboard) and readers never delete anything.
   */
  retention?: boolean
  /**
   * This process's id in a shared store (SPEC §15): the alerts and escalation steps it writes are owned
   * by it, and from its first such write (or `register()`) it has a heartbeat row. Unset: writes have no
   * owner and no row is ever written.
   */
  process?: string
  /** How long this process's heartbeat stands for it, recorded with it (others judge it by this). Default 30000. */
  leaseMs?: number
  /**
   * This process's configuration with no secret in it (the engine's snapshot, see engine/snapshot.ts),
   * written with its heartbeat row when the row is first written. At most PROCESS_TEXT_MAX characters
   * of JSON: the engine makes it fit.
   */
  config?: unknown
}

/** A process writing to the store, from its heartbeat row in `runtime_stats`. */
export interface ProcessRow {
  process: string
  /** Its last heartbeat (epoch ms). */
  at: number
  pid?: number
  /** Machine (and PID namespace) it runs on: see `localHost()`. */
  host?: string
  leaseMs?: number
  /** When it closed cleanly. */
  endedAt?: number
  /** When its row was first written (epoch ms). */
  startedAt?: number
}

/** A process row with what it recorded: its live counters and its configuration snapshot. */
export interface ProcessDetail extends ProcessRow {
  /** The live counters last written, parsed; undefined when absent, not JSON, or over the size bound. */
  stats: unknown
  /** The configuration snapshot as written (JSON text, unchecked); undefined when absent or over the size bound. */
  config: string | undefined
}

/** The longest `stats` or `config` text of a process row that is read (characters); longer ones are left out. */
export const PROCESS_TEXT_MAX = 256 * 1024
/** What one `processDetails` call reads of `stats` and `config` texts in all (characters); rows beyond it come without them. */
const PROCESS_TEXT_BUDGET = 8 * 1024 * 1024
/** What `recentFiring` reads of an alert's event (characters); the labels of a longer one are left out. */
const EVENT_TEXT_MAX = 256 * 1024

/** What makes an owner dead: no heartbeat row, ended, a heartbeat older than its lease, or known gone. */
export interface Liveness {
  now: number
  /** For an owner that recorded no lease of its own. */
  leaseMs: number
  /** Owners known to have exited (their pid no longer exists on this machine), heartbeat or not. */
  gone: readonly string[]
}

/** An escalation step as stored, with the event it escalates. */
export interface StoredStep { alertId: string, step: number, dueAt: number, channels: string[], event: AlertEventJSON }

/** Process rows of processes silent for longer than this are deleted by retention. */
const PROCESS_ROW_MAX_AGE_MS = 86_400_000
/** At most this many rows of processes that ended are kept (one per CLI run that wrote). */
const ENDED_PROCESS_ROWS_MAX = 1000

/** SQL: the owner in `owner` (a column or parameter) is not alive, given @now, @lease, @gone (a JSON list). */
const ownerDead = (owner: string): string => `NOT EXISTS (SELECT 1 FROM runtime_stats p WHERE p.process = ${owner} AND p.ended_at IS NULL
  AND p.at >= @now - coalesce(p.lease_ms, @lease) AND p.process NOT IN (SELECT value FROM json_each(@gone)))`

let host: string | undefined
/**
 * This machine as process rows name it: host name, boot id and PID namespace (Linux), so that a pid
 * is only ever looked up where it means the same process.
 */
export function localHost (): string {
  if (host !== undefined) return host
  host = hostname()
  try { host += '/' + readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() } catch { /* not Linux */ }
  try { host += '/' + readlinkSync('/proc/self/ns/pid') } catch { /* not Linux */ }
  return host
}

/** Whether a process with this pid exists on this machine (EPERM: it does, owned by another user). */
export function pidRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether a process row stands for a live process, as take-over judges owners: not ended, a heartbeat
 * within its own lease (`leaseMs` for a row that recorded none), and, when it ran on this machine
 * (see `localHost()`), its pid still exists.
 */
export function processAlive (p: ProcessRow, now = Date.now(), leaseMs = 30_000): boolean {
  if (p.endedAt !== undefined) return false
  if (now - p.at > (p.leaseMs ?? leaseMs)) return false
  return !(p.host === localHost() && p.pid !== undefined && p.pid !== process.pid && !pidRunning(p.pid))
}

interface Db {
  prepare: (sql: string) => { run: (...a: unknown[]) => { changes: number }, get: (...a: unknown[]) => any, all: (...a: unknown[]) => any[], iterate: (...a: unknown[]) => Iterable<unknown>, raw: () => { iterate: (...a: unknown[]) => Iterable<unknown> } }
  exec: (sql: string) => void
  pragma: (s: string, o?: { simple: boolean }) => unknown
  transaction: <T extends (...a: any[]) => any>(fn: T) => T
  close: () => void
}

type SqliteCtor = new (path: string, opts?: { readonly?: boolean, fileMustExist?: boolean, timeout?: number }) => Db

function loadSqlite (): SqliteCtor {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as SqliteCtor
  } catch (err) {
    throw new StoreError(`store: the optional dependency better-sqlite3 is not installed (${(err as Error).message.split('\n')[0]}); install it with "npm install better-sqlite3@12" (npm 11: also "npm install-scripts approve better-sqlite3"), or remove the store option`, 'PINO_ALERTS_STORE_UNAVAILABLE')
  }
}

export function toMs (t: TimeInput | undefined, fallback: number): number {
  if (t === undefined) return fallback
  if (t instanceof Date) return t.getTime()
  if (typeof t === 'number') return t
  const ms = Date.parse(t)
  if (Number.isNaN(ms)) throw new StoreError(`store: not a time: ${JSON.stringify(t)} (expected a Date, an ISO 8601 string or epoch milliseconds)`, 'PINO_ALERTS_BAD_QUERY')
  return ms
}

const iso = (ms: number): string => new Date(ms).toISOString()

export class AlertStore {
  readonly path: string
  private readonly db: Db
  private retentionTimer: NodeJS.Timeout | undefined
  private closed = false
  /** This process has a heartbeat row (it owns, or owned, something here). */
  private registered = false

  private constructor (db: Db, path: string, private readonly opts: StoreOptions) {
    this.db = db
    this.path = path
  }

  /** Opens (creating unless readonly) and migrates; a file that is not a store fails with a clear error and is left untouched. */
  static open (opts: StoreOptions): AlertStore {
    const Sqlite = loadSqlite()
    const path = resolve(opts.path)
    if (opts.readonly !== true) mkdirSync(dirname(path), { recursive: true })
    let db: Db
    try {
      db = new Sqlite(path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true, timeout: 5000 })
    } catch (err) {
      throw new StoreError(`store ${path}: cannot open: ${(err as Error).message}`)
    }
    try {
      // The first read fails on a file that is not SQLite, before anything is written.
      const version = db.pragma('user_version', { simple: true }) as number
      db.prepare('SELECT count(*) FROM sqlite_master').get()
      if (version > SCHEMA_VERSION) throw new StoreError(`store ${path}: written by a newer pino-alerts (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade pino-alerts`)
      if (version === 0 && opts.readonly !== true) {
        const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }
        if (tables.n > 0) throw new StoreError(`store ${path}: an SQLite file that is not a pino-alerts store (it has tables but no schema version); not touched`)
      }
      if (opts.readonly !== true) {
        db.pragma('journal_mode = WAL')
        // Durable against a crash or SIGKILL of the process (the OS has the WAL); fsync per commit would
        // cost every alert a disk flush.
        db.pragma('synchronous = NORMAL')
        db.pragma('foreign_keys = ON')
        // Two processes opening a new store at once (an app and the dashboard): the version is read
        // again inside an IMMEDIATE transaction, so only one of them migrates.
        const migrate = db.transaction(() => {
          const current = db.pragma('user_version', { simple: true }) as number
          for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string)
          if (current < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`)
        })
        if (version < SCHEMA_VERSION) (migrate as unknown as { immediate: () => void }).immediate()
      } else if (version < SCHEMA_VERSION) {
        throw new StoreError(`store ${path}: schema ${version} needs migrating; open it once read-write (start pino-alerts with it)`)
      }
    } catch (err) {
      db.close()
      if (err instanceof StoreError) throw err
      const e = err as { code?: string, message: string }
      if (e.code === 'SQLITE_NOTADB' || e.code === 'SQLITE_CORRUPT') {
        throw new StoreError(`store ${path}: not a pino-alerts store or corrupt (${e.code}: ${e.message}); the file was not touched — move it away or set another store.path`, 'PINO_ALERTS_STORE_CORRUPT')
      }
      throw new StoreError(`store ${path}: ${e.message}`)
    }
    if (opts.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`)
    const store = new AlertStore(db, path, opts)
    if (opts.readonly !== true && opts.retention === true) {
      store.applyRetention()
      store.retentionTimer = setInterval(() => { try { store.applyRetention() } catch { /* reported by the next query */ } }, 3_600_000)
      store.retentionTimer.unref()
    }
    return store
  }

  // -- writes -----------------------------------------------------------------------------------------

  /**
   * The outbox write, before any delivery. An id seen before (a replay, a retried dispatch) is kept.
   * A `suppressed` alert (silenced, inhibited, deduped, …) is recorded settled: nothing to deliver.
   */
  insert (event: AlertEventJSON, routes: readonly string[], receivedAt = Date.now(), suppressed?: string): void {
    // An alert to deliver belongs to this process: its heartbeat row comes first.
    const owner = suppressed === undefined ? this.own() : null
    this.db.prepare(`INSERT OR IGNORE INTO alerts (id, ts, received_at, source, severity, status, title, fingerprint, event, routes, suppressed, settled, settled_at, owner)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      event.id, Date.parse(event.timestamp), receivedAt, event.source, event.severity, event.status, event.title,
      event.fingerprint, JSON.stringify(event), JSON.stringify(routes), suppressed ?? null, suppressed === undefined ? 0 : 1, suppressed === undefined ? null : receivedAt, owner)
  }

  /** Replaces the stored event (the text actually sent: repeats count, firing duration). */
  updateEvent (event: AlertEventJSON): void {
    this.db.prepare('UPDATE alerts SET event = ?, title = ? WHERE id = ?').run(JSON.stringify(event), event.title, event.id)
  }

  /** The last firing alert of a fingerprint that some channel delivered, with those channels. */
  lastDelivered (fingerprint: string): { id: string, timestamp: string, channels: string[] } | undefined {
    const row = this.db.prepare(`SELECT a.id AS id, a.ts AS ts FROM alerts a WHERE a.fingerprint = ? AND a.status = 'firing' AND a.suppressed IS NULL
      AND EXISTS (SELECT 1 FROM receipts r WHERE r.alert_id = a.id AND r.ok = 1) ORDER BY a.ts DESC, a.rowid DESC LIMIT 1`).get(fingerprint) as { id: string, ts: number } | undefined
    if (row === undefined) return undefined
    const channels = (this.db.prepare('SELECT channel FROM receipts WHERE alert_id = ? AND ok = 1 ORDER BY at, rowid').all(row.id) as Array<{ channel: string }>).map((r) => r.channel)
    return { id: row.id, timestamp: iso(row.ts), channels }
  }

  /**
   * Firing alerts stamped at or after `since` (epoch ms) with no resolve of their fingerprint stamped at
   * or after them, newest first, at most `limit`: the sources that may inhibit an alert now. `labels`
   * is empty when the stored event is not JSON, is longer than EVENT_TEXT_MAX characters, or holds no
   * object of labels; labels that are not strings are left out.
   */
  recentFiring (since: number, limit = 1000): Array<{ id: string, ts: number, fingerprint: string, source: string, severity: Severity, title: string, labels: Record<string, string> }> {
    const rows = this.db.prepare(`SELECT a.id, a.ts, a.fingerprint, a.source, a.severity, a.title,
        CASE WHEN length(a.event) <= @max AND json_valid(a.event) THEN json_extract(a.event, '$.labels') END AS labels
      FROM alerts a WHERE a.ts >= @since AND a.status = 'firing'
        AND NOT EXISTS (SELECT 1 FROM alerts r WHERE r.fingerprint = a.fingerprint AND r.status = 'resolved' AND r.ts >= a.ts)
      ORDER BY a.ts DESC, a.rowid DESC LIMIT @limit`).all({ since, limit: Math.max(1, Math.floor(limit)), max: EVENT_TEXT_MAX }) as Array<{ id: string, ts: number, fingerprint: string, source: string, severity: Severity, title: string, labels: unknown }>
    return rows.map((r) => {
      const labels: Record<string, string> = {}
      let parsed: unknown
      try { parsed = typeof r.labels === 'string' ? JSON.parse(r.labels) : undefined } catch { parsed = undefined }
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v
      }
      return { id: r.id, ts: r.ts, fingerprint: r.fingerprint, source: r.source, severity: r.severity, title: r.title, labels }
    })
  }

  /** Alert ids of a fingerprint (for acknowledging by fingerprint). */
  idsOf (fingerprint: string): string[] {
    return (this.db.prepare('SELECT id FROM alerts WHERE fingerprint = ? ORDER BY ts').all(fingerprint) as Array<{ id: string }>).map((r) => r.id)
  }

  // -- silences ---------------------------------------------------------------------------------------

  addSilence (s: StoredSilence): void {
    this.db.prepare('INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(s.id, JSON.stringify(s.match), Date.parse(s.startsAt), Date.parse(s.endsAt), s.comment, s.createdBy, Date.parse(s.createdAt))
  }

  /** Silences not yet ended at `now` (all of them with `includeExpired`), newest first; at most `limit` (default all). */
  silences (now = Date.now(), includeExpired = false, limit = -1): StoredSilence[] {
    const rows = this.db.prepare(`SELECT * FROM silences ${includeExpired ? '' : 'WHERE ends_at > ?'} ORDER BY created_at DESC LIMIT ?`).all(...(includeExpired ? [] : [now]), Math.floor(limit)) as Array<{ id: string, matchers: string, starts_at: number, ends_at: number, comment: string, created_by: string, created_at: number }>
    return rows.map((r) => ({ id: r.id, match: JSON.parse(r.matchers) as string[], startsAt: iso(r.starts_at), endsAt: iso(r.ends_at), comment: r.comment, createdBy: r.created_by, createdAt: iso(r.created_at) }))
  }

  /** Ends a silence now; false when there is no such active silence. */
  expireSilence (id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?').run(now, id, now).changes > 0
  }

  // -- acknowledgements and escalations ---------------------------------------------------------------

  ack (alertId: string, by: string, comment = '', at = Date.now()): void {
    this.db.prepare('INSERT INTO acks (alert_id, by, comment, at) VALUES (?, ?, ?, ?) ON CONFLICT (alert_id) DO NOTHING').run(alertId, by, comment, at)
    this.db.prepare("UPDATE escalations SET state = 'cancelled' WHERE alert_id = ? AND state = 'pending'").run(alertId)
  }

  acked (alertId: string): { by: string, comment: string, at: string } | undefined {
    const r = this.db.prepare('SELECT by, comment, at FROM acks WHERE alert_id = ?').get(alertId) as { by: string, comment: string, at: number } | undefined
    return r === undefined ? undefined : { by: r.by, comment: r.comment, at: iso(r.at) }
  }

  addEscalation (alertId: string, step: number, dueAt: number, channels: readonly string[]): void {
    this.db.prepare('INSERT OR IGNORE INTO escalations (alert_id, step, due_at, channels, owner) VALUES (?, ?, ?, ?, ?)').run(alertId, step, dueAt, JSON.stringify(channels), this.own())
  }

  setEscalation (alertId: string, step: number, state: 'fired' | 'cancelled'): void {
    this.db.prepare('UPDATE escalations SET state = ? WHERE alert_id = ? AND step = ?').run(state, alertId, step)
  }

  /** One step as stored: another process may have cancelled it (a resolve, an ack) or taken it over (owner). */
  escalationStep (alertId: string, step: number): { state: string, owner: string | null } | undefined {
    return this.db.prepare('SELECT state, owner FROM escalations WHERE alert_id = ? AND step = ?').get(alertId, step) as { state: string, owner: string | null } | undefined
  }

  cancelEscalations (alertId: string): void {
    this.db.prepare("UPDATE escalations SET state = 'cancelled' WHERE alert_id = ? AND state = 'pending'").run(alertId)
  }

  receipt (alertId: string, r: { channel: string, ok: boolean, attempts: number, error?: string, standInFor?: string }, at = Date.now()): void {
    this.db.prepare(`INSERT INTO receipts (alert_id, channel, ok, attempts, error, stand_in_for, at, alert_ts)
      VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT ts FROM alerts WHERE id = ?))
      ON CONFLICT (alert_id, channel) DO UPDATE SET ok = excluded.ok, attempts = receipts.attempts + excluded.attempts,
        error = excluded.error, stand_in_for = excluded.stand_in_for, at = excluded.at`).run(
      alertId, r.channel, r.ok ? 1 : 0, r.attempts, r.error ?? null, r.standInFor ?? null, at, alertId)
  }

  settle (alertId: string, at = Date.now()): void {
    this.db.prepare('UPDATE alerts SET settled = 1, settled_at = ? WHERE id = ?').run(at, alertId)
  }

  /** Every alert not yet settled, whoever owns it, oldest first. */
  unsettled (limit = 100_000): Outboxed[] {
    const rows = this.db.prepare('SELECT id, event, routes FROM alerts WHERE settled = 0 ORDER BY received_at, rowid LIMIT ?').all(limit) as Array<{ id: string, event: string, routes: string }>
    return rows.map((r) => this.outboxed(r))
  }

  private outboxed (r: { id: string, event: string, routes: string }): Outboxed {
    return { event: JSON.parse(r.event) as AlertEventJSON, routes: JSON.parse(r.routes) as string[], receipts: this.receipts(r.id) }
  }

  // -- ownership in a shared store (SPEC §15) ----------------------------------------------------------

  /** This process's id as the owner of what it writes, its heartbeat row written first; null without one. */
  private own (): string | null {
    if (this.opts.process === undefined) return null
    if (!this.registered) this.register()
    return this.opts.process
  }

  /**
   * This process's heartbeat row: written when it first owns something, or at once by an engine that
   * replays (it may take over from the start). With `stats`, its live counters too.
   */
  register (stats?: unknown, at = Date.now()): void {
    if (this.opts.process === undefined) return
    // The configuration goes with the first write of the row only: it does not change while the process runs.
    const config = this.registered || this.opts.config === undefined ? null : JSON.stringify(this.opts.config)
    this.db.prepare(`INSERT INTO runtime_stats (process, at, stats, lease_ms, pid, host, started_at, config) VALUES (@me, @at, coalesce(@stats, '{}'), @lease, @pid, @host, @at, @config)
      ON CONFLICT (process) DO UPDATE SET at = excluded.at, stats = coalesce(@stats, runtime_stats.stats), lease_ms = excluded.lease_ms,
        pid = excluded.pid, host = excluded.host, ended_at = NULL, config = coalesce(@config, runtime_stats.config)`)
      .run({ me: this.opts.process, at, stats: stats === undefined ? null : JSON.stringify(stats), lease: this.opts.leaseMs ?? 30_000, pid: process.pid, host: localHost(), config })
    this.registered = true
  }

  /** The heartbeat, every few seconds, with the live counters; nothing while this process owns nothing here. */
  heartbeat (stats: unknown, at = Date.now()): void {
    if (this.registered) this.register(stats, at)
  }

  /**
   * A clean end: the last counters and `ended_at`. Whatever this process still owns (alerts cut short by
   * the shutdown deadline, escalation steps not yet due) is then free for a live process to take over.
   */
  end (stats: unknown, at = Date.now()): void {
    if (!this.registered) return
    this.register(stats, at)
    this.db.prepare('UPDATE runtime_stats SET ended_at = ? WHERE process = ?').run(at, this.opts.process)
    this.registered = false
  }

  /** Every process row (heartbeats), newest first. */
  processes (): ProcessRow[] {
    const rows = this.db.prepare('SELECT process, at, pid, host, lease_ms, ended_at FROM runtime_stats ORDER BY at DESC').all() as Array<{ process: string, at: number, pid: number | null, host: string | null, lease_ms: number | null, ended_at: number | null }>
    return rows.map((r) => {
      const out: ProcessRow = { process: r.process, at: r.at }
      if (r.pid !== null) out.pid = r.pid
      if (r.host !== null) out.host = r.host
      if (r.lease_ms !== null) out.leaseMs = r.lease_ms
      if (r.ended_at !== null) out.endedAt = r.ended_at
      return out
    })
  }

  /**
   * The newest `limit` process rows (heartbeats) with their live counters and configuration snapshot,
   * newest first. The store is read as hostile input: a `stats` or `config` text longer than
   * PROCESS_TEXT_MAX characters is not read, nor any once the texts read reach PROCESS_TEXT_BUDGET
   * together, and `stats` that is not JSON is left out.
   */
  processDetails (limit = 100): ProcessDetail[] {
    const rows = this.db.prepare(`SELECT process, at, pid, host, lease_ms, started_at, ended_at,
        CASE WHEN length(stats) <= @max THEN stats END AS stats, CASE WHEN length(config) <= @max THEN config END AS config
      FROM runtime_stats ORDER BY at DESC LIMIT @limit`).iterate({ max: PROCESS_TEXT_MAX, limit: Math.max(1, Math.floor(limit)) }) as Iterable<{
      process: string, at: number, pid: unknown, host: unknown, lease_ms: unknown, started_at: unknown, ended_at: unknown, stats: unknown, config: unknown
    }>
    const out: ProcessDetail[] = []
    let budget = PROCESS_TEXT_BUDGET
    const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
    for (const r of rows) {
      const statsText = typeof r.stats === 'string' && r.stats.length <= budget ? r.stats : undefined
      budget -= statsText?.length ?? 0
      const config = typeof r.config === 'string' && r.config.length <= budget ? r.config : undefined
      budget -= config?.length ?? 0
      let stats: unknown
      try { stats = statsText === undefined ? undefined : JSON.parse(statsText) } catch { stats = undefined }
      const d: ProcessDetail = { process: String(r.process), at: num(r.at) ?? 0, stats, config }
      const pid = num(r.pid)
      if (pid !== undefined) d.pid = pid
      if (typeof r.host === 'string') d.host = r.host
      const lease = num(r.lease_ms)
      if (lease !== undefined) d.leaseMs = lease
      const started = num(r.started_at)
      if (started !== undefined) d.startedAt = started
      const ended = num(r.ended_at)
      if (ended !== undefined) d.endedAt = ended
      out.push(d)
    }
    return out
  }

  /**
   * Takes over unsettled alerts that no live process owns (no owner, or one that ended, is silent for
   * longer than its lease, or is gone), oldest first. Each is claimed by one UPDATE that holds only while
   * its owner is still that dead one: of two processes taking over at once, exactly one gets it. `accept`
   * says which this process can deliver (it has their remaining channels); the others stay.
   */
  takeOverAlerts (me: string, live: Liveness, accept: (o: Outboxed) => boolean, limit = 100_000): Array<Outboxed & { from: string | null }> {
    const params = { me, now: live.now, lease: live.leaseMs, gone: JSON.stringify(live.gone) }
    // Read first: most of the time there is nothing to take, and no write lock is needed.
    const owners = this.deadOwners(params)
    if (owners.length === 0) return []
    const claim = this.db.prepare(`UPDATE alerts SET owner = @me WHERE id = @id AND settled = 0 AND owner IS @from AND ${ownerDead('@from')}`)
    const out: Array<Outboxed & { from: string | null }> = []
    const run = this.db.transaction(() => {
      for (const from of owners) {
        const rows = this.db.prepare('SELECT id, event, routes FROM alerts INDEXED BY alerts_unsettled_owner WHERE settled = 0 AND owner IS ? ORDER BY received_at, rowid LIMIT ?').all(from, limit - out.length) as Array<{ id: string, event: string, routes: string }>
        for (const r of rows) {
          const o = this.outboxed(r)
          if (accept(o) && claim.run({ ...params, id: r.id, from }).changes === 1) out.push({ ...o, from })
        }
        if (out.length >= limit) break
      }
    }) as unknown as { immediate: () => void }
    run.immediate()
    return out
  }

  /** Owners of unsettled alerts that are not alive (null: alerts with no owner), `me` never. */
  private deadOwners (params: { me: string, now: number, lease: number, gone: string }): Array<string | null> {
    const owners: Array<string | null> = []
    if (this.db.prepare('SELECT 1 FROM alerts WHERE settled = 0 AND owner IS NULL LIMIT 1').get() !== undefined) owners.push(null)
    // One index step per owner, not a pass over every unsettled alert (a flood may be in flight).
    const next = this.db.prepare('SELECT owner FROM alerts INDEXED BY alerts_unsettled_owner WHERE settled = 0 AND owner > ? ORDER BY owner LIMIT 1')
    const dead = this.db.prepare(`SELECT ${ownerDead('@from')} AS dead`)
    for (let r = next.get('') as { owner: string } | undefined; r !== undefined; r = next.get(r.owner) as { owner: string } | undefined) {
      if (r.owner !== params.me && (dead.get({ ...params, from: r.owner }) as { dead: number }).dead === 1) owners.push(r.owner)
    }
    return owners
  }

  /** Takes over pending escalation steps that no live process owns, as `takeOverAlerts` does alerts. */
  takeOverSteps (me: string, live: Liveness, accept: (channels: string[]) => boolean): Array<StoredStep & { from: string | null }> {
    const params = { me, now: live.now, lease: live.leaseMs, gone: JSON.stringify(live.gone) }
    const rows = this.db.prepare(`SELECT e.alert_id, e.step, e.due_at, e.channels, e.owner, a.event FROM escalations e JOIN alerts a ON a.id = e.alert_id
      WHERE e.state = 'pending' AND (e.owner IS NULL OR e.owner != @me) AND ${ownerDead('e.owner')} ORDER BY e.due_at`).all(params) as Array<{ alert_id: string, step: number, due_at: number, channels: string, owner: string | null, event: string }>
    if (rows.length === 0) return []
    // Each claim holds only while the owner is still the dead one read above.
    const claim = this.db.prepare(`UPDATE escalations SET owner = @me WHERE alert_id = @id AND step = @step AND state = 'pending' AND owner IS @from AND ${ownerDead('@from')}`)
    const out: Array<StoredStep & { from: string | null }> = []
    const run = this.db.transaction(() => {
      for (const r of rows) {
        const channels = JSON.parse(r.channels) as string[]
        if (!accept(channels) || claim.run({ ...params, id: r.alert_id, step: r.step, from: r.owner }).changes !== 1) continue
        out.push({ alertId: r.alert_id, step: r.step, dueAt: r.due_at, channels, event: JSON.parse(r.event) as AlertEventJSON, from: r.owner })
      }
    }) as unknown as { immediate: () => void }
    run.immediate()
    return out
  }

  /** Deletes settled alerts older than maxAgeDays, then the oldest settled beyond maxRows; never unsettled ones. */
  applyRetention (now = Date.now()): { deleted: number } {
    const cutoff = now - this.opts.maxAgeDays * 86_400_000
    let deleted = this.db.prepare('DELETE FROM alerts WHERE settled = 1 AND received_at < ?').run(cutoff).changes
    const { n } = this.db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }
    if (n > this.opts.maxRows) {
      deleted += this.db.prepare(`DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE settled = 1 ORDER BY received_at, rowid LIMIT ?)`).run(n - this.opts.maxRows).changes
    }
    this.db.prepare('DELETE FROM silences WHERE ends_at < ?').run(cutoff)
    this.db.prepare('DELETE FROM acks WHERE alert_id NOT IN (SELECT id FROM alerts)').run()
    // Process rows: one per process and per CLI run that wrote. A process silent for a day is dead
    // (with no row, what it still owns is anyone's), and of those that ended only the newest are kept.
    this.db.prepare('DELETE FROM runtime_stats WHERE at < ?').run(now - PROCESS_ROW_MAX_AGE_MS)
    this.db.prepare(`DELETE FROM runtime_stats WHERE ended_at IS NOT NULL AND process NOT IN
      (SELECT process FROM runtime_stats WHERE ended_at IS NOT NULL ORDER BY at DESC LIMIT ${ENDED_PROCESS_ROWS_MAX})`).run()
    return { deleted }
  }

  // -- live counters --------------------------------------------------------------------------------

  /** A process's latest `alerter.stats()` under any id (engines write theirs with `heartbeat`). */
  writeStats (processId: string, stats: unknown, at = Date.now()): void {
    this.db.prepare('INSERT INTO runtime_stats (process, at, stats) VALUES (?, ?, ?) ON CONFLICT (process) DO UPDATE SET at = excluded.at, stats = excluded.stats')
      .run(processId, at, JSON.stringify(stats))
  }

  /** The latest counters of every live process, newest first; those older than `maxAgeMs`, or ended, are left out. */
  runtimeStats (maxAgeMs = 60_000, now = Date.now()): Array<{ process: string, at: string, stats: any }> {
    // Read as hostile input: counters longer than PROCESS_TEXT_MAX characters, or not JSON, leave their row out.
    const rows = this.db.prepare(`SELECT process, at, CASE WHEN length(stats) <= ? THEN stats END AS stats FROM runtime_stats
      WHERE at >= ? AND ended_at IS NULL ORDER BY at DESC LIMIT 1000`).all(PROCESS_TEXT_MAX, now - maxAgeMs) as Array<{ process: string, at: number, stats: string | null }>
    const out: Array<{ process: string, at: string, stats: any }> = []
    for (const r of rows) {
      if (typeof r.stats !== 'string') continue
      try { out.push({ process: String(r.process), at: iso(r.at), stats: JSON.parse(r.stats) }) } catch { /* not JSON */ }
    }
    return out
  }

  /** The newest alert's rowid: a cheap "anything new?" for pollers (the dashboard). */
  lastRowId (): number {
    const r = this.db.prepare('SELECT max(rowid) AS id FROM alerts').get() as { id: number | null }
    return r.id ?? 0
  }

  /** Alerts stored after `rowid`, oldest first (at most `limit`). */
  since (rowid: number, limit = 1000): Array<HistoryEntry & { rowid: number }> {
    const rows = this.db.prepare('SELECT rowid, event, received_at, settled, suppressed FROM alerts WHERE rowid > ? ORDER BY rowid LIMIT ?').all(rowid, limit) as Array<Row & { rowid: number }>
    return rows.map((r) => ({ ...entry(r), rowid: r.rowid }))
  }

  // -- queries ----------------------------------------------------------------------------------------

  /** Newest first. */
  history (q: HistoryQuery = {}): HistoryEntry[] {
    const where: string[] = []
    const args: unknown[] = []
    if (q.since !== undefined) { where.push('ts >= ?'); args.push(toMs(q.since, 0)) }
    if (q.until !== undefined) { where.push('ts < ?'); args.push(toMs(q.until, 0)) }
    if (q.severity !== undefined) {
      const list = Array.isArray(q.severity) ? q.severity : [q.severity]
      where.push(`severity IN (${list.map(() => '?').join(', ')})`)
      args.push(...list)
    }
    if (q.source !== undefined) { where.push('source = ?'); args.push(q.source) }
    if (q.status !== undefined) { where.push('status = ?'); args.push(q.status) }
    const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 100)), 10_000)
    const rows = this.db.prepare(`SELECT event, received_at, settled, suppressed FROM alerts ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY ts DESC, rowid DESC LIMIT ?`).all(...args, limit) as Row[]
    return rows.map(entry)
  }

  /** One alert as stored, or undefined. */
  get (id: string): HistoryEntry | undefined {
    const r = this.db.prepare('SELECT event, received_at, settled, suppressed FROM alerts WHERE id = ?').get(id) as Row | undefined
    return r === undefined ? undefined : entry(r)
  }

  receipts (alertId: string): Receipt[] {
    const rows = this.db.prepare('SELECT channel, ok, attempts, error, stand_in_for, at FROM receipts WHERE alert_id = ? ORDER BY at, rowid').all(alertId) as Array<{ channel: string, ok: number, attempts: number, error: string | null, stand_in_for: string | null, at: number }>
    return rows.map((r) => {
      const out: Receipt = { channel: r.channel, ok: r.ok === 1, attempts: r.attempts, at: iso(r.at) }
      if (r.error !== null) out.error = r.error
      if (r.stand_in_for !== null) out.standInFor = r.stand_in_for
      return out
    })
  }

  summary (q: SummaryQuery = {}): Summary {
    const until = toMs(q.until, Date.now())
    const since = toMs(q.since, until - 86_400_000)
    const bucketMs = Math.max(1000, Math.floor(q.bucketMs ?? 3_600_000))
    const first = Math.floor(since / bucketMs) * bucketMs
    const count = Math.min(10_000, Math.max(1, Math.ceil((until - first) / bucketMs)))
    const buckets = Array.from({ length: count }, (_, i) => ({ start: iso(first + i * bucketMs), info: 0, warn: 0, critical: 0 }))
    const bySeverity: Record<Severity, number> = { info: 0, warn: 0, critical: 0 }
    const sources = new Map<string, number>()
    // One pass over a covering index (ts, severity, source); grouping an expression in SQL costs a
    // temporary B-tree and was the slowest part.
    for (const r of this.db.prepare('SELECT ts, severity, source FROM alerts WHERE ts >= ? AND ts < ?').raw().iterate(since, until) as Iterable<[number, Severity, string]>) {
      const [ts, sev, source] = r
      bySeverity[sev]++
      sources.set(source, (sources.get(source) ?? 0) + 1)
      const bucket = buckets[Math.floor((ts - first) / bucketMs)]
      if (bucket !== undefined) bucket[sev]++
    }
    const bySource: Record<string, number> = {}
    for (const [k, n] of [...sources].sort((a, b) => b[1] - a[1])) bySource[k] = n
    const byChannel: Record<string, { delivered: number, failed: number }> = {}
    for (const r of this.db.prepare(`SELECT channel, sum(ok) AS delivered, sum(1 - ok) AS failed FROM receipts
        WHERE alert_ts >= ? AND alert_ts < ? GROUP BY channel ORDER BY channel`).all(since, until) as Array<{ channel: string, delivered: number, failed: number }>) {
      byChannel[r.channel] = { delivered: r.delivered, failed: r.failed }
    }
    const total = bySeverity.info + bySeverity.warn + bySeverity.critical
    return { since: iso(since), until: iso(until), total, bySeverity, bySource, byChannel, buckets }
  }

  /** This process's id as owner of what it writes (`StoreOptions.process`). */
  get owner (): string | undefined { return this.opts.process }

  /** Schema version of the open file. */
  get version (): number { return this.db.pragma('user_version', { simple: true }) as number }

  close (): void {
    if (this.closed) return
    this.closed = true
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer)
    this.db.close()
  }
}

/**
 * Opens a store file read-only for queries (CLI, dashboard, scripts); close it when done. Read-write
 * (`readonly: false`) it never deletes anything either: retention is the app's business (its own
 * maxAgeDays/maxRows), and writes through it have no owner (SPEC §15).
 */
export function openStore (path: string, opts: { readonly?: boolean } = {}): AlertStore {
  return AlertStore.open({ path, maxAgeDays: Infinity, maxRows: Number.MAX_SAFE_INTEGER, readonly: opts.readonly ?? true })
}

/** `history` over a store path (opens, queries, closes). */
export function history (path: string, q: HistoryQuery = {}): HistoryEntry[] {
  const s = openStore(path)
  try { return s.history(q) } finally { s.close() }
}

export function summary (path: string, q: SummaryQuery = {}): Summary {
  const s = openStore(path)
  try { return s.summary(q) } finally { s.close() }
}

export function receipts (path: string, alertId: string): Receipt[] {
  const s = openStore(path)
  try { return s.receipts(alertId) } finally { s.close() }
}
