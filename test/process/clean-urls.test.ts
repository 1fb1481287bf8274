// Process tests: clean URLs (`cleanUrls`, as `serve` has them): /about → about.html,
// /about.html → 301 /about, with directories, index.html, the SPA fallback, odd names,
// symlinks and traversal attempts (over raw TCP).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cleanUrl } from '../../src/files/clean-urls';
import { encodePathSegments } from '../../src/http/path-encoding';
import { makeSite, rawExchange, startServer } from '../fixtures/server';
import { exchange, one } from '../fixtures/semantics';

function site(t: Parameters<typeof makeSite>[0]): string {
  const root = makeSite(t, {
    'index.html': 'home\n',
    'about.html': 'about page\n',
    'docs.html': 'docs page\n',
    'docs/index.html': 'docs index\n',
    'docs/sub.html': 'docs sub\n',
    'blog/index.html': 'blog index\n',
    page: 'a file without extension\n',
    'page.html': 'page.html itself\n',
    'a b.html': 'spaced\n',
    'déjà.html': 'accents\n',
    'style.css': 'body{}\n',
    '.secret.html': 'hidden\n',
    'dir.html/x.txt': 'a directory named dir.html\n',
  });
  fs.writeFileSync(path.join(root, '..', 'outside.html'), 'outside the root\n');
  fs.symlinkSync('../outside.html', path.join(root, 'evil.html'));
  fs.symlinkSync('about.html', path.join(root, 'alias.html'));
  return root;
}

t.test('cleanUrl decides from the files that exist (unit)', async (t) => {
  const files = new Set(['about.html', 'docs.html', 'docs/index.html', 'page', 'page.html', 'a b.html', 'index.html', 'x/index.html']);
  const asked: string[] = [];
  const find = async (rel: string) => {
    asked.push(rel);
    return files.has(rel) ? rel : null;
  };
  const cases: [string, unknown][] = [
    ['about', { kind: 'page', relPath: 'about.html', found: 'about.html' }],
    ['about.html', { kind: 'redirect', location: '/about' }],
    ['docs', { kind: 'page', relPath: 'docs.html', found: 'docs.html' }],
    ['docs/index.html', { kind: 'redirect', location: '/docs/' }],
    ['docs/index', { kind: 'redirect', location: '/docs/' }],
    ['index.html', { kind: 'redirect', location: '/' }],
    ['index', { kind: 'redirect', location: '/' }],
    ['x/index', { kind: 'redirect', location: '/x/' }],
    ['page', null],
    ['page.html', null],
    ['a b', { kind: 'page', relPath: 'a b.html', found: 'a b.html' }],
    ['a b.html', { kind: 'redirect', location: '/a%20b' }],
    ['missing', null],
    ['missing.html', null],
    ['docs/missing', null],
  ];
  for (const [rel, want] of cases) t.same(await cleanUrl(rel, find), want, rel);
  t.ok(asked.every((rel) => !rel.startsWith('/') && !rel.includes('..')), 'only relative, normalised paths are looked up');
  t.equal(encodePathSegments("a b/c%d/é/(x)!*'"), "a%20b/c%25d/%C3%A9/%28x%29%21%2A%27");
});

