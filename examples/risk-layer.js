// A trading risk layer that alerts just by logging.
//
//   node examples/risk-layer.js [alerts.jsonl]; echo $?      → 1 (the kill switch exits the process)
//   wc -l demo-output/risk-alerts.jsonl                       → 4 (every alert arrived anyway)
//
// Channels: console (stderr) + a JSONL file (argv[2], default ./demo-output/risk-alerts.jsonl), plus a
// webhook when RISK_ALERTS_WEBHOOK_URL is set (and signed when RISK_ALERTS_WEBHOOK_SECRET is set):
// pino-alerts reads RISK_ALERTS_* by default. Default routes: info and warn → console, file;
// critical → every enabled channel (the webhook included).
import { rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'

const defaultFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'demo-output', 'risk-alerts.jsonl')
const alertsFile = process.argv[2] !== undefined ? resolve(process.argv[2]) : defaultFile
// Start the demo file afresh on each run; a file given on the command line is only appended to.
if (process.argv[2] === undefined) rmSync(defaultFile, { force: true })

const logger = pino({
  name: 'risk-layer',
  transport: {
    targets: [
      { target: 'pino/file', options: { destination: 1 } }, // every log line → stdout
      {
        target: 'pino-alerts',
        level: 'info',
        options: { channels: { console: {}, file: { path: alertsFile } } }
      }
    ]
  }
})

const limits = { maxOrderNotional: 1_000_000, var99: 250_000, maxPositionQty: 5_000, maxDrawdownPct: 5 }

// 1. Pre-trade risk gate: an order above the notional limit is blocked (error → critical).
function riskGate (order) {
  const notional = order.qty * order.price
  if (notional <= limits.maxOrderNotional) return true
  logger.error({
    alert: { source: 'risk_gate', labels: { rule: 'max_order_notional', symbol: order.symbol, account: order.account } },
    order: { ...order, notional },
    limit: limits.maxOrderNotional
  }, 'Order blocked')
  return false
}

// 2. VaR monitor: at 90 % of the threshold, an early warning (warn → warn).
function checkVaR (var99) {
  const ratio = var99 / limits.var99
  if (ratio >= 0.9) {
    logger.warn({
      alert: { source: 'var_monitor', labels: { desk: 'equities', horizon: '1d', confidence: '99%' } },
      var99,
      threshold: limits.var99,
      utilisation: Number(ratio.toFixed(2))
    }, `VaR at ${Math.round(ratio * 100)}% of its threshold`)
  }
}

// 3. A custom violation: logged at warn, but the alert says how severe it is (alert.severity wins).
function checkPosition (symbol, qty) {
  if (Math.abs(qty) > limits.maxPositionQty) {
    logger.warn({
      alert: { source: 'position_limit', severity: 'critical', title: `Position limit breached on ${symbol}`, labels: { symbol, limit: limits.maxPositionQty, qty } }
    }, `${symbol}: position ${qty} exceeds ${limits.maxPositionQty}`)
  }
}

logger.info('Risk layer started')
riskGate({ id: 'ord-1001', account: 'ACC-7', symbol: 'AAPL', side: 'buy', qty: 100, price: 190.5 }) // passes
riskGate({ id: 'ord-1002', account: 'ACC-7', symbol: 'TSLA', side: 'buy', qty: 6_000, price: 240 }) // blocked
checkVaR(180_000) // 72 %: no alert
checkVaR(225_000) // 90 %: warn
checkPosition('NVDA', 7_500)

// 4. Drawdown beyond the limit: trip the kill switch and stop at once. pino ends the transport at
//    exit and pino-alerts waits (up to shutdownTimeoutMs, 8 s) for every alert above to be delivered.
const drawdownPct = 6.2
if (drawdownPct > limits.maxDrawdownPct) {
  logger.fatal({ alert: { source: 'kill_switch', labels: { reason: 'max_drawdown_exceeded' } }, drawdownPct, limitPct: limits.maxDrawdownPct },
    'Kill switch triggered')
  process.exit(1)
}
