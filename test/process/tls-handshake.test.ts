// TLS on the wire through the acceptor (src/tls/acceptor.ts) with fleetserve's policy
// (src/tls/context.ts), on 127.0.0.1: SNI picks the right certificate for RSA and ECDSA pairs
// under TLS 1.2 and 1.3 whichever type the default is (the Node 20/22 SNICallback pitfall);
// versions; the cipher suites and groups as sslscan sees them; renegotiation refused; the
// client's cipher order; ALPN; a plain-text request; and handshakes that stall, drip or send garbage.
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { ECDH_GROUPS } from '../../src/tls/context';
import { checkIntermediatePolicy, runSslscan, sslscanSkip } from '../fixtures/sslscan';
import { makeTestPki, opensslSkip, startTlsListener, tlsHandshake, type TestPki } from '../fixtures/tls';
import { sleep } from '../fixtures/wire';

/** What `openssl s_client` prints about the certificate it got (CN) and the version. */
function sClient(port: number, args: string[]): Promise<{ cn: string | null; protocol: string | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.stdin.end();
    p.on('close', () => resolve({ cn: /^subject=.*?CN ?= ?([^,\n]+)/m.exec(out)?.[1] ?? null, protocol: /^New, (TLSv[\d.]+),/m.exec(out)?.[1] ?? null, out }));
  });
}

t.test('with the test CA', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  t.test('SNI chooses the certificate, RSA and ECDSA, TLS 1.2 and 1.3, either default', (t) => sniMatrix(t, pki));
  t.test('versions: 1.2 and 1.3 accepted, 1.1 refused; with TLSv1.3, 1.2 refused', (t) => versions(t, pki));
  t.test('sslscan: only the policy\'s suites and groups', { skip: sslscanSkip() }, (t) => sslscan(t, pki));
  t.test('the client\'s cipher order decides; ALPN; groups', (t) => negotiation(t, pki));
  t.test('plain text, garbage, stalls and drips', (t) => badClients(t, pki));
});

async function sniMatrix(t: Test, pki: TestPki): Promise<void> {
  const setups = [
    { label: 'ECDSA default', defaultPair: pki.ecdsaLocal, sniPairs: [pki.rsaA, pki.ecdsaB] },
    { label: 'RSA default', defaultPair: pki.rsaLocal, sniPairs: [pki.ecdsaA, pki.rsaB] },
  ];
  for (const setup of setups) {
    const l = await startTlsListener(t, setup);
    const [def, a, b] = [setup.defaultPair.cn, setup.sniPairs[0]!.cn, setup.sniPairs[1]!.cn];
    const cases: [string | undefined, string, boolean][] = [
      [undefined, def, true], // an IP address: no SNI
      ['localhost', def, true],
      ['a.test', a, true],
      ['A.Test', a, true],
      ['x.b.test', b, true],
      ['WWW.B.TEST', b, true],
      ['b.test', def, false],
      ['y.x.b.test', def, false],
      ['unknown.test', def, false],
    ];
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      for (const [servername, cn, authorized] of cases) {
        const r = await tlsHandshake(l.port, pki.caPem, { minVersion: version, maxVersion: version, ...(servername ? { servername } : {}) });
        t.same({ cn: r.cn, protocol: r.protocol, authorized: r.authorized }, { cn, protocol: version, authorized }, `${setup.label}, ${version}, SNI ${servername ?? '(none)'}: ${cn}`);
      }
      // The pitfall's own client, too: OpenSSL's, which prefers ECDSA signatures on TLS 1.3.
      for (const [servername, cn] of [['a.test', a], ['x.b.test', b]] as const) {
        const s = await sClient(l.port, ['-servername', servername, version === 'TLSv1.2' ? '-tls1_2' : '-tls1_3']);
        t.same({ cn: s.cn, protocol: s.protocol }, { cn, protocol: version }, `openssl s_client, ${setup.label}, ${version}, ${servername}: ${cn}`);
      }
    }
    t.same(l.failures, [], `${setup.label}: no handshake failed`);
  }
}

