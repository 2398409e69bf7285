/**
 * A throw-away certificate authority and a server certificate for 127.0.0.1 / localhost, made with
 * openssl at test time (nothing key-like is committed), and an HTTPS receiver that uses it: trusted
 * by a client only when it is given the CA (`tls.ca`).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { programPath } from '../../scripts/programs.mjs'

export interface TestCa { caPem: string, caPath: string, key: string, cert: string }

export function makeTestCa (dir: string): TestCa {
  const openssl = programPath('openssl')
  const run = (args: string[]): void => { execFileSync(openssl, args, { stdio: 'pipe', cwd: dir }) }
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=pino-alerts test CA'])
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'])
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext'])
  return {
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caPath: join(dir, 'ca.pem'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8')
  }
}

export interface RecordedRequestLite { method: string, path: string, body: string }

export interface TlsReceiver { url: string, requests: RecordedRequestLite[], close: () => Promise<void> }

/** An HTTPS webhook receiver on 127.0.0.1, port 0, with the CA's server certificate; answers 200 `ok`. */
export async function startTlsReceiver (ca: TestCa): Promise<TlsReceiver> {
  const requests: RecordedRequestLite[] = []
  const server = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { body += c })
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', body })
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
