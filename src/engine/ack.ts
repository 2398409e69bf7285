/**
 * Acknowledgement on the channels: the one place that tells each channel which delivered an alert and
 * keeps incident state (PagerDuty's `acknowledge`) that the alert was acknowledged. The engine's
 * `ack` and the CLI's `pino-alerts ack` both use it; each attempt is bounded by the channel's
 * `timeoutMs`, and an error text is masked with the channel's secrets.
 */
import type { Channel } from '../channels/channel.js'
import type { AlertEvent } from '../event.js'
import { redact } from '../redact.js'

export interface AckOutcome { alertId: string, channel: string, ok: boolean, error?: string }

/** A channel as acknowledgement needs it. */
export interface AckTarget { channel: Channel, timeoutMs: number, secrets: readonly string[] }

/** Tells every channel of `delivered` that can acknowledge; one outcome per channel told. */
export async function tellChannels (event: AlertEvent, delivered: readonly string[], target: (name: string) => AckTarget | undefined): Promise<AckOutcome[]> {
  const outcomes: AckOutcome[] = []
  await Promise.all(delivered.map(async (name) => {
    const t = target(name)
    if (t?.channel.acknowledge === undefined) return
    let out
    try {
      out = await t.channel.acknowledge(event, { signal: AbortSignal.timeout(t.timeoutMs) })
    } catch (err) {
      out = { ok: false as const, error: (err as Error).message }
    }
    outcomes.push(out.ok ? { alertId: event.id, channel: name, ok: true } : { alertId: event.id, channel: name, ok: false, error: redact(out.error, t.secrets) })
  }))
  return outcomes
}
