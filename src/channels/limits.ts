/**
 * What a channel declares about the messages its service accepts (`Channel.limits`): `checkChannel`
 * (pino-alerts/testing) renders hostile digests and holds every message to them.
 */
export interface ChannelLimits {
  /** The largest message, in bytes of what is sent (the UTF-8 JSON of the message unless the channel says otherwise). */
  maxMessageBytes?: number
}
