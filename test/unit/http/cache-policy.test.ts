// Unit tests for src/http/cache-policy.ts.
import t from 'tap';
import { compileHeaderRules, compilePathGlob, type HeaderRule } from '../../../src/http/cache-policy';

t.test('compilePathGlob: a glob matches a path written with or without its leading slash', (t) => {
  const cases: [string, string, boolean][] = [
    ['/fonts/**', '/fonts/a.woff2', true],
    ['fonts/**', '/fonts/deep/a.woff2', true],
    ['/fonts/**', '/other/fonts/a.woff2', false],
    ['*.html', '/index.html', true],
    ['*.html', '/docs/index.html', false],
    ['**/*.js', '/a/b/c.js', true],
    ['**/*.js', '/.hidden/c.js', true],
  ];
  for (const [glob, p, want] of cases) t.equal(compilePathGlob(glob)(p, p.slice(1)), want, `${glob} ${p}`);
  t.end();
});

const rules = (r: HeaderRule[]): ((p: string) => [string, string][]) => compileHeaderRules(r);

t.test('compileHeaderRules: globs match the path with and without its leading slash', (t) => {
  const m = rules([
    { glob: '**/*.js', headers: { 'X-Js': '1' } },
    { glob: '/assets/**', headers: { 'X-Assets': '1' } },
    { glob: '*.html', headers: { 'X-Top-Html': '1' } },
    { glob: 'docs/**', headers: { 'X-Docs': '1' } },
    { glob: '**/*.{woff,woff2}', headers: { 'X-Font': '1' } },
  ]);
  t.strictSame(m('/app.js'), [['X-Js', '1']], '**/*.js at the top level');
  t.strictSame(m('/a/b/c.js'), [['X-Js', '1']], '**/*.js deep');
  t.strictSame(m('/assets/x.css'), [['X-Assets', '1']], '/assets/**');
  t.strictSame(m('/assets/sub/x.js'), [['X-Js', '1'], ['X-Assets', '1']], 'two rules, in rule order');
  t.strictSame(m('/other/assets/x.css'), [], '/assets/** is anchored');
  t.strictSame(m('/index.html'), [['X-Top-Html', '1']], '*.html at the top');
  t.strictSame(m('/a/index.html'), [], '*.html is top-level only');
  t.strictSame(m('/docs/a/b.txt'), [['X-Docs', '1']], 'docs/** without a slash');
  t.strictSame(m('/f/a.woff2'), [['X-Font', '1']], 'brace expansion');
  t.strictSame(m('/f/a.ttf'), [], 'no match');
  t.strictSame(m('assets/x.css'), [['X-Assets', '1']], 'a path given without its leading slash');
  t.strictSame(m('/app.JS'), [], 'matching is case-sensitive');
  t.end();
});

t.test('compileHeaderRules: dotfiles and dot-directories match (dot: true)', (t) => {
  const m = rules([{ glob: '**', headers: { 'X-All': 'y' } }, { glob: '**/*.js', headers: { 'X-Js': 'y' } }]);
  t.strictSame(m('/.well-known/security.txt'), [['X-All', 'y']], 'dot-directory');
  t.strictSame(m('/.env'), [['X-All', 'y']], 'dotfile');
  t.strictSame(m('/a/.hidden/x.js'), [['X-All', 'y'], ['X-Js', 'y']], 'file in a dot-directory');
  t.end();
});

t.test('compileHeaderRules: later rules override same-named headers case-insensitively', (t) => {
  const m = rules([
    { glob: '**', headers: { 'Cache-Control': 'no-cache', 'X-A': 'a', 'X-B': 'b' } },
    { glob: 'assets/**', headers: { 'cache-control': 'public, max-age=31536000, immutable', 'X-C': 'c' } },
    { glob: '**/*.js', headers: { 'X-B': 'js' } },
  ]);
  t.strictSame(
    m('/index.html'),
    [
      ['Cache-Control', 'no-cache'],
      ['X-A', 'a'],
      ['X-B', 'b'],
    ],
    'only the first rule',
  );
  t.strictSame(
    m('/assets/app.js'),
    [
      ['cache-control', 'public, max-age=31536000, immutable'],
      ['X-A', 'a'],
      ['X-B', 'js'],
      ['X-C', 'c'],
    ],
    'overridden in place, later spelling kept, new names appended',
  );
  t.end();
});

