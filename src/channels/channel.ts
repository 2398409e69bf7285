import type { AlertEvent } from '../event.js'
import { applyTemplate, type ResolvedTemplate } from '../format/template.js'
import type { ChannelLimits } from './limits.js'
import type { ResolvedChannel } from '../options.js'

/**
 * What one attempt produced, as data: the delivery wrapper decides on retries, never the channel.
 * `retryAfterMs` is the earliest next try the service asked for (`Retry-After`, `retry_after`).
 */
export type Outcome =
  | { ok: true }
  | { ok: false, retryable: boolean, retryAfterMs?: number, status?: number, error: string, notSent?: true }

/**
 * One configured channel instance. `render` turns one event or a digest into the messages its service
 * accepts; `send` talks to the service once. Channels never retry, sleep, rate-limit or log secrets.
 */
export interface Channel<M = unknown> {
  readonly name: string
  readonly type: string
  render (events: readonly AlertEvent[]): M[]
  send (message: M, ctx: { signal: AbortSignal }): Promise<Outcome>
  /**
   * The ids of the alerts a rendered message carries. For channels that split one batch into parts
   * (webhook, otlp, alertmanager under `maxBodyBytes`): the delivery wrapper then reports each alert
   * by the part that carried it, so a 413 on one part fails only that part's alerts. Without it, the
   * messages of a digest succeed or fail together.
   */
  carries? (message: M): readonly string[]
  /**
   * The alert was acknowledged by a person (`alerter.ack`): services with an incident state
   * (PagerDuty) are told. Only called for channels that delivered the alert.
   */
  acknowledge? (event: AlertEvent, ctx: { signal: AbortSignal }): Promise<Outcome>
  /** What the service accepts; `checkChannel` holds rendered messages to it. */
  readonly limits?: ChannelLimits
  /** Make what was sent durable (file: fsync). */
  flush? (): Promise<void>
  close? (): Promise<void>
}

export type ChannelFactory = (cfg: ResolvedChannel) => Channel | Promise<Channel>
export interface ChannelModule { create: ChannelFactory }

/** Lazy: configuring only `webhook` never loads the others' dependencies. */
export const registry: Record<string, () => Promise<ChannelModule>> = {
  console: async () => await import('./console.js'),
  file: async () => await import('./file.js'),
  webhook: async () => await import('./webhook.js'),
  email: async () => await import('./email.js'),
  slack: async () => await import('./slack.js'),
  telegram: async () => await import('./telegram.js'),
  discord: async () => await import('./discord.js'),
  teams: async () => await import('./teams.js'),
  pagerduty: async () => await import('./pagerduty.js'),
  alertmanager: async () => await import('./alertmanager.js'),
  otlp: async () => await import('./otlp.js'),
  sms: async () => await import('./sms.js')
}

export async function createChannel (cfg: ResolvedChannel): Promise<Channel> {
  const load = registry[cfg.type]
  if (load === undefined) throw new Error(`pino-alerts: no channel module for type "${cfg.type}"`)
  const mod = await load()
  return templated(await mod.create(cfg), cfg.template)
}

/**
 * The channel with its templates applied: `render` gets each event with the title and body the
 * templates make, so the channel's own escaping and limits apply to them as to any alert. Everything
 * else is the channel's own (methods bound to it).
 */
export function templated<M> (channel: Channel<M>, template: ResolvedTemplate | undefined): Channel<M> {
  if (template === undefined) return channel
  const render = (events: readonly AlertEvent[]): M[] => channel.render(events.map((e) => applyTemplate(e, template)))
  return new Proxy(channel, {
    get (target, prop) {
      if (prop === 'render') return render
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}
