import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { endTransport, readJsonl, tempDir, until } from './helpers/run.js'

// pino's config handshake (custom levels, messageKey: PINO_CONFIG, sent when the logger is created)
// has a bounded wait: a transport whose logger is created late, or never, starts after 2 s with pino's
// default levels and delivers what was written to it; a config that comes later applies from then on.
// (test/transport.test.ts covers the usual case: the logger created at once, its custom levels applied.)
const WAIT_MS = 2000

function alertsTransport (file: string, extra: Record<string, unknown> = {}): ReturnType<typeof pino.transport> {
  return pino.transport({
    target: 'pino-alerts',
    options: { env: false, dedupe: false, ...extra, channels: { console: { enabled: false }, file: { path: file } } }
  })
}

/** A pino line written straight into the transport stream, as no logger exists yet. */
function rawLine (record: Record<string, unknown>): string {
  return JSON.stringify({ time: Date.now(), pid: process.pid, hostname: 'h', ...record }) + '\n'
}

describe('pino config handshake (real worker threads)', () => {
  it('no logger is ever created: an alert written to the transport is delivered after the bounded wait', async () => {
    const file = join(tempDir('pino-alerts-handshake-'), 'alerts.jsonl')
    const started = Date.now()
    const transport = alertsTransport(file)
    try {
      transport.write(rawLine({ level: 50, alert: { source: 'no_logger' }, msg: 'written before any logger' }))
      await until(() => readJsonl(file).length === 1, 10_000)
      const ms = Date.now() - started
      // It did wait for pino's config (pino.transport() announces it), and no longer than the bound.
      expect(ms).toBeGreaterThanOrEqual(WAIT_MS)
      expect(readJsonl(file)).toMatchObject([{ source: 'no_logger', title: 'written before any logger', severity: 'critical', level: 50 }])
    } finally {
      await endTransport(transport)
    }
    expect(readJsonl(file)).toHaveLength(1)
  })

  it('a logger created after the wait: earlier alerts went out with default levels, its custom level and messageKey apply from then on', async () => {
    const file = join(tempDir('pino-alerts-handshake-'), 'alerts.jsonl')
    const started = Date.now()
    const transport = alertsTransport(file, { severityByLevel: { risk: 'critical' } })
    try {
      // Level 45 is no default level: by number it is a warning.
      transport.write(rawLine({ level: 45, alert: { source: 'early' }, msg: 'before the logger' }))
      await until(() => readJsonl(file).length === 1, 10_000)
      expect(readJsonl(file)).toMatchObject([{ source: 'early', title: 'before the logger', severity: 'warn', level: 45 }])

      // Only now, more than 2 s after the transport, does the logger send pino's config.
      expect(Date.now() - started).toBeGreaterThan(WAIT_MS)
      const logger = pino({ customLevels: { risk: 45 }, messageKey: 'message' }, transport) as pino.Logger<'risk'>
      // The config travels as a port message and log lines through shared memory: the two are not
      // ordered, so log until a line is read with the config (its messageKey gives the title).
      let n = 0
      const logging = setInterval(() => { logger.risk({ alert: { source: 'late' } }, `after the logger #${n++}`) }, 50)
      try {
        await until(() => readJsonl(file).some((e) => String(e.title).startsWith('after the logger #')), 10_000)
      } finally {
        clearInterval(logging)
      }
      const late = readJsonl(file).find((e) => String(e.title).startsWith('after the logger #'))
      // `risk` is known by name now: severityByLevel.risk applies.
      expect(late).toMatchObject({ source: 'late', severity: 'critical', level: 45, body: '' })
      expect(late?.metadata).not.toHaveProperty('message')
    } finally {
      await endTransport(transport)
    }
  })
})
