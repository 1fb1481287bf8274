// files/entry.ts: a file's Content-Type, its fields after the header rules and CORS, the
// lines a 404 or OPTIONS carries, and reading one representation (bytes, validators, reuse
// of an unchanged version, a file that changes while read) — real files in a test directory.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { FileChangedError } from '../../../src/errors';
import { etagOfBytes, identityOf, type Representation } from '../../../src/files/cache';
import { contentTypeOf, fileFields, readRepresentation, ruleLinesFor, type FileHeaderPolicy } from '../../../src/files/entry';
import { compileHeaderRules, type HeaderRule } from '../../../src/http/cache-policy';
import { compileImmutablePaths } from '../../../src/http/immutable-paths';

const NOSNIFF = 'X-Content-Type-Options: nosniff\r\n';

function policy(over: Partial<FileHeaderPolicy> = {}, rules: HeaderRule[] = []): FileHeaderPolicy {
  return {
    cacheControl: 'no-cache',
    immutableCacheControl: 'public, max-age=31536000, immutable',
    isImmutable: compileImmutablePaths(['/assets/**']),
    headersFor: compileHeaderRules(rules),
    corsLines: '',
    corsVary: '',
    ...over,
  };
}

t.test('contentTypeOf: the type by extension, with charset=utf-8 for text and the textual types mime-types has none for', async (t) => {
  const cases: [string, string][] = [
    ['/site/index.html', 'text/html; charset=utf-8'],
    ['/site/PAGE.HTML', 'text/html; charset=utf-8'],
    ['a.css', 'text/css; charset=utf-8'],
    ['a.js', 'text/javascript; charset=utf-8'],
    ['a.json', 'application/json; charset=utf-8'],
    ['a.webmanifest', 'application/manifest+json; charset=utf-8'],
    ['a.svg', 'image/svg+xml; charset=utf-8'],
    ['a.xml', 'application/xml; charset=utf-8'],
    ['a.png', 'image/png'],
    ['a.wasm', 'application/wasm'],
    ['/site/README', 'application/octet-stream'],
    ['archive.unknownext', 'application/octet-stream'],
  ];
  for (const [file, type] of cases) t.equal(contentTypeOf(file), type, file);
});

t.test('fileFields: the server’s own fields; immutable paths get the immutable Cache-Control', async (t) => {
  t.same(fileFields(policy(), '/site/a.css', '/a.css'), { contentType: 'text/css; charset=utf-8', cacheControl: 'no-cache', vary: '', nosniff: NOSNIFF, configured: '' });
  t.equal(fileFields(policy(), '/site/assets/app.js', '/assets/app.js').cacheControl, 'public, max-age=31536000, immutable');
  t.equal(fileFields(policy({ immutableCacheControl: '' }), '/site/assets/app.js', '/assets/app.js').cacheControl, 'no-cache', 'no immutable value configured: the plain one');
  t.equal(fileFields(policy(), '/site/assets/app.js', '/other/app.js').cacheControl, 'no-cache', 'by URL path, not file name');
});

t.test('fileFields: Vary from the caller and from CORS, in that order; CORS lines first among the configured', async (t) => {
  t.equal(fileFields(policy(), 'f.html', '/f.html', 'Accept').vary, 'Accept');
  t.equal(fileFields(policy({ corsVary: 'Origin' }), 'f.html', '/f.html').vary, 'Origin');
  t.equal(fileFields(policy({ corsVary: 'Origin' }), 'f.html', '/f.html', 'Accept').vary, 'Accept, Origin');
  const cors = 'Access-Control-Allow-Origin: *\r\n';
  const rules = [{ glob: '**', headers: { 'X-Frame-Options': 'DENY' } }];
  t.equal(fileFields(policy({ corsLines: cors }, rules), 'f.html', '/f.html').configured, cors + 'X-Frame-Options: DENY\r\n');
});

