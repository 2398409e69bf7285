/**
 * Errors with stable `code`s (the undici style): callers branch on `code`, never on message text.
 */

export class PinoAlertsError extends Error {
  readonly code: string
  constructor (message: string, code: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** Invalid options: thrown at start; the message names the option path, the bad value and what is expected. */
export class ConfigError extends PinoAlertsError {
  readonly issues: readonly string[]
  constructor (issues: readonly string[]) {
    super(`Invalid pino-alerts options:\n  - ${issues.join('\n  - ')}`, 'PINO_ALERTS_INVALID_OPTIONS')
    this.issues = issues
  }
}

/** A value that cannot be an AlertEvent: the message names the field. */
export class InvalidAlertError extends PinoAlertsError {
  readonly field: string
  constructor (field: string, message: string) {
    super(`invalid alert: ${field}: ${message}`, 'PINO_ALERTS_INVALID_ALERT')
    this.field = field
  }
}

/** The dashboard could not start or was asked something it refuses (a bad port, a token off loopback…). */
export class DashboardError extends PinoAlertsError {
  constructor (message: string, code = 'PINO_ALERTS_DASHBOARD') { super(message, code) }
}

/** A matcher string that does not parse; `position` is the 0-based index in `matcher` where parsing failed. */
export class MatcherError extends PinoAlertsError {
  readonly matcher: string
  readonly position: number
  readonly reason: string
  constructor (matcher: string, position: number, reason: string) {
    super(`bad matcher '${matcher}' at position ${position}: ${reason}`, 'PINO_ALERTS_BAD_MATCHER')
    this.matcher = matcher
    this.position = position
    this.reason = reason
  }
}

/** The store could not be opened, read or written (codes `PINO_ALERTS_STORE…`). */
export class StoreError extends PinoAlertsError {
  constructor (message: string, code = 'PINO_ALERTS_STORE') { super(message, code) }
}

/** Every store error, whatever its code: a store that cannot open is the first thing to fix. */
export function isStoreError (err: unknown): err is StoreError {
  return err instanceof PinoAlertsError && err.code.startsWith('PINO_ALERTS_STORE')
}

/** A CLI failure with its exit code; the message is printed as one line `pino-alerts: …`. */
export class CliError extends PinoAlertsError {
  constructor (message: string, readonly exitCode: 1 | 2 = 1, readonly alreadyReported = false, code = 'PINO_ALERTS_CLI') {
    super(message, code)
  }
}

/** Wrong CLI flags or arguments: exit 2, with the command's usage line. */
export class UsageError extends CliError {
  usage: string | undefined
  constructor (message: string, usage?: string) {
    super(message, 2, false, 'PINO_ALERTS_USAGE')
    this.usage = usage
  }
}

/** A dashboard API request refused: `status` is the HTTP status answered. */
export class ApiError extends PinoAlertsError {
  constructor (readonly status: number, message: string, code = 'PINO_ALERTS_API') { super(message, code) }
}
