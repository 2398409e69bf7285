import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RunResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, ms: number }

/**
 * Runs a fixture script in a child process (a real app with its own pino worker) and collects its
 * output. `script`: a path, or node's arguments (`['--input-type=module', '-e', code]`).
 */
export async function runNode (script: string | string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<RunResult> {
  const started = Date.now()
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, typeof script === 'string' ? [script] : script, {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${String(script).slice(0, 200)} timed out; stderr: ${stderr.slice(0, 2000)}`)) }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr, ms: Date.now() - started }) })
  })
}

export function tempDir (prefix = 'pino-alerts-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function readJsonl (path: string): Array<Record<string, any>> {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
}

export const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).pathname

/** Polls `cond` every 50 ms until it holds; throws after `timeoutMs`. */
export async function until (cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Ends a pino transport and waits until its worker has closed (every alert delivered or given up). */
export async function endTransport (transport: { end: () => void, once: (event: string, fn: () => void) => unknown }): Promise<void> {
  const closed = new Promise<void>((resolve) => { transport.once('close', () => resolve()) })
  transport.end()
  await closed
}
