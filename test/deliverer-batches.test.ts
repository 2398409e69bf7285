/**
 * How the delivery wrapper (SPEC §8) cuts what queues behind a rate limit into batches, seen from what
 * the user gets back:
 *
 * - each alert's report is its own: an alert whose message the service accepted is delivered, and only
 *   alerts whose own `deliveryTimeoutMs` ran out before they were sent fail (and go to failover);
 * - a queue of any length (200 000 here) is batched without a spread of the whole queue into
 *   `Math.min` (a RangeError beyond ~125 000 arguments) and without per-item work over the whole queue.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createAlerter, type Alerter, type DispatchResult } from '../src/alerter.js'
import type { Channel, Outcome } from '../src/channels/channel.js'
import { create as createPagerDuty } from '../src/channels/pagerduty.js'
import { Deliverer, type DeliveryReport } from '../src/delivery/deliverer.js'
import { AlertEvent } from '../src/event.js'
import { startPagerDutyFake, type PagerDutyFake } from './fakes/pagerduty.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { resolvedChannel, sampleEvent } from './channels/suite.js'

let closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.allSettled(closers.map(async (c) => await c()))
  closers = []
})

async function pagerDutyFake (): Promise<PagerDutyFake> {
  const fake = await startPagerDutyFake()
  closers.push(async () => await fake.close())
  return fake
}

/** The alert ids PagerDuty answered 202 for (each trigger carries its alert's id in custom_details). */
function acceptedIds (fake: PagerDutyFake): string[] {
  return fake.events().map((e) => String(e.payload?.custom_details?.alert_id))
}

describe('a rate-limited channel: each alert gets its own outcome (issue failure 3)', () => {
  it('10 alerts to a 2/s PagerDuty with deliveryTimeoutMs 2000: what the service accepted is delivered, only the rest fails', async () => {
    const fake = await pagerDutyFake()
    const cfg = resolvedChannel('pagerduty', { routingKey: fake.routingKey, url: fake.origin, rateLimit: { perSecond: 2 }, deliveryTimeoutMs: 2000 })
    const deliverer = new Deliverer(createPagerDuty(cfg), cfg, new AbortController().signal)
    const events = Array.from({ length: 10 }, (_, i) => sampleEvent({ id: `pd-${i}`, title: `Order blocked ${i}`, labels: { n: String(i) } }))

    // All at once: they queue behind the limit together.
    const reports = await Promise.all(events.map(async (e) => await deliverer.deliver(e)))

    const accepted = new Set(acceptedIds(fake))
    // 2/s cannot carry 10 in 2 s: some were accepted, not all (about 5: a burst of 2, then one per ~525 ms).
    expect(accepted.size).toBeGreaterThan(0)
    expect(accepted.size).toBeLessThan(10)
    // Each alert's report says what happened to that alert.
    const outcome = events.map((e, i) => ({ id: e.id, accepted: accepted.has(e.id), ok: (reports[i] as DeliveryReport).ok }))
    expect(outcome.filter((o) => o.ok !== o.accepted)).toEqual([])
    expect(reports.filter((r) => r.ok).length).toBe(accepted.size)
    for (const r of reports.filter((x) => !x.ok)) expect(r.error).toMatch(/not delivered within deliveryTimeoutMs \(2000 ms\)/)
    // Every request the service got was accepted; none was cut off mid-flight or sent twice.
    expect(fake.requests.every((r) => r.status === 202)).toBe(true)
    expect(fake.requests.length).toBe(accepted.size)
    expect(deliverer.stats()).toMatchObject({ received: 10, delivered: accepted.size, failed: 10 - accepted.size, messages: accepted.size, queued: 0, inFlight: 0 })
  })

  it('through createAlerter: failover stands in only for the alerts PagerDuty did not accept', async () => {
    const fake = await pagerDutyFake()
    const standIn: WebhookServer = await startWebhookServer()
    closers.push(async () => await standIn.close())
    const a: Alerter = createAlerter({
      env: false,
      dedupe: false,
      channels: {
        console: { enabled: false },
        pagerduty: { routingKey: fake.routingKey, url: fake.origin, rateLimit: { perSecond: 2 }, deliveryTimeoutMs: 2000 },
        webhook: { url: standIn.url }
      },
      routes: { critical: ['pagerduty'] },
      failover: ['webhook']
    }, { env: {} })
    closers.unshift(async () => await a.close())
    await a.ready

    const results: DispatchResult[] = await Promise.all(Array.from({ length: 10 }, async (_, i) =>
      await a.dispatch({ source: 'risk_gate', title: `Order blocked ${i}`, severity: 'critical', labels: { n: String(i) } })))

    const accepted = new Set(acceptedIds(fake))
    expect(accepted.size).toBeGreaterThan(0)
    expect(accepted.size).toBeLessThan(10)
    const pd = (r: DispatchResult): DeliveryReport | undefined => r.deliveries.find((d) => d.channel === 'pagerduty')
    for (const r of results) {
      const wasAccepted = accepted.has(r.id)
      expect(pd(r)?.ok, `alert ${r.id}: ${JSON.stringify(r.deliveries)}`).toBe(wasAccepted)
      // An accepted alert is never handed to failover; one that was not gets its stand-in.
      const stoodIn = r.deliveries.filter((d) => d.standInFor !== undefined)
      expect(stoodIn.map((d) => [d.channel, d.ok]), `alert ${r.id}`).toEqual(wasAccepted ? [] : [['webhook', true]])
    }
    expect(results.filter((r) => pd(r)?.ok === true).length).toBe(accepted.size)
    // The stand-in received exactly the alerts PagerDuty did not accept.
    const notAccepted = results.filter((r) => !accepted.has(r.id)).map((r) => r.id).sort()
    expect(standIn.requests.map((q) => q.header('webhook-id')).sort()).toEqual(notAccepted)
  })
})

