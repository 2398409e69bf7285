/**
 * The pretest step (scripts/test-programs.mjs): the tests' own programs are found, or installed, or the
 * step stops at once with the exact commands. Here: the stop, which every machine can show without
 * changing what is installed (an explicit variable that names no file is never "fixed" by apt-get).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { programPath } from '../scripts/programs.mjs'

const script = fileURLToPath(new URL('../scripts/test-programs.mjs', import.meta.url))

it('stops at once with the Debian/Ubuntu and macOS commands when a program cannot be had', () => {
  const started = Date.now()
  const r = spawnSync(process.execPath, [script], { env: { ...process.env, CHROMIUM_BIN: '/nonexistent/chromium' }, encoding: 'utf8', timeout: 20_000 })
  expect(r.status).toBe(1)
  expect(Date.now() - started).toBeLessThan(10_000) // no install attempted
  expect(r.stderr).toContain('CHROMIUM_BIN=/nonexistent/chromium does not exist')
  expect(r.stderr).toContain('sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium')
  expect(r.stderr).toContain('brew install --cask chromium')
})

it('the tests find each program where the pretest step found it, or say how to install it', () => {
  expect(programPath('alertmanager')).toMatch(/alertmanager$/)
  expect(programPath('chromium')).toMatch(/chrom/i)
  expect(() => programPath('alertmanager', { PATH: '', ALERTMANAGER_BIN: '/nonexistent/am' }))
    .toThrow(/ALERTMANAGER_BIN=\/nonexistent\/am does not exist\. .*apt-get install -y --no-install-recommends prometheus-alertmanager/s)
})
