/**
 * Per-channel circuit breaker: open after `threshold` failed deliveries in a row, a half-open probe
 * after `openMs`, closed again on success. While open the channel is "unhealthy": failover skips it
 * and alerts routed to it go straight to their stand-in.
 *
 * Only answers (or silence) of the service count: a delivery that asked nothing of it (cut short
 * while waiting its turn, or refused by the HTTP client because of the alert's own content) neither
 * fails nor succeeds here; the deliverer calls `release` for it.
 */
export type CircuitState = 'closed' | 'open' | 'half-open'

export class Circuit {
  private failures = 0
  private openedAt = 0
  private probing = false
  constructor (readonly threshold = 5, private readonly openMs = 30_000, private readonly now = Date.now) {}

  get state (): CircuitState {
    if (this.failures < this.threshold) return 'closed'
    return this.now() - this.openedAt >= this.openMs ? 'half-open' : 'open'
  }

  /** May a delivery start now? In half-open, one probe at a time. */
  allow (): boolean {
    const s = this.state
    if (s === 'closed') return true
    if (s === 'open' || this.probing) return false
    this.probing = true
    return true
  }

  /** A probe slot taken but not used. */
  release (): void {
    this.probing = false
  }

  success (): void {
    this.failures = 0
    this.probing = false
  }

  failure (): void {
    this.probing = false
    this.failures++
    if (this.failures >= this.threshold) this.openedAt = this.now()
  }
}
