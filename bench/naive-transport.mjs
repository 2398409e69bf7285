// Baseline (b): the transport most people write first — pino-abstract-transport, JSON.parse per line,
// look at each object. Used by bench/throughput.mjs only.
import build from 'pino-abstract-transport'

export default async function () {
  let alerts = 0
  return build(async function (source) {
    for await (const obj of source) {
      if (obj.alert !== undefined) alerts++
    }
  }, { close () { process.env.NAIVE_ALERTS = String(alerts) } })
}
