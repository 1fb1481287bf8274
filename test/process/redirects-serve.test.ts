// Process tests: `redirects` rules answered by the real server over raw TCP, before the file
// lookup — exact and prefix rules with :splat, every status, the query kept, HEAD, the
// spellings that must not dodge a rule and the ones that must not make an open redirect —
// and a bad rule refused at start (exit 2, its one line).
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { makeSite, spawnServer, startServer } from '../fixtures/server';
import { exchange, one } from '../fixtures/semantics';

/** One GET per path, each with the status and Location expected (a 400 closes the connection, so no sentinel follows it). */
async function expectAnswers(t: Test, port: number, cases: [string, number, string | undefined][]): Promise<void> {
  for (const [p, status, location] of cases) {
    const r = status === 400 ? (await exchange(port, [{ path: p }], { sentinel: false }))[0]! : await one(port, p);
    t.same([r.status, r.headers.location], [status, location], p);
    if (location?.startsWith('/')) t.match(location, /^\/(?![/\\])/, `${p}: exactly one leading "/"`);
  }
}

const RULES = [
  { from: '/old', to: '/new.html' },
  { from: '/found', to: '/new.html', status: 302 },
  { from: '/temp', to: '/new.html?via=temp', status: 307 },
  { from: '/perm', to: '/new.html#top', status: 308 },
  { from: '/blog/**', to: 'https://blog.example.com/:splat' },
  { from: '/docs/**', to: '/manual/:splat' },
  { from: '/flat/**', to: '/:splat' },
  // A file of this name exists: the rule comes first.
  { from: '/shadowed.html', to: '/new.html' },
];

t.test('redirect rules', async (t) => {
  const root = makeSite(t, { 'new.html': 'new\n', 'shadowed.html': 'never served\n', 'secret.html': 'secret\n', 'manual/a b.html': 'manual\n' });
  const config = path.join(path.dirname(root), 'config.json');
  fs.writeFileSync(config, JSON.stringify({ redirects: RULES }));
  const s = await startServer(t, { root, args: ['--config', config] });

  t.test('exact rules, each status, the query kept and joined to the target\'s', async (t) => {
    const cases: [string, number, string][] = [
      ['/old', 301, '/new.html'],
      ['/old/', 301, '/new.html'],
      ['/old?a=1&b=2', 301, '/new.html?a=1&b=2'],
      ['/found?x', 302, '/new.html?x'],
      ['/temp', 307, '/new.html?via=temp'],
      ['/temp?a=1', 307, '/new.html?via=temp&a=1'],
      ['/perm?a=1', 308, '/new.html?a=1#top'],
      ['/shadowed.html', 301, '/new.html'],
    ];
    const rs = await exchange(s.port, cases.map(([p]) => ({ path: p })));
    cases.forEach(([p, status, location], i) => {
      const r = rs[i]!;
      t.equal(r.statusLine.split(' ')[1], String(status), `${p}: ${status}`);
      t.equal(r.headers.location, location, `${p}: Location`);
      t.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      t.match(r.body.toString(), `Moved to ${location.replace(/&/g, '&#38;')}`, `${p}: a page saying where`);
    });
    const [head] = await exchange(s.port, [{ path: '/old', method: 'HEAD' }]);
    t.equal(head!.status, 301, 'HEAD is redirected too');
    t.equal(head!.body.length, 0, 'without a body (the sentinel after it parsed)');
  });

  t.test('prefix rules: the rest of the path is :splat, percent-encoded again', async (t) => {
    const cases: [string, string][] = [
      ['/blog/2024/hello?ref=x', 'https://blog.example.com/2024/hello?ref=x'],
      ['/blog', 'https://blog.example.com/'],
      ['/blog/a%20b/caf%C3%A9/', 'https://blog.example.com/a%20b/caf%C3%A9/'],
      ['/blog/a%3fb', 'https://blog.example.com/a%3Fb'],
      ['/docs/a%20b.html', '/manual/a%20b.html'],
    ];
    const rs = await exchange(s.port, cases.map(([p]) => ({ path: p })));
    cases.forEach(([p, location], i) => t.same([rs[i]!.status, rs[i]!.headers.location], [301, location], p));
    t.equal((await one(s.port, '/manual/a%20b.html')).body.toString(), 'manual\n', 'where it leads is served');
  });

  t.test('no spelling of a path dodges its rule, and none turns a rule into something else', async (t) => {
    const cases: [string, number, string | undefined][] = [
      ['/%6Fld', 301, '/new.html'],
      ['//old', 301, '/new.html'],
      ['/x/../old', 301, '/new.html'],
      ['/./old', 301, '/new.html'],
      ['/shadowed%2Ehtml', 301, '/new.html'],
      ['/old/../secret.html', 200, undefined], // is /secret.html: no rule for it
      ['/docs/../secret.html', 200, undefined],
      ['/blog/..%2Fsecret.html', 200, undefined], // decodes to /secret.html
      ['/old%ZZ', 400, undefined], // not a path at all: the lookup's 400
      ['/%2e%2e/old', 400, undefined],
    ];
    await expectAnswers(t, s.port, cases);
  });

  t.test('a local rule never answers with a Location that leaves the site', async (t) => {
    const cases: [string, number, string | undefined][] = [
      ['/flat//evil.example', 301, '/evil.example'],
      ['/flat/%2F%2Fevil.example', 301, '/evil.example'],
      ['/flat/%2Fevil.example/x', 301, '/evil.example/x'],
      ['/flat/./%2F/evil.example', 301, '/evil.example'],
      ['/flat/%5Cevil.example', 400, undefined],
      ['/flat/%5C%5Cevil.example', 400, undefined],
      ['/flat/http:%2F%2Fevil.example', 301, '/http%3A/evil.example'],
      ['/flat', 301, '/'],
    ];
    await expectAnswers(t, s.port, cases);
  });
});

t.test('a bad rule: exit 2 before anything starts, one line naming the rule', async (t) => {
  const root = makeSite(t, { 'index.html': 'x\n' });
  const config = path.join(path.dirname(root), 'bad.json');
  fs.writeFileSync(config, JSON.stringify({ redirects: [{ from: '/a', to: '/b' }, { from: '/x/*', to: '/y' }] }));
  for (const extra of [['--check-config'], []]) {
    const p = spawnServer({ args: ['--host', '127.0.0.1', '--port', '0', '--root', root, '--config', config, ...extra] });
    t.teardown(() => p.kill());
    const { code } = await p.exited(10_000);
    t.equal(code, 2, `${extra.join(' ') || 'a start'}: exit 2`);
    t.equal(p.stderr(), 'fleetserve: redirects: rule #2 (from "/x/*"): "from" may only end in "/**" (a prefix); no other glob is supported\n', 'the one line');
    t.equal(p.stdout(), '', 'nothing started');
  }
});
