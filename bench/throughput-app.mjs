// One measured run (spawned by bench/throughput.mjs): N realistic pino lines, 0.1% tagged alerts,
// through the transport set-up named by argv[2]; prints wall and CPU of the whole process on exit.
import pino from 'pino'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const mode = process.argv[2]
const N = Number(process.argv[3] ?? 1_000_000)
const dir = mkdtempSync(join(tmpdir(), 'pino-alerts-tp-'))
const alertsFile = join(dir, 'alerts.jsonl')
const alertsOptions = { env: false, dedupe: false, channels: { console: { enabled: false }, file: { path: alertsFile } }, routes: { info: ['file'], warn: ['file'], critical: ['file'] } }
const naive = new URL('./naive-transport.mjs', import.meta.url).pathname

const transports = {
  'pino/file': { target: 'pino/file', options: { destination: '/dev/null' } },
  naive: { target: naive },
  'pino-alerts': { target: 'pino-alerts', options: alertsOptions },
  'pino-alerts+destination': { target: 'pino-alerts', options: { ...alertsOptions, destination: '/dev/null' } },
  'targets:file': { targets: [{ target: 'pino/file', options: { destination: '/dev/null' } }] },
  'targets:file+alerts@warn': { targets: [{ target: 'pino/file', options: { destination: '/dev/null' } }, { target: 'pino-alerts', level: 'warn', options: alertsOptions }] },
  'targets:file+file@warn': { targets: [{ target: 'pino/file', options: { destination: '/dev/null' } }, { target: 'pino/file', level: 'warn', options: { destination: '/dev/null' } }] },
  stdout: null
}
if (!(mode in transports)) throw new Error(`unknown mode ${mode}`)
const t0 = process.hrtime.bigint()
const c0 = process.cpuUsage()
const logger = transports[mode] === null ? pino(pino.destination({ dest: 1, sync: false })) : pino({ transport: transports[mode] })
process.on('exit', () => {
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(c0)
  process.stderr.write(JSON.stringify({ mode, wall, cpu: (cpu.user + cpu.system) / 1000, alertsFile }) + '\n')
})
const req = { method: 'GET', url: '/api/v1/orders', remoteAddress: '10.0.0.12', remotePort: 53214, headers: { host: 'risk.internal', 'user-agent': 'curl/8.5.0' } }
for (let i = 0; i < N; i++) {
  if (i % 1000 === 999) logger.error({ alert: { source: 'risk_gate', labels: { desk: 'fx', n: i } }, order: { id: i, qty: 100, px: 101.25 } }, 'Order blocked')
  else logger.info({ req, res: { statusCode: 200 }, responseTime: i % 97, orderId: i }, 'request completed')
}
