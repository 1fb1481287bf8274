// HTTP/2 on the HTTPS listener (ALPN h2, src/http2/): curl and nghttp speak it; the same
// requests get the same status, fields and bytes as over HTTP/1.1; http2 false offers
// HTTP/1.1 only; the h2c preface on a plain port gets 400; the floods end at their caps without taking the
// worker down or growing it; SIGTERM drains an h2 download byte for byte.
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { scrape, valueOf } from '../fixtures/ops';
import { makeSite, rawExchange, startServer, type Server } from '../fixtures/server';
import { freePort, poll } from '../fixtures/wire';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';

const FLOOD = path.join(__dirname, '..', 'fixtures', 'h2flood.py');
const BIG = crypto.randomBytes(8 * 1024 * 1024);
const SITE = { 'index.html': '<h1>home</h1>\n', 'style.css': 'body { color: red }\n'.repeat(200), 'big.bin': BIG };

function tlsArgs(pki: TestPki): string[] {
  return ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key];
}

interface H2Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One HTTP/2 request on `client`: its status, fields (lower-case, pseudo-headers dropped) and body. */
function h2get(client: http2.ClientHttp2Session, reqPath: string, extra: Record<string, string> = {}, method = 'GET'): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ':path': reqPath, ':method': method, ...extra });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(head)) if (!k.startsWith(':')) headers[k] = String(v);
      resolve({ status: Number(head[':status']), headers, body: Buffer.concat(chunks) });
    });
    req.end();
  });
}

/** The same request over HTTP/1.1 on TLS (Connection: close): status, fields and body. */
function h1get(port: number, pki: TestPki, reqPath: string, extra: Record<string, string> = {}, method = 'GET'): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    const chunks: Buffer[] = [];
    s.once('secureConnect', () => {
      const fields = Object.entries(extra).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`${method} ${reqPath} HTTP/1.1\r\nHost: localhost:${port}\r\n${fields}Connection: close\r\n\r\n`);
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const raw = Buffer.concat(chunks);
      const end = raw.indexOf('\r\n\r\n');
      const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body: raw.subarray(end + 4) });
    });
  });
}

