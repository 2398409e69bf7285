/**
 * stderr notices (Step 13, found by reading): a notice quotes an alert's title and a service's answer,
 * both hostile. Before, a title with ANSI escapes drove the terminal and one with a line break forged a
 * log line of its own in the collector reading stderr; now every control, bidi and line-separator
 * character is shown as an escape, each notice is one line, and a notice is bounded in length.
 */
import { describe, expect, it } from 'vitest'
import { createAlerter } from '../src/alerter.js'
import { Reporter } from '../src/report.js'
import { startWebhookServer } from './fakes/webhook-server.js'

const HOSTILE_TITLE = 'Order blocked\x1b[2J\x1b]0;owned\x07\npino-alerts: all channels healthy\r\u202Egnp.exe\u2028done'

describe('stderr notices', () => {
  it('an undelivered alert with escapes, a forged line and bidi controls in its title and in the answer: one line, all of it visible', async () => {
    const receiver = await startWebhookServer({ defaultResponse: { status: 400, body: 'rejected \x1b[31mred\x1b[0m\nERROR forged line' } })
    let stderr = ''
    try {
      const alerter = createAlerter({
        env: false,
        channels: { console: { enabled: false }, hook: { type: 'webhook', url: receiver.url, retry: { maxAttempts: 1 } } },
        routes: { critical: ['hook'] }
      }, { env: {}, reporter: new Reporter((t) => { stderr += t }) })
      const r = await alerter.dispatch({ source: 'risk_gate', severity: 'critical', title: HOSTILE_TITLE })
      expect(r.deliveries[0]?.ok).toBe(false)
      await alerter.close()
    } finally {
      await receiver.close()
    }
    // The notice, then the failure summary close() prints.
    const lines = stderr.split('\n').filter((l) => l !== '' && !l.startsWith('pino-alerts: summary: '))
    expect(lines).toHaveLength(1)
    const [line] = lines as [string]
    expect(line).toMatch(/^pino-alerts: alert \S+ \(critical risk_gate: Order blocked\\x1b\[2J\\x1b\]0;owned\\x07\\npino-alerts: all channels healthy\\r\\u202egnp\.exe\\u2028done\) not delivered: /)
    expect(line).toContain('HTTP 400 rejected \\x1b[31mred\\x1b[0m ERROR forged line')
    // Nothing a terminal or a log collector would act on is left.
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
  })

  it('a notice is cut at 4000 characters, saying how many more there were', () => {
    let out = ''
    new Reporter((t) => { out += t }).notice('pino-alerts: ' + 'x'.repeat(10_000))
    expect(out.endsWith('… (6013 more characters)\n')).toBe(true)
    expect(out.length).toBeLessThan(4100)
  })
})
