// A service on the OpenTelemetry SDK whose pino logs raise alerts (docs/opentelemetry.md).
//
// @opentelemetry/instrumentation-pino bridges every pino record into the SDK's logs pipeline;
// pino-alerts' AlertLogRecordExporter sits in that pipeline beside any other exporter (OTLP, console)
// and turns the records tagged `alert` into notifications, with every channel, rule and retry of
// pino-alerts. No pino transport is configured.
//
// pino-alerts depends on no OpenTelemetry package: here they are the repository's devDependencies,
// and an app installs them itself, e.g. on Node 20 (the sdk-logs 0.2xx line):
//   npm install pino pino-alerts @opentelemetry/api@1.9 @opentelemetry/api-logs@0.223 \
//     @opentelemetry/sdk-logs@0.223 @opentelemetry/resources@2.12 @opentelemetry/instrumentation@0.223 \
//     @opentelemetry/instrumentation-pino@0.69
//
// `node examples/otel.js` posts to WEBHOOK_URL when it is set, else to a local stand-in it starts
// itself, and exits 0 once every alert was delivered.
//
// In a real service the telemetry set-up lives in its own file, loaded before the app:
// `node --import ./telemetry.mjs app.js`; here both are in one file, and pino is imported only once
// the instrumentation is registered.
import { createServer } from 'node:http'
import { register } from 'node:module'
import { logs } from '@opentelemetry/api-logs'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import { AlertLogRecordExporter } from 'pino-alerts/otel'

// ---- telemetry.mjs ---------------------------------------------------------------------------
// An ES module app: pino is instrumented through import-in-the-middle's hook (a CommonJS app needs none).
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)

const standIn = process.env.WEBHOOK_URL === undefined ? await startStandIn() : undefined
const exporter = new AlertLogRecordExporter({
  env: false,
  channels: { console: {}, webhook: { url: process.env.WEBHOOK_URL ?? standIn.url } },
  routes: { info: ['console'], warn: ['console', 'webhook'], critical: ['*'] }
})
const provider = new LoggerProvider({
  // service.name is the alerts' source unless the alert names one.
  resource: resourceFromAttributes({ 'service.name': 'orders-api' }),
  processors: [new BatchLogRecordProcessor({ exporter })]
})
logs.setGlobalLoggerProvider(provider)
registerInstrumentations({ instrumentations: [new PinoInstrumentation({ disableLogSending: false })] })

// ---- app.js ----------------------------------------------------------------------------------
const { default: pino } = await import('pino')
const logger = pino({ name: 'orders' })

logger.info({ order: { id: 'o-1' } }, 'order accepted') // a log line, no alert
logger.warn({ alert: { labels: { desk: 'fx', pct: 91 } } }, 'VaR at 91% of limit')
logger.fatal({ alert: { source: 'kill_switch', labels: { reason: 'max_drawdown_exceeded' } } }, 'Kill switch triggered')

// At exit: the provider exports what its processor still holds, then the exporter delivers every
// alert in flight (bounded by shutdownTimeoutMs) and closes its channels.
await provider.shutdown()
const stats = exporter.alerter.stats()
console.log(`pino-alerts: ${stats.alerts} alerts, ${stats.delivered} delivered, ${stats.failed} failed`)
if (standIn !== undefined) {
  console.log(`The stand-in got ${standIn.received.length} alerts: ${standIn.received.map((e) => `${e.severity} ${e.source}: ${e.title}`).join('; ')}`)
  standIn.server.close()
}
process.exitCode = stats.alerts === 2 && stats.delivered === 2 ? 0 : 1

/** A webhook receiver on 127.0.0.1 that keeps what it gets (one alert, or a digest `{ events }`). */
async function startStandIn () {
  const received = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      const json = JSON.parse(body)
      received.push(...(json.events ?? [json]))
      res.end('ok')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, received, url: `http://127.0.0.1:${server.address().port}/hook` }
}
