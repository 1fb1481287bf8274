// The main listener over TLS (src/process/https.ts): with tlsCert and tlsKey the same
// requests get the same status, headers and body bytes as over plain HTTP; SNI picks the
// pair; TLS 1.1 is refused; plain text gets a 400 and a close by headersTimeoutMs; a stalled
// handshake is closed by headersTimeoutMs; garbage never takes a worker down; curl --cacert talks to it.
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { makeSite, startServer, type Server } from '../fixtures/server';
import { makeTestPki, opensslSkip, type TestPki } from '../fixtures/tls';

const SITE = { 'index.html': '<h1>home</h1>\n', 'big.txt': 'abcdefghij'.repeat(5000), 'style.css': 'body { color: red }\n' };

/** Sends one request (Connection: close) and resolves with everything the server sent back. */
function exchange(connect: () => net.Socket, request: string, connectEvent: 'connect' | 'secureConnect'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect();
    const chunks: Buffer[] = [];
    s.once(connectEvent, () => s.write(request));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

function overTls(port: number, pki: TestPki, request: string): Promise<Buffer> {
  return exchange(() => tls.connect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost' }), request, 'secureConnect');
}

function overPlain(port: number, request: string): Promise<Buffer> {
  return exchange(() => net.connect(port, '127.0.0.1'), request, 'connect');
}

/** The response without its Date line (the one header that differs between two servers by the clock). */
function withoutDate(raw: Buffer): string {
  return raw.toString('latin1').replace(/\r\nDate: [^\r]*/i, '');
}

/** `tlsOnly`: keys only the HTTPS server takes (hsts needs tlsCert). */
async function servers(t: Test, pki: TestPki, extra: string[] = [], tlsOnly: string[] = []): Promise<{ plain: Server; https: Server }> {
  const root = makeSite(t, SITE);
  const plain = await startServer(t, { root, args: extra });
  const https = await startServer(t, { root, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, ...extra, ...tlsOnly] });
  return { plain, https };
}

t.test('HTTPS main listener', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const { plain, https } = await servers(t, pki, ['--headers-timeout-ms', '600']);

  t.test('the same bytes over TLS as over plain HTTP', async (t) => {
    const first = (await overPlain(plain.port, 'GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    const etag = /\r\nETag: ([^\r]*)/i.exec(first)?.[1];
    t.ok(etag, 'an ETag to revalidate with');
    const requests = [
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'HEAD /big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /big.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n',
      'GET /big.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,20-21\r\nConnection: close\r\n\r\n',
      `GET /index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`,
      'GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n',
    ];
    const statuses: string[] = [];
    for (const r of requests) {
      const a = withoutDate(await overPlain(plain.port, r));
      const b = withoutDate(await overTls(https.port, pki, r));
      // Multipart boundaries are random per response: compare with them masked.
      const boundary = /boundary=([^\r;]+)/.exec(a)?.[1];
      const boundaryB = /boundary=([^\r;]+)/.exec(b)?.[1];
      t.equal(boundaryB === undefined ? b : b.split(boundaryB).join('B'), boundary === undefined ? a : a.split(boundary).join('B'), r.split('\r\n')[0]!);
      statuses.push(a.slice(9, 12));
    }
    t.same(statuses, ['200', '200', '206', '206', '304', '404', '200']);
  });

  t.test('keep-alive: two requests on one TLS connection', async (t) => {
    const got = await overTls(https.port, pki, 'GET /style.css HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    t.equal(got.toString('latin1').split('body { color: red }').length, 3);
  });

  t.test('versions: 1.1 refused, 1.2 and 1.3 accepted', async (t) => {
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = tls.connect({ host: '127.0.0.1', port: https.port, ca: pki.caPem, servername: 'localhost', minVersion: v, maxVersion: v });
      t.teardown(() => s.destroy());
      await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
      t.equal(s.getProtocol(), v);
      s.destroy();
    }
    const old = tls.connect({ host: '127.0.0.1', port: https.port, ca: pki.caPem, servername: 'localhost', minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
    t.teardown(() => old.destroy());
    const err = await new Promise<Error>((resolve) => old.once('error', resolve).once('secureConnect', () => resolve(new Error('connected'))));
    t.not(err.message, 'connected', `refused: ${err.message}`);
  });

  t.test('plain-text HTTP on the TLS port: a plain-text 400 and a close', async (t) => {
    const got = (await overPlain(https.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toString('latin1');
    t.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    t.match(got, /this port speaks HTTPS/);
    t.match(got, /\r\nConnection: close\r\n/);
  });

  t.test('plain text: a client that stays after the 400, even sending, is closed at headersTimeoutMs', async (t) => {
    // It keeps writing (which would restart an inactivity timer): the deadline holds, and the
    // server's close shows as the reset its next write gets.
    const took = await new Promise<number>((resolve) => {
      const s = net.connect({ port: https.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let answeredAt = 0;
      let ticks: NodeJS.Timeout | undefined;
      const limit = setTimeout(() => s.destroy(), 2000);
      s.on('data', (d: Buffer) => {
        if (answeredAt !== 0 || !d.toString('latin1').includes('this port speaks HTTPS')) return;
        answeredAt = performance.now();
        ticks = setInterval(() => s.write('x'), 25);
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(ticks);
        clearTimeout(limit);
        resolve(answeredAt === 0 ? -1 : performance.now() - answeredAt);
      });
    });
    t.ok(took >= 500 && took < 1200, `closed ${took.toFixed(0)} ms after the 400 (headersTimeoutMs 600)`);
  });

  t.test('a handshake that stalls is closed within headersTimeoutMs', async (t) => {
    for (const sent of [Buffer.alloc(0), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])]) {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        const s = net.connect(https.port, '127.0.0.1', () => s.write(sent));
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        s.resume();
      });
      const took = Date.now() - started;
      t.ok(took >= 500 && took < 1200, `closed after ${took} ms (timeout 600 ms)`);
    }
  });

  t.test('garbage and truncated records: the connection is closed, the server serves on', async (t) => {
    const junk = [Buffer.from('\x16\x03\x01\xff\xff' + 'x'.repeat(70000), 'latin1'), Buffer.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]), Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00])];
    for (const bytes of junk) {
      await new Promise<void>((resolve) => {
        const s = net.connect(https.port, '127.0.0.1', () => s.write(bytes));
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        s.resume();
      });
    }
    const got = (await overTls(https.port, pki, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toString('latin1');
    t.match(got, /^HTTP\/1\.1 200 /);
    t.notMatch(https.stdout() + https.stderr(), /uncaught|worker .* exited/i);
  });

  t.test('curl --cacert', async (t) => {
    const body = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '--cacert', pki.caFile, `https://localhost:${https.port}/index.html`, '--resolve', `localhost:${https.port}:127.0.0.1`], (err, out, stderr) => (err ? reject(new Error(stderr)) : resolve(out))),
    );
    t.equal(body, SITE['index.html']);
  });
});

