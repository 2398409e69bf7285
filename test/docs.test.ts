/**
 * The documentation holds together (issue 21, Step 16). Over README.md, CONTRIBUTING.md and every
 * docs/**\/*.md:
 *
 * 1. Every relative link and image resolves: the file exists (relative to the linking file; `/…`
 *    from the repository root) and an `#anchor` names a heading of the target Markdown file (GitHub's
 *    slugs, duplicates `-1`, `-2`…) or an HTML `id`/`name` in it. Absolute URLs (any `scheme:`, `//…`)
 *    and anything inside code blocks or inline code are skipped. Code fences must be closed.
 * 2. Every ```js / ```javascript / ```mjs block parses as an ES module (TypeScript's parser;
 *    top-level await allowed).
 * 3. No paragraph of three or more lines (consecutive non-blank lines outside code blocks, tables and
 *    headings; a list is a paragraph) appears twice, whitespace collapsed, anywhere in those files.
 * 4. Every option key is documented in backticks: the top-level keys of `optionsSchema` and their
 *    object keys one level deep (`leaseMs` or `store.leaseMs`; not inside channels, routes,
 *    timeIntervals) and the keys every channel takes in docs/options.md; each channel type's own keys
 *    in docs/channels/<type>.md (`proxy`/`tls` of HTTP channels may be in docs/channels/index.md
 *    instead; `module`'s in docs/channels/index.md or docs/extending.md).
 * 5. README.md has at most 250 lines and links every docs/**\/*.md file and CONTRIBUTING.md.
 *
 * The unit tests of the slug and paragraph rules come first; each check then lists every problem
 * as `file:line: what is wrong`, so one run says everything there is to fix.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { z } from 'zod/v3'
import { CHANNEL_SCHEMAS, optionsSchema } from '../src/options.js'
import { headingText, normalise, parseMarkdown, slug, slugsOf, splitCodeSpans, splitParagraphs, type MarkdownDoc } from './helpers/docs.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const README_MAX_LINES = 250
const JS_INFO = new Set(['js', 'javascript', 'mjs'])
/** Top-level options whose inner form is documented elsewhere (channels, routing, time intervals). */
const NOT_DESCENDED = new Set(['channels', 'routes', 'timeIntervals'])

/** Repository-relative path with forward slashes, for messages. */
function rel (abs: string): string {
  return relative(ROOT, abs).split(sep).join('/')
}

function markdownUnder (dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...markdownUnder(abs))
    else if (entry.isFile() && entry.name.endsWith('.md')) out.push(abs)
  }
  return out.sort()
}

const README = join(ROOT, 'README.md')
const CONTRIBUTING = join(ROOT, 'CONTRIBUTING.md')
const DOC_FILES = markdownUnder(join(ROOT, 'docs'))
const FILES = [README, CONTRIBUTING, ...DOC_FILES].filter((f) => existsSync(f))

const parsed = new Map<string, MarkdownDoc>()
function doc (abs: string): MarkdownDoc {
  let d = parsed.get(abs)
  if (d === undefined) {
    d = parseMarkdown(readFileSync(abs, 'utf8'))
    parsed.set(abs, d)
  }
  return d
}

/** Fails with every problem, one a line. */
function expectNone (what: string, problems: string[]): void {
  if (problems.length > 0) expect.fail(`${problems.length} ${what}:\n  ${problems.join('\n  ')}`)
}

function levenshtein (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}

/** "did you mean" for a missing anchor: the three closest anchors of the target. */
function closest (anchor: string, anchors: Iterable<string>): string {
  const ranked = [...anchors].map((a) => ({ a, d: levenshtein(anchor, a) })).sort((x, y) => x.d - y.d || x.a.localeCompare(y.a)).slice(0, 3)
  return ranked.length === 0 ? 'the file has no headings' : `closest: ${ranked.map((r) => `#${r.a}`).join(', ')}`
}

const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i

