import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { formatLine, useColour } from '../src/channels/console.js'
import { AlertEvent } from '../src/event.js'
import { fixture, readJsonl, runNode, tempDir } from './helpers/run.js'

const quiet = { console: { enabled: false } }

describe('createAlerter', () => {
  it('routes by the severity matrix and reports per channel', async () => {
    const dir = tempDir()
    const a = createAlerter({
      channels: { ...quiet, info: { type: 'file', path: join(dir, 'info.jsonl') }, all: { type: 'file', path: join(dir, 'all.jsonl') } },
      routes: { info: ['info', 'all'], warn: ['all'], critical: ['*'] }
    }, { env: {} })
    try {
      const r1 = await a.dispatch({ source: 'risk_gate', title: 'Order blocked', severity: 'critical', labels: { symbol: 'ES' } })
      const r2 = await a.dispatch({ source: 'var_gate', title: 'VaR 90%', severity: 'warning' })
      const r3 = await a.dispatch({ source: 'heartbeat', title: 'ok', severity: 'info' })
      expect(r1.deliveries.map((d) => [d.channel, d.ok, d.attempts])).toEqual([['info', true, 1], ['all', true, 1]])
      expect(r2.deliveries.map((d) => d.channel)).toEqual(['all'])
      expect(r3.deliveries.map((d) => d.channel)).toEqual(['info', 'all'])
      await a.flush()
      expect(readJsonl(join(dir, 'all.jsonl')).map((e) => e.title)).toEqual(['Order blocked', 'VaR 90%', 'ok'])
      expect(readJsonl(join(dir, 'info.jsonl')).map((e) => e.id)).toEqual([r1.id, r3.id])
      const s = a.stats()
      expect([s.alerts, s.delivered, s.failed]).toEqual([3, 3, 0])
      expect(s.channels.all).toMatchObject({ type: 'file', received: 3, delivered: 3, failed: 0, queued: 0, circuit: 'closed' })
    } finally {
      await a.close()
    }
  })

  it('takes an AlertEvent as is and keeps its id', async () => {
    const dir = tempDir()
    const a = createAlerter({ channels: { ...quiet, file: { path: join(dir, 'a.jsonl') } } }, { env: {} })
    const e = AlertEvent.from({ id: 'fixed-id', source: 's', title: 't', severity: 'critical' })
    const r = await a.dispatch(e)
    await a.close()
    expect(r.id).toBe('fixed-id')
    expect(readJsonl(join(dir, 'a.jsonl'))[0]).toEqual(e.toJSON())
  })

  it('never throws: invalid input resolves with an error naming the field; after close nothing is sent', async () => {
    const a = createAlerter({ channels: quiet }, { env: {} })
    const bad = await a.dispatch({ title: 'no source' } as never)
    expect(bad.deliveries).toEqual([])
    expect(bad.error).toMatch(/source/)
    await a.close()
    await a.close() // idempotent
    const late = await a.dispatch({ source: 's', title: 't' })
    expect(late.error).toBe('alerter is closed')
    expect(a.stats().rejected).toBe(2)
  })

  it('a channel that cannot start is reported and counts as a failure with failover; the others still deliver', async () => {
    const dir = tempDir()
    // A regular file where a directory should be: the file channel cannot create its directory.
    writeFileSync(join(dir, 'blocker'), '')
    const a = createAlerter({
      channels: { ...quiet, broken: { type: 'file', path: join(dir, 'blocker', 'sub', 'this.jsonl') }, spare: { type: 'file', path: join(dir, 'spare.jsonl') } },
      routes: { critical: ['broken'] },
      failover: ['spare']
    }, { env: {} })
    await expect(a.ready).rejects.toThrow(/channel "broken" could not start/)
    const r = await a.dispatch({ source: 's', title: 't', severity: 'critical' })
    await a.close()
    expect(r.deliveries).toEqual([
      { channel: 'broken', ok: false, attempts: 0, error: 'broken: channel could not start' },
      { channel: 'spare', ok: true, attempts: 1, standInFor: 'broken' }
    ])
    expect(readJsonl(join(dir, 'spare.jsonl'))).toHaveLength(1)
  })
})

describe('console channel', () => {
  it('writes one readable line per alert on stderr through a real transport, without colour off a TTY', async () => {
    const r = await runNode(fixture('console.mjs'))
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \[WARN\] var_gate: VaR at 90% of limit \{pct=90\}$/)
    expect(lines[1]).toMatch(/\[CRITICAL\] kill_switch: Kill switch triggered — drawdown �\[2Jcleared$/)
    expect(lines[2]).toMatch(/\[RESOLVED\] kill_switch: Kill switch triggered — Kill switch reset Firing for 0s\.$/)
    expect(r.stderr).not.toContain('\u001b')
  })

  it('colours only on a TTY, never with NO_COLOR; FORCE_COLOR forces', () => {
    expect(useColour('auto', { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false)
    expect(useColour('auto', { FORCE_COLOR: '1' })).toBe(true)
    expect(useColour(true, { NO_COLOR: '1' })).toBe(true)
    const e = AlertEvent.from({ source: 's', title: 't', severity: 'critical' })
    expect(formatLine(e, true)).toMatch(/^\u001b\[1;31m.*\u001b\[0m$/)
    expect(formatLine(e, false)).not.toContain('\u001b')
  })
})
