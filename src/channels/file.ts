/** file: one JSON line per event (`AlertEvent.toJSON()`), append-only, directories created, fsync'd on flush. */
import { mkdirSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { AlertEvent } from '../event.js'
import type { ResolvedChannel } from '../options.js'
import type { Channel, Outcome } from './channel.js'
import type { ChannelLimits } from './limits.js'

/**
 * A file takes any size: no limit. What a reader of the file needs: JSON Lines, each line one JSON
 * object, the message ending with a line feed (so the next append starts a line of its own).
 */
const FILE_LIMITS: ChannelLimits<string> = {
  check (message: string): string | undefined {
    if (!message.endsWith('\n')) return 'the message does not end with a line feed'
    const lines = message.slice(0, -1).split('\n')
    for (let i = 0; i < lines.length; i++) {
      let v: unknown
      try { v = JSON.parse(lines[i] as string) } catch { return `line ${i + 1} is not JSON` }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return `line ${i + 1} is not a JSON object`
    }
    return undefined
  }
}

export function create (cfg: ResolvedChannel): Channel<string> {
  const path = resolve(String(cfg.config.path))
  mkdirSync(dirname(path), { recursive: true })
  let handle: Promise<FileHandle> | undefined
  let dirty = false

  const fh = async (): Promise<FileHandle> => {
    handle ??= open(path, 'a')
    try {
      return await handle
    } catch (err) {
      handle = undefined
      throw err
    }
  }

  return {
    name: cfg.name,
    type: 'file',
    limits: FILE_LIMITS,
    render (events: readonly AlertEvent[]): string[] {
      // A digest is still one line per event: the file is a record, not a notification.
      return [events.map((e) => JSON.stringify(e.toJSON()) + '\n').join('')]
    },
    async send (message: string): Promise<Outcome> {
      try {
        const h = await fh()
        await h.appendFile(message, 'utf8')
        dirty = true
        return { ok: true }
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        const permanent = e.code === 'EACCES' || e.code === 'EISDIR' || e.code === 'EROFS' || e.code === 'EPERM'
        return { ok: false, retryable: !permanent, error: `${cfg.name}: cannot append to ${path}: ${e.code ?? e.message}` }
      }
    },
    async flush (): Promise<void> {
      if (!dirty || handle === undefined) return
      dirty = false
      await (await handle).sync()
    },
    async close (): Promise<void> {
      if (handle === undefined) return
      const h = await handle.catch(() => undefined)
      handle = undefined
      if (h === undefined) return
      if (dirty) await h.sync().catch(() => {})
      await h.close()
    }
  }
}
