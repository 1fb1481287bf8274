// files/lookup.ts: a request path → an Entry over a real site in a test directory — files,
// refusals, directories, symlinks, clean URLs, the SPA's index.html, the built-in favicon,
// precompressed siblings and compressed copies, the per-worker cache and its one disk lookup
// per path at a time; what the disk does wrong (no descriptors, an I/O error, a file that
// changes while read) through fs.promises replaced for one path.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t, { type Test } from 'tap';
import { FileChangedError } from '../../../src/errors';
import { compressionLevel, GENERATED_CODINGS, generatedEtag } from '../../../src/files/compress';
import type { Entry, FileEntry, ListingEntry } from '../../../src/files/entry';
import { FAVICON_CACHE_CONTROL } from '../../../src/files/favicon';
import { DEFAULT_SORT } from '../../../src/files/listing';
import { FileLookup, type LookupConfig } from '../../../src/files/lookup';
import { CODING_PREFERENCE } from '../../../src/http/negotiate';
import { recordingLog, type LoggedLine } from '../../fixtures/process-fakes';

const NOSNIFF = 'X-Content-Type-Options: nosniff\r\n';
const TEXT = 'body { color: teal }\n'.repeat(200);

const BASE: Omit<LookupConfig, 'root'> = {
  dotfiles: 'ignore', symlinks: 'inside-root', listing: false, spa: false, cors: false, corsOrigins: [], precompressed: false,
  compress: false, compressMinBytes: 1024, compressMaxBytes: 1 << 22, compressBrotliQuality: 5, cleanUrls: false,
  cacheControl: 'no-cache', immutableCacheControl: '', immutablePaths: [], headers: [],
  cacheMaxEntries: 100, cacheMaxBytes: 1 << 20, cacheMaxFileBytes: 1 << 16, cacheValidMs: 3_600_000,
};

interface Site {
  /** The test directory: `site/` is the root, anything else is outside it. */
  dir: string;
  root: string;
  files: FileLookup;
  /** The entries render was asked to prepare a head for, in order. */
  prepared: FileEntry[];
  lines: LoggedLine[];
}

