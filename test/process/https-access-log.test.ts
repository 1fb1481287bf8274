// Access lines say which listener answered: "listener":"https" with the connection's TLS
// version ("tls":"TLSv1.3" or "TLSv1.2"), also on a refusal and for an HTTP/2 stream; "listener":"http" without a tls
// field on the httpPort listener beside HTTPS and on a plain main listener. Lines parsed as
// JSON, every field checked.
import http2 from 'node:http2';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { makeSite, rawExchange, startServer, type LogLine, type Server } from '../fixtures/server';
import { makeTestPki, opensslSkip } from '../fixtures/tls';
import { freePort } from '../fixtures/wire';

const BODY = '<h1>home</h1>\n';

/** Sends `request` over TLS at exactly `version` and reads to the end. */
function overTls(port: number, ca: string, version: tls.SecureVersion, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: version, maxVersion: version });
    let got = '';
    s.once('secureConnect', () => s.write(request));
    s.setEncoding('latin1').on('data', (d: string) => (got += d));
    s.once('error', reject);
    s.once('close', () => resolve(got));
  });
}

const accessFor = (s: Server, path: string) => s.waitForLog((l) => l.kind === 'access' && l.path === path);

/** The line with the fields that differ per run (time, pid, ms) checked for their type and left out. */
function fixed(t: Test, line: LogLine): Record<string, unknown> {
  const { time, pid, ms, ...rest } = line;
  t.ok(!Number.isNaN(Date.parse(String(time))) && typeof pid === 'number' && typeof ms === 'number', 'time, pid and ms');
  return rest;
}

const KEYS_BEFORE = ['level', 'time', 'pid', 'worker', 'kind', 'method', 'path', 'protocol'];
const KEYS_AFTER = ['status', 'bytes', 'completed', 'ms', 'remote', 'referer', 'userAgent'];
const common = { level: 30, worker: 1, kind: 'access', protocol: 'HTTP/1.1', completed: true, remote: '127.0.0.1', referer: '' };

t.test('HTTPS with httpPort beside it', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': BODY });
  const httpPort = await freePort();
  const s = await startServer(t, { root, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--http-port', String(httpPort)] });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    const path = `/index.html?v=${version}`;
    t.match(await overTls(s.port, pki.caPem, version, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t/1\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
    const line = await accessFor(s, path);
    t.same(Object.keys(line), [...KEYS_BEFORE, 'listener', 'tls', ...KEYS_AFTER], `${version}: the listener and the TLS version follow the protocol`);
    t.strictSame(fixed(t, line), { ...common, method: 'GET', path, listener: 'https', tls: version, status: 200, bytes: BODY.length, userAgent: 't/1' });
  }

  // An HTTP/2 stream on the same listener (ALPN h2): its line too.
  const client = http2.connect(`https://localhost:${s.port}`, { ca: pki.caPem, host: '127.0.0.1', servername: 'localhost' } as http2.SecureClientSessionOptions);
  client.on('error', () => undefined);
  t.teardown(() => client.destroy());
  const status = await new Promise<number>((resolve, reject) => {
    const req = client.request({ ':path': '/index.html?h2', 'user-agent': 't/2' });
    let got = 0;
    req.on('response', (h) => (got = Number(h[':status'])));
    req.on('data', () => undefined);
    req.on('end', () => resolve(got));
    req.on('error', reject);
  });
  t.equal(status, 200);
  client.close();
  const h2line = await accessFor(s, '/index.html?h2');
  t.same(Object.keys(h2line), [...KEYS_BEFORE, 'listener', 'tls', ...KEYS_AFTER]);
  t.strictSame(fixed(t, h2line), { ...common, protocol: 'HTTP/2.0', method: 'GET', path: '/index.html?h2', listener: 'https', tls: 'TLSv1.3', status: 200, bytes: BODY.length, userAgent: 't/2' });

  // A head the parser refuses on the HTTPS listener: still its listener and version.
  t.match(await overTls(s.port, pki.caPem, 'TLSv1.3', 'NOT A REQUEST LINE\r\n\r\n'), /^HTTP\/1\.1 400 /);
  const refused = await accessFor(s, '-');
  t.match(refused, { method: '-', protocol: '-', status: 400, listener: 'https', tls: 'TLSv1.3' });

  // The plain port beside HTTPS answers as "http", with no tls field.
  const moved = (await rawExchange(httpPort, 'GET /moved?q=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).data.toString('latin1');
  t.match(moved, /^HTTP\/1\.1 308 /);
  const redirected = await accessFor(s, '/moved?q=1');
  t.same(Object.keys(redirected), [...KEYS_BEFORE, 'listener', ...KEYS_AFTER]);
  const length = Number(/\r\nContent-Length: (\d+)\r\n/i.exec(moved)?.[1]);
  t.strictSame(fixed(t, redirected), { ...common, method: 'GET', path: '/moved?q=1', listener: 'http', status: 308, bytes: length, userAgent: '' });
});

t.test('a plain main listener: "http", no tls field', async (t) => {
  const root = makeSite(t, { 'index.html': BODY });
  const s = await startServer(t, { root });
  await rawExchange(s.port, 'GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const line = await accessFor(s, '/index.html');
  t.same(Object.keys(line), [...KEYS_BEFORE, 'listener', ...KEYS_AFTER]);
  t.strictSame(fixed(t, line), { ...common, method: 'GET', path: '/index.html', listener: 'http', status: 200, bytes: BODY.length, userAgent: '' });
});
