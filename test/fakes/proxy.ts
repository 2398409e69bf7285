/**
 * A real forward proxy on 127.0.0.1, port 0 (the `proxy` package: what Squid does, plain-HTTP
 * forwarding and `CONNECT` tunnels), with a log of what it carried and optional Basic authentication
 * (407 without the right `Proxy-Authorization`).
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createProxy } from 'proxy'

export interface ProxyLogEntry {
  /** `GET`/`POST` (forwarded) or `CONNECT` (a tunnel). */
  method: string
  /** The absolute URL of a forwarded request, or `host:port` of a tunnel. */
  target: string
  /** Whether the proxy let it through (authentication). */
  allowed: boolean
}

export interface FakeProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly log: readonly ProxyLogEntry[]
  close: () => Promise<void>
}

export async function startProxy (opts: { user?: string, password?: string } = {}): Promise<FakeProxy> {
  const log: ProxyLogEntry[] = []
  const server = createProxy(createServer())
  const expected = opts.user === undefined ? undefined : 'Basic ' + Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')
  server.authenticate = (req: IncomingMessage): boolean => {
    const allowed = expected === undefined || req.headers['proxy-authorization'] === expected
    log.push({ method: req.method ?? '', target: req.url ?? '', allowed })
    return allowed
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
