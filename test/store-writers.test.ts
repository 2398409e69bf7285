/**
 * One writer (Step 12, ARCHITECTURE "Store gateway"): alerts, receipts, settlements and
 * acknowledgements are written to the store by `src/store/outbox.ts` only. The engine, the CLI and the
 * dashboard go through it (or through the engine), so there is one way each is written: one ack, one
 * resolve.
 *
 * The whole of `src/` is type-checked with the TypeScript compiler API and every call of a writing
 * method on a value whose type is `AlertStore` is listed with its file; a call outside the outbox
 * module fails the test. The check cannot be fooled by a renamed variable (it uses the types), and it
 * fails on the code before the outbox existed (the engine's admit, record, resolves and replay, the
 * CLI's ack and the dashboard's ack and resolve wrote rows themselves).
 */
import { readdirSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const WRITES = new Set(['insert', 'updateEvent', 'receipt', 'settle', 'ack'])
const WRITER = 'src/store/outbox.ts'

function tsFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [])
}

/** `file:line method` for every call of a writing method on an `AlertStore`. */
function storeWrites (): string[] {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT)
  const program = ts.createProgram(tsFiles(join(ROOT, 'src')), { ...parsed.options, noEmit: true })
  const checker = program.getTypeChecker()
  const out: string[] = []
  for (const sf of program.getSourceFiles()) {
    const file = relative(ROOT, sf.fileName).split(sep).join('/')
    if (!file.startsWith('src/')) continue
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && WRITES.has(n.expression.name.text)) {
        const receiver = checker.getTypeAtLocation(n.expression.expression)
        const names = (receiver.isUnion() ? receiver.types : [receiver]).map((t) => t.getSymbol()?.getName())
        if (names.includes('AlertStore')) out.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1} ${n.expression.name.text}`)
      }
      ts.forEachChild(n, visit)
    }
    visit(sf)
  }
  return out
}

describe('the store has one writer of alerts, receipts, settlements and acknowledgements', () => {
  const writes = storeWrites()

  it('the outbox module writes them', () => {
    // The finder itself works: the outbox's own writes are found (a check that finds nothing proves nothing).
    for (const m of WRITES) if (m !== 'updateEvent') expect(writes.some((w) => w.startsWith(WRITER + ':') && w.endsWith(' ' + m)), m).toBe(true)
  })

  it('nothing else in src/ writes them', () => {
    expect(writes.filter((w) => !w.startsWith(WRITER + ':') && !w.startsWith('src/store/sqlite.ts:'))).toEqual([])
  })
})
