// Directory listings: sorting, escaping, links that lead back to the files, headers, dates.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { formatListingDate, formatSize, parseListingQuery, renderListing, sortListing, type ListingItem } from '../../src/files/listing';
import { hasResponses, makeSite, parseResponses, rawExchange, req, startServer } from '../fixtures/server';

const T0 = Date.UTC(2026, 10, 28, 14, 3, 27);

t.test('query: ?sort=name|size|date&order=asc|desc, strictly', (t) => {
  t.same(parseListingQuery(''), { sort: 'name', order: 'asc' });
  t.same(parseListingQuery('?sort=size'), { sort: 'size', order: 'desc' }, 'size starts with the largest');
  t.same(parseListingQuery('?sort=date'), { sort: 'date', order: 'desc' }, 'date starts with the newest');
  t.same(parseListingQuery('?order=desc'), { sort: 'name', order: 'desc' });
  t.same(parseListingQuery('?sort=date&order=asc&v=3'), { sort: 'date', order: 'asc' }, 'other parameters are ignored');
  t.match(parseListingQuery('?sort=SIZE'), { error: /sort must be name, size or date/ });
  t.match(parseListingQuery('?sort='), { error: /sort must be/ });
  t.match(parseListingQuery('?order=up'), { error: /order must be asc or desc/ });
  t.match(parseListingQuery('?sort=name&sort=size'), { error: /once/ });
  t.end();
});

t.test('sorting keeps directories first', (t) => {
  const items = (): ListingItem[] => [
    { name: 'b.txt', directory: false, size: 10, mtimeMs: T0 + 2000 },
    { name: 'A.txt', directory: false, size: 300, mtimeMs: T0 },
    { name: 'zdir', directory: true, size: 0, mtimeMs: T0 - 5000 },
    { name: 'c.txt', directory: false, size: 10, mtimeMs: T0 + 9000 },
    { name: 'adir', directory: true, size: 0, mtimeMs: T0 + 5000 },
  ];
  const names = (by: Parameters<typeof sortListing>[1]) => sortListing(items(), by).map((i) => i.name);
  t.same(names(undefined), ['adir', 'zdir', 'A.txt', 'b.txt', 'c.txt']);
  t.same(names({ sort: 'name', order: 'desc' }), ['zdir', 'adir', 'c.txt', 'b.txt', 'A.txt']);
  t.same(names({ sort: 'size', order: 'desc' }), ['zdir', 'adir', 'A.txt', 'c.txt', 'b.txt'], 'equal sizes by name, same direction');
  t.same(names({ sort: 'size', order: 'asc' }), ['adir', 'zdir', 'b.txt', 'c.txt', 'A.txt']);
  t.same(names({ sort: 'date', order: 'desc' }), ['adir', 'zdir', 'c.txt', 'b.txt', 'A.txt']);
  t.same(names({ sort: 'date', order: 'asc' }), ['zdir', 'adir', 'A.txt', 'b.txt', 'c.txt']);
  t.end();
});

t.test('sizes and dates read like a person writes them', (t) => {
  t.equal(formatSize(0), '0 B');
  t.equal(formatSize(1023), '1023 B');
  t.equal(formatSize(1234), '1.2 KiB');
  t.equal(formatSize(1500000), '1.4 MiB');
  t.equal(formatSize(200 * 1024 * 1024), '200 MiB');
  t.equal(formatListingDate(T0), '2026-11-28 14:03');
  t.end();
});

