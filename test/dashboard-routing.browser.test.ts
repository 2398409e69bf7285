/**
 * The dashboard's "Channels & routing" view (SPEC §16) in a real headless Chromium (Debian's
 * chromium, driven by playwright-core; no browser is downloaded). Two REAL apps (child processes, each
 * with its own pino worker and its own configuration) write to one store that the real dashboard
 * serves: the page lists both with their channels; one app's webhook goes down, its circuit opens and
 * the page shows `open` without a reload; the "Where would this alert go?" form answers per process;
 * no configured secret (webhook URL path, header value, signing secret) ever reaches the page.
 *
 * Screenshots go to test-artifacts/; with DOCS_SCREENSHOTS=1 the view's also goes to
 * docs/dashboard-routing.png (the picture in docs/dashboard.md).
 */
import type { ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startDashboard, type Dashboard } from '../src/dashboard/server.js'
import { startWebhookServer, type WebhookServer } from './fakes/webhook-server.js'
import { spawnApp, tempDir } from './helpers/run.js'
import { cspViolations, launchChromium, watchPage } from './helpers/browser.js'

// The callbacks passed to evaluate / waitForFunction / addInitScript run in the page (see
// dashboard.browser.test.ts: no DOM lib in the test build).
declare const window: any
declare const document: any
declare function getComputedStyle (e: unknown): { backgroundColor: string }

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const ARTIFACTS = join(ROOT, 'test-artifacts')
/** How long a heartbeat stands: the apps heartbeat (with their channels' health) every leaseMs / 3. */
const LEASE_MS = 3000

// Secrets in the apps' configurations: none may appear in the page.
const SECRET_PATH_A = 'hooks/a-7f3c9e1b5d2aSECRETPATH'
const SECRET_PATH_AUDIT = 'audit/q9w8e7r6t5AUDITPATH'
const SECRET_PATH_B = 'in/b-0d4e8a2c6f1bSECRETPATH'
const SECRET_HEADER = 'Bearer hdr-5e6f7a8b9c0dHEADERVALUE'
const SECRET_WHSEC = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0'
const SECRETS = [SECRET_PATH_A, SECRET_PATH_AUDIT, SECRET_PATH_B, SECRET_HEADER, 'hdr-5e6f7a8b9c0dHEADERVALUE', SECRET_WHSEC, 'SECRETPATH', 'AUDITPATH', 'HEADERVALUE']

/**
 * One app: a pino logger whose transport is pino-alerts with CONFIG (JSON) as its options; every line
 * on its stdin is `{ level, obj, msg }`, logged as such.
 */
const APP = `
import pino from 'pino'
import { createInterface } from 'node:readline'
const logger = pino({ name: process.env.APP_NAME, transport: { target: process.env.TARGET, options: JSON.parse(process.env.CONFIG) } })
createInterface({ input: process.stdin }).on('line', (line) => {
  const { level, obj, msg } = JSON.parse(line)
  logger[level](obj, msg)
})
process.stdout.write('ready\\n')
`

interface App { child: ChildProcess, pid: number, log: (level: string, obj: unknown, msg: string) => void, stderr: () => string, closed: Promise<void> }
const apps: App[] = []

function app (name: string, config: unknown): App {
  const live = spawnApp(['--input-type=module', '-e', APP], { APP_NAME: name, TARGET: join(ROOT, 'dist/index.js'), CONFIG: JSON.stringify(config) }, ROOT)
  const a: App = { ...live, log: (level, obj, msg) => { live.send({ level, obj, msg }) } }
  apps.push(a)
  return a
}

let dir: string
let db: string
let hookA: WebhookServer
let audit: WebhookServer
let hookB: WebhookServer
let dash: Dashboard
let a: App
let b: App
let context: BrowserContext
let page: Page
const problems: string[] = []

const watch = async (p: Page, label: string): Promise<void> => { await watchPage(p, label, problems) }

const card = (pid: number) => page.locator(`article.process[data-process^="${pid}@"]`)
const channelRow = (pid: number, name: string) => card(pid).locator(`table.channels tr[data-channel="${name}"]`)

