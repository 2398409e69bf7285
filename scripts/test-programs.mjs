#!/usr/bin/env node
// The pretest step: the tests run a real Alertmanager, a real Chromium and openssl, so `npm test` brings them.
// Found (PATH, or ALERTMANAGER_BIN / CHROMIUM_BIN): nothing to do. Missing, on a machine where apt-get
// can run as root (root, or sudo without a password): installed with apt-get, the package lists
// updated first when the install cannot find a package. Otherwise: stop at once with the exact command
// for Debian/Ubuntu and for macOS. The tests never skip for want of a program.
import { spawnSync } from 'node:child_process'
import { installHint, locate, PROGRAMS } from './programs.mjs'

const missing = PROGRAMS.filter((p) => locate(p).path === undefined)
if (missing.length === 0) {
  for (const p of PROGRAMS) console.log(`pretest: ${p.title}: ${locate(p).path}`)
  process.exit(0)
}

const names = missing.map((p) => p.title).join(' and ')
for (const p of missing) console.error(`pretest: ${locate(p).error}`)

/** How to run apt-get as root here: [] (we are root), ['sudo', '-n'] (passwordless sudo), or undefined. */
function asRoot () {
  if (process.platform !== 'linux') return undefined
  if (spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) return undefined
  if (process.getuid?.() === 0) return []
  if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n']
  return undefined
}

/** Someone asked for the explicit binaries: installing packages would not change what the tests use. */
const explicit = missing.filter((p) => (process.env[p.env] ?? '') !== '')
const root = explicit.length === 0 ? asRoot() : undefined
if (root === undefined) {
  const why = explicit.length > 0
    ? `${explicit.map((p) => p.env).join(' and ')} ${explicit.length === 1 ? 'names' : 'name'} no file, and installing packages would not change that`
    : `this machine cannot install ${missing.length === 1 ? 'it' : 'them'}: apt-get cannot run as root here`
  console.error(`\npretest: the tests need ${names}; ${why}.`)
  console.error(installHint(missing))
  process.exit(1)
}

function apt (args) {
  const [bin, ...argv] = [...root, 'apt-get', ...args]
  console.log(`pretest: ${[bin, ...argv].join(' ')}`)
  const started = Date.now()
  const r = spawnSync(bin, argv, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  console.log(`pretest: ${r.status === 0 ? 'done' : `failed (exit ${r.status ?? r.signal})`} after ${((Date.now() - started) / 1000).toFixed(0)} s`)
  return r.status === 0
}

const packages = missing.map((p) => p.apt)
const install = ['install', '-y', '--no-install-recommends', ...packages]
console.log(`pretest: installing ${names} with apt-get (a minute or two on a fresh machine)`)
// A fresh machine often has no package lists: update first when there are none, and once more when the
// install cannot find a package (stale lists).
const listsEmpty = spawnSync('sh', ['-c', 'ls /var/lib/apt/lists/ | grep -q _Packages'], { stdio: 'ignore' }).status !== 0
let ok = (listsEmpty ? apt(['update']) : true) && apt(install)
if (!ok && !listsEmpty) ok = apt(['update']) && apt(install)
const still = PROGRAMS.filter((p) => locate(p).path === undefined)
if (!ok || still.length > 0) {
  console.error(`\npretest: could not install ${still.map((p) => p.title).join(' and ') || names}.`)
  console.error(installHint(still.length > 0 ? still : missing))
  process.exit(1)
}
for (const p of PROGRAMS) console.log(`pretest: ${p.title}: ${locate(p).path}`)