t.test('compileHeaderRules: results are fresh arrays', (t) => {
  const m = rules([{ glob: '**', headers: { 'X-A': 'a' } }]);
  const first = m('/x');
  first.push(['X-Evil', '1']);
  first[0]![1] = 'changed';
  t.strictSame(m('/x'), [['X-A', 'a']], 'mutating a result does not affect the next');
  const none = rules([])('/x');
  t.strictSame(none, [], 'no rules');
  none.push(['a', 'b']);
  t.strictSame(rules([])('/x'), [], 'empty result is fresh too');
  t.end();
});

t.test('compileHeaderRules: values', (t) => {
  const m = rules([
    {
      glob: '**',
      headers: { 'X-Trim': '  padded\t', 'X-Empty': '', 'X-Tab': 'a\tb', 'X-Latin1': 'caf\u00e9', 'X-Quote': '"q"' },
    },
  ]);
  t.strictSame(
    m('/x'),
    [
      ['X-Trim', 'padded'],
      ['X-Empty', ''],
      ['X-Tab', 'a\tb'],
      ['X-Latin1', 'caf\u00e9'],
      ['X-Quote', '"q"'],
    ],
    'OWS trimmed; empty, inner HTAB, obs-text and quotes allowed',
  );
  const empty = rules([{ glob: '**', headers: {} }]);
  t.strictSame(empty('/x'), [], 'a rule without headers adds nothing');
  t.end();
});

t.test('compileHeaderRules: invalid rules throw, naming the rule', (t) => {
  const bad = (r: unknown[], pattern: RegExp, msg: string): void => {
    t.throws(() => compileHeaderRules(r as HeaderRule[]), { message: pattern }, msg);
  };
  const ok = { glob: '**', headers: { 'X-Ok': '1' } };
  bad([{ glob: '', headers: {} }], /^header rule #1 \(glob ""\): "glob" must be a non-empty string$/, 'empty glob');
  bad([ok, { glob: 42, headers: {} }], /^header rule #2: "glob" must be a non-empty string$/, 'non-string glob');
  bad([ok, ok, { headers: {} }], /^header rule #3: "glob"/, 'missing glob');
  bad([null], /^header rule #1: "glob"/, 'null rule');
  bad([{ glob: '*'.repeat(70_000), headers: {} }], /^header rule #1 \(glob "\*+"\): invalid glob: /, 'glob picomatch rejects');
  bad([{ glob: 'a/**' }], /^header rule #1 \(glob "a\/\*\*"\): "headers" must be an object/, 'missing headers');
  bad([{ glob: 'a', headers: null }], /header rule #1 \(glob "a"\): "headers" must be an object/, 'null headers');
  bad([{ glob: 'a', headers: [['X', '1']] }], /header rule #1 \(glob "a"\): "headers" must be an object/, 'array headers');
  bad([{ glob: 'a', headers: 'X-A: 1' }], /"headers" must be an object/, 'string headers');
  for (const name of ['', 'X A', 'X:A', 'X-A:', 'X\r\nY', '(x)', 'X/Y', 'X"Y', 'Caf\u00e9', 'X@Y', 'X{Y}']) {
    bad(
      [ok, { glob: '*.js', headers: { [name]: '1' } }],
      new RegExp(`^header rule #2 \\(glob "\\*\\.js"\\): invalid header name ${escapeRe(JSON.stringify(name))}`),
      `header name ${JSON.stringify(name)}`,
    );
  }
  for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\u0000b', 'a\u0007b', 'a\u007fb', 'a\u20acb']) {
    bad(
      [{ glob: '*.js', headers: { 'X-Ok': value } }],
      /^header rule #1 \(glob "\*\.js"\): value of header "X-Ok" contains a control character/,
      `value ${JSON.stringify(value)}`,
    );
  }
  bad([{ glob: 'a', headers: { 'X-N': 1 } }], /value of header "X-N" must be a string/, 'number value');
  bad([{ glob: 'a', headers: { 'X-N': null } }], /value of header "X-N" must be a string/, 'null value');
  bad([{ glob: 'a', headers: { 'X-A': '1', 'x-a': '2' } }], /header "x-a" is given twice/, 'duplicate name within a rule');
  for (const name of ['Content-Length', 'transfer-encoding', 'Connection', 'Keep-Alive', 'Proxy-Connection', 'Upgrade', 'TE', 'Trailer']) {
    bad([{ glob: 'a', headers: { [name]: '1' } }], new RegExp(`header "${name}" is managed by the server`), name);
  }
  t.end();
});

t.test('compileHeaderRules: valid token names of every tchar', (t) => {
  const name = "!#$%&'*+-.^_`|~09AZaz";
  const m = rules([{ glob: '**', headers: { [name]: 'v' } }]);
  t.strictSame(m('/x'), [[name, 'v']], 'all tchar classes');
  t.end();
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
