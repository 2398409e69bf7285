/**
 * A real SMTP server in-process (smtp-server), every accepted message parsed by mailparser: what a
 * mail client would show. Scriptable replies per DATA command (451 then 250, …), replies held back
 * (a server that stalls after the message is in), AUTH with chosen methods, STARTTLS with a
 * throw-away certificate (test/fakes/tls.ts) or no STARTTLS at all, and a "silent" server that
 * accepts TCP connections and never greets.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server'

export interface ReceivedMail {
  envelope: { from: string, to: string[] }
  raw: string
  mail: ParsedMail
  /** The AUTH method the client used, or undefined without auth. */
  authMethod?: string
  /** The session was TLS (upgraded with STARTTLS) when the message came in. */
  secure: boolean
}

/** What onAuth received: the fake records it all, the password included (tests use fake ones). */
export interface AuthAttempt { method: string, ok: boolean, user: string, password: string, secure: boolean }

export interface SmtpFakeOptions {
  /** Require AUTH with these credentials (AUTH is accepted over plain connections too). */
  auth?: { user: string, pass: string, methods?: Array<'PLAIN' | 'LOGIN'> }
  /** SMTP reply codes for the next DATA commands, in order (250 = accept); afterwards 250. */
  dataReplies?: number[]
  /**
   * Hold back the reply to the next DATA commands, in order, for up to this many ms each (0: none):
   * the whole message is in, the server has not answered yet. The message counts as accepted
   * (`received`) only if the client is still connected when the server answers; when the client
   * closed the connection before, it is `abandoned`: the client never learnt that it arrived, and
   * this fake, like a server that commits a message with its reply, does not deliver it. A hold ends
   * early when the client goes away.
   */
  dataHoldsMs?: number[]
  /**
   * Hold back the reply to the next MAIL FROM commands, in order, the same way. With a DATA hold after
   * it, a transaction can outlast the client's attempt timeout while no single wait reaches its
   * socket (inactivity) timeout: a slow server, not a silent one.
   */
  mailFromHoldsMs?: number[]
  /** Offer STARTTLS with this key and certificate; without it, STARTTLS is not offered (and refused). */
  tls?: { key: string, cert: string }
}

export interface SmtpFake {
  host: string
  port: number
  received: ReceivedMail[]
  /** Messages in full whose reply was held back until the client had gone (see `dataHoldsMs`). */
  abandoned: ReceivedMail[]
  /** What each AUTH attempt carried and whether it succeeded. */
  authAttempts: AuthAttempt[]
  /** DATA commands answered (accepted or not) or abandoned. */
  dataCommands: number
  /** Replies (MAIL FROM, DATA) being held back right now. */
  holding: number
  /** Client connections, and how many of them have closed. */
  connections: number
  closedConnections: number
  waitFor: (n: number, timeoutMs?: number) => Promise<ReceivedMail[]>
  /** Resolves when `cond` holds, checked on every change of the fake's state; throws after `timeoutMs`. */
  waitUntil: (cond: () => boolean, what: string, timeoutMs?: number) => Promise<void>
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
  const abandoned: ReceivedMail[] = []
  const authAttempts: AuthAttempt[] = []
  const replies = [...(opts.dataReplies ?? [])]
  const holds = [...(opts.dataHoldsMs ?? [])]
  const mailFromHolds = [...(opts.mailFromHoldsMs ?? [])]
  // Everyone waiting for a change of state; each re-checks its condition.
  const watchers = new Set<() => void>()
  const changed = (): void => { for (const w of [...watchers]) w() }
  const closedSessions = new Set<string>()
  // Holds in progress: ending one answers at once (close() ends them all).
  const holdEnds = new Set<() => void>()
  let dataCommands = 0
  let holding = 0
  let connections = 0
  let closedConnections = 0
  const disabled = [...(opts.tls === undefined ? ['STARTTLS'] : []), ...(opts.auth === undefined ? ['AUTH'] : [])]

  const parse = async (raw: string, session: SMTPServerSession): Promise<ReceivedMail> => {
    const addr = (a: SMTPServerAddress | false): string => (a === false ? '' : a.address)
    return {
      envelope: { from: addr(session.envelope.mailFrom), to: session.envelope.rcptTo.map((r) => r.address) },
      raw,
      mail: await simpleParser(raw),
      authMethod: authAttempts.at(-1)?.method,
      secure: session.secure
    }
  }

  /** Waits `ms`, or less when the client of `session` goes away first. */
  const hold = async (ms: number, session: SMTPServerSession): Promise<void> => {
    holding++
    changed()
    await new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(t); holdEnds.delete(done); watchers.delete(onChange); resolve() }
      const onChange = (): void => { if (closedSessions.has(session.id)) done() }
      const t = setTimeout(done, ms)
      holdEnds.add(done)
      watchers.add(onChange)
      onChange()
    })
    holding--
  }

  const server = new SMTPServer({
    // Plain TCP on loopback; STARTTLS only when a certificate is given (a throw-away CA's).
    secure: false,
    ...(opts.tls === undefined ? {} : { key: opts.tls.key, cert: opts.tls.cert }),
    disabledCommands: disabled,
    authOptional: opts.auth === undefined,
    // A server (or a man in the middle) that takes AUTH without TLS.
    allowInsecureAuth: true,
    authMethods: opts.auth?.methods ?? ['PLAIN', 'LOGIN'],
    logger: false,
    onConnect (_session, cb) {
      connections++
      changed()
      cb()
    },
    onClose (session) {
      closedSessions.add(session.id)
      closedConnections++
      changed()
    },
    onMailFrom (_address, session, cb) {
      const ms = mailFromHolds.shift() ?? 0
      if (ms === 0) { cb(); return }
      void hold(ms, session).then(() => cb())
    },
    onAuth (auth, session, cb) {
      const ok = opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass
      authAttempts.push({ method: auth.method, ok, user: auth.username ?? '', password: auth.password ?? '', secure: session.secure })
      changed()
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
        const raw = Buffer.concat(chunks).toString('utf8')
        const ms = holds.shift() ?? 0
        void (async () => {
          if (ms > 0) await hold(ms, session)
          if (closedSessions.has(session.id)) {
            // Nobody left to answer: the client gave up on this message.
            abandoned.push(await parse(raw, session))
            dataCommands++
            changed()
            cb()
            return
          }
          const code = replies.shift() ?? 250
          if (code !== 250) {
            dataCommands++
            changed()
            const err = new Error(REPLY_TEXT[code] ?? 'Error') as Error & { responseCode: number }
            err.responseCode = code
            cb(err)
            return
          }
          received.push(await parse(raw, session))
          dataCommands++
          changed()
          cb()
        })().catch((err: Error) => cb(err))
      })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = ((server as unknown as { server: Server }).server.address() as AddressInfo).port

  const waitUntil = async (cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> => {
    if (cond()) return
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { watchers.delete(check); reject(new Error(`SMTP fake: ${what} not seen within ${timeoutMs} ms`)) }, timeoutMs)
      const check = (): void => { if (cond()) { clearTimeout(t); watchers.delete(check); resolve() } }
      watchers.add(check)
    })
  }

  return {
    host: '127.0.0.1',
    port,
    received,
    abandoned,
    authAttempts,
    get dataCommands () { return dataCommands },
    get holding () { return holding },
    get connections () { return connections },
    get closedConnections () { return closedConnections },
    async waitFor (n, timeoutMs = 5000) {
      await waitUntil(() => received.length >= n, `${n} mails`, timeoutMs)
      return received.slice(0, n)
    },
    waitUntil,
    async close () {
      for (const end of [...holdEnds]) end()
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
