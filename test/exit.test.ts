import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { fixture, runNode } from './helpers/run.js'

// SPEC §8: `logger.fatal(alert); process.exit(1)` delivers the alert. pino ends the worker's stream at
// exit and waits up to 10 s; the transport's close waits for deliveries (shutdownTimeoutMs 8000).
describe('exit-safe delivery (child process, real pino worker, local webhook server)', () => {
  let hook: WebhookServer
  beforeEach(async () => { hook = await startWebhookServer() })
  afterEach(async () => { await hook.close() })

  for (const how of ['exit', 'throw'] as const) {
    it(`the alert arrives when the app ${how === 'exit' ? 'calls process.exit(1)' : 'throws'} right after logging, even through a slow retried delivery`, async () => {
      // The receiver is slow and fails the first attempt: the worker must outlive the app's last line.
      hook.script({ status: 503, delayMs: 200 }, { status: 200, delayMs: 300 })
      const r = await runNode(fixture('exit.mjs'), { WEBHOOK_URL: hook.url, HOW: how })
      expect(r.code).toBe(1)
      if (how === 'throw') expect(r.stderr).toContain('crash right after logging')
      expect(hook.requests).toHaveLength(2)
      const [first, second] = hook.requests
      expect(second!.header('webhook-id')).toBe(first!.header('webhook-id'))
      expect(second!.json()).toMatchObject({
        source: 'kill_switch',
        severity: 'critical',
        title: 'Kill switch triggered',
        labels: { reason: 'max_drawdown_exceeded' },
        status: 'firing'
      })
      expect(second!.status).toBe(200)
    })
  }

  it('the alert logged in the very first tick (worker not started yet) still arrives', async () => {
    const r = await runNode(fixture('exit.mjs'), { WEBHOOK_URL: hook.url, HOW: 'exit', DELAY_MS: '0' })
    expect(r.code).toBe(1)
    expect(hook.requests.map((q) => q.json<{ title: string }>().title)).toEqual(['Kill switch triggered'])
  })
})
