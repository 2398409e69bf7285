import { createAlerter } from 'pino-alerts'

const alerter = createAlerter({
  channels: {
    file: { path: './alerts.jsonl' },
    ops: { type: 'webhook', url: 'https://example.com/hooks/ops', secret: process.env.OPS_WEBHOOK_SECRET }
  },
  routes: { critical: ['console', 'ops'] },
  failover: ['file']
})

const result = await alerter.dispatch({
  source: 'risk_gate',
  severity: 'critical',
  title: 'Order blocked',
  labels: { symbol: 'TSLA' }
})
// { id: '…', deliveries: [ { channel: 'console', ok: true, attempts: 1 },
//                          { channel: 'ops', ok: false, attempts: 5, error: '…' },
//                          { channel: 'file', ok: true, attempts: 1, standInFor: 'ops' } ] }
console.log(result)
await alerter.close()