function connectH2(t: Test, port: number, pki: TestPki): Promise<http2.ClientHttp2Session> {
  const client = http2.connect(`https://localhost:${port}`, { ca: pki.caPem, host: '127.0.0.1', servername: 'localhost' } as http2.SecureClientSessionOptions);
  client.on('error', () => undefined);
  t.teardown(() => client.destroy());
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

function run(cmd: string, args: string[], timeout = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The one worker of a --workers 1 server. */
function workerPid(s: Server): number {
  return Number(execFileSync('pgrep', ['-P', String(s.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

t.test('HTTP/2 over TLS', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const dir = t.testdir({});
  const ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(ca, pki.caPem);
  const s = await startServer(t, { root, args: [...tlsArgs(pki), '--hsts', 'max-age=600', '--access-log', 'true'] });
  const url = `https://localhost:${s.port}`;
  const resolve = `localhost:${s.port}:127.0.0.1`;

  t.test('curl --http2 and nghttp get h2; curl --http1.1 gets HTTP/1.1 on the same port', async (t) => {
    const h2 = await run('curl', ['-sS', '--http2', '--cacert', ca, '--resolve', resolve, '-o', '-', '-w', '\n%{http_version} %{http_code}', `${url}/index.html`]);
    t.equal(h2.stdout, '<h1>home</h1>\n\n2 200', h2.stderr);
    const h1 = await run('curl', ['-sS', '--http1.1', '--cacert', ca, '--resolve', resolve, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `${url}/index.html`]);
    t.equal(h1.stdout, '1.1 200', h1.stderr);
    const ng = await run('nghttp', ['-nv', `https://127.0.0.1:${s.port}/style.css`]);
    t.match(ng.stdout, /recv \(stream_id=\d+\) :status: 200/);
    t.match(ng.stdout, /recv \(stream_id=\d+\) strict-transport-security: max-age=600/);
    t.notMatch(ng.stdout, /recv \(stream_id=\d+\) (connection|keep-alive|transfer-encoding):/, 'no connection-specific field');
    const line = await s.waitForLog((l) => l.kind === 'access' && l.protocol === 'HTTP/2.0' && l.path === '/index.html');
    t.match(line, { method: 'GET', status: 200, bytes: 14, completed: true, remote: '127.0.0.1' });
  });

  t.test('the same status, fields and bytes as HTTP/1.1: GET, HEAD, Range, If-None-Match, 404, compression', async (t) => {
    const client = await connectH2(t, s.port, pki);
    const etag = (await h2get(client, '/style.css')).headers.etag!;
    const cases: [string, Record<string, string>, string][] = [
      ['/index.html', {}, 'GET'],
      ['/index.html', {}, 'HEAD'],
      ['/style.css', { range: 'bytes=5-20' }, 'GET'],
      ['/style.css', { range: 'bytes=0-1,10-12' }, 'GET'],
      ['/style.css', { 'if-none-match': etag }, 'GET'],
      ['/style.css', { 'accept-encoding': 'gzip' }, 'GET'],
      ['/missing', {}, 'GET'],
    ];
    for (const [p, extra, method] of cases) {
      const a = await h2get(client, p, extra, method);
      const b = await h1get(s.port, pki, p, extra, method);
      const what = `${method} ${p} ${JSON.stringify(extra)}`;
      t.equal(a.status, b.status, `${what}: status ${a.status}`);
      const strip = (h: Record<string, string>) => {
        const { date: _date, connection: _c, ...rest } = h;
        return rest;
      };
      if (a.headers['content-type']?.startsWith('multipart/byteranges')) {
        // Each response draws its own boundary: compare the bodies with it replaced.
        const boundary = (h: Record<string, string>) => /boundary=(\S+)/.exec(h['content-type']!)![1]!;
        t.equal(a.body.toString('latin1').replaceAll(boundary(a.headers), 'B'), b.body.toString('latin1').replaceAll(boundary(b.headers), 'B'), `${what}: the parts`);
        t.equal(a.headers['content-length'], b.headers['content-length']);
        continue;
      }
      t.same(strip(a.headers), strip(b.headers), `${what}: fields`);
      t.ok(a.body.equals(b.body), `${what}: ${a.body.length} body bytes, the same`);
    }
  });

  t.test('a large file over h2 arrives byte for byte', async (t) => {
    const client = await connectH2(t, s.port, pki);
    const got = await h2get(client, '/big.bin');
    t.equal(got.status, 200);
    t.ok(got.body.equals(BIG), `${got.body.length} bytes`);
  });
});

t.test('http2 false offers HTTP/1.1 only; the h2c preface on a plain port: 400 and closed', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const httpPort = await freePort();
  const s = await startServer(t, { root, args: [...tlsArgs(pki), '--http2', 'false', '--http-port', String(httpPort), '--access-log', 'true'] });
  const alpn = await new Promise<string | false | null>((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: s.port, ca: pki.caPem, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(sock.alpnProtocol);
      sock.destroy();
    });
    sock.on('error', reject);
  });
  t.equal(alpn, 'http/1.1');
  const plain = await startServer(t, { root, args: ['--access-log', 'true'] });
  // The whole preface and an empty SETTINGS frame, as an h2c client with prior knowledge sends them.
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  for (const [name, server, port] of [['the plain main listener', plain, plain.port], ['httpPort', s, httpPort]] as const) {
    const { data, closed, timedOut } = await rawExchange(port, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), settings]), { timeoutMs: 3000 });
    const text = data.toString('latin1');
    // The parser's refusal of a malformed request: PRI is the preface's method only (RFC 9113 §11.6).
    t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n/, `${name}: 400 with Connection: close`);
    t.equal(text.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, `${name}: one response, nothing read from the frames after it`);
    t.ok(closed && !timedOut, `${name}: closed`);
    const line = await server.waitForLog((l) => l.kind === 'access' && l.status === 400);
    t.match(line, { status: 400, method: '-' }, `${name}: logged as a 400 before any request`);
  }
});

