/** Every channel type this build knows; each has a schema entry in options.ts and a loader in channel.ts. */
export const CHANNEL_TYPES = ['console', 'file', 'webhook', 'email', 'slack', 'telegram', 'discord', 'teams', 'pagerduty', 'alertmanager', 'otlp', 'sms'] as const
export type ChannelType = typeof CHANNEL_TYPES[number]