/** A site from `tree` (paths under the test directory; `site/...` is inside the root). */
function site(t: Test, tree: Record<string, string | Buffer>, over: Partial<LookupConfig> = {}): Site {
  const dir = fs.realpathSync(t.testdir());
  for (const [name, content] of Object.entries(tree)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (name.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else fs.writeFileSync(p, content);
  }
  const root = path.join(dir, 'site');
  fs.mkdirSync(root, { recursive: true });
  const prepared: FileEntry[] = [];
  const { log, lines } = recordingLog();
  (log as unknown as { level: string }).level = 'debug';
  const files = new FileLookup({ ...BASE, root, ...over }, log, (entry) => {
    prepared.push(entry);
    entry.heads.push(`head of ${entry.rep.path}`);
  });
  return { dir, root, files, prepared, lines };
}

async function fileAt(s: Site, rawPath: string): Promise<FileEntry> {
  const e = await s.files.lookup(rawPath, undefined);
  if (e.kind !== 'file') throw new Error(`${rawPath}: a ${e.kind} entry, not a file`);
  return e;
}

/** Replaces fs.promises[name] for calls on `target` (others go through) until the test ends. */
function onPath<K extends 'stat' | 'open' | 'realpath'>(t: Test, name: K, target: string, instead: (real: (typeof fs.promises)[K]) => (typeof fs.promises)[K]): void {
  const real = fs.promises[name];
  const replaced = instead(real.bind(fs.promises) as (typeof fs.promises)[K]);
  (fs.promises as Record<K, unknown>)[name] = ((p: fs.PathLike, ...rest: unknown[]) =>
    String(p) === target ? (replaced as (...a: unknown[]) => unknown)(p, ...rest) : (real as (...a: unknown[]) => unknown).call(fs.promises, p, ...rest)) as (typeof fs.promises)[K];
  t.teardown(() => {
    (fs.promises as Record<K, unknown>)[name] = real;
  });
}

const errno = (code: string) => Object.assign(new Error(`${code}: test`), { code });

t.test('a file: its representation and header lines, its head prepared once, kept in the cache', async (t) => {
  const s = site(t, { 'site/docs/a.txt': 'aaa' });
  const e = await fileAt(s, '/docs/a.txt');
  t.same(e.rep.body, Buffer.from('aaa'));
  t.equal(e.rep.path, path.join(s.root, 'docs/a.txt'));
  t.match(e, { contentType: 'text/plain; charset=utf-8', variants: [], codings: [], compressKey: null, bytes: 3 });
  t.equal(e.headerLines, `Cache-Control: no-cache\r\nAccept-Ranges: bytes\r\n${NOSNIFF}`);
  t.same(s.prepared, [e], 'render prepared its head');
  t.same(e.heads, [`head of ${e.rep.path}`], 'and the head lives on the entry');
  t.equal(s.files.cached('/docs/a.txt'), e);
  t.ok(s.files.isFresh(e));
  t.same(s.files.cacheSize, { entries: 1, bytes: 3 });
  t.equal(s.files.cached('/docs/b.txt'), undefined);
});

t.test('one disk lookup per path at a time, and an unchanged file is not read again', async (t) => {
  const s = site(t, { 'site/a.txt': 'one' });
  const f = path.join(s.root, 'a.txt');
  let opens = 0;
  onPath(t, 'open', f, (real) => ((...a: Parameters<typeof real>) => (opens++, real(...a))) as typeof real);
  const [a, b, c] = await Promise.all([s.files.lookup('/a.txt', undefined), s.files.lookup('/a.txt', undefined), s.files.lookup('/a.txt', undefined)]);
  t.equal(a, b);
  t.equal(b, c, 'three requests, one entry');
  t.equal(opens, 1, 'the file was opened once');
  t.equal(s.prepared.length, 1);
  const again = (await s.files.lookup('/a.txt', a)) as FileEntry;
  t.not(again, a, 'a new entry (checked again) ...');
  t.equal(again.rep, (a as FileEntry).rep, '... with the same representation: nothing read');
  t.equal(opens, 1);
  fs.writeFileSync(f, 'two, longer');
  const changed = (await s.files.lookup('/a.txt', again)) as FileEntry;
  t.same(changed.rep.body, Buffer.from('two, longer'), 'a changed file is read');
  t.equal(s.files.cached('/a.txt'), changed);
});

t.test('isFresh: for cacheValidMs after the entry was checked', async (t) => {
  const s = site(t, { 'site/a.txt': 'a' }, { cacheValidMs: 50 });
  const e = await fileAt(s, '/a.txt');
  t.ok(s.files.isFresh(e));
  t.ok(s.files.isFresh({ ...e, checkedAt: performance.now() - 40 }));
  t.notOk(s.files.isFresh({ ...e, checkedAt: performance.now() - 51 }));
  t.notOk(s.files.isFresh(undefined));
  const never = site(t, { 'site/a.txt': 'a' }, { cacheValidMs: 0 });
  t.notOk(never.files.isFresh(await fileAt(never, '/a.txt')), 'cacheValidMs 0: always asked again');
});

t.test('refusals: dotfiles, paths that escape, missing paths and what a 404 carries', async (t) => {
  const tree = { 'site/.env': 'SECRET=1', 'site/a.txt': 'a', 'site/.well-known/security.txt': 'contact' };
  const rules = [{ glob: '**', headers: { 'X-Frame-Options': 'DENY' } }];
  const s = site(t, tree, { headers: rules });
  t.match(await s.files.lookup('/.env', undefined), { kind: 'refuse', status: 404, spaFallback: false, ruleLines: `${NOSNIFF}X-Frame-Options: DENY\r\n` }, 'ignore: a dotfile is not there');
  t.match(await s.files.lookup('/.well-known/security.txt', undefined), { kind: 'file' }, '/.well-known/ is served');
  t.match(await site(t, tree, { dotfiles: 'deny' }).files.lookup('/.env', undefined), { kind: 'refuse', status: 403, ruleLines: '' }, 'deny: 403, without rule lines');
  t.match(await site(t, tree, { dotfiles: 'allow' }).files.lookup('/.env', undefined), { kind: 'file' });
  t.match(await s.files.lookup('/%2e%2e/x', undefined), { kind: 'refuse', status: 400, ruleLines: '' });
  t.match(await s.files.lookup('/bad%zz', undefined), { kind: 'refuse', status: 400 });
  const missing = await s.files.lookup('/missing.txt', undefined);
  t.match(missing, { kind: 'refuse', status: 404, spaFallback: false, ruleLines: `${NOSNIFF}X-Frame-Options: DENY\r\n` });
  t.equal(s.files.cached('/missing.txt'), missing, 'a refusal is cached like a file');
  t.match(await s.files.lookup('/a.txt/', undefined), { kind: 'refuse', status: 404 }, 'a file has no children');
  t.match(await s.files.lookup('/a.txt/x', undefined), { kind: 'refuse', status: 404 }, 'ENOTDIR is not found');
  const spa = site(t, tree, { spa: true });
  t.match(await spa.files.lookup('/app/route', undefined), { kind: 'refuse', status: 404, spaFallback: true, ruleLines: `${NOSNIFF}Vary: Accept\r\n` }, 'the SPA may answer it');
  t.match(await spa.files.lookup('/.env', undefined), { kind: 'refuse', status: 404, spaFallback: false }, 'not a hidden dotfile');
});

t.test('neither file nor directory (a device): not found', async (t) => {
  const s = site(t, {}, { symlinks: 'follow' });
  fs.symlinkSync('/dev/null', path.join(s.root, 'null'));
  t.match(await s.files.lookup('/null', undefined), { kind: 'refuse', status: 404 });
});

t.test('symlinks: inside the root, out of it, and each policy', async (t) => {
  const tree = { 'secret.txt': 'outside the root', 'site/docs/a.txt': 'aaa' };
  const links = (s: Site) => {
    fs.symlinkSync(path.join(s.dir, 'secret.txt'), path.join(s.root, 'out.txt'));
    fs.symlinkSync(path.join(s.root, 'docs/a.txt'), path.join(s.root, 'in.txt'));
    return s;
  };
  const inside = links(site(t, tree));
  const e = await fileAt(inside, '/in.txt');
  t.equal(e.rep.path, path.join(inside.root, 'docs/a.txt'), 'read at its real path');
  t.match(await inside.files.lookup('/out.txt', undefined), { kind: 'refuse', status: 404 }, 'inside-root: out of the root is not found');
  const deny = links(site(t, tree, { symlinks: 'deny' }));
  t.match(await deny.files.lookup('/in.txt', undefined), { kind: 'refuse', status: 404 }, 'deny: any link');
  t.match(await deny.files.lookup('/docs/a.txt', undefined), { kind: 'file' });
  const follow = links(site(t, tree, { symlinks: 'follow' }));
  t.same((await fileAt(follow, '/out.txt')).rep.body, Buffer.from('outside the root'), 'follow: any link');
});

t.test('directories: the redirect to the trailing slash, index.html, a listing, or not found', async (t) => {
  const tree = { 'site/docs/a.txt': 'a', 'site/a b/x.txt': 'x', 'site/index.html': '<h1>home</h1>', 'site/sub/index.html': '<h1>sub</h1>', 'site/plain/': '' };
  const rules = [{ glob: '/index.html', headers: { 'X-Page': 'home' } }, { glob: '/sub/index.html', headers: { 'X-Page': 'sub' } }];
  const s = site(t, tree, { headers: rules });
  t.match(await s.files.lookup('/docs', undefined), { kind: 'redirect', location: '/docs/' });
  t.match(await s.files.lookup('/a%20b', undefined), { kind: 'redirect', location: '/a%20b/' }, 'percent-encoded again');
  t.match(await s.files.lookup('//docs', undefined), { kind: 'redirect', location: '/docs/' }, 'never a protocol-relative "//docs/"');
  const home = await fileAt(s, '/');
  t.same(home.rep.body, Buffer.from('<h1>home</h1>'));
  t.match(home.headerLines, 'X-Page: home\r\n', 'the rules of /index.html');
  t.match((await fileAt(s, '/sub/')).headerLines, 'X-Page: sub\r\n', 'and of /sub/index.html');
  t.match(await s.files.lookup('/docs/', undefined), { kind: 'refuse', status: 404 }, 'no index.html, listing off');
  const listed = site(t, tree, { listing: true });
  const listing = (await listed.files.lookup('/docs/', undefined)) as ListingEntry;
  t.same(listing, { kind: 'listing', dir: path.join(listed.root, 'docs'), urlPath: '/docs/', checkedAt: listing.checkedAt, bytes: 0 });
  t.same((await listed.files.listItems(listing, DEFAULT_SORT)).map((i) => i.name), ['a.txt']);
  t.match(await listed.files.lookup('/plain/', undefined), { kind: 'listing', urlPath: '/plain/' });
  const bare = site(t, { 'site/x.txt': 'x' }, { listing: true });
  t.match(await bare.files.lookup('/', undefined), { kind: 'listing', urlPath: '/', dir: bare.root }, 'the root itself');
});

t.test('an index.html that is a directory, or a link out of the root, is no index', async (t) => {
  const s = site(t, { 'secret.html': 'outside', 'site/d1/index.html/x': 'x', 'site/d2/': '' }, { listing: true });
  fs.symlinkSync(path.join(s.dir, 'secret.html'), path.join(s.root, 'd2/index.html'));
  t.match(await s.files.lookup('/d1/', undefined), { kind: 'listing' });
  t.match(await s.files.lookup('/d2/', undefined), { kind: 'listing' }, 'the outside file is not served');
});

t.test('/favicon.ico: the built-in icon when the site has none, the site’s own otherwise', async (t) => {
  const s = site(t, {});
  const icon = await fileAt(s, '/favicon.ico');
  t.equal(icon.contentType, 'image/vnd.microsoft.icon');
  t.match(icon.headerLines, `Cache-Control: ${FAVICON_CACHE_CONTROL}\r\n`);
  t.ok(icon.rep.body!.length > 0);
  t.same(s.prepared, [icon], 'its head is prepared like a file’s');
  const own = site(t, { 'site/favicon.ico': 'mine' });
  t.same((await fileAt(own, '/favicon.ico')).rep.body, Buffer.from('mine'));
});

t.test('the SPA’s index.html: Vary: Accept, cached and answered synchronously while fresh, forgotten with any path', async (t) => {
  const s = site(t, { 'site/index.html': '<div id=app></div>', 'site/a.txt': 'a' }, { spa: true });
  const first = s.files.spaIndex();
  t.ok(first instanceof Promise, 'the first time: from the disk');
  const e = (await first) as FileEntry;
  t.equal(e.kind, 'file');
  t.same(e.rep.body, Buffer.from('<div id=app></div>'));
  t.match(e.headerLines, 'Vary: Accept\r\n');
  t.equal(s.files.spaIndex(), e, 'then synchronously, the same entry');
  t.notMatch((await fileAt(s, '/index.html')).headerLines, 'Vary', 'the file at its own URL does not vary on Accept');
  await s.files.lookup('/a.txt', undefined);
  s.files.forget('/a.txt');
  t.equal(s.files.cached('/a.txt'), undefined, 'forget: the path ...');
  t.ok(s.files.spaIndex() instanceof Promise, '... and the SPA index (the answer for a missing path may have been it)');
  const none = site(t, {}, { spa: true });
  t.match(await none.files.spaIndex(), { kind: 'refuse', status: 404, ruleLines: NOSNIFF });
  const outside = site(t, { 'app.html': 'outside' }, { spa: true });
  fs.symlinkSync(path.join(outside.dir, 'app.html'), path.join(outside.root, 'index.html'));
  t.match(await outside.files.spaIndex(), { kind: 'refuse', status: 404 }, 'a link out of the root is no SPA index');
});

t.test('notFoundPage: the site’s 404.html body, synchronously once cached; null without one', async (t) => {
  const s = site(t, { 'site/404.html': '<h1>lost</h1>' });
  t.same(await s.files.notFoundPage(), Buffer.from('<h1>lost</h1>'));
  const again = s.files.notFoundPage();
  t.notOk(again instanceof Promise, 'cached and fresh: no promise');
  t.same(again, Buffer.from('<h1>lost</h1>'));
  t.equal(await site(t, {}).files.notFoundPage(), null);
  t.equal(await site(t, { 'site/404.html': Buffer.alloc(100, 1) }, { cacheMaxFileBytes: 10 }).files.notFoundPage(), null, 'too large to keep: the built-in page');
});

t.test('ruleLinesOfPath: the header rules of the normalised path, nosniff alone for the server itself', async (t) => {
  const s = site(t, {}, { headers: [{ glob: '/x', headers: { 'X-Rule': 'x' } }, { glob: '/.hidden', headers: { 'X-Dot': 'yes' } }] });
  t.equal(s.files.ruleLinesOfPath('*'), NOSNIFF);
  t.equal(s.files.ruleLinesOfPath('/x'), `${NOSNIFF}X-Rule: x\r\n`);
  t.equal(s.files.ruleLinesOfPath('/api/%2e%2e/x'), `${NOSNIFF}X-Rule: x\r\n`, '"/api/../x" is "/x"');
  t.equal(s.files.ruleLinesOfPath('/.hidden'), `${NOSNIFF}X-Dot: yes\r\n`, 'also for a dotfile');
  t.equal(s.files.ruleLinesOfPath('/%zz'), NOSNIFF, 'a path that does not decode: no rules');
});

t.test('clean URLs: pages without .html, redirects to them', async (t) => {
  const tree = { 'site/about.html': 'about', 'site/docs/index.html': 'docs', 'site/both': 'both', 'site/both.html': 'both.html' };
  const s = site(t, tree, { cleanUrls: true, headers: [{ glob: '/about.html', headers: { 'X-Page': 'about' } }] });
  const about = await fileAt(s, '/about');
  t.equal(about.rep.path, path.join(s.root, 'about.html'));
  t.match(about.headerLines, 'X-Page: about\r\n', 'with the rules of the file’s own path');
  t.match(await s.files.lookup('/about.html', undefined), { kind: 'redirect', location: '/about' });
  t.match(await s.files.lookup('/docs/index', undefined), { kind: 'redirect', location: '/docs/' });
  t.match(await s.files.lookup('/docs/index.html', undefined), { kind: 'redirect', location: '/docs/' });
  t.same((await fileAt(s, '/both.html')).rep.body, Buffer.from('both.html'), 'a page whose bare name is a file keeps its name');
  t.match(await site(t, tree).files.lookup('/about', undefined), { kind: 'refuse', status: 404 }, 'off: /about is not there');
});

t.test('precompressed siblings: read with the file, in preference order, and chosen by Accept-Encoding', async (t) => {
  const tree = { 'site/app.css': TEXT, 'site/app.css.br': 'brotli bytes', 'site/app.css.gz': 'gzip bytes', 'site/plain.css': TEXT };
  const s = site(t, tree, { precompressed: true, compress: true });
  const e = await fileAt(s, '/app.css');
  const expected = CODING_PREFERENCE.filter((c) => c === 'br' || c === 'gzip');
  t.same(e.codings, expected);
  t.same(e.variants.map((v) => v.coding), expected);
  t.same(e.variants.map((v) => v.path), expected.map((c) => path.join(s.root, c === 'br' ? 'app.css.br' : 'app.css.gz')));
  t.equal(e.compressKey, null, 'a file that has siblings is served as the site ships it');
  t.match(e.headerLines, 'Vary: Accept-Encoding\r\n');
  t.equal(e.bytes, TEXT.length + 'brotli bytes'.length + 'gzip bytes'.length);
  const gz = e.variants[e.codings.indexOf('gzip')]!;
  const br = e.variants[e.codings.indexOf('br')]!;
  t.same(s.files.choose(e, 'gzip', false), { rep: gz, expectedCopy: null, copiesWanted: false });
  t.same(s.files.choose(e, 'gzip, br', true), { rep: br, expectedCopy: null, copiesWanted: false });
  t.same(s.files.choose(e, 'identity', false), { rep: e.rep, expectedCopy: null, copiesWanted: false });
  t.same(s.files.choose(e, undefined, false), { rep: e.rep, expectedCopy: null, copiesWanted: false });
  t.same((await fileAt(site(t, tree), '/app.css')).variants, [], 'precompressed off: no siblings');
  const outside = site(t, { 'site/x.css': TEXT, 'x.css.gz': 'outside' }, { precompressed: true });
  fs.symlinkSync(path.join(outside.dir, 'x.css.gz'), path.join(outside.root, 'x.css.gz'));
  t.same((await fileAt(outside, '/x.css')).variants, [], 'a sibling linking out of the root is not served');
});

t.test('compressed copies: which files, the copy chosen once ready, and the copy expected before', async (t) => {
  const tree = { 'site/app.css': TEXT, 'site/small.css': 'a{}', 'site/pic.png': Buffer.alloc(4000, 1), 'site/big.css': TEXT + TEXT };
  const s = site(t, tree, { compress: true, compressMaxBytes: TEXT.length });
  const e = await fileAt(s, '/app.css');
  t.not(e.compressKey, null, 'a text file within the bounds');
  t.match(e.headerLines, 'Vary: Accept-Encoding\r\n', 'every answer says so, the uncompressed one too');
  for (const name of ['/small.css', '/pic.png', '/big.css']) t.equal((await fileAt(s, name)).compressKey, null, `${name}: not compressed`);
  t.notMatch((await fileAt(s, '/small.css')).headerLines, 'Vary');
  t.same(s.files.choose(e, 'br', false), { rep: e.rep, expectedCopy: null, copiesWanted: true }, 'none ready: the file itself, and copies wanted');
  t.same(s.files.choose(e, undefined, true), { rep: e.rep, expectedCopy: null, copiesWanted: false }, 'no Accept-Encoding: nothing wanted');
  const expected = s.files.choose(e, 'br', true).expectedCopy!;
  t.equal(expected.etag, generatedEtag(e.rep.etag, 'br', compressionLevel('br', e.rep.size, 5)), 'If-None-Match: the ETag of the copy to come');
  t.equal(s.files.choose(e, 'identity', true).expectedCopy, null, 'nothing to expect when no coding is accepted');
  s.files.startCompression(e);
  await until(() => s.lines.filter((l) => l.msg === 'compressed').length === GENERATED_CODINGS.length, 5000);
  const chosen = s.files.choose(e, 'br', true);
  t.equal(chosen.rep.coding, 'br');
  t.equal(chosen.rep.etag, expected.etag, 'the copy has the ETag that was expected');
  t.same(zlib.brotliDecompressSync(chosen.rep.body!), Buffer.from(TEXT));
  t.same({ expectedCopy: chosen.expectedCopy, copiesWanted: chosen.copiesWanted }, { expectedCopy: null, copiesWanted: false });
  t.equal(s.files.choose(e, 'identity', false).rep, e.rep);
  t.equal(s.files.choose(e, 'gzip', false).rep.coding, 'gzip');
  t.ok(s.files.cacheSize.bytes > e.bytes, 'the copies are in the file cache');
  const off = await fileAt(site(t, tree), '/app.css');
  t.equal(off.compressKey, null, 'compress off');
});

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!what()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('out of descriptors: rejects and caches nothing; the next lookup tries again', async (t) => {
  const s = site(t, { 'site/a.txt': 'a' });
  const f = path.join(s.root, 'a.txt');
  let fail = true;
  onPath(t, 'realpath', f, (real) => (async (...a: Parameters<typeof real>) => {
    if (fail) throw errno('EMFILE');
    return real(...a);
  }) as typeof real);
  await t.rejects(s.files.lookup('/a.txt', undefined), { code: 'EMFILE' });
  t.equal(s.files.cached('/a.txt'), undefined, 'not cached');
  fail = false;
  t.match(await s.files.lookup('/a.txt', undefined), { kind: 'file' }, 'looked up again');
});

t.test('an I/O error: a 500 refusal, logged with the path', async (t) => {
  const s = site(t, { 'site/a.txt': 'a' });
  const f = path.join(s.root, 'a.txt');
  onPath(t, 'realpath', f, () => (async () => {
    throw errno('EIO');
  }) as never);
  t.match(await s.files.lookup('/a.txt', undefined), { kind: 'refuse', status: 500, ruleLines: '' });
  const logged = s.lines.filter((l) => l.level === 'error');
  t.equal(logged.length, 1);
  t.match(logged[0], { msg: 'file lookup failed', fields: { path: f, err: { code: 'EIO' } } });
});

t.test('a file that changes between stat and read is looked at again; one that keeps changing rejects, uncached', async (t) => {
  const s = site(t, { 'site/a.txt': 'first' });
  const f = path.join(s.root, 'a.txt');
  let rewrites = 1;
  let n = 0;
  onPath(t, 'open', f, (real) => ((...a: Parameters<typeof real>) => {
    if (rewrites > 0) {
      rewrites--;
      fs.writeFileSync(f, `changed ${'!'.repeat(++n)}`); // a new size each time: a new version, however coarse the clock
    }
    return real(...a);
  }) as typeof real);
  const e = await fileAt(s, '/a.txt');
  t.same(e.rep.body, Buffer.from('changed !'), 'the version read is the one stat() saw');
  fs.writeFileSync(f, 'a new version');
  rewrites = Infinity;
  await t.rejects(s.files.lookup('/a.txt', e), FileChangedError, 'gives up (a 503 for this request)');
  t.equal(n, 4, 'after the first read and two more');
  t.equal(s.files.cached('/a.txt'), e, 'what was cached stays; nothing torn is stored');
  rewrites = 0;
  t.same((await fileAt(s, '/a.txt')).rep.body, Buffer.from('changed !!!!'), 'the next lookup tries again');
});

t.test('the cache: bounded by entries and bytes, off with cacheMaxEntries 0', async (t) => {
  const tree = { 'site/a.txt': 'aaaa', 'site/b.txt': 'bbbb', 'site/c.txt': 'cccc' };
  const s = site(t, tree, { cacheMaxEntries: 2 });
  for (const p of ['/a.txt', '/b.txt', '/c.txt']) await s.files.lookup(p, undefined);
  t.same(s.files.cacheSize, { entries: 2, bytes: 8 });
  t.equal(s.files.cached('/a.txt'), undefined, 'the least recently used went');
  const off = site(t, tree, { cacheMaxEntries: 0 });
  t.match(await off.files.lookup('/a.txt', undefined), { kind: 'file' }, 'still answered');
  t.same(off.files.cacheSize, { entries: 0, bytes: 0 });
  const entry: Entry | undefined = off.files.cached('/a.txt');
  t.equal(entry, undefined);
});

t.test('a file swapped for a link out of the root while it is read is not served (the retry keeps the symlink policy)', async (t) => {
  for (const symlinks of ['inside-root', 'deny'] as const) {
    const s = site(t, { 'secret.txt': 'outside the root, longer', 'site/a.txt': 'inside' }, { symlinks });
    const f = path.join(s.root, 'a.txt');
    let swapped = false;
    onPath(t, 'open', f, (real) => ((...a: Parameters<typeof real>) => {
      if (!swapped) {
        swapped = true;
        fs.unlinkSync(f);
        fs.symlinkSync(path.join(s.dir, 'secret.txt'), f);
      }
      return real(...a);
    }) as typeof real);
    const e = await s.files.lookup('/a.txt', undefined);
    t.ok(swapped, `${symlinks}: swapped between stat and read`);
    t.match(e, { kind: 'refuse', status: 404 }, `${symlinks}: refused as a link out of the root would be`);
    t.notMatch(e.kind === 'file' ? e.rep.body?.toString() : '', 'outside', `${symlinks}: the outside file's bytes are not served`);
  }
});