t.test('X-Forwarded-For from a trusted proxy names the client of an h2 stream, as of an HTTP/1.1 request', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const fields = { 'x-forwarded-for': '198.51.100.4, 203.0.113.9', 'x-forwarded-proto': 'https' };
  for (const [trust, remote] of [['127.0.0.1', '203.0.113.9'], ['10.0.0.0/8', '127.0.0.1']] as const) {
    const s = await startServer(t, { root, args: [...tlsArgs(pki), '--access-log', 'true', '--trusted-proxies', trust] });
    const client = await connectH2(t, s.port, pki);
    // Two streams on one session: the fields are read per stream, not once per connection.
    t.equal((await h2get(client, '/index.html?h2-forwarded', fields)).status, 200);
    t.equal((await h2get(client, '/index.html?h2-plain')).status, 200);
    t.equal((await h1get(s.port, pki, '/index.html?h1-forwarded', fields)).status, 200);
    const access = (p: string) => s.waitForLog((l) => l.kind === 'access' && l.path === p, 5000);
    const [h2f, h2p, h1f] = await Promise.all([access('/index.html?h2-forwarded'), access('/index.html?h2-plain'), access('/index.html?h1-forwarded')]);
    t.match(h2f, { protocol: 'HTTP/2.0', remote }, `trustedProxies ${trust}: the h2 stream's client is ${remote}`);
    t.same([h2f.remote, h2f.peer], [h1f.remote, h1f.peer], `trustedProxies ${trust}: the same client (and peer) as HTTP/1.1 names`);
    t.equal(h2f.proto, h1f.proto, `trustedProxies ${trust}: the same proto as HTTP/1.1`);
    t.match(h2p, { protocol: 'HTTP/2.0', remote: '127.0.0.1' }, `trustedProxies ${trust}: a stream without the fields is the peer's`);
  }
});

t.test('floods end at their caps; the worker stays, its memory flat, other clients served', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  // V8's young generation capped at 1 MiB per half: left to itself it grows with the allocation
  // rate up to its maximum (64 MiB on Node 24, after several floods), which shows in the RSS as
  // tens of MiB that are the collector's sizing, not memory a flood left behind (the heap after
  // a full collection stays at 10 MiB there).
  const s = await startServer(t, { root, args: tlsArgs(pki), env: { NODE_OPTIONS: '--max-semi-space-size=1' } });
  const pid = workerPid(s);
  // A fresh connection for each check: a flood client's run can outlast the keep-alive timeout.
  const served = async () => (await h2get(await connectH2(t, s.port, pki), '/index.html')).status;
  await served();
  const attacks: [string, number, (r: { goaway: number | null; closed: boolean; resets: number[]; bytes: number }) => void][] = [
    ['rapid-reset', 2000, (r) => t.ok(r.closed && r.goaway === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, `rapid reset: GOAWAY ENHANCE_YOUR_CALM, closed (${JSON.stringify(r)})`)],
    ['continuation', 5000, (r) => t.ok(r.closed && r.bytes < 256 * 1024, `CONTINUATION: closed after ${r.bytes} bytes`)],
    ['ping', 20000, (r) => t.ok(r.closed, 'PING flood: closed')],
    ['settings', 20000, (r) => t.ok(r.closed, 'SETTINGS flood: closed')],
    ['hpack-bomb', 50000, (r) => t.ok(r.resets.includes(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), `HPACK bomb: its stream reset with ENHANCE_YOUR_CALM (${JSON.stringify(r)})`)],
    ['window', 3, (r) => t.ok(r.closed, 'WINDOW_UPDATE overflow: closed')],
  ];
  // Every flood twice: the first round grows what a busy process grows once and keeps (the
  // allocator's pools, TLS and nghttp2 buffers); the second shows what each flood leaves
  // behind, which must be next to nothing.
  let before = 0;
  for (const round of [1, 2]) {
    if (round === 2) before = rssKiB(pid);
    for (const [attack, count, check] of attacks) {
      const out = await run('/usr/bin/python3', [FLOOD, String(s.port), attack, String(count)], 30_000);
      t.equal(out.code, 0, `${attack} (round ${round}): the flood client ran (${out.stderr.trim()})`);
      check(JSON.parse(out.stdout) as { goaway: number | null; closed: boolean; resets: number[]; bytes: number });
      t.equal(await served(), 200, `${attack} (round ${round}): another client is still served`);
    }
  }
  t.equal(workerPid(s), pid, 'the same worker: none crashed');
  const floods = s.logs.filter((l) => typeof l.flood === 'string').map((l) => l.msg);
  const once = [
    'HTTP/2 rapid reset from 127.0.0.1: session ended (GOAWAY ENHANCE_YOUR_CALM)',
    'HTTP/2 PING flood from 127.0.0.1: session ended (GOAWAY ENHANCE_YOUR_CALM)',
    'HTTP/2 SETTINGS flood from 127.0.0.1: session ended (GOAWAY ENHANCE_YOUR_CALM)',
  ];
  t.same(floods, [...once, ...once]);
  const grown = (rssKiB(pid) - before) / 1024;
  t.ok(grown < 8, `the worker's RSS grew by ${grown.toFixed(1)} MiB over the second round of floods (under 8)`);
});