t.test('the HTML: headers that sort, the active one marked, sort kept in directory links', (t) => {
  const items: ListingItem[] = [
    { name: 'sub dir', directory: true, size: 0, mtimeMs: T0 },
    { name: 'f.txt', directory: false, size: 2500, mtimeMs: T0 },
  ];
  const html = renderListing('/a b/c/', items, 'html', { sort: 'size', order: 'desc' }).toString();
  t.match(html, '<th class="name"><a href="?sort=name&amp;order=asc">Name</a></th>');
  t.match(html, '<th class="size" aria-sort="descending"><a href="?sort=size&amp;order=asc">Size ↓</a></th>', 'clicking the active column reverses it');
  t.match(html, '<th class="date"><a href="?sort=date&amp;order=desc">Modified (UTC)</a></th>');
  t.match(html, '<a href="sub%20dir/?sort=size&#38;order=desc">sub dir/</a>', 'a directory link keeps the sort');
  t.match(html, '<a href="../?sort=size&#38;order=desc">../</a>', 'so does the parent link');
  t.match(html, '<a href="f.txt">f.txt</a></td><td class="size">2.4 KiB</td><td class="date"><time datetime="2026-11-28T14:03:27.000Z">2026-11-28 14:03</time>');
  t.match(html, '<h1>Index of <a href="/">/</a><a href="/a%20b/">a b/</a><a href="/a%20b/c/">c/</a></h1>', 'every level above is a link');
  t.match(html, /\.size,\.date\{white-space:nowrap\}/, 'only the name may wrap');
  t.notMatch(html, /break-all/);
  const plain = renderListing('/', items, 'html').toString();
  t.match(plain, '<a href="sub%20dir/">', 'the default sort adds no query');
  t.notMatch(plain, '../', 'no parent at the root');
  t.end();
});

t.test('a real server: odd names listed, escaped, and their links lead to the files', async (t) => {
  const long = 'L'.repeat(196) + '.txt';
  const odd = ['with space.txt', '<b>x&y.txt', '100%.txt', 'hash#tag.txt', 'what?.txt', '🎉 party.txt', 'quote"s\'.txt', long];
  const files: Record<string, string> = { 'sub dir/inner.txt': 'inner\n', 'big.bin': 'x'.repeat(3000) };
  for (const name of odd) files[name] = `body of ${name}\n`;
  const root = makeSite(t, files);
  fs.utimesSync(path.join(root, 'big.bin'), T0 / 1000, T0 / 1000);
  const s = await startServer(t, { root, args: ['--listing', 'true'] });
  const get = async (target: string, extra = '') => {
    const { data } = await rawExchange(s.port, req(target, extra), { until: hasResponses(1) });
    return parseResponses(data)[0]!;
  };
  const page = await get('/');
  t.equal(page.status, 200);
  const html = page.body.toString('utf8');
  t.notMatch(html, /<b>x/, 'no name is written raw');
  const links = [...html.matchAll(/<td class="name"><a href="([^"]+)">([^<]*)<\/a>/g)].map((m) => ({ href: m[1]!, label: m[2]! }));
  t.equal(links.length, odd.length + 2, 'every entry is listed');
  const unescape = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  for (const name of odd) {
    const link = links.find((l) => unescape(l.label) === name);
    t.ok(link, `${name} is listed under its own name`);
    if (!link) continue;
    const href = unescape(link.href);
    t.match(href, /^[A-Za-z0-9%._~!*'()-]+$/, `${name}: the link has nothing a browser would cut at (# ?) or re-read`);
    const r = await get('/' + href);
    t.equal(r.status, 200, `${name}: the link leads to the file`);
    t.equal(r.body.toString('utf8'), `body of ${name}\n`, `${name}: and to that file`);
  }
  t.match(html, '<a href="big.bin">big.bin</a></td><td class="size">2.9 KiB</td><td class="date"><time datetime="2026-11-28T14:03:27.000Z">2026-11-28 14:03</time>');
  const bySize = (await get('/?sort=size&order=desc')).body.toString('utf8');
  const order = [...bySize.matchAll(/<td class="name"><a href="([^"]+)">/g)].map((m) => m[1]!);
  t.same(order.slice(0, 2), ['sub%20dir/?sort=size&#38;order=desc', 'big.bin'], 'directories, then the largest file');
  const sub = await get('/sub%20dir/?sort=date');
  t.match(sub.body.toString('utf8'), '<a href="../?sort=date&#38;order=desc">../</a>');
  t.match(sub.body.toString('utf8'), '<a href="inner.txt">inner.txt</a>');
  const bad = await get('/?sort=%3Cscript%3E');
  t.equal(bad.status, 400, 'a sort the server never links to');
  t.match(bad.body.toString('utf8'), 'sort must be name, size or date, not &#34;&#60;script&#62;&#34;');
  t.equal(bad.headers.connection, undefined, 'the connection stays open');
  const json = JSON.parse((await get('/?sort=size', 'Accept: application/json\r\n')).body.toString('utf8')) as { entries: { name: string }[] };
  t.same(json.entries.slice(0, 2).map((e) => e.name), ['sub dir', 'big.bin'], 'JSON follows the same sort');
});
