// A channel of your own (docs/extending.md): Mattermost incoming webhooks, in a few dozen lines.
//
//   channels: {
//     mattermost: { type: 'module', module: './examples/custom-channel.js', options: { url: 'https://chat.example.com/hooks/xxx' } }
//   }
//
// pino-alerts gives it retries with backoff and Retry-After, timeouts, the rate limit with digests,
// the queue, the circuit breaker, failover, receipts and stats; the channel only renders and sends.
// `node examples/custom-channel.js` runs a demo against a local stand-in (below the channel).
import { fileURLToPath } from 'node:url'
import { isMainThread } from 'node:worker_threads'
import { parseRetryAfter } from 'pino-alerts'

/** Mattermost keeps posts up to 16383 characters; we stay well under. */
const MAX_TEXT = 12000
const ICONS = { critical: ':rotating_light:', warn: ':warning:', info: ':information_source:' }

/** Alert text as plain words: Markdown specials escaped, `@channel`, `@all`, `@here`, `@user` defused. */
export function escapeMarkdown (text, max = 1000) {
  return String(text).slice(0, max).replace(/\s+/g, ' ').replace(/[\\`*_~#>|!<[\](){}:-]/g, '\\$&').replace(/@/g, '@\u200b')
}

/** @param {import('pino-alerts').ChannelContext} ctx  @returns {import('pino-alerts').Channel<{ text: string }>} */
export function create (ctx) {
  const url = ctx.options?.url
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new Error('options.url: expected the incoming webhook URL (https://…/hooks/…)')
  const line = (e) => `${ICONS[e.severity] ?? ''} **${escapeMarkdown(e.status === 'resolved' ? `RESOLVED ${e.title}` : e.title, 300)}** (${escapeMarkdown(e.source, 100)})`
  return {
    name: ctx.name,
    type: 'mattermost',
    limits: { maxMessageBytes: MAX_TEXT * 4 + 100 },
    render (events) {
      if (events.length === 1) return [{ text: `${line(events[0])}\n${escapeMarkdown(events[0].body)}` }]
      // A digest (rate limit, grouping): one post listing them, cut to the post limit.
      let text = `**${events.length} alerts**`
      for (const [i, e] of events.entries()) {
        const next = `\n- ${line(e)}`
        if (text.length + next.length > MAX_TEXT) { text += `\n- … and ${events.length - i} more`; break }
        text += next
      }
      return [{ text }]
    },
    async send (message, { signal }) {
      let res
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message), signal })
      } catch (err) {
        // The connection failed or the attempt's signal aborted: worth another try (the URL is a secret: not quoted).
        return { ok: false, retryable: true, error: `${ctx.name}: ${err.cause?.code ?? err.message}` }
      }
      const answer = (await res.text()).slice(0, 200)
      if (res.ok) return { ok: true }
      const error = `${ctx.name}: HTTP ${res.status} ${answer}`.trim()
      if (res.status === 429) {
        const retryAfterMs = parseRetryAfter(res.headers.get('retry-after') ?? undefined)
        return retryAfterMs === undefined ? { ok: false, retryable: true, status: 429, error } : { ok: false, retryable: true, status: 429, retryAfterMs, error }
      }
      return { ok: false, retryable: res.status >= 500, status: res.status, error }
    }
  }
}

// The demo: only when run as a script (`node examples/custom-channel.js`), never when pino-alerts imports it.
// It uses createAlerter: the same options go to `pino.transport({ target: 'pino-alerts', options })`,
// but a stand-in served by the app's own thread could not answer while pino's `end()` holds that thread.
// No top-level await: the alerter imports this very file, which must have finished loading.
if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) void demo()

async function demo () {
  const { createServer } = await import('node:http')
  const { createAlerter } = await import('pino-alerts')
  const posts = []
  // A stand-in for Mattermost: the first post is rate limited (429, Retry-After: 1), then 200 "ok".
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      if (posts.push(JSON.parse(body).text) === 1) res.writeHead(429, { 'retry-after': '1' }).end('too many requests')
      else res.end('ok')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const alerter = createAlerter({
    env: false,
    channels: {
      console: { enabled: false },
      mattermost: {
        type: 'module',
        module: fileURLToPath(import.meta.url), // or './examples/custom-channel.js' from the repository's root
        options: { url: `http://127.0.0.1:${server.address().port}/hooks/demo` },
        rateLimit: { perSecond: 1, burst: 1 }
      }
    },
    routes: { critical: ['mattermost'], warn: ['mattermost'] }
  })
  const results = await Promise.all([
    alerter.dispatch({ source: 'kill_switch', title: 'Kill switch triggered @channel [see](http://evil.example)', severity: 'critical' }),
    alerter.dispatch({ source: 'var_gate', title: 'VaR at 91% of limit', severity: 'warn' }),
    alerter.dispatch({ source: 'var_gate', title: 'VaR at 87% of limit', severity: 'warn', labels: { desk: 'fx' } })
  ])
  await alerter.close()
  server.close()
  for (const r of results) console.log(JSON.stringify(r.deliveries))
  console.log(`The stand-in got ${posts.length} posts (the first answered 429):\n${posts.map((p) => `---\n${p}`).join('\n')}`)
  process.exitCode = results.every((r) => r.deliveries[0]?.ok === true) ? 0 : 1
}