t.test('clean URLs', async (t) => {
  const root = site(t);
  const s = await startServer(t, { root, args: ['--clean-urls', 'true'] });

  t.test('/x serves x.html; /x.html redirects to /x keeping the query', async (t) => {
    const cases: [string, number, string][] = [
      ['/about', 200, 'about page\n'],
      ['/about?x=1', 200, 'about page\n'],
      ['/docs', 200, 'docs page\n'], // docs.html comes before the docs/ directory
      ['/docs/', 200, 'docs index\n'],
      ['/docs/sub', 200, 'docs sub\n'],
      ['/a%20b', 200, 'spaced\n'],
      ['/d%C3%A9j%C3%A0', 200, 'accents\n'],
      ['/page', 200, 'a file without extension\n'], // a file of its own wins
      ['/page.html', 200, 'page.html itself\n'], // …and then page.html keeps its name
      ['/alias', 200, 'about page\n'], // a link inside the root
      ['/style.css', 200, 'body{}\n'],
      ['/', 200, 'home\n'],
    ];
    for (const [p, status, body] of cases) {
      const r = await one(s.port, p);
      t.equal(r.status, status, p);
      t.equal(r.body.toString(), body, p);
    }
    const about = await one(s.port, '/about');
    t.equal(about.headers['content-type'], 'text/html; charset=utf-8');
    t.ok(about.headers.etag);
    const redirects: [string, string][] = [
      ['/about.html', '/about'],
      ['/about.html?x=1&y=%20', '/about?x=1&y=%20'],
      ['/docs/sub.html', '/docs/sub'],
      ['/docs.html', '/docs'],
      ['/a%20b.html', '/a%20b'],
      ['/d%C3%A9j%C3%A0.html?q', '/d%C3%A9j%C3%A0?q'],
      ['/index.html', '/'],
      ['/index.html?x=1', '/?x=1'],
      ['/index', '/'],
      ['/docs/index.html', '/docs/'],
      ['/docs/index', '/docs/'],
      ['/docs/../about.html', '/about'],
      ['//about.html', '/about'],
    ];
    for (const [p, location] of redirects) {
      const r = await one(s.port, p);
      t.equal(r.status, 301, p);
      t.equal(r.headers.location, location, `${p} → ${location}`);
    }
    const [get, head] = await exchange(s.port, [{ path: '/about' }, { path: '/about', method: 'HEAD' }]);
    t.equal(head!.status, 200);
    t.equal(head!.headers.etag, get!.headers.etag, 'HEAD as GET');
    t.equal(head!.body.length, 0);
  });

  t.test('what stays as without clean URLs', async (t) => {
    const cases: [string, number][] = [
      ['/blog', 301], // no blog.html: the directory redirect
      ['/blog/', 200],
      ['/about/', 404], // not a directory; about.html is not a directory either
      ['/about.html/', 404],
      ['/missing', 404],
      ['/missing.html', 404], // no redirect to a page that does not exist
      ['/.secret', 404], // dotfiles are refused before anything else
      ['/.secret.html', 404],
      ['/evil', 404], // a link leading out of the root
      ['/evil.html', 404],
      ['/dir', 404], // dir.html is a directory, not a page
      ['/dir.html', 301], // …which redirects like any directory
    ];
    for (const [p, status] of cases) t.equal((await one(s.port, p)).status, status, p);
    t.equal((await one(s.port, '/blog')).headers.location, '/blog/');
    t.equal((await one(s.port, '/dir.html')).headers.location, '/dir.html/');
    t.notMatch((await one(s.port, '/evil')).body.toString(), /outside the root/);
  });

  t.test('traversal shapes never reach outside the root', async (t) => {
    for (const p of ['/../outside', '/%2e%2e/outside', '/about%2f..%2f..%2foutside', '/docs/../../outside', '/..%2foutside.html', '/a%00b', '/%zz', '/a%5cb']) {
      const { data } = await rawExchange(s.port, `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const text = data.toString('latin1');
      t.match(text, /^HTTP\/1\.1 (400|404) /, p);
      t.notMatch(text, /outside the root/, p);
    }
  });
});

t.test('clean URLs with the SPA fallback, and off by default', async (t) => {
  const root = site(t);
  const spa = await startServer(t, { root, args: ['--clean-urls', 'true', '--spa', 'true'] });
  t.equal((await one(spa.port, '/about')).body.toString(), 'about page\n', 'a page comes before the fallback');
  t.equal((await one(spa.port, '/users/42', { Accept: 'text/html' })).body.toString(), 'home\n', 'unknown routes still get index.html');
  t.equal((await one(spa.port, '/missing.js')).status, 404);
  t.equal((await one(spa.port, '/about.html')).status, 301);

  const off = await startServer(t, { root });
  t.equal((await one(off.port, '/about')).status, 404, 'off: /about is missing');
  const page = await one(off.port, '/about.html');
  t.equal(page.status, 200, 'off: /about.html is a file');
  t.equal(page.body.toString(), 'about page\n');
  t.equal((await one(off.port, '/index.html')).status, 200);
});
