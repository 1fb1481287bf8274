// TLS-ALPN-01 (RFC 8737) on the HTTPS listener in-process (src/process/https.ts over
// src/tls/acceptor.ts): a challenge certificate made at test time with acme-client is set for
// a.test; a validation (ALPN acme-tls/1 alone, from openssl s_client and node's tls.connect)
// gets it with ALPN acme-tls/1 and is closed by the server after the handshake, no request
// served or counted; a client offering h2/http/1.1 for a.test gets the normal certificate and
// its request served; after removal, and for a name with none pending, acme-tls/1 is refused
// with no_application_protocol and counted as a handshake failure with its reason.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { crypto as acmeCrypto, type Authorization } from 'acme-client';
import t, { type Test } from 'tap';
import { AcmeChallengeError } from '../../../src/errors';
import type { ConnectionOptions } from '../../../src/http/connection';
import { okReply } from '../../../src/http/respond';
import type { AccessRecord } from '../../../src/http/types';
import { Https } from '../../../src/process/https';
import type { Admitted } from '../../../src/process/listener';
import type { Drainable } from '../../../src/process/shutdown';
import { isTlsAlpnValidation } from '../../../src/tls/alpn-challenge';
import { readPair } from '../../../src/tls/certificates';
import type { HandshakeFailure } from '../../../src/tls/context';
import { makeTestPki, opensslSkip, TEST_POLICY, type TestPki } from '../../fixtures/tls';

/**
 * A challenge certificate for `name` as an ACME client makes it (createAlpnCertificate reads
 * only the identifier); an ECDSA key unless `rsa` (acme-client's default, an RSA 2048 key).
 */
async function challengeFor(name: string, keyAuthorization: string, rsa = false): Promise<{ cert: string; key: string }> {
  const authz = { identifier: { type: 'dns', value: name } } as Authorization;
  const [key, cert] = await acmeCrypto.createAlpnCertificate(authz, keyAuthorization, rsa ? undefined : await acmeCrypto.createPrivateEcdsaKey());
  return { cert: cert.toString(), key: key.toString() };
}

interface Listener {
  https: Https;
  port: number;
  access: AccessRecord[];
  handshakes: boolean[];
  failures: { reason: HandshakeFailure; code: string; message: string }[];
  answered: string[];
  /** Resolves once no connection or handshake of the listener is held any more. */
  settled(): Promise<void>;
}

async function startListener(t: Test, pki: TestPki): Promise<Listener> {
  const access: AccessRecord[] = [];
  const handshakes: boolean[] = [];
  const failures: Listener['failures'] = [];
  const answered: string[] = [];
  const options: ConnectionOptions = {
    keepAliveTimeoutMs: 5000,
    headersTimeoutMs: 300,
    sendTimeoutMs: 5000,
    handle: () => okReply('Content-Length: 3\r\n', Buffer.from('ok\n')),
    onAccess: (r) => access.push(r),
    counters: null,
    onError: () => undefined,
  };
  const set = { defaultPair: readPair(pki.ecdsaLocal.cert, pki.ecdsaKey), sniPairs: [readPair(pki.ecdsaA.cert, pki.ecdsaKey)] };
  const https = new Https(set, TEST_POLICY, options, {
    onHandshake: (resumed) => handshakes.push(resumed),
    onHandshakeError: (reason, err) => failures.push({ reason, code: String((err as { code?: unknown }).code), message: err.message }),
    onAcmeChallenge: (name) => answered.push(name),
  });
  const open = new Set<Drainable>();
  let waiting: (() => void) | null = null;
  const admitted: Admitted = {
    open: (c) => open.add(c),
    hold: (c) => open.add(c),
    closed: (c) => {
      open.delete(c);
      if (open.size === 0) waiting?.();
    },
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => https.accept(socket, admitted));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const c of open) c.cut('forced');
    server.close();
  });
  const settled = () => new Promise<void>((resolve) => (open.size === 0 ? resolve() : (waiting = resolve)));
  return { https, port: (server.address() as net.AddressInfo).port, access, handshakes, failures, answered, settled };
}

interface NodeResult {
  alpn?: string | false | null;
  cert?: crypto.X509Certificate;
  /** The server closed its side (end) without the client closing first. */
  serverClosed: boolean;
  data: string;
  error?: string;
}

/** A handshake with node's client; `request`: sent once secure (the client never closes first otherwise). */
function nodeConnect(port: number, opts: tls.ConnectionOptions, request?: string): Promise<NodeResult> {
  return new Promise((resolve) => {
    const result: NodeResult = { serverClosed: false, data: '' };
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      result.alpn = c.alpnProtocol;
      result.cert = c.getPeerX509Certificate();
      if (request !== undefined) c.write(request);
    });
    c.on('data', (d: Buffer) => (result.data += d.toString()));
    c.on('end', () => (result.serverClosed = true));
    c.on('error', (err) => (result.error = (err as NodeJS.ErrnoException).code ?? err.message));
    c.on('close', () => resolve(result));
  });
}

