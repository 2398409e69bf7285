import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { startDiscordFake } from './fakes/discord.js'
import { startSlackFake, validateSlackRequest } from './fakes/slack.js'
import { startTeamsFake } from './fakes/teams.js'
import { checkSendMessage, telegramApi } from './fakes/telegram.js'
import { startWebhookServer } from './fakes/webhook-server.js'
import { endTransport } from './helpers/run.js'

// Step 2: one logger.fatal through a real pino transport reaches all four chat services' fakes, each
// with a message its service accepts.
describe('chat channels end to end', () => {
  it('one logger.fatal → Slack, Telegram, Discord and Teams fakes each received a valid message', async () => {
    const token = '987654:FAKE-e2e-token'
    const tgOpts = { token, chats: [42] }
    const slack = await startSlackFake()
    const telegram = await startWebhookServer({ defaultResponse: telegramApi(tgOpts) })
    const discord = await startDiscordFake({ '112233445566778899': 'fake-discord-token' })
    const teams = await startTeamsFake()
    const transport = pino.transport({
      target: 'pino-alerts',
      options: {
        env: false,
        channels: {
          console: { enabled: false },
          slack: { webhookUrl: `${slack.origin}/services/T0/B0/fake` },
          telegram: { botToken: token, chatId: 42, apiUrl: telegram.origin },
          discord: { webhookUrl: discord.webhookUrl('112233445566778899') },
          teams: { webhookUrl: teams.webhookUrl }
        }
      }
    })
    const logger = pino({ name: 'risk-svc' }, transport)
    try {
      logger.fatal({ alert: { source: 'kill_switch', labels: { reason: 'max_drawdown_exceeded' } } }, 'Kill switch triggered <!channel> @everyone')
      const wait = async (s: { waitFor: (n: number, t?: number) => Promise<unknown> }): Promise<unknown> => await s.waitFor(1, 10_000)
      await Promise.all([wait(slack), wait(telegram), wait(discord), wait(teams)])
      const s = slack.requests[0]!
      expect(s.status).toBe(200)
      expect(validateSlackRequest(s)).toBeUndefined()
      expect(s.text()).toContain('Kill switch triggered &lt;!channel&gt;')
      const t = telegram.requests[0]!
      expect(t.status).toBe(200)
      const tg = checkSendMessage(t, tgOpts)
      expect('sent' in tg && tg.sent.parsed.text).toContain('[CRITICAL] kill_switch: Kill switch triggered <!channel> @everyone')
      const d = discord.requests[0]!
      expect(d.status).toBe(204)
      expect(d.json<{ allowed_mentions: { parse: unknown[] } }>().allowed_mentions.parse).toEqual([])
      // Discord markdown escaped: the label reads "max_drawdown_exceeded" in the client.
      expect(d.json<{ embeds: Array<{ fields: unknown[] }> }>().embeds[0]?.fields).toContainEqual({ name: 'reason', value: 'max\\_drawdown\\_exceeded', inline: true })
      const m = teams.requests[0]!
      expect(m.status).toBe(202)
      expect(JSON.stringify(teams.cards()[0])).toContain('"title":"reason","value":"max_drawdown_exceeded"')
    } finally {
      await endTransport(transport)
      await Promise.all([slack.close(), telegram.close(), discord.close(), teams.close()])
    }
  })
})