t.test('fileFields: a rule replaces Cache-Control, Content-Type and nosniff, merges Vary, adds the rest in order', async (t) => {
  const rules: HeaderRule[] = [
    { glob: '/data/**', headers: { 'cache-control': 'public, max-age=60', 'Content-Type': 'text/csv', 'X-Content-Type-Options': 'nosniff' } },
    { glob: '**/*.csv', headers: { Vary: 'Accept-Language', 'X-One': '1' } },
    { glob: '**', headers: { 'X-Two': '2' } },
  ];
  const f = fileFields(policy({ corsVary: 'Origin' }, rules), '/site/data/x.csv', '/data/x.csv', 'Accept');
  t.same(f, {
    contentType: 'text/csv',
    cacheControl: 'public, max-age=60',
    vary: 'Accept, Origin, Accept-Language',
    nosniff: 'X-Content-Type-Options: nosniff\r\n',
    configured: 'X-One: 1\r\nX-Two: 2\r\n',
  });
  // The rule's own spelling of nosniff's name is kept (it replaces the server's line).
  const spelled = fileFields(policy({}, [{ glob: '**', headers: { 'x-content-type-options': 'nosniff' } }]), 'a.txt', '/a.txt');
  t.equal(spelled.nosniff, 'x-content-type-options: nosniff\r\n');
  t.equal(fileFields(policy({}, [{ glob: '**', headers: { Vary: 'Cookie' } }]), 'a.txt', '/a.txt').vary, 'Cookie', 'a rule’s Vary alone');
  t.same(fileFields(policy({}, rules), '/site/other.txt', '/other.txt').configured, 'X-Two: 2\r\n', 'only matching rules');
});

t.test('ruleLinesFor: nosniff, one Vary line, the rules’ other fields — never their Cache-Control or Content-Type', async (t) => {
  const rules: HeaderRule[] = [
    { glob: '/api/**', headers: { 'Cache-Control': 'max-age=600', 'Content-Type': 'text/css', 'Access-Control-Allow-Origin': '*', Vary: 'Cookie' } },
    { glob: '**', headers: { 'X-Content-Type-Options': 'nosniff', 'X-Extra': 'yes' } },
  ];
  const match = compileHeaderRules(rules);
  t.equal(ruleLinesFor(match, null), NOSNIFF, 'no path (undecodable, or the server itself): nosniff alone');
  t.equal(ruleLinesFor(match, null, 'Accept'), NOSNIFF + 'Vary: Accept\r\n');
  t.equal(ruleLinesFor(compileHeaderRules([]), '/x'), NOSNIFF);
  t.equal(ruleLinesFor(match, '/api/v1', 'Accept'), 'X-Content-Type-Options: nosniff\r\nVary: Accept, Cookie\r\nAccess-Control-Allow-Origin: *\r\nX-Extra: yes\r\n');
  t.equal(ruleLinesFor(match, '/page'), 'X-Content-Type-Options: nosniff\r\nX-Extra: yes\r\n');
  t.equal(ruleLinesFor(compileHeaderRules([{ glob: '**', headers: { Vary: 'Cookie' } }]), '/x'), NOSNIFF + 'Vary: Cookie\r\n');
});

// mtime 2023-11-14T22:13:20.789Z: Last-Modified has whole seconds.
const MTIME_S = 1700000000.789;
const LAST_MODIFIED = 'Tue, 14 Nov 2023 22:13:20 GMT';

