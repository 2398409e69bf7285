// One burst run (spawned by bench/burst.mjs): 100 000 alerts logged within one second through a real
// transport; mode "alerts" sends them to a Slack-like fake at SLACK_URL, mode "file" is the baseline
// (pino/file to /dev/null). Prints peak RSS and when the logging finished. YOUNG_MB=n passes pino's
// `worker` option (resourceLimits.maxYoungGenerationSizeMb) to the transport's worker.
import pino from 'pino'

const mode = process.argv[2]
const N = Number(process.argv[3] ?? 100_000)
let peak = 0
const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
const transport = mode === 'file'
  ? pino.transport({ target: 'pino/file', options: { destination: '/dev/null' } })
  : pino.transport({ target: 'pino-alerts', options: { env: false, dedupe: false, channels: { console: { enabled: false }, slack: { webhookUrl: process.env.SLACK_URL } }, routes: { critical: ['slack'] }, shutdownTimeoutMs: 9000 }, ...(process.env.YOUNG_MB ? { worker: { resourceLimits: { maxYoungGenerationSizeMb: Number(process.env.YOUNG_MB) } } } : {}) })
const logger = pino(transport)
const t0 = Date.now()
for (let i = 0; i < N; i++) {
  logger.error({ alert: { source: `desk_${i % 5}`, labels: { n: i } } }, `Order blocked (rule ${i % 10})`)
  if (i % 10_000 === 9999) await new Promise((resolve) => setTimeout(resolve, 80))
}
const loggedMs = Date.now() - t0
await new Promise((resolve) => setTimeout(resolve, Number(process.env.STAY_MS ?? 0)))
clearInterval(sample)
peak = Math.max(peak, process.memoryUsage().rss)
process.stdout.write(JSON.stringify({ mode, loggedMs, peakRss: peak }) + '\n')
