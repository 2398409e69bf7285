import { spawn, type ChildProcess } from 'node:child_process'
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

/** A child app kept running: its stdin takes one JSON line per `send`, its stderr is collected. */
export interface LiveApp { child: ChildProcess, pid: number, stderr: () => string, closed: Promise<void>, send: (line: unknown) => void }

/** Starts `node …args` with a minimal environment plus `env`, stdin open for `send`. */
export function spawnApp (args: string[], env: Record<string, string>, cwd?: string): LiveApp {
  const child = spawn(process.execPath, args, { ...(cwd === undefined ? {} : { cwd }), env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout?.resume()
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()))
  return { child, pid: child.pid as number, stderr: () => stderr, closed, send: (line) => { child.stdin?.write(JSON.stringify(line) + '\n') } }
}

/** Reads server-sent events from a text stream: each complete `event:`/`data:` block is passed on, its data parsed as JSON. */
export function sseReader (onEvent: (event: string, data: unknown) => void): (chunk: string) => void {
  let buf = ''
  return (chunk) => {
    buf += chunk
    let i: number
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event !== undefined && data !== undefined) onEvent(event, JSON.parse(data))
    }
  }
}
