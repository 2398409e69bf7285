/**
 * JSON text of untrusted values (alert metadata: whatever a log line held) for renderers that cut it
 * to a limit. `JSON.stringify` on such a value costs the whole value, and more: it recurses (a log
 * line of 1 MiB nests 500 000 levels deep; it throws past a few thousand) and pretty-printing indents
 * every line by its depth (3 000 levels of `{"a":…}` are 18 million characters with `indent` 2).
 */
import { headUnits } from './truncate.js'

type Replacer = (this: unknown, key: string, value: unknown) => unknown

interface Frame {
  value: Record<string, unknown> | unknown[]
  /** Object keys still to write; undefined for an array. */
  keys: string[] | undefined
  next: number
  /** Whether a member was written (a separator goes before the next one). */
  wrote: boolean
  depth: number
}

/**
 * `JSON.stringify(value, replacer, indent)` for text that is cut to `max` UTF-16 units afterwards:
 * the same text when it is at most `max` units long, else a prefix of it longer than `max` (so that
 * the caller's cut gives what it gave on the whole text). Without recursion, and it stops at the
 * bound: neither the depth nor the size of the value costs more than the limit. Returns undefined
 * where JSON.stringify does; throws what it throws (a cycle, a BigInt nothing converts).
 */
export function boundedJson (value: unknown, max: number, replacer?: Replacer, indent = 0): string | undefined {
  const parts: string[] = []
  let length = 0
  const full = (): boolean => length > max
  const emit = (s: string): void => { parts.push(s); length += s.length }
  /** A JSON string; a long one is cut before it is escaped (no closing quote then: the text goes on past the bound). */
  const emitString = (s: string): void => {
    const room = max - length + 2
    if (s.length <= room) { emit(JSON.stringify(s)); return }
    const quoted = JSON.stringify(headUnits(s, room))
    emit(quoted.slice(0, -1))
  }
  const gap = indent > 0 ? ' '.repeat(Math.min(10, Math.floor(indent))) : ''
  const newline = (depth: number): string => '\n' + gap.repeat(depth)
  const ancestors = new Set<unknown>()
  const stack: Frame[] = []

  /** SerializeJSONProperty's first steps: toJSON, the replacer, unwrapping boxed primitives. */
  const prepare = (holder: unknown, key: string, v: unknown): unknown => {
    if ((typeof v === 'object' && v !== null) || typeof v === 'bigint') {
      const toJSON = (v as { toJSON?: unknown }).toJSON
      if (typeof toJSON === 'function') v = toJSON.call(v, key)
    }
    if (replacer !== undefined) v = replacer.call(holder, key, v)
    if (typeof v === 'object' && v !== null) {
      if (v instanceof Number) return Number(v)
      if (v instanceof String) return String(v)
      if (v instanceof Boolean || v instanceof BigInt) return v.valueOf()
    }
    return v
  }
  const serializable = (v: unknown): boolean => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol'

  /** Writes a prepared, serializable value: primitives at once, containers as a new frame. */
  const write = (v: unknown, depth: number): void => {
    if (v === null) emit('null')
    else if (typeof v === 'string') emitString(v)
    else if (typeof v === 'number') emit(Number.isFinite(v) ? String(v) : 'null')
    else if (typeof v === 'boolean') emit(v ? 'true' : 'false')
    else if (typeof v === 'bigint') throw new TypeError('Do not know how to serialize a BigInt')
    else {
      if (ancestors.has(v)) throw new TypeError('Converting circular structure to JSON')
      ancestors.add(v)
      const isArray = Array.isArray(v)
      emit(isArray ? '[' : '{')
      stack.push({ value: v as Record<string, unknown>, keys: isArray ? undefined : Object.keys(v as object), next: 0, wrote: false, depth })
    }
  }

  const top = prepare({ '': value }, '', value)
  if (!serializable(top)) return undefined
  write(top, 0)
  while (stack.length > 0 && !full()) {
    const f = stack[stack.length - 1] as Frame
    const size = f.keys === undefined ? (f.value as unknown[]).length : f.keys.length
    if (f.next >= size) {
      stack.pop()
      ancestors.delete(f.value)
      emit((f.wrote && gap !== '' ? newline(f.depth) : '') + (f.keys === undefined ? ']' : '}'))
      continue
    }
    const i = f.next++
    if (f.keys === undefined) {
      let v = prepare(f.value, String(i), (f.value as unknown[])[i])
      if (!serializable(v)) v = null
      emit((f.wrote ? ',' : '') + (gap !== '' ? newline(f.depth + 1) : ''))
      f.wrote = true
      write(v, f.depth + 1)
    } else {
      const key = f.keys[i] as string
      const v = prepare(f.value, key, (f.value as Record<string, unknown>)[key])
      if (!serializable(v)) continue
      emit((f.wrote ? ',' : '') + (gap !== '' ? newline(f.depth + 1) : ''))
      f.wrote = true
      emitString(key)
      if (full()) break
      emit(gap !== '' ? ': ' : ':')
      write(v, f.depth + 1)
    }
  }
  return parts.join('')
}