async function versions(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal });
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) t.equal((await tlsHandshake(l.port, pki.caPem, { minVersion: v, maxVersion: v })).protocol, v, `${v} accepted`);
  // The client must really offer 1.1 (OpenSSL 3 clients need security level 0 for it): the
  // server's failure proves the ClientHello reached it.
  const old = await sClient(l.port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
  t.equal(old.protocol === 'TLSv1.1', false, 'openssl s_client -tls1_1: no TLS 1.1 session');
  t.match(old.out, /alert protocol version|unsupported protocol|wrong version number/, 'refused with a protocol-version alert');
  t.same(l.failures.map((f) => f.reason), ['no-shared'], 'the server saw a TLS 1.1 ClientHello and refused it (no shared version)');
  const strict = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, { minVersion: 'TLSv1.3' });
  t.equal((await tlsHandshake(strict.port, pki.caPem, { maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3', 'tlsMinVersion TLSv1.3: 1.3 accepted');
  const r = await tlsHandshake(strict.port, pki.caPem, { maxVersion: 'TLSv1.2' });
  t.equal(r.protocol, undefined, 'tlsMinVersion TLSv1.3: no 1.2 session');
  t.match(r.error, /ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|ERR_SSL_UNSUPPORTED_PROTOCOL/, `1.2 refused (${r.error})`);
  t.same(strict.failures.map((f) => `${f.reason} ${f.code}`), ['no-shared ERR_SSL_UNSUPPORTED_PROTOCOL']);
}

async function sslscan(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal, sniPairs: [pki.rsaA] });
  for (const [name, kind] of [['localhost', 'ECDSA'], ['a.test', 'RSA']] as const) {
    checkIntermediatePolicy(t, await runSslscan(l.port, name), kind, { tls12: true, label: kind });
  }
}

async function negotiation(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal });
  const chacha12 = await tlsHandshake(l.port, pki.caPem, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256' });
  t.equal(chacha12.cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305', 'TLS 1.2: the client\'s first choice, not the server\'s');
  const chacha13 = await tlsHandshake(l.port, pki.caPem, { minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256' });
  t.equal(chacha13.cipher, 'TLS_CHACHA20_POLY1305_SHA256', 'TLS 1.3: the client\'s first choice');
  const cbc = await tlsHandshake(l.port, pki.caPem, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA256' });
  t.equal(cbc.cipher, undefined, 'a client offering only CBC suites gets no session');
  const p521 = await tlsHandshake(l.port, pki.caPem, { ecdhCurve: 'P-521' });
  t.equal(p521.protocol, undefined, 'a client offering only P-521 gets no session');
  t.equal((await tlsHandshake(l.port, pki.caPem, { ecdhCurve: 'P-384' })).protocol, 'TLSv1.3', 'P-384 is accepted');
  t.same(l.failures.map((f) => f.reason), ['no-shared', 'no-shared'], 'both refusals counted as no shared cipher/group');
  t.equal(ECDH_GROUPS.includes('X25519MLKEM768'), /^3\.[5-9]|^[4-9]/.test(process.versions.openssl), `X25519MLKEM768 offered exactly when OpenSSL ${process.versions.openssl} has it`);
  const echo = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, {}, (socket) => socket.pipe(socket));
  t.match(await renegotiate(echo.port, pki.caPem), /no renegotiation/, 'a TLS 1.2 client asking to renegotiate is refused');
  t.equal((await tlsHandshake(l.port, pki.caPem, { ALPNProtocols: ['h2', 'http/1.1'] })).alpn, 'http/1.1', 'ALPN http/1.1 only: h2 is not chosen');
  const h2 = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, { alpn: ['h2', 'http/1.1'] });
  t.equal((await tlsHandshake(h2.port, pki.caPem, { ALPNProtocols: ['http/1.1', 'h2'] })).alpn, 'h2', 'ALPN [h2, http/1.1]: the server\'s preference');
  t.equal((await tlsHandshake(h2.port, pki.caPem, {})).alpn, false, 'a client without ALPN: none');
}

/** A TLS 1.2 connection that asks for a renegotiation: 'renegotiated' or the client's error. */
function renegotiate(port: number, caPem: string): Promise<string> {
  return new Promise((resolve) => {
    const c = tls.connect({ port, host: '127.0.0.1', ca: caPem, servername: 'localhost', maxVersion: 'TLSv1.2' }, () => {
      c.renegotiate({ rejectUnauthorized: false }, (err) => {
        c.destroy();
        resolve(err ? err.message : 'renegotiated');
      });
    });
    c.on('error', (err) => {
      c.destroy();
      resolve(err.message);
    });
    c.on('close', () => resolve('closed without an answer'));
  });
}

/** Writes `chunks` to a raw connection (with `gapMs` between them) and reports when and how it ended. */
function rawClient(port: number, chunks: Buffer[], gapMs = 0): Promise<{ ms: number; got: Buffer; how: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const got: Buffer[] = [];
    let how = 'closed';
    const s = net.connect(port, '127.0.0.1', async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        if (gapMs) await sleep(gapMs);
      }
    });
    s.on('data', (d) => got.push(d));
    s.on('error', (e) => (how = (e as NodeJS.ErrnoException).code ?? e.message));
    s.on('close', () => resolve({ ms: Date.now() - started, got: Buffer.concat(got), how }));
    // A connection the server forgot: reported (and cut) instead of hanging the test.
    setTimeout(() => {
      how = 'still open after 3 s';
      s.destroy();
    }, 3000).unref();
  });
}

