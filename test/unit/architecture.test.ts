// The import graph of src/, read with the TypeScript API: no file imports itself back through
// others, and the request path runs one way (DESIGN: parse → lookup → decide → render → send).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';

const SRC = path.join(__dirname, '..', '..', 'src');

/** Pipeline steps in order; a module of no step is shared (config, logs, errors, metrics, RFC grammars). */
const STEPS: readonly [string, (m: string) => boolean][] = [
  ['entry/process', (m) => m === 'main' || m === 'client' || m.startsWith('process/') || m.startsWith('client/')],
  ['serve', (m) => m.startsWith('serve/')],
  ['parse/connection', (m) => m.startsWith('http2/') || ['http/parse', 'http/connection', 'http/behind-proxy', 'http/proxy-header-reader', 'http/proxy-protocol', 'http/send-watch', 'http/access', 'http/outgoing'].includes(m)],
  ['lookup', (m) => m.startsWith('files/') && !['files/stream', 'files/cache', 'files/resolve', 'files/clean-urls', 'files/compress'].includes(m)],
  ['decide', (m) => m === 'http/decide'],
  ['render', (m) => m === 'http/respond'],
  ['send', (m) => m === 'files/stream'],
];
/** Steps the handler (serve) calls one after another with values: none of them imports another. */
const HANDED_BY_SERVE = new Set(['lookup', 'decide', 'render']);

interface Arrow {
  from: string;
  to: string;
  typeOnly: boolean;
}

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) return modules(full);
    return d.name.endsWith('.ts') ? [path.relative(SRC, full).slice(0, -3).split(path.sep).join('/')] : [];
  });
}

/** Every relative import and re-export of `mod`, and whether it is `import type` (erased from the build). */
export function importsOf(mod: string, text: string): Arrow[] {
  const sf = ts.createSourceFile(`${mod}.ts`, text, ts.ScriptTarget.Latest, false);
  const arrows: Arrow[] = [];
  for (const st of sf.statements) {
    if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) || st.moduleSpecifier === undefined) continue;
    const spec = (st.moduleSpecifier as ts.StringLiteral).text;
    if (!spec.startsWith('.')) continue;
    const typeOnly = ts.isImportDeclaration(st) ? st.importClause?.isTypeOnly === true : st.isTypeOnly;
    arrows.push({ from: mod, to: path.posix.normalize(path.posix.join(path.posix.dirname(mod), spec)), typeOnly });
  }
  return arrows;
}

function stepOf(mod: string): number {
  return STEPS.findIndex(([, has]) => has(mod));
}

/** Import cycles between files, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const n of graph.get(m) ?? []) {
      if (state.get(n) === 'open') found.push([...stack.slice(stack.indexOf(n)), n]);
      else if (!state.has(n)) visit(n);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of graph.keys()) if (!state.has(m)) visit(m);
  return found;
}

/** What is wrong with these arrows: cycles, and arrows against the pipeline's direction. */
export function violations(arrows: Arrow[]): string[] {
  // A type-only import leaves nothing in the build (a step may name another's types, a Reply's
  // body): neither a cycle nor an arrow of the pipeline.
  const runtime = arrows.filter((a) => !a.typeOnly);
  const graph = new Map<string, string[]>();
  for (const a of runtime) graph.set(a.from, [...(graph.get(a.from) ?? []), a.to]);
  const out = cycles(graph).map((c) => `import cycle: ${c.join(' → ')}`);
  for (const a of runtime) {
    const from = stepOf(a.from);
    const to = stepOf(a.to);
    if (to < 0) continue; // shared modules may be imported by any step
    if (from < 0) out.push(`${a.from} (shared) imports ${a.to} (${STEPS[to]![0]}): shared modules import nothing of the pipeline`);
    else if (to < from) out.push(`${a.from} (${STEPS[from]![0]}) imports ${a.to} (${STEPS[to]![0]}): a later step imports an earlier one`);
    else if (to !== from && HANDED_BY_SERVE.has(STEPS[from]![0]) && HANDED_BY_SERVE.has(STEPS[to]![0]))
      out.push(`${a.from} (${STEPS[from]![0]}) imports ${a.to} (${STEPS[to]![0]}): the handler passes values between these steps`);
  }
  return out;
}

