/**
 * Real Chromium for the dashboard's browser tests (Debian's chromium via playwright-core; the same
 * lookup as `npm test`'s pretest step, which installs it; no browser is ever downloaded).
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { programPath } from '../../scripts/programs.mjs'
import { tempDir } from './run.js'

// The callbacks passed to evaluate / addInitScript run in the page: no DOM lib in the test build.
declare const window: any
declare const document: any

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** A fresh Chromium profile with one page. */
export async function launchChromium (viewport: { width: number, height: number }): Promise<{ context: BrowserContext, page: Page }> {
  const context = await chromium.launchPersistentContext(tempDir('pino-alerts-chromium-'), { executablePath: programPath('chromium'), headless: true, args: ARGS, viewport })
  return { context, page: context.pages()[0] ?? await context.newPage() }
}

/**
 * Records into `problems` what a user would notice: console errors and warnings, page errors, dialogs
 * and failed requests (the live feed's reconnects aside); and, from before the page's own script and
 * outside its CSP, every Content-Security-Policy violation (read with `cspViolations`).
 */
export async function watchPage (p: Page, label: string, problems: string[]): Promise<void> {
  p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${label} console.${m.type()}: ${m.text()}`) })
  p.on('pageerror', (e) => problems.push(`${label} page error: ${e.message}`))
  p.on('dialog', (d) => { problems.push(`${label} dialog: ${d.message()}`); void d.dismiss() })
  p.on('requestfailed', (r) => { if (!r.url().endsWith('/events')) problems.push(`${label} request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`) })
  await p.addInitScript(() => {
    const w = window as unknown as { __csp: string[] }
    w.__csp = []
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string, blockedURI: string }) => { w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`) })
  })
}

/** The CSP violations recorded on the page so far. */
export async function cspViolations (p: Page): Promise<string[]> {
  return await p.evaluate(() => (window as unknown as { __csp: string[] }).__csp)
}