/**
 * openssl s_client with -ign_eof: it does not close on its own, so its exit says the server
 * closed the connection (killed after `boundMs`: the server kept it open). `input`: sent once
 * connected. The certificate it got, the ALPN line, whether it exited by itself, its output.
 */
function opensslConnect(port: number, args: string[], input = '', boundMs = 3000): Promise<{ cert: crypto.X509Certificate | null; alpn: string | null; exited: boolean; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdin.end(input);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      p.kill();
    }, boundMs);
    p.on('close', () => {
      clearTimeout(timer);
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(out)?.[0];
      resolve({ cert: pem ? new crypto.X509Certificate(pem) : null, alpn: /ALPN protocol: (\S+)/.exec(out)?.[1] ?? null, exited: !killed, out });
    });
  });
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n';

t.test('the ALPN list of a validation: acme-tls/1 and nothing else', (t) => {
  t.equal(isTlsAlpnValidation(['acme-tls/1']), true);
  for (const other of [null, [], ['http/1.1'], ['acme-tls/1', 'http/1.1'], ['h2', 'acme-tls/1'], ['acme-tls/1', 'acme-tls/1'], ['ACME-TLS/1']]) t.equal(isTlsAlpnValidation(other), false, JSON.stringify(other));
  t.end();
});

t.test('a TLS-ALPN-01 challenge set, answered, kept apart from ordinary clients, removed', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const l = await startListener(t, pki);
  const keyAuthorization = 'token-abc.thumbprint-xyz';
  const isChallenge = (cert: crypto.X509Certificate | null | undefined) => cert != null && acmeCrypto.isAlpnCertificateAuthorizationValid(cert.toString(), keyAuthorization);

  // acme-client's certificate allows keyCertSign and cRLSign only, and OpenSSL serves an ECDSA
  // key without digitalSignature under TLS 1.3 alone; an RSA one (its default) also under 1.2.
  for (const [v, rsa] of [['TLSv1.3', false], ['TLSv1.2', true]] as const) {
    l.https.setAcmeChallenge('a.test', await challengeFor('a.test', keyAuthorization, rsa));
    const r = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['acme-tls/1'], minVersion: v, maxVersion: v });
    t.equal(r.error, undefined, `${v}: node's validation handshakes`);
    t.equal(r.alpn, 'acme-tls/1', `${v}: ALPN acme-tls/1 negotiated`);
    t.ok(isChallenge(r.cert), `${v}: the certificate carries the acmeIdentifier of the key authorization`);
    t.equal(r.serverClosed, true, `${v}: the server closes after the handshake`);
    t.equal(r.data, '', `${v}: nothing is sent on it`);
  }
  const s = await opensslConnect(l.port, ['-servername', 'A.Test.', '-alpn', 'acme-tls/1']);
  t.equal(s.alpn, 'acme-tls/1', 'openssl s_client: ALPN acme-tls/1 (the name compared as SNI is: case, trailing dot)');
  t.ok(isChallenge(s.cert), 'openssl s_client: the challenge certificate');
  t.equal(s.exited, true, 'openssl s_client -ign_eof exits by itself: the server closed the connection');

  const normal = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['h2', 'http/1.1'], ca: pki.caPem }, REQUEST);
  t.equal(normal.alpn, 'http/1.1', 'a client offering h2 and http/1.1 gets the listener\'s protocol');
  t.equal(normal.cert && pki.cnOf(normal.cert.toString()), 'ecdsa-a', '… and the normal certificate for a.test');
  t.match(normal.data, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/, '… and its request served');
  const mixed = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['acme-tls/1', 'http/1.1'] }, REQUEST);
  t.equal(mixed.cert && pki.cnOf(mixed.cert.toString()), 'ecdsa-a', 'acme-tls/1 beside http/1.1 is an ordinary client: the normal certificate');
  const opensslNormal = await opensslConnect(l.port, ['-servername', 'a.test', '-alpn', 'http/1.1'], REQUEST);
  t.equal(opensslNormal.cert && pki.cnOf(opensslNormal.cert.toString()), 'ecdsa-a', 'openssl s_client with http/1.1: the normal certificate');
  t.match(opensslNormal.out, /HTTP\/1\.1 200 OK\r?\n/, '… and its request served');

  await l.settled();
  t.same(l.answered, ['a.test', 'a.test', 'a.test'], 'three validations answered, by normalized name');
  t.same(l.handshakes, [false, false, false], 'only the three ordinary handshakes are counted as handshakes');
  t.same(l.access.map((r) => r.status), [200, 200, 200], 'only the ordinary requests were served');
  t.same(l.failures, [], 'no failure so far');

  l.https.setAcmeChallenge('a.test', null);
  const gone = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
  t.equal(gone.error, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'after removal: refused with no_application_protocol');
  t.equal(gone.cert, undefined, '… before any certificate');
  const goneOpenssl = await opensslConnect(l.port, ['-servername', 'a.test', '-alpn', 'acme-tls/1']);
  t.equal(goneOpenssl.cert, null, 'openssl s_client after removal: no certificate');
  t.match(goneOpenssl.out, /no application protocol/, '… the alert named');
  t.same(
    l.failures.map((f) => [f.reason, f.code, f.message]),
    [
      ['no-shared', 'FLEETSERVE_TLS_ACME_NO_CHALLENGE', 'TLS-ALPN-01 validation (ALPN acme-tls/1) for "a.test": no challenge pending; refused with no_application_protocol'],
      ['no-shared', 'FLEETSERVE_TLS_ACME_NO_CHALLENGE', 'TLS-ALPN-01 validation (ALPN acme-tls/1) for "a.test": no challenge pending; refused with no_application_protocol'],
    ],
    'each refusal counted as a handshake failure, with its reason',
  );
  const stillNormal = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['http/1.1'], ca: pki.caPem }, REQUEST);
  t.equal(stillNormal.cert && pki.cnOf(stillNormal.cert.toString()), 'ecdsa-a', 'after removal an ordinary client is served as before');
  await l.settled();
});

