/**
 * webhook: JSON POST of `AlertEvent.toJSON()` (a digest: `{ events: [...] }`). With `secret`
 * (`whsec_…`) every request is signed per Standard Webhooks: `webhook-id` (the event id, so receivers
 * can drop duplicates of a retried or replayed alert), `webhook-timestamp`, `webhook-signature`.
 */
import { createHash, createHmac } from 'node:crypto'
import { httpRequest, netOf } from '../http/client.js'
import { outcomeFromError, outcomeFromResponse } from '../http/outcome.js'
import type { AlertEvent } from '../event.js'
import { bySeverity } from '../format/text.js'
import type { ResolvedChannel } from '../options.js'
import { redact, safeUrl } from '../redact.js'
import type { Channel, Outcome } from './channel.js'

export interface WebhookMessage { id: string, body: string }

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the secret's base64-decoded bytes. */
export function signStandardWebhook (secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}

export function create (cfg: ResolvedChannel): Channel<WebhookMessage> {
  const net = netOf(cfg.config)
  const url = String(cfg.config.url)
  const secret = cfg.config.secret as string | undefined
  const extra = (cfg.config.headers ?? {}) as Record<string, string>
  const where = `${cfg.name} (${safeUrl(url)})`
  // Receivers often echo the request path (a credential for many webhooks) in their error pages.
  const masked = (o: Outcome): Outcome => (o.ok ? o : { ...o, error: redact(o.error, cfg.secrets) })
  return {
    name: cfg.name,
    type: 'webhook',
    render (events: readonly AlertEvent[]): WebhookMessage[] {
      if (events.length === 1) {
        const e = events[0] as AlertEvent
        return [{ id: e.id, body: JSON.stringify(e.toJSON()) }]
      }
      const ids = events.map((e) => e.id)
      const id = 'digest_' + createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 24)
      return [{ id, body: JSON.stringify({ events: bySeverity(events).map((e) => e.toJSON()) }) }]
    },
    async send (message: WebhookMessage, { signal }): Promise<Outcome> {
      // Header names are case-insensitive: user headers are lower-cased so ours replace theirs, never sit beside them.
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v
      headers['content-type'] = 'application/json'
      headers['user-agent'] = 'pino-alerts'
      headers['webhook-id'] = message.id
      if (secret !== undefined) {
        const ts = Math.floor(Date.now() / 1000)
        headers['webhook-timestamp'] = String(ts)
        headers['webhook-signature'] = signStandardWebhook(secret, message.id, ts, message.body)
      }
      try {
        const res = await httpRequest(url, { method: 'POST', headers, body: message.body, signal, net })
        return masked(outcomeFromResponse(res, where, cfg.secrets))
      } catch (err) {
        return masked(outcomeFromError(err, where, signal))
      }
    }
  }
}
