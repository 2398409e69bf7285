/** alertmanager: placeholder until its implementation lands (Step 7); fails every send permanently. */
import type { ResolvedChannel } from '../options.js'
import type { Channel, Outcome } from './channel.js'

export function create (cfg: ResolvedChannel): Channel<string> {
  return {
    name: cfg.name,
    type: 'alertmanager',
    render: (events) => events.map((e) => e.title),
    send: async (): Promise<Outcome> => ({ ok: false, retryable: false, error: `${cfg.name}: not implemented yet` })
  }
}