t.test('acme-tls/1 with no challenge pending: refused; a challenge is only for its own name', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const l = await startListener(t, pki);
  const none = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
  t.equal(none.error, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'none pending at all: refused');
  l.https.setAcmeChallenge('a.test', await challengeFor('a.test', 'k.a'));
  const other = await nodeConnect(l.port, { servername: 'other.test', ALPNProtocols: ['acme-tls/1'] });
  t.equal(other.error, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'a challenge for a.test does not answer other.test');
  const noName = await nodeConnect(l.port, { ALPNProtocols: ['acme-tls/1'] });
  t.equal(noName.error, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'nor a validation without SNI');
  await l.settled();
  t.same(
    l.failures.map((f) => f.message),
    ['"a.test"', '"other.test"', 'no server name'].map((n) => `TLS-ALPN-01 validation (ALPN acme-tls/1) for ${n}: no challenge pending; refused with no_application_protocol`),
  );
  t.same(l.handshakes, [], 'no handshake counted');
});

t.test('a challenge that cannot be served is refused when it is set, and changes nothing', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const l = await startListener(t, pki);
  const good = await challengeFor('a.test', 'k.a');
  const other = await challengeFor('b.test', 'k.b');
  const normal = { cert: readPair(pki.ecdsaA.cert, pki.ecdsaKey).cert, key: readPair(pki.ecdsaA.cert, pki.ecdsaKey).key };
  const cases: [string, string, { cert: string; key: string }, RegExp][] = [
    ['not a host name', 'a..test', good, /^TLS-ALPN-01 challenge for "a\.\.test": not a host name$/],
    ['a wildcard', '*.a.test', good, /not a host name/],
    ['another name\'s certificate', 'a.test', other, /^TLS-ALPN-01 challenge for a\.test: the certificate's subjectAltName \(DNS:b\.test\) does not hold the name$/],
    ['an ordinary certificate', 'a.test', normal, /^TLS-ALPN-01 challenge for a\.test: the certificate has no acmeIdentifier extension \(RFC 8737 §3\)$/],
    ['a key of another certificate', 'a.test', { cert: good.cert, key: other.key }, /the private key does not belong to the certificate$/],
    ['not PEM', 'a.test', { cert: 'x', key: good.key }, /the certificate cannot be parsed/],
    ['a key that is not PEM', 'a.test', { cert: good.cert, key: 'x' }, /the private key cannot be parsed/],
  ];
  for (const [label, name, pair, message] of cases) {
    t.throws(() => l.https.setAcmeChallenge(name, pair), AcmeChallengeError, label);
    t.throws(() => l.https.setAcmeChallenge(name, pair), { code: 'FLEETSERVE_TLS_ACME_CHALLENGE', message }, `${label}: the message`);
  }
  const r = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
  t.equal(r.error, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'none of them was set');
  l.https.setAcmeChallenge('a.test', good);
  t.throws(() => l.https.setAcmeChallenge('a.test', other), AcmeChallengeError, 'b.test\'s pair for a.test: refused');
  const kept = await nodeConnect(l.port, { servername: 'a.test', ALPNProtocols: ['acme-tls/1'] });
  t.ok(kept.cert && acmeCrypto.isAlpnCertificateAuthorizationValid(kept.cert.toString(), 'k.a'), 'a refused replacement keeps the challenge in force');
  await l.settled();
});
