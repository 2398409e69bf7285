import type { RetryPolicy } from '../options.js'

/**
 * Backoff before attempt `attempt + 1` (attempt counts from 1): exponential from `initialMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so that many processes do not retry in step;
 * never earlier than the service asked (`retryAfterMs`).
 */
export function backoffMs (attempt: number, policy: RetryPolicy, retryAfterMs?: number, random = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** (attempt - 1))
  const jittered = base / 2 + random() * (base / 2)
  return Math.round(Math.max(jittered, retryAfterMs ?? 0))
}

/**
 * Resolves after `ms`, or early (false) when `signal` aborts. The timer keeps the process alive on
 * purpose: a library user's last `await dispatch()` must not end the process in the middle of a
 * retry (the alert would be lost). Bounded by the caller's deadline.
 */
export async function sleep (ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return false
  return await new Promise<boolean>((resolve) => {
    const onAbort = (): void => { clearTimeout(t); resolve(false) }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(true) }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