t.test('readRepresentation: a small file with its bytes, a strong ETag and Last-Modified in whole seconds', async (t) => {
  const dir = t.testdir({ 'a.txt': 'hello world' });
  const f = path.join(dir, 'a.txt');
  fs.utimesSync(f, MTIME_S, MTIME_S);
  const st = fs.statSync(f);
  const rep = await readRepresentation(f, st, null, undefined, 1024);
  t.same(rep.body, Buffer.from('hello world'));
  t.match(rep, { path: f, coding: null, size: 11, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, lastModifiedMs: 1700000000000 });
  t.match(rep.etag, /^"[A-Za-z0-9_-]{32}"$/);
  t.equal(rep.etag, etagOfBytes(identityOf(st), Buffer.from('hello world')), 'the hash of its bytes');
  t.equal(rep.validatorLines, `ETag: ${rep.etag}\r\nLast-Modified: ${LAST_MODIFIED}\r\n`);
  const br = await readRepresentation(f, st, 'br', undefined, 1024);
  t.equal(br.coding, 'br', 'a precompressed sibling carries its coding');
  t.same(await readRepresentation(f, st, null, undefined, 11).then((r) => r.body?.length), 11, 'exactly maxBodyBytes: still kept');
});

t.test('readRepresentation: above maxBodyBytes no bytes are kept, and the ETag is the same hash of the contents', async (t) => {
  const content = Buffer.alloc(3000, 'abc');
  const dir = t.testdir({ 'small.bin': content, 'large.bin': content });
  const small = await readRepresentation(path.join(dir, 'small.bin'), fs.statSync(path.join(dir, 'small.bin')), null, undefined, 4096);
  const large = await readRepresentation(path.join(dir, 'large.bin'), fs.statSync(path.join(dir, 'large.bin')), null, undefined, 2999);
  t.equal(large.body, null);
  t.equal(large.size, 3000);
  t.equal(large.etag, small.etag, 'same bytes, same ETag, whether read whole or hashed in chunks');
  t.not(large.ino, small.ino, 'two files (the tag was computed twice, not looked up)');
});

t.test('readRepresentation: an unchanged version is the previous representation, read again never', async (t) => {
  const dir = t.testdir({ 'a.txt': 'version one' });
  const f = path.join(dir, 'a.txt');
  const st = fs.statSync(f);
  const first = await readRepresentation(f, st, null, undefined, 1024);
  // A previous whose body differs from the file: returned as it is, so nothing was read.
  const previous: Representation = { ...first, body: Buffer.from('kept from before') };
  t.equal(await readRepresentation(f, st, null, previous, 1024), previous, 'the very object');

  // A hard link is the same version (device, inode, size, mtime) under another path: read on its own.
  const link = path.join(dir, 'link.txt');
  fs.linkSync(f, link);
  const viaLink = await readRepresentation(link, fs.statSync(link), null, previous, 1024);
  t.not(viaLink, previous);
  t.equal(viaLink.path, link);
  t.same(viaLink.body, Buffer.from('version one'));

  fs.writeFileSync(f, 'version two!');
  fs.utimesSync(f, MTIME_S + 10, MTIME_S + 10);
  const changed = await readRepresentation(f, fs.statSync(f), null, previous, 1024);
  t.not(changed, previous, 'a new version is read');
  t.same(changed.body, Buffer.from('version two!'));
  t.not(changed.etag, first.etag);
});

t.test('readRepresentation: a file that is not the version stat() described: FileChangedError; a missing one: ENOENT', async (t) => {
  const dir = t.testdir({ 'a.txt': 'before', 'big.bin': Buffer.alloc(5000, 1) });
  const f = path.join(dir, 'a.txt');
  const st = fs.statSync(f);
  fs.writeFileSync(f, 'after, longer');
  await t.rejects(readRepresentation(f, st, null, undefined, 1024), new FileChangedError(`${f} changed while it was read`), 'small: read whole, checked');
  const big = path.join(dir, 'big.bin');
  const bigSt = fs.statSync(big);
  fs.writeFileSync(big, Buffer.alloc(6000, 2));
  await t.rejects(readRepresentation(big, bigSt, null, undefined, 1024), FileChangedError, 'large: hashed, checked');
  fs.unlinkSync(f);
  await t.rejects(readRepresentation(f, st, null, undefined, 1024), { code: 'ENOENT' });
});
