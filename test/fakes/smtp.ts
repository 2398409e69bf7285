/**
 * A real SMTP server in-process (smtp-server), every accepted message parsed by mailparser: what a
 * mail client would show. Scriptable replies per DATA command (451 then 250, …), AUTH with chosen
 * methods, and a "silent" server that accepts TCP connections and never greets.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer, type SMTPServerAddress } from 'smtp-server'

export interface ReceivedMail {
  envelope: { from: string, to: string[] }
  raw: string
  mail: ParsedMail
  /** The AUTH method the client used, or undefined without auth. */
  authMethod?: string
}

export interface SmtpFakeOptions {
  /** Require AUTH with these credentials. */
  auth?: { user: string, pass: string, methods?: Array<'PLAIN' | 'LOGIN'> }
  /** SMTP reply codes for the next DATA commands, in order (250 = accept); afterwards 250. */
  dataReplies?: number[]
}

export interface SmtpFake {
  host: string
  port: number
  received: ReceivedMail[]
  /** AUTH attempts: method and whether they succeeded. */
  authAttempts: Array<{ method: string, ok: boolean }>
  /** DATA commands answered, accepted or not. */
  dataCommands: number
  waitFor: (n: number, timeoutMs?: number) => Promise<ReceivedMail[]>
  close: () => Promise<void>
}

const REPLY_TEXT: Record<number, string> = {
  421: 'Service not available, closing transmission channel',
  450: 'Requested mail action not taken: mailbox unavailable',
  451: 'Requested action aborted: local error in processing',
  452: 'Requested action not taken: insufficient system storage',
  550: 'Requested action not taken: mailbox unavailable',
  552: 'Requested mail action aborted: exceeded storage allocation',
  554: 'Transaction failed'
}

export async function startSmtpFake (opts: SmtpFakeOptions = {}): Promise<SmtpFake> {
  const received: ReceivedMail[] = []
  const authAttempts: Array<{ method: string, ok: boolean }> = []
  const replies = [...(opts.dataReplies ?? [])]
  const waiters: Array<() => void> = []
  let dataCommands = 0
  const server = new SMTPServer({
    // Plain TCP on loopback; STARTTLS off so the client does not try a self-signed upgrade.
    secure: false,
    disabledCommands: opts.auth === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    authOptional: opts.auth === undefined,
    allowInsecureAuth: true,
    authMethods: opts.auth?.methods ?? ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth (auth, _session, cb) {
      const ok = opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass
      authAttempts.push({ method: auth.method, ok })
      if (!ok) {
        const err = new Error('Authentication credentials invalid') as Error & { responseCode: number }
        err.responseCode = 535
        cb(err)
        return
      }
      cb(null, { user: auth.username })
    },
    onData (stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        dataCommands++
        const code = replies.shift() ?? 250
        if (code !== 250) {
          const err = new Error(REPLY_TEXT[code] ?? 'Error') as Error & { responseCode: number }
          err.responseCode = code
          cb(err)
          return
        }
        const raw = Buffer.concat(chunks).toString('utf8')
        simpleParser(raw).then((mail) => {
          const addr = (a: SMTPServerAddress | false): string => (a === false ? '' : a.address)
          received.push({
            envelope: { from: addr(session.envelope.mailFrom), to: session.envelope.rcptTo.map((r) => r.address) },
            raw,
            mail,
            authMethod: authAttempts.at(-1)?.method
          })
          for (const w of waiters.splice(0)) w()
          cb()
        }, (err: Error) => cb(err))
      })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = ((server as unknown as { server: Server }).server.address() as AddressInfo).port
  return {
    host: '127.0.0.1',
    port,
    received,
    authAttempts,
    get dataCommands () { return dataCommands },
    async waitFor (n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      while (received.length < n) {
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`SMTP fake: expected ${n} mails, got ${received.length} after ${timeoutMs} ms`)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 50))
          waiters.push(() => { clearTimeout(t); resolve() })
        })
      }
      return received.slice(0, n)
    },
    async close () {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Accepts TCP connections and never says a word (a server that never answers the greeting). */
export async function startSilentServer (): Promise<{ port: number, connections: number, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  let connections = 0
  const server = createTcpServer((s) => { connections++; sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    port: (server.address() as AddressInfo).port,
    get connections () { return connections },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