/** Where a relative link points: the absolute file (or undefined for an external link) and its anchor. */
function resolveLink (from: string, target: string): { external: true } | { external: false, file: string, anchor: string | undefined, error?: string } {
  if (EXTERNAL.test(target)) return { external: true }
  const hash = target.indexOf('#')
  let path = hash === -1 ? target : target.slice(0, hash)
  const anchor = hash === -1 ? undefined : target.slice(hash + 1)
  path = path.replace(/\?.*$/, '')
  let decoded: string
  try { decoded = decodeURI(path) } catch { return { external: false, file: from, anchor, error: 'is not valid percent-encoding' } }
  const file = decoded === '' ? from : decoded.startsWith('/') ? join(ROOT, decoded) : resolve(dirname(from), decoded)
  return { external: false, file, anchor }
}

// -------------------------------------------------------------------------------------------------

describe('the Markdown reader this test uses', () => {
  it('slugs headings as GitHub does', () => {
    expect(slug('Hello World')).toBe('hello-world')
    expect(slug('Options (and defaults)')).toBe('options-and-defaults')
    expect(slug('A  B')).toBe('a--b')
    expect(slug('C++ & Node.js')).toBe('c--nodejs')
    expect(slug('snake_case and kebab-case')).toBe('snake_case-and-kebab-case')
    expect(slug('Über Straße 2')).toBe('über-straße-2')
    expect(slug('🚀 Launch')).toBe('-launch')
    expect(slug('What is "at least once"?')).toBe('what-is-at-least-once')
  })

  it('takes a heading\'s rendered text: code kept without backticks, links by their text', () => {
    expect(headingText('`store.leaseMs`: the lease')).toBe('store.leaseMs: the lease')
    expect(slug(headingText('`store.leaseMs`: the lease'))).toBe('storeleasems-the-lease')
    expect(headingText('See [the options](docs/options.md) here')).toBe('See the options here')
    expect(headingText('**Bold** and _em_ `a_b` and \\_c\\_')).toBe('Bold and em a_b and _c_')
    expect(headingText('![logo](x.png) Title <sup>beta</sup>')).toBe('Title beta')
    expect(headingText('Tom &amp; Jerry')).toBe('Tom & Jerry')
    expect(slug(headingText('`maxQueue` & `rateLimit`'))).toBe('maxqueue--ratelimit')
  })

  it('numbers duplicate headings -1, -2 … as GitHub does', () => {
    expect(slugsOf(['Foo', 'Foo', 'Foo'])).toEqual(['foo', 'foo-1', 'foo-2'])
    expect(slugsOf(['Foo', 'Foo-1', 'Foo'])).toEqual(['foo', 'foo-1', 'foo-2'])
    expect(slugsOf(['Example', 'Other', 'Example'])).toEqual(['example', 'other', 'example-1'])
  })

  it('splits code spans by backtick runs', () => {
    expect(splitCodeSpans('a `b` c ``d ` e`` f')).toEqual([
      { code: false, text: 'a ' }, { code: true, text: 'b' }, { code: false, text: ' c ' }, { code: true, text: 'd ` e' }, { code: false, text: ' f' }
    ])
    expect(splitCodeSpans('no `close')).toEqual([{ code: false, text: 'no `close' }])
  })

  it('finds headings (ATX and setext), anchors, links and code blocks outside code', () => {
    const d = parseMarkdown([
      '# Title #', // 1
      '', // 2
      'Setext', // 3
      '------', // 4
      '', // 5
      'See [a](a.md#x), ![img](i.png "t"), [b](<b c.md>) and `[no](code.md)`.', // 6
      '[![badge](badge.svg)](https://example.com) <a id="custom"></a>', // 7
      '```js', // 8
      '[no](fenced.md)', // 9
      '# not a heading', // 10
      '```', // 11
      '[ref]: ref.md#y', // 12
      '<img src="docs/x.png">' // 13
    ].join('\n'))
    expect(d.headings).toEqual([{ text: 'Title', line: 1 }, { text: 'Setext', line: 3 }])
    expect([...d.anchors]).toEqual(['title', 'setext', 'custom'])
    expect(d.links).toEqual([
      { target: 'a.md#x', image: false, line: 6 },
      { target: 'i.png', image: true, line: 6 },
      { target: 'b c.md', image: false, line: 6 },
      { target: 'badge.svg', image: true, line: 7 },
      { target: 'https://example.com', image: false, line: 7 },
      { target: 'ref.md#y', image: false, line: 12 },
      { target: 'docs/x.png', image: true, line: 13 }
    ])
    expect(d.codeBlocks).toEqual([{ info: 'js', line: 8, code: '[no](fenced.md)\n# not a heading' }])
    expect(d.codeSpans).toEqual([{ text: '[no](code.md)', line: 6 }])
    expect(parseMarkdown('```js\nopen').unclosedFences).toEqual([1])
    expect(parseMarkdown('- item\n  ```js\n  const a = 1\n  ```').codeBlocks).toEqual([{ info: 'js', line: 2, code: 'const a = 1' }])
  })

  it('splits paragraphs: runs of text lines, lists included; code, tables and headings not', () => {
    const ps = splitParagraphs([
      'Intro line one', // 1
      'line two', // 2
      '', // 3
      '- a', // 4
      '- b', // 5
      '  continued', // 6
      '', // 7
      '| a | b |', // 8
      '|---|---|', // 9
      '| 1 | 2 |', // 10
      'Not a table line after a table? It is (GFM continues the table).', // 11
      '', // 12
      '```js', // 13
      'code', // 14
      'code', // 15
      'code', // 16
      '```', // 17
      '## Heading', // 18
      'after', // 19
      'the heading', // 20
      '<!-- a', // 21
      'comment -->', // 22
      'last' // 23
    ].join('\n'))
    expect(ps).toEqual([
      { text: 'Intro line one\nline two', startLine: 1, endLine: 2 },
      { text: '- a\n- b\n  continued', startLine: 4, endLine: 6 },
      { text: 'after\nthe heading', startLine: 19, endLine: 20 },
      { text: 'last', startLine: 23, endLine: 23 }
    ])
    expect(normalise('  a\n   b\tc  ')).toBe('a b c')
  })
})

