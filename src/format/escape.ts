/**
 * Escaping of user text (titles, bodies, labels, metadata come from log lines: never trusted) for each
 * service's markup. Shared by the channels; each function is total: any string in, safe text out.
 */

/** Slack mrkdwn/plain text: `&`, `<`, `>` only (Slack's rule), so `<!channel>` and `<http://x|y>` stay inert. */
export function escapeSlack (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** HTML text and attribute values. */
export function escapeHtml (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** Telegram MarkdownV2, outside entities: every reserved character and `\` is backslash-escaped. */
export function escapeMarkdownV2 (s: string): string {
  return s.replace(/[_*[\]()~`>#+\-=|{}.!\\]/g, '\\$&')
}

/** Telegram MarkdownV2 inside `pre` and `code` entities: only `` ` `` and `\` are escaped. */
export function escapeMarkdownV2Code (s: string): string {
  return s.replace(/[`\\]/g, '\\$&')
}

/**
 * Lone UTF-16 surrogates are not valid Unicode: JSON encoders pass them through but services
 * (Telegram, Slack) reject or mangle them. Replace with U+FFFD.
 */
export function wellFormed (s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
}