/** Resolves once `cond` holds, checked on every `poke()` (no polling with fixed sleeps). */
function signalWhen (cond: () => boolean): { done: Promise<void>, poke: () => void } {
  let resolve!: () => void
  const done = new Promise<void>((r) => { resolve = r })
  return { done, poke: () => { if (cond()) resolve() } }
}

/** An answer that waits for the attempt's signal: what a hung service looks like to the deliverer. */
async function hang (signal: AbortSignal): Promise<Outcome> {
  return await new Promise<Outcome>((resolve) => {
    signal.addEventListener('abort', () => resolve({ ok: false, retryable: true, error: 'hung: no answer' }), { once: true })
  })
}

describe('batches cut short: every alert still gets its own outcome', () => {
  it('answers slower than the batch was sized for: alerts answered in time are delivered, the others fail, none both', async () => {
    // One message per alert, 150 ms per answer: the first batch is sized before any answer was timed.
    const accepted: string[] = []
    const channel: Channel<string> = {
      name: 'slow',
      type: 'webhook',
      render: (events) => events.map((e) => e.id),
      send: async (id, { signal }): Promise<Outcome> => {
        await new Promise((resolve) => setTimeout(resolve, 150))
        if (signal.aborted) return { ok: false, retryable: true, error: 'aborted' }
        accepted.push(id)
        return { ok: true }
      }
    }
    const cfg = resolvedChannel('webhook', { url: 'http://127.0.0.1:1/', rateLimit: { perSecond: 10, burst: 1 }, deliveryTimeoutMs: 1000 }, 'slow')
    const deliverer = new Deliverer(channel, cfg, new AbortController().signal)
    const events = Array.from({ length: 10 }, (_, i) => sampleEvent({ id: `slow-${i}`, title: `slow ${i}` }))

    const reports = await Promise.all(events.map(async (e) => await deliverer.deliver(e)))

    expect(accepted.length).toBeGreaterThan(0)
    expect(accepted.length).toBeLessThan(10)
    expect(events.filter((e, i) => (reports[i] as DeliveryReport).ok !== accepted.includes(e.id)).map((e) => e.id)).toEqual([])
    for (const r of reports) expect(r.digestOf).toBeUndefined() // each travelled in its own message
    expect(deliverer.stats()).toMatchObject({ delivered: accepted.length, failed: 10 - accepted.length, messages: accepted.length })
  })

  it('a digest cut by its oldest alert\'s deadline: that alert fails, the younger ones go out in the next digest without it', async () => {
    const sent: string[][] = []
    let releaseFirst!: () => void
    const firstSent = signalWhen(() => sent.length >= 1)
    const channel: Channel<string[]> = {
      name: 'digest',
      type: 'webhook',
      render: (events) => [events.map((e) => e.id)],
      send: async (ids, { signal }): Promise<Outcome> => {
        sent.push(ids)
        firstSent.poke()
        if (sent.length === 1) return await new Promise<Outcome>((resolve) => { releaseFirst = () => resolve({ ok: true }) })
        if (sent.length === 2) return await hang(signal)
        return { ok: true }
      }
    }
    // The attempt timeout is longer than deliveryTimeoutMs: the deadline is what ends the hung digest.
    const cfg = resolvedChannel('webhook', { url: 'http://127.0.0.1:1/', rateLimit: { perSecond: 5, burst: 5 }, deliveryTimeoutMs: 1000, timeoutMs: 5000 }, 'digest')
    const deliverer = new Deliverer(channel, cfg, new AbortController().signal)

    const w = deliverer.deliver(sampleEvent({ id: 'w', title: 'w' }))
    await firstSent.done // w is on its way; what comes now queues behind it
    const a = deliverer.deliver(sampleEvent({ id: 'a', title: 'a' }))
    // Younger by 300 ms: b's and c's deadlines come 300 ms after a's (the point of this test, not a wait for an event).
    await new Promise((resolve) => setTimeout(resolve, 300))
    const bc = [deliverer.deliver(sampleEvent({ id: 'b', title: 'b' })), deliverer.deliver(sampleEvent({ id: 'c', title: 'c' }))]
    releaseFirst()

    const [rw, ra, rb, rc] = await Promise.all([w, a, ...bc])
    expect(rw).toMatchObject({ ok: true })
    expect(ra).toMatchObject({ ok: false, error: expect.stringMatching(/not delivered within deliveryTimeoutMs \(1000 ms\)/) })
    // b's report counts the attempt of the digest that hung too.
    expect(rb).toMatchObject({ ok: true, digestOf: 2, attempts: 2 })
    expect(rc).toMatchObject({ ok: true, digestOf: 2 })
    // a rode in the digest that hung, and was not put in the one that was accepted (its failover sends it).
    expect(sent).toEqual([['w'], ['a', 'b', 'c'], ['b', 'c']])
    expect(deliverer.stats()).toMatchObject({ received: 4, delivered: 3, failed: 1, digests: 1, queued: 0 })
  })
})