describe('the option schema walk', () => {
  it('finds object keys through optional, union, refine and pipe', () => {
    expect(objectKeys(optionsSchema.shape.store)).toEqual(expect.arrayContaining(['path', 'leaseMs']))
    expect(objectKeys(optionsSchema.shape.dedupe)).toEqual(expect.arrayContaining(['windowMs', 'rules']))
    expect(objectKeys(optionsSchema.shape.group)).toContain('by')
    expect(objectKeys(optionsSchema.shape.match)).toEqual(['minLevel'])
    expect(objectKeys(optionsSchema.shape.env)).toEqual([])
    expect(objectKeys(CHANNEL_SCHEMAS.email)).toEqual(expect.arrayContaining(['host', 'from', 'to', 'retry'])) // a ZodEffects (refine)
    expect(commonChannelKeys()).toEqual(expect.arrayContaining(['type', 'enabled', 'timeoutMs', 'retry', 'maxQueue', 'deliveryTimeoutMs', 'rateLimit', 'template']))
    expect(commonChannelKeys()).not.toContain('url')
  })
})

// -------------------------------------------------------------------------------------------------

describe('the docs (README.md, CONTRIBUTING.md, docs/**/*.md)', () => {
  it('exist', () => {
    expect(FILES.map(rel)).toContain('README.md')
    expect(DOC_FILES.length).toBeGreaterThan(0)
  })

  it('close every code fence', () => {
    const problems: string[] = []
    for (const f of FILES) {
      for (const line of doc(f).unclosedFences) problems.push(`${rel(f)}:${line}: code fence opened here is never closed (everything after it is code)`)
    }
    expectNone('unclosed code fences', problems)
  })

  it('have no broken relative link, image or #anchor', () => {
    const problems: string[] = []
    for (const f of FILES) {
      for (const link of doc(f).links) {
        const where = `${rel(f)}:${link.line}: ${link.image ? 'image' : 'link'} "${link.target}"`
        if (link.target.trim() === '') { problems.push(`${where}: empty target`); continue }
        const r = resolveLink(f, link.target)
        if (r.external) continue
        if (r.error !== undefined) { problems.push(`${where}: ${r.error}`); continue }
        if (relative(ROOT, r.file).startsWith('..')) { problems.push(`${where}: points outside the repository (${r.file})`); continue }
        if (!existsSync(r.file)) { problems.push(`${where}: ${rel(r.file)} does not exist`); continue }
        if (r.anchor === undefined || r.anchor === '' || link.image) continue
        if (!r.file.endsWith('.md') || !statSync(r.file).isFile()) continue
        let anchor: string
        try { anchor = decodeURIComponent(r.anchor) } catch { anchor = r.anchor }
        const anchors = doc(r.file).anchors
        if (!anchors.has(anchor)) {
          problems.push(`${where}: ${rel(r.file)} has no heading with anchor #${anchor} (${closest(anchor, anchors)})`)
        }
      }
    }
    expectNone('broken links', problems)
  })

  it('have only ```js blocks that parse', () => {
    const problems: string[] = []
    for (const f of FILES) {
      for (const block of doc(f).codeBlocks) {
        const lang = (block.info.split(/[\s{,]/)[0] ?? '').toLowerCase()
        if (!JS_INFO.has(lang)) continue
        const sf = ts.createSourceFile(`${rel(f)}-${block.line}.mjs`, block.code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS)
        const diagnostics = (sf as unknown as { parseDiagnostics: ts.DiagnosticWithLocation[] }).parseDiagnostics
        // The first error only: the rest usually follow from it.
        const d = diagnostics[0]
        if (d === undefined) continue
        const { line, character } = sf.getLineAndCharacterOfPosition(d.start)
        const text = (block.code.split('\n')[line] ?? '').trim()
        const more = diagnostics.length > 1 ? ` (+${diagnostics.length - 1} more)` : ''
        problems.push(`${rel(f)}:${block.line + 1 + line}:${character + 1}: \`\`\`${lang} block (opened at line ${block.line}) does not parse: ` +
          `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}${more} — in: ${text}` +
          ' (a bare object or a fragment? make it a statement, e.g. `const options = { … }`, or mark the block ```text)')
      }
    }
    expectNone('JavaScript blocks that do not parse', problems)
  })

  it('never repeat a paragraph of three or more lines', () => {
    const seen = new Map<string, Array<{ file: string, start: number, end: number }>>()
    for (const f of FILES) {
      for (const p of doc(f).paragraphs) {
        if (p.endLine - p.startLine + 1 < 3) continue
        const key = normalise(p.text)
        const at = seen.get(key) ?? []
        at.push({ file: rel(f), start: p.startLine, end: p.endLine })
        seen.set(key, at)
      }
    }
    const problems: string[] = []
    for (const [text, at] of seen) {
      if (at.length < 2) continue
      const quote = text.length > 100 ? `${text.slice(0, 100)}…` : text
      problems.push(`"${quote}" appears ${at.length} times: ${at.map((a) => `${a.file}:${a.start}-${a.end}`).join(', ')} (keep one, link to it from the others)`)
    }
    expectNone('repeated paragraphs', problems)
  })

  it('document every option key', () => {
    const problems: string[] = []
    const spansOf = (...files: string[]): Set<string> => {
      const spans = new Set<string>()
      for (const f of files) {
        const abs = join(ROOT, f)
        if (existsSync(abs)) for (const s of doc(abs).codeSpans) spans.add(s.text.trim())
      }
      return spans
    }
    const documented = (spans: Set<string>, key: string, parent?: string): boolean =>
      spans.has(key) || (parent !== undefined && spans.has(`${parent}.${key}`))

    const OPTIONS_MD = 'docs/options.md'
    if (!existsSync(join(ROOT, OPTIONS_MD))) problems.push(`${OPTIONS_MD} does not exist`)
    const options = spansOf(OPTIONS_MD)

    // Top-level keys, and their object keys one level deep.
    for (const [key, schema] of Object.entries(optionsSchema.shape)) {
      if (!documented(options, key)) problems.push(`${OPTIONS_MD}: top-level option \`${key}\` is not documented (write it in backticks)`)
      if (NOT_DESCENDED.has(key)) continue
      for (const inner of objectKeys(schema)) {
        if (!documented(options, inner, key)) problems.push(`${OPTIONS_MD}: option \`${key}.${inner}\` is not documented (write \`${inner}\` or \`${key}.${inner}\` in backticks)`)
      }
    }

    // Keys every channel takes.
    const types = Object.keys(CHANNEL_SCHEMAS) as Array<keyof typeof CHANNEL_SCHEMAS>
    const keysOf = new Map(types.map((t) => [t, objectKeys(CHANNEL_SCHEMAS[t])]))
    const common = commonChannelKeys()
    for (const key of common) {
      if (!documented(options, key, 'channels')) problems.push(`${OPTIONS_MD}: channel key \`${key}\` (every channel takes it) is not documented (write it in backticks)`)
    }

    // Each type's own keys.
    for (const type of types) {
      const own = keysOf.get(type)!.filter((k) => !common.includes(k))
      const http = own.includes('proxy')
      const home = type === 'module' ? ['docs/channels/index.md', 'docs/extending.md'] : [`docs/channels/${type}.md`]
      const missingFiles = home.filter((f) => !existsSync(join(ROOT, f)))
      if (missingFiles.length === home.length) {
        problems.push(`${home.join(' or ')}: does not exist (channel type "${type}" has keys ${own.map((k) => `\`${k}\``).join(', ')} to document)`)
        continue
      }
      const spans = spansOf(...home)
      const index = spansOf('docs/channels/index.md')
      for (const key of own) {
        if (documented(spans, key, type)) continue
        if (http && (key === 'proxy' || key === 'tls') && documented(index, key)) continue
        const where = http && (key === 'proxy' || key === 'tls') ? `${home.join(' or ')} (or once in docs/channels/index.md)` : home.join(' or ')
        problems.push(`${where}: ${type} channel key \`${key}\` is not documented (write it in backticks)`)
      }
    }
    expectNone('undocumented option keys', problems)
  })

  it('keep README.md short and linking every doc', () => {
    const problems: string[] = []
    const source = readFileSync(README, 'utf8')
    const lines = source.endsWith('\n') ? source.split('\n').length - 1 : source.split('\n').length
    if (lines > README_MAX_LINES) problems.push(`README.md has ${lines} lines; at most ${README_MAX_LINES} (move the detail to docs/)`)
    const linked = new Set<string>()
    for (const link of doc(README).links) {
      const r = resolveLink(README, link.target)
      if (!r.external) linked.add(r.file)
    }
    for (const f of [...DOC_FILES, CONTRIBUTING]) {
      if (!linked.has(f)) problems.push(`README.md: does not link ${rel(f)} (add it to the Documentation list)`)
    }
    expectNone('README problems', problems)
  })
})

/** The keys of the object(s) a schema is, through optional/nullable/default, unions, refinements and pipes. */
function objectKeys (schema: z.ZodTypeAny): string[] {
  const keys = new Set<string>()
  const visit = (s: z.ZodTypeAny): void => {
    if (s instanceof z.ZodObject) for (const k of Object.keys(s.shape as object)) keys.add(k)
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) visit(s.unwrap())
    else if (s instanceof z.ZodDefault) visit(s.removeDefault())
    else if (s instanceof z.ZodEffects) visit(s.innerType())
    else if (s instanceof z.ZodPipeline) visit(s._def.in)
    else if (s instanceof z.ZodUnion) for (const o of s.options as z.ZodTypeAny[]) visit(o)
    else if (s instanceof z.ZodArray) visit(s.element as z.ZodTypeAny)
  }
  visit(schema)
  return [...keys]
}

/** The keys every channel type's schema takes. */
function commonChannelKeys (): string[] {
  const all = Object.values(CHANNEL_SCHEMAS).map((s) => objectKeys(s))
  return (all[0] ?? []).filter((k) => all.every((keys) => keys.includes(k)))
}