/** A real ClientHello (from node's client), captured by a listener that never answers. */
function captureHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = net.createServer((s) => {
      s.once('data', (d) => {
        resolve(d);
        s.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', servername: 'a.test' });
      c.on('error', () => {});
    });
  });
}

async function badClients(t: Test, pki: TestPki): Promise<void> {
  const timeout = 400;
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, { handshakeTimeoutMs: timeout });
  const plain = await rawClient(l.port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
  t.match(plain.got.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/, 'plain text gets the listener\'s plain-text answer');
  t.same(l.plainText.map((b) => b.toString('latin1')), ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], 'with what was received');
  const hello = await captureHello();
  const within = (ms: number) => ms >= timeout - 20 && ms < timeout * 1.6;
  const nothing = await rawClient(l.port, []);
  t.ok(within(nothing.ms), `sends nothing: closed after ${nothing.ms} ms (timeout ${timeout})`);
  const half = await rawClient(l.port, [hello.subarray(0, hello.length >> 1)]);
  t.ok(within(half.ms), `half a ClientHello: closed after ${half.ms} ms`);
  const drip = await rawClient(l.port, [...hello.subarray(0, 40)].map((b) => Buffer.from([b])), 25);
  t.ok(within(drip.ms), `a ClientHello one byte every 25 ms: closed after ${drip.ms} ms, not when the bytes stop`);
  const stalled = await rawClient(l.port, [hello]);
  t.ok(within(stalled.ms), `a whole ClientHello, then nothing: closed after ${stalled.ms} ms`);
  t.ok(stalled.got.length > 0 && stalled.got[0] === 0x16, 'after the server had answered it (ServerHello)');
  t.same(l.failures.map((f) => f.reason), ['timeout', 'timeout', 'timeout', 'timeout'], 'four timeouts');
  t.same(l.failures.map((f) => f.code), ['FLEETSERVE_TLS_HANDSHAKE_TIMEOUT', 'FLEETSERVE_TLS_HANDSHAKE_TIMEOUT', 'FLEETSERVE_TLS_HANDSHAKE_TIMEOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT'], 'the last by Node\'s handshakeTimeout');
  l.failures.length = 0;
  const garbage = [Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3]), Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0]), Buffer.from([0x17, 0x03, 0x03, 0x00, 0x02, 0, 0]), Buffer.from([0x00, 0xff, 0xfe, 0x16, 0x00, 0x01, 0x00])];
  for (const g of garbage) {
    const r = await rawClient(l.port, [g]);
    t.ok(r.ms < timeout, `garbage ${g.toString('hex')}: closed at once (${r.ms} ms)`);
  }
  t.same(l.failures.map((f) => f.reason), ['protocol', 'protocol', 'protocol', 'protocol'], 'each a protocol failure');
  const closedHere = rawClient(l.port, [hello.subarray(0, 20)]);
  while (l.sockets.size === 0) await sleep(5);
  for (const s of l.sockets) s.destroy(); // as a drain closes a connection that is still waiting
  await closedHere;
  await sleep(timeout + 100);
  t.same(l.failures.length, 4, 'a socket closed by the server while waiting for its ClientHello: no timeout reported later');
  const cut = await rawClient(l.port, [hello.subarray(0, 20)]);
  t.ok(cut.ms >= timeout - 20, 'a truncated hello waits for the rest until the deadline');
  t.equal((await tlsHandshake(l.port, pki.caPem, { servername: 'localhost' })).cn, pki.ecdsaLocal.cn, 'and a good client is served after all of it');
}