/** A channel that renders a digest as the list of its alert ids and records every message it is asked to send. */
function recordingChannel (): Channel<string[]> & { sent: string[][] } {
  const sent: string[][] = []
  return {
    name: 'recorder',
    type: 'webhook',
    sent,
    render: (events) => [events.map((e) => e.id)],
    send: async (message): Promise<Outcome> => { sent.push(message); return { ok: true } }
  }
}

describe('a very long queue behind a rate limit (issue failure 9)', () => {
  it('200 000 queued alerts: no RangeError, every alert represented once, all reported delivered', async () => {
    const n = 200_000
    const channel = recordingChannel()
    const cfg = resolvedChannel('webhook', { url: 'http://127.0.0.1:1/', rateLimit: { perSecond: 1, burst: 1 }, maxQueue: 250_000 }, 'recorder')
    const deliverer = new Deliverer(channel, cfg, new AbortController().signal)
    // One shared template keeps the test about the deliverer: each alert is its own object with its own id.
    const template = AlertEvent.from({ source: 'risk_gate', title: 'Order blocked', severity: 'critical' })
    const events = Array.from({ length: n }, (_, i) => AlertEvent.from({ ...template.toJSON(), id: `q-${i}` }))

    const started = Date.now()
    const pending = events.map(async (e) => await deliverer.deliver(e))
    // All of them wait in the queue before the first token is taken.
    expect(deliverer.stats().queued).toBe(n)
    const reports = await Promise.all(pending)
    const elapsed = Date.now() - started

    expect(reports.filter((r) => !r.ok).slice(0, 3)).toEqual([])
    const ids = channel.sent.flat()
    expect(ids.length).toBe(n)
    expect(new Set(ids).size).toBe(n)
    expect(channel.sent.length).toBeLessThanOrEqual(2)
    expect(deliverer.stats()).toMatchObject({ received: n, delivered: n, failed: 0, dropped: 0, queued: 0 })
    // Linear work: a quadratic pass over 200 000 items would take minutes.
    expect(elapsed).toBeLessThan(15_000)
  }, 60_000)
})