/** Neither the page's text nor its markup holds any configured secret. */
async function expectNoSecrets (): Promise<void> {
  const text = await page.evaluate(() => document.body.innerText as string)
  const html = await page.evaluate(() => document.documentElement.outerHTML as string)
  for (const s of SECRETS) {
    expect(text, `page text holds ${s}`).not.toContain(s)
    expect(html, `page markup holds ${s}`).not.toContain(s)
  }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  dir = tempDir()
  db = join(dir, 'alerts.db')
  hookA = await startWebhookServer()
  audit = await startWebhookServer()
  hookB = await startWebhookServer()
  dash = await startDashboard({ store: db, port: 0 })

  // App A: rules with time intervals, a failover, an inhibit rule; its webhook fails at once (one
  // attempt) when its service is down, so five alerts open its circuit.
  a = app('risk-svc', {
    env: false,
    shutdownTimeoutMs: 1000,
    store: { path: db, leaseMs: LEASE_MS },
    channels: {
      console: { enabled: false },
      webhook: { url: `${hookA.origin}/${SECRET_PATH_A}`, headers: { Authorization: SECRET_HEADER }, retry: { maxAttempts: 1 }, timeoutMs: 2000 },
      audit: { type: 'webhook', url: `${audit.origin}/${SECRET_PATH_AUDIT}`, rateLimit: { perSecond: 5, burst: 10 } }
    },
    timeIntervals: {
      always: [{ weekdays: ['sunday:saturday'] }],
      never: [{ years: ['1999'] }]
    },
    routes: [
      { match: 'severity="critical"', channels: ['webhook'], continue: true },
      { match: 'source="feed"', channels: ['audit'], muteTime: 'always' },
      { match: 'source="night_batch"', channels: ['audit'], activeTime: 'never' },
      { channels: ['audit'] }
    ],
    failover: ['audit'],
    inhibit: [{ source: 'source="kill_switch"', target: 'severity="warn"', equal: ['desk'] }]
  })
  // App B: a severity matrix and a signed webhook.
  b = app('feed-svc', {
    env: false,
    shutdownTimeoutMs: 1000,
    store: { path: db, leaseMs: LEASE_MS },
    channels: {
      console: { enabled: false },
      webhook: { url: `${hookB.origin}/${SECRET_PATH_B}`, secret: SECRET_WHSEC }
    },
    routes: { info: ['webhook'], warn: ['webhook'], critical: ['webhook'] }
  })
  // Each owns something in the store from its first alert on: its process row.
  a.log('warn', { alert: { source: 'startup', labels: { app: 'risk' } } }, 'risk-svc up')
  b.log('info', { alert: { source: 'startup', labels: { app: 'feed' } } }, 'feed-svc up')
  try {
    await audit.waitFor(1, 15_000)
    await hookB.waitFor(1, 15_000)
  } catch (err) {
    throw new Error(`${(err as Error).message}\nrisk-svc: ${a.stderr()}\nfeed-svc: ${b.stderr()}`)
  }

  ;({ context, page } = await launchChromium({ width: 1280, height: 900 }))
  await watch(page, 'dashboard')
  await page.goto(dash.url)
  await page.locator('#live.on').waitFor({ timeout: 5000 })
  await page.evaluate(() => { (window as unknown as { __noReload: boolean }).__noReload = true })
}, 60_000)

afterEach(async () => {
  expect(problems.splice(0), 'console errors, page errors, dialogs or failed requests').toEqual([])
  expect(await cspViolations(page), 'CSP violations').toEqual([])
})

afterAll(async () => {
  await context?.close()
  for (const x of apps.splice(0)) {
    x.child.kill('SIGKILL')
    await x.closed
  }
  await dash?.close()
  await hookA?.close()
  await audit?.close()
  await hookB?.close()
})

