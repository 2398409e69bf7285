/**
 * Function size (Step 12): no function in `src/` is longer than `MAX_FUNCTION_LINES` lines.
 *
 * Every `.ts` file under `src/` is parsed with the TypeScript compiler API and every function-like
 * node is measured — function declarations and expressions, arrow functions, methods, constructors
 * and get/set accessors — from the line its code starts on (its doc comment not counted) to the line
 * it ends on, both included. A nested function counts on its own AND as part of its parent: a
 * 500-line closure full of small inner functions is still one 500-line function.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { assert, describe, expect, it } from 'vitest'

export const MAX_FUNCTION_LINES = 150

export interface FunctionSize {
  /** The file as given to `functionSizes` (repository-relative, `/`-separated, for `src/`). */
  file: string
  /** 1-based line the function starts on. */
  line: number
  /** Its name, qualified by the functions it is inside of: `startDashboard > handle`. */
  name: string
  lines: number
}

/** The name a function-like node goes by: its own, else the variable, property or class it is assigned to. */
function ownName (node: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  const named = (n: ts.Node | undefined): string | undefined => {
    if (n === undefined) return undefined
    const name = (n as { name?: ts.Node }).name
    return name === undefined ? undefined : name.getText(sf)
  }
  if (ts.isConstructorDeclaration(node)) return `${named(node.parent) ?? '(class)'}.constructor`
  if (ts.isGetAccessorDeclaration(node)) return `get ${named(node) ?? '(anonymous)'}`
  if (ts.isSetAccessorDeclaration(node)) return `set ${named(node) ?? '(anonymous)'}`
  const own = named(node)
  if (own !== undefined) return own
  // `const f = () => …`, `{ f: () => … }`, `f = function () …`, `class { f = () => … }`
  const p = node.parent
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return named(p) ?? '(anonymous)'
  if (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) return p.left.getText(sf)
  if (ts.isExportAssignment(p)) return 'default'
  return '(anonymous)'
}

/** Every function-like node of one source text, with its length in lines. */
export function functionSizes (file: string, text: string): FunctionSize[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const out: FunctionSize[] = []
  const visit = (node: ts.Node, outer: string[]): void => {
    let inner = outer
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line
      inner = [...outer, ownName(node, sf)]
      out.push({ file, line: start + 1, name: inner.join(' > '), lines: end - start + 1 })
    }
    ts.forEachChild(node, (child) => { visit(child, inner) })
  }
  visit(sf, [])
  return out
}

/** The functions of `text` longer than `max` lines. */
export function longFunctions (file: string, text: string, max = MAX_FUNCTION_LINES): FunctionSize[] {
  return functionSizes(file, text).filter((f) => f.lines > max)
}

export function formatFunction (f: FunctionSize): string {
  return `${f.file}:${f.line} ${f.name} (${f.lines} lines)`
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** `.ts` files under `dir`, repository-relative with `/` separators, sorted. */
function tsFiles (dir: string): string[] {
  return (readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => relative(ROOT, join(ROOT, dir, f)).split(sep).join('/'))
    .sort()
}

describe('function size', () => {
  it(`no function in src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const files = tsFiles('src')
    expect(files.length).toBeGreaterThan(0)
    const long = files
      .flatMap((f) => longFunctions(f, readFileSync(join(ROOT, f), 'utf8')))
      .sort((a, b) => b.lines - a.lines)
    if (long.length > 0) {
      assert.fail(`${long.length} function${long.length === 1 ? '' : 's'} in src/ longer than ${MAX_FUNCTION_LINES} lines, longest first ` +
        '(a nested function counts on its own and inside its parent; split the longest into named parts):\n' +
        long.map((f) => '  ' + formatFunction(f)).join('\n'))
    }
  })

  it('the walker reports a 151-line function and not a 150-line one', () => {
    // A function of n lines: the header line, n - 2 body lines, the closing line.
    const fn = (header: string, n: number): string => [header, ...Array.from({ length: n - 2 }, (_, i) => `  x += ${i}`), '}'].join('\n')
    const text = [
      'let x = 0',
      fn('export function tooLong (): void {', 151),
      '',
      fn('const justRight = (): void => {', 150),
      ''
    ].join('\n')
    const sizes = functionSizes('mem.ts', text)
    expect(sizes.map(formatFunction)).toEqual(['mem.ts:2 tooLong (151 lines)', 'mem.ts:154 justRight (150 lines)'])
    expect(longFunctions('mem.ts', text).map(formatFunction)).toEqual(['mem.ts:2 tooLong (151 lines)'])
  })

  it('counts nested functions on their own and inside their parent, and names methods, accessors and constructors', () => {
    const text = [
      'function outer () {', //             1
      '  const inner = () => {', //         2
      '    return 1', //                    3
      '  }', //                             4
      '  return inner', //                  5
      '}', //                               6
      'class C {', //                       7
      '  constructor () {}', //             8
      '  get v () { return 1 }', //         9
      '  set v (_: number) {}', //          10
      '  m () { return [1].map(function (n) { return n }) }', // 11
      '}', //                               12
      'declare function noBody (): void' // 13: no body, not measured
    ].join('\n')
    expect(functionSizes('mem.ts', text).map(formatFunction)).toEqual([
      'mem.ts:1 outer (6 lines)',
      'mem.ts:2 outer > inner (3 lines)',
      'mem.ts:8 C.constructor (1 lines)',
      'mem.ts:9 get v (1 lines)',
      'mem.ts:10 set v (1 lines)',
      'mem.ts:11 m (1 lines)',
      'mem.ts:11 m > (anonymous) (1 lines)'
    ])
    expect(longFunctions('mem.ts', text, 5).map(formatFunction)).toEqual(['mem.ts:1 outer (6 lines)'])
  })
})
