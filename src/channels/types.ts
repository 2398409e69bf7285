/** The channel types this package brings; each has a schema entry in options.ts and a loader in channel.ts. */
export const BUILT_IN_TYPES = ['console', 'file', 'webhook', 'email', 'slack', 'telegram', 'discord', 'teams', 'pagerduty', 'alertmanager', 'otlp', 'sms'] as const
/** Every channel type: the built-in ones and `module`, a channel of your own (SPEC §14). */
export const CHANNEL_TYPES = [...BUILT_IN_TYPES, 'module'] as const
export type ChannelType = typeof CHANNEL_TYPES[number]
