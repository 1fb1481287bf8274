// Process tests: directory redirects, dotfiles, symlinks, listings, the SPA fallback and
// OPTIONS, over raw TCP.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { makeSite, rawExchange, startServer } from '../fixtures/server';
import { exchange, fieldCount, one } from '../fixtures/semantics';

const LIST_MTIME = Date.UTC(2022, 2, 4, 5, 6, 7);

/**
 * site/ plus a sibling outside/ that links point into. Both live in the same temporary
 * directory, so "outside" is one "../" away from the root, like a sibling site-old/.
 */
function site(t: Parameters<typeof makeSite>[0]): { root: string; outside: string } {
  const root = makeSite(t, {
    'index.html': '<h1>spa shell</h1>\n',
    '404.html': 'custom 404\n',
    'docs/index.html': 'docs\n',
    'a b/index.html': 'a b\n',
    'evil.example/index.html': 'not a redirect target\n',
    'empty/file.txt': 'x',
    '.hidden.txt': 'hidden\n',
    '.git/config': '[core]\n',
    'sub/.env': 'SECRET=1\n',
    '.well-known/x': 'well known\n',
    '.well-known/acme-challenge/tok': 'acme\n',
    'target.txt': 'inside target\n',
    'page.txt': 'page, identity\n',
    'list/b.txt': 'b'.repeat(1234),
    'list/A.txt': 'a',
    'list/C.txt': 'c',
    'list/adir/inner.txt': 'inner',
    'list/<b>x&y.txt': 'escaped\n',
    'list/a "q" \'s.txt': 'quotes\n',
    'list/.secret': 'dot\n',
    'list/zdir/inner.txt': 'inner',
    'list/Mdir/inner.txt': 'inner',
    'app/v1.2/x.txt': 'dotted dir\n',
  });
  const outside = path.join(path.dirname(root), 'outside');
  fs.mkdirSync(path.join(outside, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside secret\n');
  fs.writeFileSync(path.join(outside, 'secret.gz'), zlib.gzipSync('outside secret, gzipped\n'));
  fs.writeFileSync(path.join(outside, 'dir', 'index.html'), 'outside index\n');
  fs.writeFileSync(path.join(outside, 'index.html'), 'outside index\n');
  fs.symlinkSync('target.txt', path.join(root, 'link-inside.txt'));
  fs.symlinkSync(path.join(root, 'target.txt'), path.join(root, 'link-inside-abs.txt'));
  fs.symlinkSync('../outside/secret.txt', path.join(root, 'link-outside.txt'));
  fs.symlinkSync('../outside/dir', path.join(root, 'linkdir-outside'));
  fs.symlinkSync('docs', path.join(root, 'linkdir-inside'));
  fs.mkdirSync(path.join(root, 'idx'));
  fs.symlinkSync('../../outside/index.html', path.join(root, 'idx', 'index.html')); // an index.html that leads out
  fs.symlinkSync('../outside/secret.gz', path.join(root, 'page.txt.gz')); // a sibling that leads out
  fs.symlinkSync('../../outside/secret.txt', path.join(root, 'list', 'out.txt')); // listed only when followed
  fs.mkdirSync(path.join(root, 'links'));
  fs.writeFileSync(path.join(root, 'links', 'real.txt'), 'real\n');
  fs.symlinkSync('../target.txt', path.join(root, 'links', 'in.txt'));
  fs.symlinkSync('../../outside/secret.txt', path.join(root, 'links', 'out.txt'));
  for (const f of fs.readdirSync(path.join(root, 'list'))) fs.utimesSync(path.join(root, 'list', f), LIST_MTIME / 1000, LIST_MTIME / 1000);
  return { root, outside };
}

t.test('paths', async (t) => {
  const { root } = site(t);
  const def = await startServer(t, { root });
  const open = await startServer(t, { root, args: ['--symlinks', 'follow', '--dotfiles', 'deny', '--listing', 'true', '--spa', 'true'] });
  const strict = await startServer(t, { root, args: ['--symlinks', 'deny', '--dotfiles', 'allow'] });

  t.test('a directory without a trailing slash → 301 to the path with "/"', async (t) => {
    const cases: [string, string][] = [
      ['/docs', '/docs/'],
      ['/docs?x=1&y=%20', '/docs/?x=1&y=%20'],
      ['/a%20b', '/a%20b/'],
      ['/a%20b?q', '/a%20b/?q'],
      ['//evil.example', '/evil.example/'],
      ['///evil.example', '/evil.example/'],
      ['/%2Fevil.example', '/evil.example/'],
      ['/./evil.example', '/evil.example/'],
      ['/docs/../evil.example', '/evil.example/'],
      ['/list/zdir', '/list/zdir/'],
    ];
    for (const [target, location] of cases) {
      const [g, h] = await exchange(def.port, [{ path: target }, { path: target, method: 'HEAD' }]);
      t.equal(g!.status, 301, target);
      t.match(g!.statusLine, /^HTTP\/1\.1 301 Moved Permanently$/);
      t.equal(g!.headers.location, location, `${target} → ${location}`);
      t.notOk(g!.headers.location!.startsWith('//'), 'never protocol-relative');
      t.equal(fieldCount(g!, 'location'), 1);
      t.equal(h!.status, 301);
      t.equal(h!.headers.location, location);
    }
    const fileSlash = await one(def.port, '/target.txt/');
    t.equal(fileSlash.status, 404, 'a file asked for as a directory is not found');
    t.equal((await one(def.port, '/docs/index.html/')).status, 404);
    const dir = await one(def.port, '/docs/');
    t.equal(dir.status, 200);
    t.equal(dir.body.toString(), 'docs\n', 'with the slash: the index.html');
    const space = await one(def.port, '/a%20b/');
    t.equal(space.body.toString(), 'a b\n');
  });

  t.test('dotfiles: 404 by default, 403 with deny, 200 with allow; /.well-known/ always served', async (t) => {
    const files: [string, string][] = [
      ['/.hidden.txt', 'hidden\n'],
      ['/.git/config', '[core]\n'],
      ['/sub/.env', 'SECRET=1\n'],
      ['/sub/%2eenv', 'SECRET=1\n'],
    ];
    for (const [p, body] of files) {
      t.equal((await one(def.port, p)).status, 404, `ignore ${p}`);
      t.equal((await one(open.port, p)).status, 403, `deny ${p}`);
      const allowed = await one(strict.port, p);
      t.equal(allowed.status, 200, `allow ${p}`);
      t.equal(allowed.body.toString(), body);
    }
    const ignored = await one(def.port, '/.hidden.txt');
    t.equal(ignored.body.toString(), 'custom 404\n', 'ignored looks like any missing file');
    for (const s of [def, open, strict]) {
      const r = await one(s.port, '/.well-known/x');
      t.equal(r.status, 200, '/.well-known/x');
      t.equal(r.body.toString(), 'well known\n');
      t.equal((await one(s.port, '/.well-known/acme-challenge/tok')).body.toString(), 'acme\n');
    }
    t.equal((await one(def.port, '/sub/.well-known/x')).status, 404, 'only the top-level /.well-known/ is special');
  });

  t.test('symlinks: inside-root (default), follow, deny', async (t) => {
    const cases: [string, number, number, number, string][] = [
      // path, inside-root, follow, deny, body when served
      ['/link-inside.txt', 200, 200, 404, 'inside target\n'],
      ['/link-inside-abs.txt', 200, 200, 404, 'inside target\n'],
      ['/link-outside.txt', 404, 200, 404, 'outside secret\n'],
      ['/linkdir-outside/', 404, 200, 404, 'outside index\n'],
      ['/linkdir-inside/', 200, 200, 404, 'docs\n'],
      ['/idx/', 404, 200, 404, 'outside index\n'],
      ['/idx/index.html', 404, 200, 404, 'outside index\n'],
      ['/target.txt', 200, 200, 200, 'inside target\n'],
    ];
    for (const [p, inside, follow, deny, body] of cases) {
      for (const [s, want, name] of [
        [def, inside, 'inside-root'],
        [open, follow, 'follow'],
        [strict, deny, 'deny'],
      ] as const) {
        const r = await one(s.port, p);
        t.equal(r.status, want, `${name} ${p}`);
        if (want === 200) t.equal(r.body.toString(), body, `${name} ${p} body`);
        else t.notMatch(r.body.toString(), /outside/, `${name} ${p}: nothing from outside`);
      }
    }
  });

  t.test('a precompressed sibling is a file like any other: the symlink policy applies to it', async (t) => {
    for (const s of [def, strict]) {
      const r = await one(s.port, '/page.txt', { 'Accept-Encoding': 'gzip' });
      t.equal(r.status, 200);
      t.equal(r.headers['content-encoding'], undefined, 'the sibling leading outside the root is not used');
      t.equal(r.body.toString(), 'page, identity\n');
      t.equal(r.headers.vary, undefined, 'no usable sibling, nothing varies');
    }
    const followed = await one(open.port, '/page.txt', { 'Accept-Encoding': 'gzip' });
    t.equal(followed.headers['content-encoding'], 'gzip', 'followed with --symlinks follow');
    t.equal(zlib.gunzipSync(followed.body).toString(), 'outside secret, gzipped\n');
  });

  t.test('listing off by default: a directory without index.html is 404', async (t) => {
    t.equal((await one(def.port, '/empty/')).status, 404);
    t.equal((await one(def.port, '/list/', { Accept: 'application/json' })).status, 404);
  });

  t.test('listing on: HTML', async (t) => {
    const [r, h] = await exchange(open.port, [{ path: '/list/' }, { path: '/list/', method: 'HEAD' }]);
    t.equal(r!.status, 200);
    t.equal(r!.headers['content-type'], 'text/html; charset=utf-8');
    t.equal(r!.headers.vary, 'Accept');
    t.equal(r!.headers['x-content-type-options'], 'nosniff');
    t.equal(h!.status, 200);
    t.equal(h!.headers['content-length'], String(r!.body.length), 'HEAD announces the same length');
    const html = r!.body.toString('utf8');
    t.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    t.match(html, /<title>Index of \/list\/<\/title>/);
    t.notMatch(html, /<b>x&y/, 'no name is written raw');
    t.match(html, /&#60;b&#62;x&#38;y\.txt/, 'the name is escaped');
    t.match(html, /href="%3Cb%3Ex%26y\.txt"/, 'the link is percent-encoded');
    t.match(html, /a &#34;q&#34; &#39;s\.txt/);
    t.notMatch(html, /\.secret/, 'dotfiles are not listed unless allowed');
    t.match(html, /1\.2 KiB/, 'sizes');
    t.match(html, /<time datetime="2022-03-04T05:06:07\.000Z">2022-03-04 05:06<\/time>/, 'dates, in UTC');
    t.match(html, /href="\.\.\/"/, 'a link to the parent');
    const names = [...html.matchAll(/<td class="name"><a href="([^"]+)">/g)].map((m) => m[1]!);
    t.equal(names[0], '../', 'the parent first');
    t.same(names.slice(1, 4), ['adir/', 'Mdir/', 'zdir/'], 'then directories, case-insensitively');
    t.same(
      names.filter((n) => /^[A-Za-z]+\.txt$/.test(n)),
      ['A.txt', 'b.txt', 'C.txt', 'out.txt'],
      'then files, case-insensitively (A, b, C — not ASCII order A, C, b)',
    );
    t.equal(names.length, 1 + 3 + 6, 'every entry but the dotfile');
    // Following the listed links works.
    t.equal((await one(open.port, '/list/%3Cb%3Ex%26y.txt')).body.toString(), 'escaped\n');
  });

  t.test('listing on: JSON when the client asks for it', async (t) => {
    for (const accept of ['application/json', 'application/json, text/html;q=0.5', 'text/html;q=0.1, application/json']) {
      const r = await one(open.port, '/list/', { Accept: accept });
      t.equal(r.status, 200, accept);
      t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      t.equal(r.headers.vary, 'Accept');
      const j = JSON.parse(r.body.toString('utf8')) as { path: string; entries: { name: string; type: string; size: number; modified: string }[] };
      t.equal(j.path, '/list/');
      t.same(
        j.entries.filter((e) => e.type === 'directory').map((e) => e.name),
        ['adir', 'Mdir', 'zdir'],
      );
      t.same(
        j.entries.filter((e) => /^[A-Za-z]+\.txt$/.test(e.name)).map((e) => e.name),
        ['A.txt', 'b.txt', 'C.txt', 'out.txt'],
      );
      t.same(
        j.entries.slice(0, 3).map((e) => e.type),
        ['directory', 'directory', 'directory'],
        'directories first',
      );
      t.same(
        j.entries.map((e) => e.name).sort(),
        ['<b>x&y.txt', 'A.txt', 'C.txt', 'Mdir', 'a "q" \'s.txt', 'adir', 'b.txt', 'out.txt', 'zdir'],
        'names as they are, unescaped',
      );
      const b = j.entries.find((e) => e.name === 'b.txt')!;
      t.equal(b.size, 1234);
      t.equal(b.modified, new Date(LIST_MTIME).toISOString());
    }
    for (const accept of ['text/html', 'text/html, application/json', '*/*', 'application/json;q=0']) {
      const r = await one(open.port, '/list/', { Accept: accept });
      t.equal(r.headers['content-type'], 'text/html; charset=utf-8', `Accept: ${accept} → HTML`);
    }
  });

  t.test('a listing never shows what the symlink policy hides', async (t) => {
    const names = async (port: number, p: string) =>
      (JSON.parse((await one(port, p, { Accept: 'application/json' })).body.toString()) as { entries: { name: string }[] }).entries.map((e) => e.name);
    t.same(await names(open.port, '/links/'), ['in.txt', 'out.txt', 'real.txt'], 'follow: every link');
    const inside = await startServer(t, { root, args: ['--listing', 'true'] });
    t.same(await names(inside.port, '/links/'), ['in.txt', 'real.txt'], 'inside-root: not the link leading out');
    t.notOk((await names(inside.port, '/list/')).includes('out.txt'));
    t.same(await names(inside.port, '/empty/'), ['file.txt']);
    const deny = await startServer(t, { root, args: ['--listing', 'true', '--symlinks', 'deny'] });
    t.same(await names(deny.port, '/links/'), ['real.txt'], 'deny: no link at all');
    // What is listed can be fetched, and what cannot be fetched is not listed.
    for (const [s, policy] of [
      [open, 'follow'],
      [inside, 'inside-root'],
      [deny, 'deny'],
    ] as const) {
      for (const name of ['in.txt', 'out.txt', 'real.txt']) {
        const listed = (await names(s.port, '/links/')).includes(name);
        t.equal((await one(s.port, `/links/${name}`)).status, listed ? 200 : 404, `${policy}: /links/${name} listed ⇔ served`);
      }
    }
  });

  t.test('SPA fallback: off by default; with --spa, a missing path asked for as HTML gets index.html', async (t) => {
    const NAV = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
    const off = await one(def.port, '/some/route', { Accept: NAV });
    t.equal(off.status, 404, 'off by default');
    t.equal(off.headers.vary, undefined, 'and the 404 does not vary then');
    for (const p of ['/some/route', '/deep/a/b/c', '/users/42', '/app/v1.2/users', '/user/john.doe', '/posts/2024.01.05', '/missing.html']) {
      const r = await one(open.port, p, { Accept: NAV });
      t.equal(r.status, 200, p);
      t.equal(r.body.toString(), '<h1>spa shell</h1>\n', `${p}: index.html`);
      t.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      t.equal(r.headers.vary, 'Accept', `${p}: Vary: Accept`);
      t.equal(fieldCount(r, 'vary'), 1);
    }
    for (const [p, accept] of [
      ['/missing.js', '*/*'],
      ['/img/logo.png', 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'],
      ['/css/x.css', 'text/css,*/*;q=0.1'],
      ['/api/users', 'application/json'],
      ['/user/john.doe', '*/*'],
      ['/users/42', undefined],
    ] as const) {
      const r = await one(open.port, p, accept === undefined ? {} : { Accept: accept });
      t.equal(r.status, 404, `${p} with Accept ${accept}: 404`);
      t.equal(r.body.toString(), 'custom 404\n');
      t.equal(r.headers.vary, 'Accept', `${p}: the 404 says Vary: Accept too`);
      t.equal(r.headers['cache-control'], 'no-cache');
    }
    const first = await one(open.port, '/users/42', { Accept: NAV });
    const [head, nm, range] = await exchange(open.port, [
      { path: '/users/43', method: 'HEAD', headers: { Accept: NAV } },
      { path: '/users/44', headers: { Accept: NAV, 'If-None-Match': first.headers.etag! } },
      { path: '/users/45', headers: { Accept: NAV, Range: 'bytes=0-3' } },
    ]);
    t.equal(head!.status, 200);
    t.equal(head!.headers['content-length'], String('<h1>spa shell</h1>\n'.length));
    t.equal(nm!.status, 304, 'the fallback revalidates with the index.html ETag');
    t.equal(nm!.headers.vary, 'Accept');
    t.equal(range!.status, 206);
    t.equal(range!.body.toString(), '<h1>');
    t.equal(range!.headers.vary, 'Accept');
    const idx = await one(open.port, '/index.html', { Accept: NAV });
    t.equal(idx.headers.vary, undefined, 'index.html asked for by its name does not vary');
    t.equal(idx.headers.etag, first.headers.etag);
    t.equal((await one(open.port, '/.env', { Accept: NAV })).status, 403, 'dotfile rules come before the fallback');
    t.equal((await one(open.port, '/docs/', { Accept: NAV })).body.toString(), 'docs\n', 'existing paths are served as themselves');
  });

  t.test('OPTIONS → 204 with Allow', async (t) => {
    const rs = await exchange(def.port, [
      { path: '/index.html', method: 'OPTIONS' },
      { path: '/missing', method: 'OPTIONS' },
      { path: '*', method: 'OPTIONS' },
    ]);
    for (const r of rs) {
      t.equal(r.status, 204);
      t.match(r.statusLine, /^HTTP\/1\.1 204 No Content$/);
      t.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
      t.equal(r.headers['content-length'], undefined, '204 has no Content-Length');
      t.equal(r.headers['x-content-type-options'], 'nosniff');
    }
    const { data } = await rawExchange(def.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    t.match(data.toString('latin1'), /^HTTP\/1\.1 204 No Content\r\n(?:.*\r\n)*Allow: GET, HEAD, OPTIONS\r\n(?:.*\r\n)*\r\n$/, 'OPTIONS * and nothing after the head');
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'get']) {
      const r = await one(def.port, '/index.html', {}, m);
      t.equal(r.status, 405, m);
      t.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
    }
  });
});
