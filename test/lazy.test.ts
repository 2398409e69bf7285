import { describe, expect, it } from 'vitest'
import { fixture, runNode } from './helpers/run.js'

// SPEC §1: channel modules are imported lazily; configuring only slack never loads nodemailer.
describe('lazy channel modules', () => {
  it('an alerter with only a webhook loads neither nodemailer nor the other channel modules', async () => {
    const r = await runNode(fixture('lazy.mjs'), { CHANNELS: JSON.stringify({ console: { enabled: false }, webhook: { url: 'http://127.0.0.1:9/' } }) })
    expect(r.code, r.stderr).toBe(0)
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('resolved '))
    expect(loaded.some((l) => l.endsWith('/dist/channels/webhook.js'))).toBe(true)
    expect(loaded.filter((l) => /nodemailer|\/channels\/(email|slack|telegram|discord|teams|file)\.js$/.test(l))).toEqual([])
  })

  it('configuring email loads nodemailer', async () => {
    const r = await runNode(fixture('lazy.mjs'), { CHANNELS: JSON.stringify({ console: { enabled: false }, email: { host: '127.0.0.1', port: 9, from: 'a@example.test', to: 'b@example.test' } }) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/resolved file:\/\/.*\/node_modules\/nodemailer\//)
  })
})
