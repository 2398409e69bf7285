// The system programs the tests run for real, and where to find them: one lookup for the pretest step
// (scripts/test-programs.mjs) and for the tests themselves (they import programPath from here).
//   - Prometheus Alertmanager: the alertmanager channel is tested against the real binary;
//   - Chromium: the dashboard is tested in a real headless browser (playwright-core drives it and never
//     downloads a browser of its own);
//   - openssl: the proxy tests make a throw-away CA and server certificate (nothing key-like is committed).
import { existsSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** What each program is, how it is found, and the exact install commands. */
export const PROGRAMS = [
  {
    id: 'alertmanager',
    title: 'Prometheus Alertmanager',
    env: 'ALERTMANAGER_BIN',
    names: ['prometheus-alertmanager', 'alertmanager'],
    paths: [],
    apt: 'prometheus-alertmanager',
    mac: 'brew install alertmanager'
  },
  {
    id: 'chromium',
    title: 'Chromium',
    env: 'CHROMIUM_BIN',
    names: ['chromium', 'chromium-browser'],
    paths: ['/Applications/Chromium.app/Contents/MacOS/Chromium'],
    apt: 'chromium',
    mac: 'brew install --cask chromium'
  },
  {
    id: 'openssl',
    title: 'OpenSSL',
    env: 'OPENSSL_BIN',
    names: ['openssl'],
    paths: [],
    apt: 'openssl',
    mac: 'brew install openssl'
  }
]

function executable (p) {
  try { return statSync(p).isFile() } catch { return false }
}

/**
 * The program's path: its variable (`ALERTMANAGER_BIN`, `CHROMIUM_BIN`) when set, else the first of its
 * names on PATH (then /usr/bin, /usr/local/bin), else a known install path. `{ path }` or `{ error }`.
 */
export function locate (program, env = process.env) {
  const explicit = env[program.env]
  if (explicit !== undefined && explicit !== '') {
    return existsSync(explicit) ? { path: explicit } : { error: `${program.env}=${explicit} does not exist` }
  }
  const dirs = [...(env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin']
  for (const name of program.names) {
    for (const d of dirs) {
      const p = join(d, name)
      if (executable(p)) return { path: p }
    }
  }
  for (const p of program.paths) if (executable(p)) return { path: p }
  return { error: `${program.title} not found (no ${program.names.join(' or ')} on PATH, ${program.env} not set)` }
}

/** The exact commands that install every program in `missing` (Debian/Ubuntu, macOS). */
export function installHint (missing) {
  const apt = missing.map((p) => p.apt).join(' ')
  return [
    'Install them, then run the tests again:',
    `  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${apt}`,
    `  macOS:          ${missing.map((p) => p.mac).join(' && ')}`,
    `Or point ${missing.map((p) => p.env).join(' / ')} at binaries you already have.`
  ].join('\n')
}

/** The path of the program with this id, or an Error saying how to install it. */
export function programPath (id, env = process.env) {
  const program = PROGRAMS.find((p) => p.id === id)
  if (program === undefined) throw new Error(`unknown program ${id}`)
  const found = locate(program, env)
  if (found.path !== undefined) return found.path
  throw new Error(`${found.error}. ${installHint([program])}`)
}
