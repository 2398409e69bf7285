/**
 * The dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core; no browser
 * is ever downloaded). Alerts come from a REAL pino transport (worker thread) writing to the store the
 * dashboard serves; the page must show them live, acknowledge (stopping an escalation), silence, and
 * never log an error or a CSP violation. Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard, type Dashboard } from '../src/dashboard/server.js'
import { openStore, type AlertStore } from '../src/store/sqlite.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { endTransport, tempDir } from './helpers/run.js'
import { cspViolations, launchChromium, watchPage } from './helpers/browser.js'

// The callbacks passed to evaluate / waitForFunction / addInitScript run in the page. Declared here
// (module scope) instead of adding the DOM lib, which would change the Node typings of the test build.
declare const window: any
declare const document: any
declare function getComputedStyle (e: unknown): { backgroundColor: string }

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url))

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function until<T> (what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(10)
  }
}

let dir: string
let db: string
let hook: WebhookServer
let pager: WebhookServer
let dash: Dashboard
let transport: ReturnType<typeof pino.transport>
let logger: pino.Logger
let context: BrowserContext
let page: Page
let reader: AlertStore
const problems: string[] = []

const titlesOf = (server: WebhookServer): string[] => server.requests.map((r) => r.json<{ title: string }>().title)
const row = (title: string) => page.locator('#alert-rows tr', { has: page.locator('td.title', { hasText: title }) })

const watch = async (p: Page, label: string): Promise<void> => { await watchPage(p, label, problems) }

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  dir = tempDir()
  db = join(dir, 'alerts.db')
  hook = await startWebhookServer()
  pager = await startWebhookServer()
  // The dashboard first: it creates the store the app then writes to.
  dash = await startDashboard({ store: db, port: 0 })
  transport = pino.transport({
    target: 'pino-alerts',
    options: {
      env: false,
      store: { path: db },
      channels: { console: { enabled: false }, webhook: { url: hook.url }, pager: { type: 'webhook', url: pager.url } },
      routes: [
        { match: 'severity="critical"', channels: ['webhook'], escalate: [{ afterMs: 1500, channels: ['pager'] }] },
        { channels: ['webhook'] }
      ]
    }
  })
  logger = pino({ name: 'risk-svc' }, transport)
  reader = openStore(db)
  ;({ context, page } = await launchChromium({ width: 1400, height: 1000 }))
  await watch(page, 'dashboard')
  await page.goto(dash.url)
  await page.locator('#live.on').waitFor({ timeout: 5000 })
  // Set once: a reload would lose it.
  await page.evaluate(() => { (window as unknown as { __noReload: boolean }).__noReload = true })
}, 60_000)

afterEach(async () => {
  expect(problems.splice(0), 'console errors, page errors, dialogs or failed requests').toEqual([])
  expect(await cspViolations(page), 'CSP violations').toEqual([])
})

afterAll(async () => {
  await context?.close()
  if (transport !== undefined) {
    await endTransport(transport)
  }
  reader?.close()
  await dash?.close()
  await hook?.close()
  await pager?.close()
})

describe('dashboard in a real browser', () => {
  it('alerts logged through a real pino transport appear within a second, without a reload, coloured by severity', async () => {
    const t0 = Date.now()
    logger.warn({ alert: { source: 'var_gate', labels: { desk: 'fx' } } }, 'VaR at 90% of limit')
    await row('VaR at 90% of limit').waitFor({ timeout: 1000 })
    const shownAfter = Date.now() - t0
    expect(shownAfter).toBeLessThan(1000)
    logger.info({ alert: { source: 'feed', labels: { venue: 'xetra' } } }, 'Feed lagging 2s')
    logger.error({ alert: { source: 'xss', title: '<img src=x onerror=alert(1)>' }, note: '<script>alert(2)</script>' }, '<b>not bold</b>')
    await row('Feed lagging 2s').waitFor({ timeout: 1000 })
    await row('<img src=x onerror=alert(1)>').waitFor({ timeout: 1000 })

    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true)
    expect(await row('VaR at 90% of limit').getAttribute('class')).toContain('sev-warn')
    expect(await row('Feed lagging 2s').getAttribute('class')).toContain('sev-info')
    const xss = row('<img src=x onerror=alert(1)>')
    expect(await xss.getAttribute('class')).toContain('sev-critical')
    // Severity colours: the badges differ.
    const colour = async (title: string): Promise<string> => await row(title).locator('.sev').evaluate((e) => getComputedStyle(e).backgroundColor)
    const colours = new Set([await colour('VaR at 90% of limit'), await colour('Feed lagging 2s'), await colour('<img src=x onerror=alert(1)>')])
    expect(colours.size).toBe(3)
    // Shown as text: no element was made from it.
    expect(await page.locator('#alert-rows img, #alert-rows script, #alert-rows b').count()).toBe(0)
    await xss.click()
    await page.locator('#d-title', { hasText: '<img src=x onerror=alert(1)>' }).waitFor({ timeout: 2000 })
    expect(await page.locator('#d-body').textContent()).toBe('<b>not bold</b>')
    expect(await page.locator('#d-meta').textContent()).toContain('<script>alert(2)</script>')
    expect(await page.locator('#detail img, #detail script, #detail b').count()).toBe(0)
    // Live delivery status: the webhook receipt arrives after the row.
    await row('VaR at 90% of limit').locator('.delivery .chip.ok', { hasText: 'webhook' }).waitFor({ timeout: 3000 })
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live-list.png'), fullPage: true })
  })

  it('filters by severity, source, status and text; the chart draws the volume by severity', async () => {
    await page.selectOption('#f-severity', 'info')
    await page.waitForFunction(() => [...document.querySelectorAll('#alert-rows tr')].every((r) => r.classList.contains('sev-info')))
    expect(await page.locator('#alert-rows tr').evaluateAll((rows) => rows.map((r) => r.className.split(' ').find((c: string) => c.startsWith('sev-'))))).toEqual(['sev-info'])
    await page.selectOption('#f-severity', '')
    await page.fill('#f-q', 'var at')
    await page.waitForFunction(() => document.querySelectorAll('#alert-rows tr').length === 1)
    expect(await page.locator('#alert-rows td.title').allTextContents()).toEqual(['VaR at 90% of limit'])
    // A live alert that does not match the text filter stays out; one that does comes in.
    logger.warn({ alert: { source: 'var_gate', labels: { desk: 'eq' } } }, 'VaR at 80% of limit')
    logger.warn({ alert: { source: 'other' } }, 'Something else')
    await row('VaR at 80% of limit').waitFor({ timeout: 1000 })
    await sleep(300)
    expect(await row('Something else').count()).toBe(0)
    await page.fill('#f-q', '')
    await page.fill('#f-source', 'feed')
    await page.waitForFunction(() => [...document.querySelectorAll('#alert-rows td.source')].every((td) => td.textContent === 'feed') && document.querySelectorAll('#alert-rows tr').length === 1)
    await page.fill('#f-source', '')
    await page.selectOption('#f-status', 'resolved')
    await page.locator('#empty').waitFor({ state: 'visible' })
    await page.selectOption('#f-status', '')
    await row('Something else').waitFor({ timeout: 2000 })

    await page.locator('#chart svg rect.bar-warn').first().waitFor({ timeout: 5000 })
    expect(await page.locator('#chart svg rect.bar-info').count()).toBeGreaterThan(0)
    expect(await page.locator('#chart svg rect.bar-critical').count()).toBeGreaterThan(0)
    await page.selectOption('#range', '3600000')
    await page.locator('#chart svg rect.bar-warn').first().waitFor({ timeout: 5000 })
    expect(await page.locator('#counts .count').first().textContent()).toMatch(/\d+ critical/)
  })

  it('acknowledging an alert in the page stops its escalation; an unacknowledged one escalates', async () => {
    const t0 = Date.now()
    logger.fatal({ alert: { source: 'kill_switch', labels: { desk: 'fx' } } }, 'Kill switch triggered')
    logger.fatal({ alert: { source: 'risk_gate' } }, 'Order blocked')
    await row('Kill switch triggered').click({ timeout: 1000 })
    await page.locator('#d-title', { hasText: 'Kill switch triggered' }).waitFor({ timeout: 1000 })
    await page.fill('#me', 'alice')
    await page.fill('#d-comment', 'on it')
    await page.click('#d-ack')
    await page.locator('#d-state', { hasText: 'acknowledged by alice' }).waitFor({ timeout: 1000 })
    const ackedAt = Date.now() - t0
    expect(ackedAt, 'acknowledged before the escalation is due').toBeLessThan(1400)
    await row('Kill switch triggered').locator('.chip.acked').waitFor({ timeout: 1000 })
    const killId = await row('Kill switch triggered').getAttribute('data-id')
    expect(reader.acked(killId as string)).toMatchObject({ by: 'alice', comment: 'on it' })
    // Wait for the unacknowledged alert's escalation, then a while longer.
    await until('the pager to be escalated to', () => (titlesOf(pager).includes('Order blocked') ? true : undefined), 5000)
    await sleep(800)
    expect(titlesOf(pager)).toContain('Order blocked')
    expect(titlesOf(pager)).not.toContain('Kill switch triggered')
    expect(titlesOf(hook)).toEqual(expect.arrayContaining(['Kill switch triggered', 'Order blocked']))
    // The page shows the per-channel receipts.
    await page.locator('#d-receipts tr', { hasText: 'webhook' }).waitFor({ timeout: 2000 })
    expect(await page.locator('#d-receipts tr').first().locator('td').nth(2).textContent()).toBe('1')
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-acknowledged.png'), fullPage: true })
  })

  it('a silence created in the page (pre-filled from the alert) silences the next matching alert; expiring it works', async () => {
    await row('Feed lagging 2s').click()
    await page.locator('#d-title', { hasText: 'Feed lagging 2s' }).waitFor({ timeout: 2000 })
    await page.click('#d-silence')
    expect(await page.inputValue('#s-match')).toBe('source="feed"\nvenue="xetra"')
    await page.locator('#s-preview', { hasText: 'of the last' }).waitFor({ timeout: 2000 })
    expect(await page.locator('#s-preview code').allTextContents()).toEqual(['source="feed"', 'venue="xetra"'])
    // A typo is explained before anything is created.
    await page.fill('#s-match', 'source=~"(feed"')
    await page.locator('#s-preview.error', { hasText: 'bad matcher' }).waitFor({ timeout: 2000 })
    expect(await page.locator('#s-submit').isDisabled()).toBe(true)
    await page.fill('#s-match', 'source="feed"\nvenue="xetra"')
    await page.locator('#s-preview:not(.error)', { hasText: 'of the last' }).waitFor({ timeout: 2000 })
    await page.selectOption('#s-duration', '900000')
    await page.fill('#s-comment', 'vendor maintenance')
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-silence-form.png'), fullPage: true })
    await page.click('#s-submit')
    await page.locator('#silence-rows tr', { hasText: 'vendor maintenance' }).waitFor({ timeout: 2000 })
    expect(await page.locator('#silence-rows tr code').allTextContents()).toEqual(['source="feed"', 'venue="xetra"'])

    // The app's alerter re-reads the store's silences at most once a second.
    await sleep(1100)
    const before = hook.requests.length
    logger.info({ alert: { source: 'feed', labels: { venue: 'xetra' } } }, 'Feed lagging 5s')
    logger.info({ alert: { source: 'feed', labels: { venue: 'lse' } } }, 'Feed lagging 3s at LSE')
    await row('Feed lagging 5s').locator('.chip.suppressed', { hasText: 'silenced' }).waitFor({ timeout: 2000 })
    await until('the LSE alert to be delivered', () => (titlesOf(hook).includes('Feed lagging 3s at LSE') ? true : undefined), 3000)
    await sleep(300)
    expect(titlesOf(hook).slice(before)).toEqual(['Feed lagging 3s at LSE'])
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-silenced.png'), fullPage: true })

    await page.locator('#silence-rows button.expire').click()
    await page.locator('#no-silences').waitFor({ state: 'visible', timeout: 2000 })
    expect(reader.silences()).toEqual([])
  })

  it('with a token: the page sends to the login form, and works after logging in', async () => {
    const token = 'browser-test-token-0123456789'
    const secured = await startDashboard({ store: db, port: 0, token })
    const p = await context.newPage()
    await watch(p, 'login')
    try {
      await p.goto(secured.url)
      expect(new URL(p.url()).pathname).toBe('/login')
      await p.fill('input[name=token]', 'wrong')
      const wrong = p.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST')
      // Chromium logs the 401 answer to the form post itself ("Failed to load resource"): expected here.
      const logged = p.waitForEvent('console', (m) => m.type() === 'error' && m.text().includes('status of 401'))
      await p.click('button[type=submit]')
      expect((await wrong).status()).toBe(401)
      await logged
      problems.splice(0, problems.length, ...problems.filter((m) => !m.startsWith('login console.error: Failed to load resource: the server responded with a status of 401')))
      await p.locator('.error', { hasText: 'not right' }).waitFor()
      await p.screenshot({ path: join(ARTIFACTS, 'dashboard-login.png') })
      await p.fill('input[name=token]', token)
      await p.click('button[type=submit]')
      await p.locator('#live.on').waitFor({ timeout: 5000 })
      await p.locator('#alert-rows tr', { hasText: 'VaR at 90% of limit' }).waitFor({ timeout: 2000 })
      expect(await p.locator('#logout').isVisible()).toBe(true)
      const cookies = await context.cookies(secured.url)
      expect(cookies).toEqual([expect.objectContaining({ httpOnly: true, sameSite: 'Strict' })])
      expect(cookies[0]!.value).not.toContain(token)
      // Changes work from the page (cookie + same origin).
      await p.locator('#alert-rows tr', { hasText: 'Something else' }).click()
      await p.locator('#d-title', { hasText: 'Something else' }).waitFor()
      await p.click('#d-ack')
      await p.locator('#d-state', { hasText: 'acknowledged by' }).waitFor({ timeout: 2000 })
      expect(await cspViolations(p)).toEqual([])
    } finally {
      await p.close()
      await secured.close()
    }
  })

  it('leaves a screenshot of the whole page', async () => {
    await page.locator('#d-close').click()
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true })
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true)
  })
})