function srcArrows(): Arrow[] {
  return modules(SRC).flatMap((m) => importsOf(m, fs.readFileSync(path.join(SRC, `${m}.ts`), 'utf8')));
}

t.test('src/ has no import cycle and its request path runs one way', async (t) => {
  const arrows = srcArrows();
  t.ok(arrows.length > 100, 'the graph was read');
  t.same(violations(arrows), []);
});

t.test('no file imports itself back, not even through types: each module reads without the ones it is used by', async (t) => {
  const graph = new Map<string, string[]>();
  for (const a of srcArrows()) graph.set(a.from, [...(graph.get(a.from) ?? []), a.to]);
  t.same(cycles(graph).map((c) => c.join(' → ')), []);
});

/** Functions in `text` longer than `limit` lines whose doc comment does not say why (it names the "70 lines"). */
export function longFunctions(file: string, text: string, limit = 70): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body !== undefined) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart()).line;
      const lines = sf.getLineAndCharacterOfPosition(n.end).line - first + 1;
      const docs = ts.getJSDocCommentsAndTags(n).map((d) => d.getText()).join('\n');
      if (lines > limit && !/70 lines/.test(docs)) out.push(`${file}:${first + 1} is ${lines} lines long and its comment does not say why`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

t.test('no function in src/ is over ~70 lines without a comment saying why (a grammar read in one pass)', async (t) => {
  const long = modules(SRC).flatMap((m) => longFunctions(`${m}.ts`, fs.readFileSync(path.join(SRC, `${m}.ts`), 'utf8')));
  t.same(long, []);
  const body = Array.from({ length: 72 }, (_, i) => `  const v${i} = ${i};`).join('\n');
  t.same(longFunctions('x.ts', `function f() {\n${body}\n}\n`), ['x.ts:1 is 74 lines long and its comment does not say why'], 'a long function is found');
  t.same(longFunctions('x.ts', `/** Over ~70 lines on purpose: a grammar. */\nfunction f() {\n${body}\n}\n`), [], 'and excused by its comment');
});

t.test('http/ reaches into files/ only for the send step: no folder loop beside the path itself', async (t) => {
  const into = srcArrows().filter((a) => !a.typeOnly && a.from.startsWith('http/') && a.to.startsWith('files/'));
  t.same([...new Set(into.map((a) => a.to))], ['files/stream']);
});

t.test('the check fails on a cycle, a backward arrow, a shared module reaching in, and lookup importing render', async (t) => {
  const arrows = srcArrows();
  const bad = (from: string, spec: string) => violations([...arrows, ...importsOf(from, `import { x } from '${spec}';\n`)]).join('\n');
  t.match(bad('files/stream', '../http/connection'), /files\/stream \(send\) imports http\/connection \(parse\/connection\): a later step imports an earlier one/, 'send → parse/connection');
  t.match(bad('files/stream', '../http/connection'), /import cycle: files\/stream → http\/connection → files\/stream/, 'and a cycle');
  t.match(bad('http/respond', './decide'), /http\/respond \(render\) imports http\/decide \(decide\): a later step/, 'render → decide');
  t.match(bad('files/lookup', '../http/respond'), /files\/lookup \(lookup\) imports http\/respond \(render\): the handler passes values/, 'lookup → render');
  t.match(bad('logs/logger', '../serve/static'), /logs\/logger \(shared\) imports serve\/static \(serve\): shared modules import nothing/, 'a leaf → serve');
  t.match(bad('errors', './config/config'), /import cycle: (.* → )?errors → config\/config → .*errors/, 'errors ↔ config');
  t.equal(bad('http/respond', '../files/stream'), '', 'render → send is the way the path runs');
  t.same(violations(importsOf('files/lookup', "import type { Reply } from '../http/respond';\n")), [], 'a type-only import is not an arrow of the build');
});