t.test('SNI and tlsMinVersion', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const pairs = JSON.stringify([{ cert: pki.rsaA.cert, key: pki.rsaKey }, { cert: pki.ecdsaB.cert, key: pki.ecdsaKey }]);
  const s = await startServer(t, { root, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--tls-certificates', pairs, '--tls-min-version', 'TLSv1.3'] });
  const cnFor = (servername: string | undefined, maxVersion: tls.SecureVersion = 'TLSv1.3') =>
    new Promise<string>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: s.port, ca: pki.caPem, servername, rejectUnauthorized: false, maxVersion });
      c.once('secureConnect', () => {
        resolve(pki.cnOf(c.getPeerX509Certificate()!.toString()));
        c.destroy();
      });
      c.once('error', reject);
    });
  t.equal(await cnFor('a.test'), 'rsa-a');
  t.equal(await cnFor('x.b.test'), 'ecdsa-b');
  t.equal(await cnFor('other.test'), 'ecdsa-local');
  t.equal(await cnFor(undefined), 'ecdsa-local');
  await t.rejects(cnFor('a.test', 'TLSv1.2'), 'TLSv1.3 minimum: 1.2 refused');
});

t.test('HSTS: on every HTTPS response, never on plain HTTP', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const hsts = ['--hsts', 'max-age=63072000; includeSubDomains'];
  const { plain, https } = await servers(t, pki, [], hsts);
  const requests = [
    'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET /big.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n',
    'GET /index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\nConnection: close\r\n\r\n',
    'GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'BAD REQUEST\r\n\r\n',
  ];
  const countOf = (raw: Buffer) => raw.toString('latin1').split('\r\nStrict-Transport-Security: max-age=63072000; includeSubDomains\r\n').length - 1;
  const statusesOf = (raw: Buffer) => [...raw.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  const expected = [['200', '200'], ['206'], ['304'], ['404'], ['400']];
  for (const [i, r] of requests.entries()) {
    const overHttps = await overTls(https.port, pki, r);
    t.same(statusesOf(overHttps), expected[i], `over TLS: ${r.split('\r\n')[0]}`);
    t.equal(countOf(overHttps), expected[i]!.length, 'HSTS on each HTTPS response');
    const overHttp = await overPlain(plain.port, r);
    t.same(statusesOf(overHttp), expected[i]);
    t.notMatch(overHttp.toString('latin1'), /Strict-Transport-Security/i, 'none on plain HTTP');
  }
});

t.test('an expired certificate starts, with one warning line naming its notAfter; a valid one without', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const s = await startServer(t, { root, workers: 1, args: ['--tls-cert', pki.expired.cert, '--tls-key', pki.expired.key] });
  const warnings = s.logs.filter((l) => l.level === 40).map((l) => l.msg);
  t.same(warnings, [`tlsCert: ${pki.expired.cert} expired on 2020-02-01T00:00:00.000Z (notAfter); clients will refuse it`]);
  const ok = await startServer(t, { root, workers: 1, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key] });
  t.same(ok.logs.filter((l) => l.level === 40).map((l) => l.msg), []);
});

t.test('after a reload, the certificate in force is warned about again when it has expired', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, SITE);
  const dir = t.testdir({});
  const cert = `${dir}/site.crt`;
  const key = `${dir}/site.key`;
  fs.copyFileSync(pki.ecdsaLocal.cert, cert);
  fs.copyFileSync(pki.ecdsaLocal.key, key);
  const s = await startServer(t, { root, workers: 1, args: ['--tls-cert', cert, '--tls-key', key] });
  t.same(s.logs.filter((l) => l.level === 40).map((l) => l.msg), [], 'a valid certificate: no warning');
  fs.copyFileSync(pki.expired.cert, cert);
  fs.copyFileSync(pki.expired.key, key);
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished'), 20_000);
  t.same(s.logs.filter((l) => l.level === 40).map((l) => l.msg), [`tlsCert: ${cert} expired on 2020-02-01T00:00:00.000Z (notAfter); clients will refuse it`]);
});
