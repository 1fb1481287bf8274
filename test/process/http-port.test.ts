// The plain-HTTP port beside the main one (httpPort, src/process/http-port.ts): exact 308
// Locations, the health path, ACME challenges served as files, httpRedirect false serving the
// site, never Strict-Transport-Security, a clear error for a port in use, and the drain closing
// both listeners. The main listener does not speak TLS in this branch yet (another change
// wires it): the Location's port is the main listener's bound port either way.
import net from 'node:net';
import t, { type Test } from 'tap';
import { makeSite, parseResponses, rawExchange, spawnServer, startServer, type Server } from '../fixtures/server';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';
import { freePort, tryRequest } from '../fixtures/wire';

async function get(port: number, target: string, host: string | null, method = 'GET') {
  const hostLine = host === null ? '' : `Host: ${host}\r\n`;
  const { data } = await rawExchange(port, `${method} ${target} HTTP/1.1\r\n${hostLine}Connection: close\r\n\r\n`);
  const [r] = parseResponses(data, () => method === 'HEAD');
  return r!;
}

async function start(t: Test, pki: TestPki, extra: string[] = [], workers = 1): Promise<{ s: Server; httpPort: number }> {
  const root = makeSite(t, { 'index.html': 'home', 'a.html': 'page a', '.well-known/acme-challenge/tok3n': 'tok3n.thumbprint' });
  const httpPort = await freePort();
  const s = await startServer(t, { root, workers, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--http-port', String(httpPort), ...extra] });
  return { s, httpPort };
}

t.test('httpPort', { skip: opensslSkip }, (t) => {
  const pki = makeTestPki(t);

  t.test('every request: 308 to https://HOST:PORT TARGET, exact', async (t) => {
    const { s, httpPort } = await start(t, pki);
    const cases: [string, string | null, string][] = [
      ['/a.html', 'example.com', `https://example.com:${s.port}/a.html`],
      ['/a.html?q=a%20b&x=1', 'example.com:8080', `https://example.com:${s.port}/a.html?q=a%20b&x=1`],
      ['/missing/?x', '127.0.0.1', `https://127.0.0.1:${s.port}/missing/?x`],
      ['/', '[::1]:80', `https://[::1]:${s.port}/`],
      ['http://other.example/p?y=2', 'other.example', `https://other.example:${s.port}/p?y=2`],
    ];
    for (const [target, host, location] of cases) {
      const r = await get(httpPort, target, host);
      t.equal(r.status, 308, `${target} ${host}`);
      t.equal(r.headers.location, location, `${target} ${host}`);
      t.notOk('strict-transport-security' in r.headers, 'no HSTS on the plain port');
    }
    const head = await get(httpPort, '/a.html', 'example.com', 'HEAD');
    t.equal(head.status, 308);
    t.equal(head.headers.location, `https://example.com:${s.port}/a.html`);
    t.equal((await get(httpPort, '/a.html', 'user@example.com')).status, 400, 'an unusable Host: 400');
  });

  t.test('health path, ACME challenges, with HSTS configured: still never on the plain port', async (t) => {
    const { httpPort } = await start(t, pki, ['--hsts', 'max-age=63072000']);
    const health = await get(httpPort, '/healthz', 'example.com');
    t.equal(health.status, 200);
    t.equal(health.body.toString(), 'ok\n');
    const acme = await get(httpPort, '/.well-known/acme-challenge/tok3n', 'example.com');
    t.equal(acme.status, 200);
    t.equal(acme.body.toString(), 'tok3n.thumbprint');
    t.equal((await get(httpPort, '/.well-known/acme-challenge/none', 'example.com')).status, 404);
    for (const r of [health, acme]) t.notOk('strict-transport-security' in r.headers);
  });

  t.test('httpRedirect false: the site on the plain port', async (t) => {
    const { httpPort } = await start(t, pki, ['--http-redirect', 'false']);
    const r = await get(httpPort, '/a.html', 'example.com');
    t.equal(r.status, 200);
    t.equal(r.body.toString(), 'page a');
    t.notOk('strict-transport-security' in r.headers);
  });

  t.test('httpPort in use: the listen error names it, no "listening" line, exit not 0', async (t) => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    t.teardown(() => taken.close());
    const busy = (taken.address() as net.AddressInfo).port;
    const root = makeSite(t, { 'index.html': 'x' });
    const s = spawnServer({ args: ['--host', '127.0.0.1', '--port', '0', '--workers', '1', '--log-pretty', 'false', '--root', root, '--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--http-port', String(busy)] });
    t.teardown(() => s.kill());
    const { code } = await s.exited(10000);
    t.not(code, 0);
    t.equal(s.stderr(), `fleetserve: port ${busy} on 127.0.0.1 is already in use\n`);
    t.notOk(s.logs.some((l) => l.msg.startsWith('listening on')), 'never announced');
  });

  t.test('the drain closes both listeners (2 workers)', (t) => drainClosesBoth(t, pki, 2));
  t.test('the drain closes both listeners (single process)', (t) => drainClosesBoth(t, pki, 0));
  t.end();
});

async function drainClosesBoth(t: Test, pki: TestPki, workers: number): Promise<void> {
  const { s, httpPort } = await start(t, pki, [], workers);
  t.equal((await get(httpPort, '/a.html?x', 'example.com')).headers.location, `https://example.com:${s.port}/a.html?x`);
  t.equal((await get(httpPort, '/', 'example.com')).status, 308);
  s.signalGroup('SIGTERM');
  t.same(await s.exited(10000), { code: 0, signal: null });
  t.equal((await tryRequest(httpPort)).outcome, 'refused');
  t.equal((await tryRequest(s.port)).outcome, 'refused');
}
