import { once } from 'node:events'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import pinoAlertsTransport from '../src/transport.js'
import { readJsonl, tempDir } from './helpers/run.js'

// The scanner looks for `alert"` and checks the quote before it (faster than searching for `"alert"`).
// Whatever the chunk boundaries, exactly the tagged lines must become alerts.
const lines = [
  '{"level":30,"time":1,"msg":"request completed","path":"/alert"}', // the word, not the key
  '{"level":50,"time":2,"alert":{"source":"risk_gate"},"msg":"Order blocked"}',
  '{"level":30,"time":3,"msg":"valert\\" is not a key","x":"alert"}',
  '{"level":60,"time":4,"msg":"Kill switch triggered","alert":{"source":"kill_switch"}}',
  '{"level":30,"time":5,"myalert":{"source":"nope"},"msg":"a longer key ending in alert"}'
]
const text = lines.join('\n') + '\n'

async function alertsFrom (chunks: string[]): Promise<string[]> {
  const dir = tempDir('pino-alerts-scan-')
  const path = join(dir, 'alerts.jsonl')
  const stream = await pinoAlertsTransport({ env: false, dedupe: false, channels: { console: { enabled: false }, file: { path } }, routes: { info: ['file'], warn: ['file'], critical: ['file'] } })
  for (const c of chunks) stream.write(c)
  stream.end()
  await once(stream, 'finish')
  return readJsonl(path).map((a) => String(a.title))
}

describe('chunk scanner', () => {
  it('finds exactly the tagged lines, for every split of the stream into two chunks', async () => {
    const expected = ['Order blocked', 'Kill switch triggered']
    expect(await alertsFrom([text])).toEqual(expected)
    // Every boundary around each key, each quote of it included.
    const cuts = new Set<number>()
    for (let at = text.indexOf('alert'); at !== -1; at = text.indexOf('alert', at + 1)) for (let d = -2; d <= 7; d++) cuts.add(at + d)
    for (const cut of cuts) {
      expect(await alertsFrom([text.slice(0, cut), text.slice(cut)]), `cut at ${cut}`).toEqual(expected)
    }
  }, 60_000)

  it('one character at a time', async () => {
    expect(await alertsFrom([...text])).toEqual(['Order blocked', 'Kill switch triggered'])
  })
})