/** The median of `xs`. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

t.test('rapid reset on one connection after another: each ends with GOAWAY ENHANCE_YOUR_CALM; a client beside them keeps its latency', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  // One worker: the flood and the other client share it.
  const s = await startServer(t, { root, workers: 1, args: tlsArgs(pki) });
  const client = await connectH2(t, s.port, pki);
  const failed: number[] = [];
  const timed = async () => {
    const at = performance.now();
    const status = (await h2get(client, '/style.css')).status;
    if (status !== 200) failed.push(status);
    return performance.now() - at;
  };
  for (let i = 0; i < 5; i++) await timed(); // warm: the file cached, the session's tables filled
  const quiet: number[] = [];
  for (let i = 0; i < 30; i++) quiet.push(await timed());
  let flooding = true;
  const flood = run('/usr/bin/python3', [FLOOD, String(s.port), 'rapid-reset-for', '3000'], 30_000).finally(() => (flooding = false));
  const loud: number[] = [];
  while (flooding) loud.push(await timed());
  const out = await flood;
  t.equal(out.code, 0, `the flood client ran (${out.stderr.trim()})`);
  const { connections, goaways } = JSON.parse(out.stdout) as { connections: number; goaways: (number | null)[] };
  t.ok(connections >= 2, `${connections} flooding connections one after another`);
  t.same(new Set(goaways), new Set([http2.constants.NGHTTP2_ENHANCE_YOUR_CALM]), `each told why it was closed: ${JSON.stringify(goaways)}`);
  t.ok(loud.length >= 10, `${loud.length} requests answered during the flood`);
  t.same(failed, [], 'every one of them 200');
  const [before, during] = [median(quiet), median(loud)];
  t.ok(during <= before * 10 + 100, `median latency ${before.toFixed(1)} ms before, ${during.toFixed(1)} ms during the flood`);
  t.equal(s.logs.filter((l) => l.flood === 'rapid reset').length, connections, 'one flood line per connection');
});

t.test('SIGTERM during an h2 download: GOAWAY, the download ends byte for byte, exit 0', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const s = await startServer(t, { root, args: tlsArgs(pki) });
  const client = await connectH2(t, s.port, pki);
  const goaway = new Promise<number>((r) => client.once('goaway', (code: number) => r(code)));
  const req = client.request({ ':path': '/big.bin' });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.pause();
  await new Promise((r) => req.once('response', r));
  s.signalGroup('SIGTERM');
  t.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR, 'GOAWAY NO_ERROR at the drain');
  req.resume();
  await new Promise((r) => req.once('end', r));
  t.ok(Buffer.concat(chunks).equals(BIG), 'every byte of the file');
  t.same(await s.exited(15_000), { code: 0, signal: null });
});

t.test('the metrics count responses by protocol: each HTTP/2 stream, each HTTP/1.1 response', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const metricsPort = await freePort();
  const s = await startServer(t, { root, workers: 2, args: [...tlsArgs(pki), '--metrics-port', String(metricsPort)] });
  const client = await connectH2(t, s.port, pki);
  for (let i = 0; i < 3; i++) t.equal((await h2get(client, '/index.html')).status, 200);
  t.equal((await h1get(s.port, pki, '/index.html')).status, 200);
  const want = (sc: Awaited<ReturnType<typeof scrape>>) => [valueOf(sc, 'fleetserve_http_responses_by_protocol_total', { protocol: 'HTTP/2' }), valueOf(sc, 'fleetserve_http_responses_by_protocol_total', { protocol: 'HTTP/1.1' })];
  const sc = await poll(async () => {
    const got = await scrape(metricsPort);
    return want(got).join() === '3,1' ? got : null;
  }, 30, 100);
  t.ok(sc, 'summed over the workers: 3 HTTP/2 streams, 1 HTTP/1.1 response');
  t.equal(sc && sc.families.get('fleetserve_http_responses_by_protocol_total')!.type, 'COUNTER');
});
