// Unit tests for src/files/resolve.ts, written from the specification (not from the code).
// resolveRequestPath is pure (no file-system access), so the roots need not exist.
import t from 'tap';
import type { Test } from 'tap';
import path from 'node:path';
import { resolveRequestPath } from '../../../src/files/resolve';

type Dotfiles = 'ignore' | 'allow' | 'deny';
type Result = ReturnType<typeof resolveRequestPath>;

const ROOT = '/srv/site';
const SIBLING = '/srv/site-old';
const show = (s: string): string => {
  const j = JSON.stringify(s.length > 100 ? `${s.slice(0, 50)}…(${s.length} chars)…${s.slice(-30)}` : s);
  return j.replace(/[\u0080-\uffff]/g, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
};
const optsName = (o?: { dotfiles?: Dotfiles }): string => (o === undefined ? '' : ` ${JSON.stringify(o)}`);

const summary = (r: Result): Record<string, unknown> => ({ ...r });

/** path.relative climbs out: "..", "../x" (a name such as "..." or "..x" is NOT a climb). */
const climbs = (rel: string): boolean => rel === '..' || rel.startsWith(`..${path.sep}`);

/** The result is inside root: path.relative neither climbs nor is absolute, and it is root or below root + sep. */
function assertContained(tt: Test, root: string, r: Result, label: string): void {
  if (r.kind !== 'ok') return;
  const rel = path.relative(root, r.filePath);
  const inside =
    path.isAbsolute(r.filePath) &&
    !climbs(rel) &&
    !path.isAbsolute(rel) &&
    (r.filePath === root || r.filePath.startsWith(root + path.sep));
  if (inside) tt.pass(`${label}: filePath stays inside root`);
  else tt.fail(`${label}: filePath stays inside root`, { root, filePath: r.filePath, relative: rel });
}

/** Full shape check for an 'ok' result. */
function ok(
  tt: Test,
  rawPath: string,
  relPath: string,
  trailingSlash: boolean,
  opts?: { dotfiles?: Dotfiles },
  root = ROOT,
): void {
  const label = `${show(rawPath)}${optsName(opts)}`;
  const r = resolveRequestPath(root, rawPath, opts);
  const want = { kind: 'ok', filePath: path.join(root, relPath), relPath, trailingSlash };
  if (r.kind === 'ok' && r.relPath === relPath && r.filePath === want.filePath && r.trailingSlash === trailingSlash) {
    tt.pass(`${label} → ok ${show(relPath)}${trailingSlash ? ' (trailing slash)' : ''}`);
  } else {
    tt.fail(`${label} → ok ${show(relPath)}${trailingSlash ? ' (trailing slash)' : ''}`, { found: summary(r), wanted: want });
  }
  assertContained(tt, root, r, label);
}

function refuse(tt: Test, rawPath: string, status: 400 | 403 | 404, opts?: { dotfiles?: Dotfiles }, root = ROOT): void {
  const label = `${show(rawPath)}${optsName(opts)} → ${status}`;
  const r = resolveRequestPath(root, rawPath, opts);
  if (r.kind === 'refuse' && r.status === status && typeof r.reason === 'string' && r.reason.length > 0) tt.pass(label);
  else tt.fail(label, { found: summary(r), wanted: { kind: 'refuse', status, reason: '(non-empty string)' } });
}

// ---------------------------------------------------------------------------

t.test('rule 1: the raw path must start with "/"', async (t) => {
  for (const p of ['', 'a', 'a/b', 'index.html', '%2f', '%2Fetc', '*', '.', '..', '../etc', 'http://example.com/', '\\etc', ' /a', '?/a']) {
    refuse(t, p, 400);
  }
});

t.test('plain paths', async (t) => {
  ok(t, '/', '', true);
  ok(t, '/index.html', 'index.html', false);
  ok(t, '/a/b/c.txt', 'a/b/c.txt', false);
  ok(t, '/a/b/', 'a/b', true);
  ok(t, '/a', 'a', false);
  ok(t, '/a.b/c.d', 'a.b/c.d', false);
  ok(t, '/a./b', 'a./b', false);
  ok(t, '/a..b', 'a..b', false);
  ok(t, '/a/b..', 'a/b..', false);
  ok(t, '/site-old', 'site-old', false);
  ok(t, '/a+b', 'a+b', false); // "+" is not a space in a path
  ok(t, "/!$&'()*+,;=:@-_~", "!$&'()*+,;=:@-_~", false);
  ok(t, '/c:/windows', 'c:/windows', false);
  ok(t, '/con', 'con', false);
});

t.test('rule 2: percent-decoding, exactly once', async (t) => {
  ok(t, '/%41', 'A', false);
  ok(t, '/a%20b.html', 'a b.html', false);
  ok(t, '/%20', ' ', false);
  ok(t, '/caf%C3%A9.html', 'café.html', false);
  ok(t, '/caf%c3%a9.html', 'café.html', false);
  ok(t, '/caf%c3%A9.html', 'café.html', false);
  ok(t, '/%E2%82%AC', '€', false);
  ok(t, '/%F0%9F%98%80.png', '😀.png', false);
  ok(t, '/%EF%BF%BD', '\ufffd', false);
  ok(t, '/%2B', '+', false);
  ok(t, '/%25', '%', false);
  ok(t, '/%2525', '%25', false);
  ok(t, '/100%25.html', '100%.html', false);
  ok(t, '/%252e%252e/etc', '%2e%2e/etc', false);
  ok(t, '/%252E%252E%252Fetc', '%2E%2E%2Fetc', false);
  ok(t, '/%25%32%65%25%32%65/etc', '%2e%2e/etc', false);
  ok(t, '/%3F%23', '?#', false);
  ok(t, '/%7e%7E', '~~', false);
  // every "%" must be followed by two hex digits
  for (const p of ['/%zz', '/%2', '/a%', '/%', '/%%', '/%%41', '/%g0', '/%0g', '/%2g', '/%-1', '/% 2', '/%+2', '/a%2/b', '/%u002e',
    '/%uff0e%uff0e/', '/%0x20', '/%%2e%2e', '/ok/%']) {
    refuse(t, p, 400);
  }
  // decoded bytes must be valid UTF-8
  for (const p of [
    '/%ff', '/%fe', '/%80', '/%bf', '/%c3', '/%c3%28', '/%c3%c3', '/%e2%82', '/%e2%28%a1', '/%f0%9f%98', '/a%c3/b',
    '/%c0%ae', '/%c0%af', '/%c1%9c', '/%e0%80%ae', '/%f0%80%80%ae', // overlong encodings
    '/%ed%a0%80', '/%ed%bf%bf', // UTF-16 surrogates
    '/%f4%90%80%80', '/%f5%80%80%80', '/%f8%88%80%80%80', // beyond U+10FFFF / 5-byte
  ]) {
    refuse(t, p, 400);
  }
});

t.test('rule 3: NUL bytes', async (t) => {
  for (const p of ['/a%00b', '/%00', '/a\u0000b', '/\u0000', '/%00.html', '/index.html%00.txt', '/a/%00/b']) refuse(t, p, 400);
});

t.test('rule 4: backslashes', async (t) => {
  for (const p of ['/a\\b', '/\\', '/%5c', '/%5C', '/a%5cb', '/..%5c..%5cetc', '/%5c..%5c..%5cwindows', '/a\\..\\..\\etc', '/%255c%5c']) {
    refuse(t, p, 400);
  }
});

t.test('rule 5: segments', async (t) => {
  ok(t, '//a///b', 'a/b', false);
  ok(t, '//', '', true);
  ok(t, '///', '', true);
  ok(t, '/./a/./b/.', 'a/b', false);
  ok(t, '/.', '', false);
  ok(t, '/./', '', true);
  ok(t, '/a/./', 'a', true);
  ok(t, '/a//', 'a', true);
  ok(t, '/a%2fb.html', 'a/b.html', false);
  ok(t, '/a%2Fb%2Fc', 'a/b/c', false);
  ok(t, '/a/../b.html', 'b.html', false);
  ok(t, '/a/b/../../c', 'c', false);
  ok(t, '/a/b/..', 'a', false);
  ok(t, '/a/..', '', false);
  ok(t, '/a/../', '', true);
  ok(t, '/a/b/c/../../../x', 'x', false);
  ok(t, '/a/b/c/../../../', '', true);
  ok(t, '/a/%2e%2e/b', 'b', false);
  ok(t, '/a/%2E./b', 'b', false);
  ok(t, '/a/.%2e/b', 'b', false);
  ok(t, '/a%2f..%2fb', 'b', false);
  ok(t, '/%2e', '', false);
  ok(t, '/a/%2e/b', 'a/b', false);
  ok(t, '/a/x/..//../b', 'b', false);
  // ".." above root is refused even if later segments come back inside
  for (const p of ['/..', '/../', '/../a', '/a/../..', '/a/../../a', '/a/../../site/index.html', '//..', '/./..', '/%2e%2e', '/%2e%2e/',
    '/%2e%2e/etc/passwd', '/..%2fetc', '/a/..%2f..', '/%2e%2e%2f', '/.%2e', '/%2e.', '/%2E%2E%2F', '/../site-old/secret.txt']) {
    refuse(t, p, 400);
  }
});

t.test('rule 6: dotfiles', async (t) => {
  const dotted: Array<[string, string, boolean]> = [
    ['/.env', '.env', false],
    ['/.git/config', '.git/config', false],
    ['/.git/', '.git', true],
    ['/a/.hidden/x', 'a/.hidden/x', false],
    ['/a/b/.x', 'a/b/.x', false],
    ['/.htaccess', '.htaccess', false],
    ['/...', '...', false],
    ['/.../', '...', true],
    ['/..../x', '..../x', false],
    ['/..;/etc', '..;/etc', false],
    ['/.. /x', '.. /x', false],
    ['/..%20', '.. ', false],
    ['/%2eenv', '.env', false],
    ['/%2Egit/config', '.git/config', false],
    ['/%2e%67it/config', '.git/config', false],
    ['/a%2f.git', 'a/.git', false],
    ['/.well-known/../.env', '.env', false],
    ['/.well-known/.x', '.well-known/.x', false],
    ['/.well-known/a/.x/b', '.well-known/a/.x/b', false],
    ['/a/.well-known/x', 'a/.well-known/x', false],
    ['/.well-known.bak/x', '.well-known.bak/x', false],
    ['/.well-knownx', '.well-knownx', false],
    ['/.WELL-KNOWN/x', '.WELL-KNOWN/x', false],
    ['/..%ef%bc%8f', '..\uff0f', false],
  ];
  for (const [p, rel, slash] of dotted) {
    refuse(t, p, 404);
    refuse(t, p, 404, {});
    refuse(t, p, 404, { dotfiles: 'ignore' });
    refuse(t, p, 403, { dotfiles: 'deny' });
    ok(t, p, rel, slash, { dotfiles: 'allow' });
  }
  // .well-known as the first segment is always allowed
  const wellKnown: Array<[string, string, boolean]> = [
    ['/.well-known', '.well-known', false],
    ['/.well-known/', '.well-known', true],
    ['/.well-known/acme-challenge/tok', '.well-known/acme-challenge/tok', false],
    ['/.well-known/security.txt', '.well-known/security.txt', false],
    ['/%2ewell-known/x', '.well-known/x', false],
    ['/x/../.well-known/y', '.well-known/y', false],
    ['//.well-known//a', '.well-known/a', false],
  ];
  for (const [p, rel, slash] of wellKnown) {
    ok(t, p, rel, slash);
    ok(t, p, rel, slash, { dotfiles: 'ignore' });
    ok(t, p, rel, slash, { dotfiles: 'deny' });
    ok(t, p, rel, slash, { dotfiles: 'allow' });
  }
  // only REMAINING segments count: a dot segment popped by ".." is gone
  ok(t, '/.git/../index.html', 'index.html', false);
  ok(t, '/.env/..', '', false);
  ok(t, '/a/.b/../c', 'a/c', false, { dotfiles: 'deny' });
  // no dot segment: dotfiles option irrelevant
  for (const d of ['ignore', 'deny', 'allow'] as const) ok(t, '/a.b/c.', 'a.b/c.', false, { dotfiles: d });
});

t.test('rule order: earlier rules win', async (t) => {
  // escape (rule 5, 400) is checked before dotfiles (rule 6, 404/403)
  for (const d of [undefined, 'ignore', 'deny', 'allow'] as const) {
    const o = d === undefined ? undefined : { dotfiles: d };
    refuse(t, '/.env/../../x', 400, o);
    refuse(t, '/../.env', 400, o);
    refuse(t, '/.git/../../etc', 400, o);
    refuse(t, '/.env%00', 400, o); // NUL before dotfiles
    refuse(t, '/.git\\x', 400, o); // backslash before dotfiles
    refuse(t, '/.git%5cx', 400, o);
    refuse(t, '/.x%ff', 400, o); // invalid UTF-8 before dotfiles
    refuse(t, '/.x%zz', 400, o); // bad escape before dotfiles
    refuse(t, '.env', 400, o); // no leading slash before dotfiles
  }
});

t.test('rule 8: trailingSlash is taken from the raw path', async (t) => {
  ok(t, '/', '', true);
  ok(t, '/dir/', 'dir', true);
  ok(t, '/dir', 'dir', false);
  ok(t, '/dir%2f', 'dir', false);
  ok(t, '/dir/.', 'dir', false);
  ok(t, '/dir/./', 'dir', true);
  ok(t, '/dir/sub/..', 'dir', false);
  ok(t, '/dir/sub/../', 'dir', true);
});

t.test('unicode and spaces', async (t) => {
  ok(t, '/caf%C3%A9.html', 'café.html', false);
  ok(t, '/%E6%97%A5%E6%9C%AC/%E8%AA%9E.txt', '日本/語.txt', false);
  ok(t, '/my%20dir/my%20file.txt', 'my dir/my file.txt', false);
  ok(t, '/%e2%80%a5', '\u2025', false); // TWO DOT LEADER is not ".."
  ok(t, '/%ef%bc%8e%ef%bc%8e/etc', '\uff0e\uff0e/etc', false); // FULLWIDTH FULL STOPs are not ".."
  ok(t, '/%e2%80%ae', '\u202e', false);
});

t.test('a different root: relPath joined under it', async (t) => {
  ok(t, '/a/b', 'a/b', false, undefined, '/var/www/x y');
  ok(t, '/', '', true, undefined, '/var/www/x y');
  ok(t, '/a%20b/', 'a b', true, undefined, '/var/www/x y');
  refuse(t, '/%2e%2e%2fx%20y2%2fa', 400, undefined, '/var/www/x y');
  refuse(t, '/../x/a', 400, undefined, '/var/www/x y');
  refuse(t, '/../x%20y%20old/secret', 400, { dotfiles: 'allow' }, '/var/www/x y');
  ok(t, '/a/b', 'a/b', false, undefined, '/srv');
});

// ---------------------------------------------------------------------------
// rule 7: containment. A table of traversal payloads, each with its expected result,
// plus the containment check on every 'ok'.

type Expect = { status: 400 | 403 | 404 } | { rel: string; slash: boolean } | null; // null: only containment is checked

const deepDown = `/${'a/'.repeat(500)}${'../'.repeat(500)}x`; // back to root exactly → "x"
const deepOut = `/${'a/'.repeat(500)}${'../'.repeat(501)}x`; // one too many → 400

const PAYLOADS: Array<[string, Expect]> = [
  ['/..', { status: 400 }],
  ['/../', { status: 400 }],
  ['/../../../../etc/passwd', { status: 400 }],
  ['/%2e%2e/', { status: 400 }],
  ['/%2E%2E%2F', { status: 400 }],
  ['/%2e%2e%2fetc%2fpasswd', { status: 400 }],
  ['/%2E%2e/etc', { status: 400 }],
  ['/.%2e/', { status: 400 }],
  ['/%2e./', { status: 400 }],
  ['/.%2E', { status: 400 }],
  ['/..%5c..', { status: 400 }],
  ['/..%5cetc', { status: 400 }],
  ['/..\\etc', { status: 400 }],
  ['/%2e%2e%5c', { status: 400 }],
  ['/..%00/', { status: 400 }],
  ['/.%00./', { status: 400 }],
  ['/%c0%ae%c0%ae/', { status: 400 }],
  ['/%c0%ae%c0%ae%c0%afetc', { status: 400 }],
  ['/%e0%80%ae%e0%80%ae/', { status: 400 }],
  ['/..%c0%af', { status: 400 }],
  ['/..%c0%afetc', { status: 400 }],
  ['/%uff0e%uff0e/', { status: 400 }],
  ['/....//', { status: 404 }],
  ['/.../', { status: 404 }],
  ['/..../etc', { status: 404 }],
  ['/..;/etc', { status: 404 }],
  ['/%252e%252e/etc', { rel: '%2e%2e/etc', slash: false }],
  ['/%252e%252e%252fetc', { rel: '%2e%2e%2fetc', slash: false }],
  ['/%25%32%65%25%32%65/etc', { rel: '%2e%2e/etc', slash: false }],
  ['/%%32%65%%32%65/etc', { status: 400 }],
  ['/a/b/c/../../../../x', { status: 400 }],
  ['/a/b/c/../../../x', { rel: 'x', slash: false }],
  ['/a/b/c/../../../', { rel: '', slash: true }],
  ['/../site-old/secret.txt', { status: 400 }],
  ['/..%2fsite-old%2fsecret.txt', { status: 400 }],
  ['/%2e%2e/site-old/secret.txt', { status: 400 }],
  ['/a/../../site-old/secret.txt', { status: 400 }],
  ['//../etc', { status: 400 }],
  ['/./../etc', { status: 400 }],
  ['/a/./../../etc', { status: 400 }],
  ['/a/..%2f..%2f..%2fetc', { status: 400 }],
  ['/file%2f%2e%2e%2f%2e%2e%2fetc', { status: 400 }],
  ['/.git%2f..%2f..%2fetc', { status: 400 }],
  ['/%2f%2f..%2f', { status: 400 }],
  ['/%2f..', { status: 400 }],
  [`/${'../'.repeat(50)}etc/passwd`, { status: 400 }],
  [`/${'..%2f'.repeat(50)}etc/passwd`, { status: 400 }],
  [`/${'%2e%2e%2f'.repeat(50)}etc/passwd`, { status: 400 }],
  [deepDown, { rel: 'x', slash: false }],
  [deepOut, { status: 400 }],
  ['/..%ef%bc%8f', { status: 404 }],
  ['/%ef%bc%8e%ef%bc%8e/etc', { rel: '\uff0e\uff0e/etc', slash: false }],
  ['/%e2%80%a5/etc', { rel: '\u2025/etc', slash: false }],
  ['/c:/windows/win.ini', null],
  ['/c:%5cwindows', { status: 400 }],
  ['/%2fetc/passwd', { rel: 'etc/passwd', slash: false }],
  ['//etc/passwd', { rel: 'etc/passwd', slash: false }],
  ['///etc/passwd', { rel: 'etc/passwd', slash: false }],
  ['/~/../x', { rel: 'x', slash: false }],
  ['/~root', { rel: '~root', slash: false }],
  ['/ /../x', { rel: 'x', slash: false }],
  ['/%09..', null],
  ['/..%09', null],
  ['/%0a..', null],
  ['/%0d%0a/../x', null],
  ['/%e2%80%8b../x', null],
];

t.test('rule 7: traversal payloads never leave root', async (t) => {
  t.ok(PAYLOADS.length >= 30, `at least 30 payloads (${PAYLOADS.length})`);
  for (const opts of [undefined, { dotfiles: 'allow' as const }, { dotfiles: 'deny' as const }]) {
    for (const [p, expect] of PAYLOADS) {
      const label = `${show(p)}${optsName(opts)}`;
      let r: Result;
      try {
        r = resolveRequestPath(ROOT, p, opts);
      } catch (e) {
        t.fail(`${label}: must return a result, not throw`, { error: String(e) });
        continue;
      }
      assertContained(t, ROOT, r, label);
      if (r.kind === 'ok') {
        t.notOk(r.filePath === SIBLING || r.filePath.startsWith(`${SIBLING}/`), `${label}: not in the sibling ${SIBLING}`);
      }
      if (expect === null) continue;
      if ('status' in expect) {
        // dotfile refusals depend on the option
        let status: 400 | 403 | 404 | 'ok' = expect.status;
        if (expect.status === 404 && opts?.dotfiles === 'deny') status = 403;
        if (expect.status === 404 && opts?.dotfiles === 'allow') status = 'ok';
        if (status === 'ok') {
          t.equal(r.kind, 'ok', `${label} → ok`);
        } else if (r.kind === 'refuse' && r.status === status) {
          t.pass(`${label} → ${status}`);
        } else {
          t.fail(`${label} → ${status}`, { found: summary(r) });
        }
      } else {
        const want = { kind: 'ok', relPath: expect.rel, filePath: path.join(ROOT, expect.rel), trailingSlash: expect.slash };
        if (r.kind === 'ok' && r.relPath === want.relPath && r.filePath === want.filePath && r.trailingSlash === want.trailingSlash) {
          t.pass(`${label} → ok ${show(expect.rel)}`);
        } else {
          t.fail(`${label} → ok ${show(expect.rel)}`, { found: summary(r), wanted: want });
        }
      }
    }
  }
});

t.test('rule 7: sibling directory of root is unreachable', async (t) => {
  for (const p of ['/../site-old/secret.txt', '/..%2fsite-old/secret.txt', '/%2e%2e/site-old', '/../site-old', '/a/../../site-old/x',
    '/..site-old/x', '/.%2e/site-old/secret.txt', '/%2e%2e%2fsite-old%2fsecret.txt']) {
    for (const d of ['ignore', 'deny', 'allow'] as const) {
      const r = resolveRequestPath(ROOT, p, { dotfiles: d });
      const label = `${show(p)} {dotfiles:${d}}`;
      assertContained(t, ROOT, r, label);
      t.notOk(r.kind === 'ok' && r.filePath.startsWith(SIBLING), `${label}: never a file in ${SIBLING}`);
    }
  }
  refuse(t, '/../site-old/secret.txt', 400, { dotfiles: 'allow' });
});

// A seeded random walk over traversal-ish tokens. Every 'ok' must be inside root and
// well-formed, and every result must agree with a small model of rules 1-6, 8.
function model(rawPath: string, dotfiles: Dotfiles): { status: 400 | 403 | 404 } | { rel: string; slash: boolean } {
  if (!rawPath.startsWith('/')) return { status: 400 };
  if (/%(?![0-9A-Fa-f]{2})/.test(rawPath)) return { status: 400 };
  const bytes: number[] = [];
  for (let i = 0; i < rawPath.length; i++) {
    if (rawPath[i] === '%') {
      bytes.push(parseInt(rawPath.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(rawPath[i] ?? '', 'utf8'));
    }
  }
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return { status: 400 };
  }
  if (decoded.includes('\0')) return { status: 400 };
  if (decoded.includes('\\')) return { status: 400 };
  const stack: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) return { status: 400 };
      stack.pop();
      continue;
    }
    stack.push(seg);
  }
  if (dotfiles !== 'allow') {
    const hidden = stack.some((seg, i) => seg.startsWith('.') && !(i === 0 && seg === '.well-known'));
    if (hidden) return { status: dotfiles === 'deny' ? 403 : 404 };
  }
  return { rel: stack.join('/'), slash: rawPath.endsWith('/') };
}

