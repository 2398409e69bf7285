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

describe('large chunks (copied out and read on the next turn)', () => {
  // 128 Ki characters and more: the candidate lines are copied into a reusable buffer (UTF-8) and the
  // chunk is let go (src/transport.ts, SPILL_AT). Titles with multi-byte characters, a line cut across
  // two large chunks, and lines in between that are not alerts.
  const filler = '{"level":30,"time":0,"msg":"' + 'x'.repeat(200) + '"}\n'
  const alert = (i: number): string => JSON.stringify({ level: 50, time: i, alert: { source: 'desk' }, msg: `Order ${i} blocked — 注文 🚨 ${'é'.repeat(i % 7)}` }) + '\n'
  it('every alert of a stream of large chunks arrives once, in order, its text intact', async () => {
    let big = ''
    const expected: string[] = []
    for (let i = 0; big.length < 3 * 200 * 1024; i++) {
      big += i % 3 === 0 ? alert(i) : filler
      if (i % 3 === 0) expected.push(`Order ${i} blocked — 注文 🚨 ${'é'.repeat(i % 7)}`)
    }
    // Cut inside an alert line, so that a large chunk ends in part of one.
    const cut = big.indexOf('注文', 250 * 1024)
    const chunks = [big.slice(0, cut), big.slice(cut, cut + 150 * 1024), big.slice(cut + 150 * 1024)]
    expect(chunks.slice(0, 2).every((c) => c.length >= 128 * 1024)).toBe(true)
    const titles = await alertsFrom(chunks)
    expect(titles.length).toBe(expected.length)
    expect(titles).toEqual(expected)
  }, 60_000)
})