describe('dashboard: channels and routing in a real browser', () => {
  it('the view is reached from the header (keyboard too) and lists both processes with their channels, routing and intervals', async () => {
    expect(await page.locator('#view-routing').isHidden()).toBe(true)
    await page.locator('#tab-routing').focus()
    await page.keyboard.press('Enter')
    await page.locator('#view-routing').waitFor({ state: 'visible', timeout: 2000 })
    expect(await page.locator('#view-alerts').isHidden()).toBe(true)
    expect(await page.locator('#tab-routing').getAttribute('aria-current')).toBe('page')
    expect(new URL(page.url()).hash).toBe('#routing')

    await card(a.pid).waitFor({ timeout: 10_000 })
    await card(b.pid).waitFor({ timeout: 10_000 })
    for (const p of [a, b]) {
      const head = card(p.pid).locator('.process-head')
      expect(await head.locator('.chip.alive').textContent()).toBe('alive')
      expect(await head.textContent()).toContain(`pid ${p.pid}`)
      expect(await head.locator('.heartbeat').textContent()).toMatch(/last heartbeat \d+ s ago/)
    }
    // A: its channels with their health, rules with their intervals, failover and inhibition.
    expect(await card(a.pid).locator('table.channels tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-channel')))).toEqual(['console', 'webhook', 'audit'])
    expect(await channelRow(a.pid, 'webhook').locator('.circuit').textContent()).toBe('closed')
    expect(await channelRow(a.pid, 'console').textContent()).toContain('disabled')
    expect(await channelRow(a.pid, 'console').locator('td.circuit-cell').textContent()).toBe('—')
    expect(await channelRow(a.pid, 'audit').textContent()).toContain('5/s, burst 10')
    expect(await channelRow(a.pid, 'webhook').textContent()).toContain('1 attempt')
    const rules = card(a.pid).locator('table.rules tbody tr')
    expect(await rules.count()).toBe(4)
    expect(await rules.nth(0).locator('code').allTextContents()).toEqual(['severity="critical"'])
    expect(await rules.nth(0).textContent()).toContain('yes')
    expect(await rules.nth(1).locator('.when').textContent()).toMatch(/muted during always\s*muted now/)
    expect(await rules.nth(2).locator('.when').textContent()).toMatch(/active during never\s*not active now/)
    expect(await rules.nth(1).getAttribute('class')).toContain('idle')
    expect(await rules.nth(3).textContent()).toContain('every alert')
    const intervals = card(a.pid).locator('table.intervals tr')
    expect(await intervals.evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-interval')}: ${r.querySelector('.chip').textContent}`))).toEqual(['always: active now', 'never: not active now'])
    expect(await card(a.pid).locator('.failover .chip').allTextContents()).toEqual(['audit'])
    expect(await card(a.pid).locator('table.inhibit tbody tr').textContent()).toContain('source="kill_switch"')
    // B: the severity matrix.
    expect(await card(b.pid).locator('table.channels tbody tr[data-channel="webhook"] .circuit').textContent()).toBe('closed')
    expect(await card(b.pid).locator('table.matrix tr[data-severity="critical"] .chip').allTextContents()).toEqual(['webhook'])
    expect(await card(b.pid).locator('table.rules').count()).toBe(0)
    await expectNoSecrets()
  })

  it("one app's webhook goes down: its circuit shows open within 10 s, without a reload, and stands out", async () => {
    hookA.setDefault({ status: 503, body: 'down' })
    const t0 = Date.now()
    for (let i = 0; i < 6; i++) a.log('fatal', { alert: { source: 'risk_gate', labels: { n: String(i) } } }, `Order blocked ${i}`)
    await channelRow(a.pid, 'webhook').locator('.circuit.circuit-open', { hasText: 'open' }).waitFor({ timeout: 15_000 })
    const shownAfter = Date.now() - t0
    expect(shownAfter, 'from the failing deliveries to the page').toBeLessThan(15_000)
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true)
    const row = channelRow(a.pid, 'webhook')
    expect(await row.getAttribute('class')).toContain('state-open')
    expect(await row.locator('.circuit').textContent()).toBe('open')
    expect(Number(await row.locator('td.n').nth(2).textContent())).toBeGreaterThanOrEqual(5)
    expect(await row.locator('.last-error').textContent()).toMatch(/503|circuit open/)
    // It stands out: the row's colour differs from a closed channel's, and the process and the
    // header say how many circuits are open.
    const bg = async (name: string): Promise<string> => await channelRow(a.pid, name).locator('td').first().evaluate((e) => getComputedStyle(e).backgroundColor)
    expect(await bg('webhook')).not.toBe(await bg('audit'))
    expect(await card(a.pid).locator('.process-head .circuit-open').textContent()).toBe('1 circuit open')
    expect(await page.locator('#tab-badge').textContent()).toBe('1 open')
    // B's webhook is unaffected.
    expect(await card(b.pid).locator('table.channels tr[data-channel="webhook"] .circuit').textContent()).toBe('closed')
    await expectNoSecrets()
  })

  it('"Where would this alert go?" answers per process; a muted rule, a silence and an inhibition are shown; bad input is explained', async () => {
    // Bad labels: the server's 400 is shown next to the form.
    await page.selectOption('#r-severity', 'critical')
    await page.fill('#r-source', 'risk_gate')
    await page.fill('#r-title', 'Order blocked')
    await page.fill('#r-labels', 'desk')
    const bad = page.waitForResponse((r) => r.url().includes('/api/route?'))
    // Chromium logs the 400 answer itself ("Failed to load resource"): expected here.
    const logged = page.waitForEvent('console', (m) => m.type() === 'error' && m.text().includes('status of 400'))
    await page.click('#r-submit')
    expect((await bad).status()).toBe(400)
    await logged
    problems.splice(0, problems.length, ...problems.filter((m) => !m.includes('Failed to load resource: the server responded with a status of 400')))
    await page.locator('#r-error').waitFor({ state: 'visible', timeout: 2000 })
    expect((await page.locator('#r-error').textContent())?.length).toBeGreaterThan(0)

    // A critical alert: A's rule 0 (its webhook), B's severity matrix.
    await page.fill('#r-labels', 'desk=fx, venue = xetra')
    await page.locator('#r-labels').press('Enter')
    await page.locator('#r-result table.route').waitFor({ timeout: 2000 })
    expect(await page.locator('#r-error').isHidden()).toBe(true)
    const answer = (pid: number) => page.locator(`#r-result tr[data-process^="${pid}@"]`)
    expect(await page.locator('#r-result .route-for code').allTextContents()).toEqual(['desk=fx', 'venue=xetra'])
    expect(await answer(a.pid).locator('td.goes').textContent()).toContain('webhook')
    expect(await answer(a.pid).locator('td.matched').textContent()).toContain('rule #0')
    expect(await answer(a.pid).locator('td.matched code').first().textContent()).toBe('severity="critical"')
    expect(await answer(b.pid).locator('td.goes .chip').allTextContents()).toEqual(['webhook'])
    expect(await answer(b.pid).locator('td.matched').textContent()).toBe('severity matrix')
    expect(await answer(b.pid).locator('td.verdict').textContent()).toBe('sent')
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-routing.png'), fullPage: true })
    if (process.env.DOCS_SCREENSHOTS === '1') copyFileSync(join(ARTIFACTS, 'dashboard-routing.png'), join(ROOT, 'docs/dashboard-routing.png'))

    // A muted rule: A's rule 1 matches feed alerts and its mute time is always active.
    await page.selectOption('#r-severity', 'info')
    await page.fill('#r-source', 'feed')
    await page.fill('#r-labels', '')
    await page.click('#r-submit')
    await answer(a.pid).locator('td.verdict .chip', { hasText: 'muted' }).waitFor({ timeout: 2000 })
    expect(await answer(a.pid).locator('td.verdict').textContent()).toMatch(/muted by rule #1 during\s*always/)
    expect(await answer(a.pid).locator('td.goes .chip.struck').allTextContents()).toEqual(['audit'])

    // A silence in the store (made here, through the dashboard's API, as the page's form would).
    const made = await fetch(new URL('/api/silences', dash.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: new URL(dash.url).origin },
      body: JSON.stringify({ match: ['source="feed"', 'venue="lse"'], durationMs: 600_000, comment: 'vendor maintenance', createdBy: 'test' })
    })
    expect(made.status).toBe(201)
    const silenceId = ((await made.json()) as { silence: { id: string } }).silence.id
    await page.fill('#r-labels', 'venue=lse')
    await page.click('#r-submit')
    await answer(b.pid).locator('td.verdict .chip', { hasText: 'silenced' }).waitFor({ timeout: 2000 })
    expect(await answer(b.pid).locator('td.verdict .silence-id').textContent()).toBe(silenceId)
    expect(await answer(b.pid).locator('td.verdict code').allTextContents()).toEqual([silenceId, 'source="feed"', 'venue="lse"'])
    expect(await answer(b.pid).locator('td.goes .chip.struck').allTextContents()).toEqual(['webhook'])
    await page.locator('#route-form').screenshot({ path: join(ARTIFACTS, 'dashboard-routing-silenced.png') })

    // An inhibition: a firing kill switch on desk fx holds back A's warn alerts of that desk.
    a.log('fatal', { alert: { source: 'kill_switch', labels: { desk: 'fx' } } }, 'Kill switch triggered')
    await page.selectOption('#r-severity', 'warn')
    await page.fill('#r-source', 'var_gate')
    await page.fill('#r-labels', 'desk=fx')
    const deadline = Date.now() + 10_000
    for (;;) {
      await page.click('#r-submit')
      await page.locator('#r-result table.route').waitFor({ timeout: 2000 })
      if (await answer(a.pid).locator('td.verdict .chip', { hasText: 'inhibited' }).count() > 0) break
      if (Date.now() > deadline) throw new Error(`no inhibition shown: ${await page.locator('#r-result').textContent()}`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    expect(await answer(a.pid).locator('td.verdict').textContent()).toMatch(/inhibited by inhibit rule #0, source alert\s*\S+/)
    await page.locator('#route-form').screenshot({ path: join(ARTIFACTS, 'dashboard-routing-inhibited.png') })
    await expectNoSecrets()

    // Back to the alert list (the header link; Back would do too): still no reload.
    await page.click('#tab-alerts')
    await page.locator('#view-alerts').waitFor({ state: 'visible', timeout: 2000 })
    expect(await page.locator('#view-routing').isHidden()).toBe(true)
    expect(await page.locator('#tab-badge').textContent()).toBe('1 open')
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true)
  })
})