t.test('model of the spec agrees with itself on the spec examples', async (t) => {
  // guards the model below against silly mistakes: each line is straight from the spec
  t.same(model('/%252e%252e/etc', 'ignore'), { rel: '%2e%2e/etc', slash: false }, 'model: double encoding');
  t.same(model('/a/../b.html', 'ignore'), { rel: 'b.html', slash: false }, 'model: /a/../b.html');
  t.same(model('/%2e%2e/etc/passwd', 'ignore'), { status: 400 }, 'model: encoded ..');
  t.same(model('/%c0%ae%c0%ae/', 'ignore'), { status: 400 }, 'model: overlong');
  t.same(model('/.well-known/.x', 'ignore'), { status: 404 }, 'model: .well-known/.x');
  t.same(model('/caf%C3%A9.html', 'ignore'), { rel: 'café.html', slash: false }, 'model: unicode');
});

t.test('randomised traversal attempts (seeded): contained, well-formed, as the spec says', async (t) => {
  const tokens = ['/', '/', '/', '..', '..', '.', '%2e', '%2E', '%2f', '%2F', '%5c', '\\', '%00', '%25', '%252e', '%252f', 'a', 'b',
    'site-old', 'etc', 'passwd', '.env', '.git', '.well-known', '%c0%ae', '%c0%af', '%ef%bc%8e', '%zz', '%', '~', ' ', '%20', ';', '%c3%a9',
    '%ff', '.%2e', '%2e.', '...', '//', '/../', '/./'];
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const N = 4000;
  let oks = 0;
  let mismatches = 0;
  let outside = 0;
  let malformed = 0;
  let thrown = 0;
  const firstMismatches: Array<Record<string, unknown>> = [];
  for (let i = 0; i < N; i++) {
    let p = rand(8) === 0 ? '' : '/';
    const len = 1 + rand(10);
    for (let j = 0; j < len; j++) p += tokens[rand(tokens.length)];
    const dotfiles = (['ignore', 'deny', 'allow'] as const)[rand(3)] ?? 'ignore';
    let r: Result;
    try {
      r = resolveRequestPath(ROOT, p, { dotfiles });
    } catch (e) {
      thrown++;
      if (firstMismatches.length < 10) firstMismatches.push({ rawPath: p, dotfiles, threw: String(e) });
      continue;
    }
    const want = model(p, dotfiles);
    let same: boolean;
    if ('status' in want) same = r.kind === 'refuse' && r.status === want.status;
    else same = r.kind === 'ok' && r.relPath === want.rel && r.trailingSlash === want.slash;
    if (!same) {
      mismatches++;
      if (firstMismatches.length < 10) firstMismatches.push({ rawPath: p, dotfiles, found: summary(r), wanted: want });
    }
    if (r.kind === 'ok') {
      oks++;
      const rel = path.relative(ROOT, r.filePath);
      if (climbs(rel) || path.isAbsolute(rel) || !(r.filePath === ROOT || r.filePath.startsWith(ROOT + path.sep))) {
        outside++;
        if (firstMismatches.length < 10) firstMismatches.push({ rawPath: p, dotfiles, OUTSIDE: r.filePath });
      }
      const segs = r.relPath === '' ? [] : r.relPath.split('/');
      const bad =
        r.filePath !== path.join(ROOT, r.relPath) ||
        r.relPath.startsWith('/') ||
        segs.some((s) => s === '' || s === '.' || s === '..') ||
        r.relPath.includes('\\') ||
        r.relPath.includes('\0');
      if (bad) {
        malformed++;
        if (firstMismatches.length < 10) firstMismatches.push({ rawPath: p, dotfiles, MALFORMED: summary(r) });
      }
    }
  }
  t.ok(oks > 200, `the walk produced enough ok results to be meaningful (${oks})`);
  t.equal(thrown, 0, 'no input throws', { examples: firstMismatches });
  t.equal(outside, 0, 'no ok result lies outside root', { examples: firstMismatches });
  t.equal(malformed, 0, 'every ok result is well-formed (filePath = join(root, relPath), clean segments)', { examples: firstMismatches });
  t.equal(mismatches, 0, `every result matches the spec model (${N} inputs)`, { examples: firstMismatches });
});
