/**
 * fleetserve-client over https://, against node:tls servers made here (through the project's
 * TlsAcceptor, test/fixtures/tls.ts) with a test PKI: verification against --cacert and the
 * system's CAs, -k, the exit codes 35/60/77 with their one-line messages, -v's TLS lines, SNI,
 * and -L from http:// to https://.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import t, { type Test } from 'tap';
import { buildProblem, onRequestHeads, runClient, startHttp, startRaw } from '../fixtures/client/harness';
import { makeTestPki, opensslSkip, startTlsListener, type TestPki } from '../fixtures/tls';

/** Answers every request head on a TLS socket with a 200 naming the certificate's CN, the SNI it got and the target. */
function answerer(cn: string, heads: string[] = []) {
  return (socket: tls.TLSSocket): void => {
    const sni = (socket as tls.TLSSocket & { servername?: string | false }).servername || '(none)';
    onRequestHeads(socket, (head) => {
      heads.push(head);
      const body = `${cn} sni=${sni} ${head.split(' ')[1]}\n`;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
  };
}

const problem = buildProblem() ?? opensslSkip;
if (problem) {
  t.plan(0, problem);
} else {
  const pki = makeTestPki(t);
  t.test('verified with --cacert; refused without it (60, one line); -k goes on', (t) => verification(t, pki));
  t.test('a certificate for another name, or expired: 60, saying why', (t) => badCertificates(t, pki));
  t.test('handshake failures: 35, saying why', (t) => handshakeFailures(t, pki));
  t.test('--cacert files that cannot be used: 77', (t) => caFiles(t, pki));
  t.test('-v: version, cipher, the certificate\'s subject, issuer and expiry, as curl -v', (t) => verbose(t, pki));
  t.test('SNI: the URL\'s host name, none for an IP address', (t) => sni(t, pki));
  t.test('-L from http:// to https://, and keep-alive over TLS', (t) => redirects(t, pki));
}

async function verification(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, {}, answerer('ecdsa-local'));
  const url = `https://localhost:${l.port}/a?x=1`;
  const ok = await runClient(['--cacert', pki.caFile, url]);
  t.same([ok.code, ok.stdout.toString(), ok.stderr], [0, 'ecdsa-local sni=localhost /a?x=1\n', ''], 'verified against the test CA');
  const ip = await runClient(['--cacert', pki.caFile, `https://127.0.0.1:${l.port}/`]);
  t.same([ip.code, ip.stdout.toString()], [0, 'ecdsa-local sni=(none) /\n'], 'an IP address is checked against the IP entry of subjectAltName');
  const refused = await runClient([url]);
  t.equal(refused.code, 60, 'the test CA is not among the system\'s');
  t.equal(
    refused.stderr,
    `fleetserve-client: the certificate of localhost:${l.port} cannot be verified: its issuer CN=fleetserve test CA is not a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE); --cacert FILE trusts a CA\n`,
  );
  t.equal(refused.stdout.length, 0, 'no request was sent: nothing on stdout');
  const insecure = await runClient(['-k', url]);
  t.same([insecure.code, insecure.stdout.toString(), insecure.stderr], [0, 'ecdsa-local sni=localhost /a?x=1\n', ''], '-k');
  const rsa = await startTlsListener(t, { defaultPair: pki.rsaLocal }, {}, answerer('rsa-local'));
  const r = await runClient(['--cacert', pki.caFile, `https://localhost:${rsa.port}/`]);
  t.same([r.code, r.stdout.toString()], [0, 'rsa-local sni=localhost /\n'], 'an RSA certificate');
  // The same verdicts as curl's, with the same options.
  const curl = (args: string[]) => runProgram('curl', ['-sS', '-o', '/dev/null', ...args]);
  t.same(await Promise.all([curl(['--cacert', pki.caFile, url]), curl([url]), curl(['-k', url])]), [0, 60, 0], 'curl agrees');
}

async function badCertificates(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaA }, {}, answerer('ecdsa-a'));
  const wrong = await runClient(['--cacert', pki.caFile, `https://localhost:${l.port}/`]);
  t.equal(wrong.code, 60, 'a.test\'s certificate for localhost');
  t.equal(
    wrong.stderr,
    `fleetserve-client: the certificate of localhost:${l.port} cannot be verified: it is not for localhost: it names DNS:a.test (ERR_TLS_CERT_ALTNAME_INVALID)\n`,
  );
  const wrongIp = await runClient(['--cacert', pki.caFile, `https://127.0.0.1:${l.port}/`]);
  t.equal(wrongIp.code, 60);
  t.match(wrongIp.stderr, /: it is not for 127\.0\.0\.1: it names DNS:a\.test \(ERR_TLS_CERT_ALTNAME_INVALID\)\n$/);
  const wrongK = await runClient(['-k', '--cacert', pki.caFile, `https://localhost:${l.port}/`]);
  t.same([wrongK.code, wrongK.stdout.toString()], [0, 'ecdsa-a sni=localhost /\n'], '-k takes it anyway');

  const old = await startTlsListener(t, { defaultPair: pki.expired }, {}, answerer('expired'));
  const expired = await runClient(['--cacert', pki.caFile, `https://localhost:${old.port}/`]);
  t.equal(expired.code, 60);
  t.equal(
    expired.stderr,
    `fleetserve-client: the certificate of localhost:${old.port} cannot be verified: it expired on Feb  1 00:00:00 2020 GMT (CERT_HAS_EXPIRED)\n`,
  );
  const curl = await runProgram('curl', ['-sS', '-o', '/dev/null', '--cacert', pki.caFile, `https://localhost:${old.port}/`]);
  t.equal(curl, 60, 'curl: 60 too');
}

async function handshakeFailures(t: Test, pki: TestPki): Promise<void> {
  // A plain-HTTP server: its 400 answer to the ClientHello is not a TLS record.
  const plain = await startHttp((_req, res) => res.end('plain\n'));
  t.teardown(plain.close);
  const r = await runClient([`https://127.0.0.1:${plain.port}/`]);
  t.equal(r.code, 35);
  t.equal(
    r.stderr,
    `fleetserve-client: TLS handshake with 127.0.0.1:${plain.port} failed: the server does not answer in TLS (wrong version number); is it a plain http:// port?\n`,
  );
  t.equal(await runProgram('curl', ['-sS', '-o', '/dev/null', `https://127.0.0.1:${plain.port}/`]), 35, 'curl: 35 too');

  // A server that closes as soon as the ClientHello arrives.
  const closer = await startRaw((socket) => socket.once('data', () => socket.destroy()));
  t.teardown(closer.close);
  const closed = await runClient([`https://127.0.0.1:${closer.port}/`]);
  t.equal(closed.code, 35);
  t.equal(closed.stderr, `fleetserve-client: TLS handshake with 127.0.0.1:${closer.port} failed: the server closed the connection during the handshake (ECONNRESET)\n`);

  // A server that speaks TLS 1.0 and 1.1 only: the client's lowest is 1.2.
  const tooOld = tls.createServer({ cert: fs.readFileSync(pki.ecdsaLocal.cert), key: fs.readFileSync(pki.ecdsaLocal.key), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  tooOld.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => tooOld.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => tooOld.close(() => resolve())));
  const port = (tooOld.address() as net.AddressInfo).port;
  const low = await runClient(['-k', `https://127.0.0.1:${port}/`]);
  t.equal(low.code, 35);
  t.match(low.stderr, new RegExp(`^fleetserve-client: TLS handshake with 127\\.0\\.0\\.1:${port} failed: no TLS version in common; the client speaks TLS 1\\.2 and 1\\.3 \\([^\\n]+\\)\\n$`));

  // A TLS 1.3-only server (the project's acceptor, tlsMinVersion TLSv1.3) is fine.
  const modern = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, { minVersion: 'TLSv1.3' }, answerer('ecdsa-local'));
  const v13 = await runClient(['-v', '--cacert', pki.caFile, `https://localhost:${modern.port}/`]);
  t.equal(v13.code, 0);
  t.match(v13.stderr, /^\* SSL connection using TLSv1\.3 \/ TLS_/m);

  // A server that never answers the ClientHello: --connect-timeout bounds the handshake too.
  const silent = await startRaw(() => {});
  t.teardown(silent.close);
  const started = Date.now();
  const hung = await runClient(['--connect-timeout', '300', `https://127.0.0.1:${silent.port}/`]);
  t.equal(hung.code, 28);
  t.equal(hung.stderr, `fleetserve-client: connection to 127.0.0.1:${silent.port} timed out after 300 ms\n`);
  t.ok(Date.now() - started < 3000, 'within the limit (process start included)');
}

async function caFiles(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, {}, answerer('ecdsa-local'));
  const url = `https://localhost:${l.port}/`;
  const missing = path.join(pki.dir, 'missing.pem');
  const cases: [string, string][] = [
    [missing, `fleetserve-client: cannot read the --cacert file ${missing}: ENOENT\n`],
    [pki.ecdsaKey, `fleetserve-client: the --cacert file ${pki.ecdsaKey} holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n`],
  ];
  const broken = path.join(pki.dir, 'broken.pem');
  fs.writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nnotbase64\n-----END CERTIFICATE-----\n');
  for (const [file, message] of cases) {
    const r = await runClient(['--cacert', file, url]);
    t.same([r.code, r.stderr, r.stdout.length], [77, message, 0], path.basename(file));
  }
  const bad = await runClient(['--cacert', broken, url]);
  t.equal(bad.code, 77);
  t.match(bad.stderr, new RegExp(`^fleetserve-client: the --cacert file ${broken} holds a certificate that does not parse: [^\\n]+\\n$`));
  t.equal(await runProgram('curl', ['-sS', '-o', '/dev/null', '--cacert', missing, url]), 77, 'curl: 77 too');
  // A bundle: the file may hold several certificates (the leaf's own CA among others).
  const bundle = path.join(pki.dir, 'bundle.pem');
  fs.writeFileSync(bundle, fs.readFileSync(pki.expired.cert, 'utf8') + 'text between\n' + pki.caPem);
  t.equal((await runClient(['--cacert', bundle, url])).code, 0, 'a bundle');
  const http = await startHttp((_req, res) => res.end());
  t.teardown(http.close);
  const plain = await runClient(['--cacert', missing, `http://127.0.0.1:${http.port}/`]);
  t.equal(plain.code, 0, 'an http:// URL never reads --cacert');
}

async function verbose(t: Test, pki: TestPki): Promise<void> {
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, {}, answerer('ecdsa-local'));
  const cert = new X509Certificate(fs.readFileSync(pki.ecdsaLocal.cert));
  const r = await runClient(['-v', '--cacert', pki.caFile, `https://localhost:${l.port}/`]);
  t.equal(r.code, 0);
  const tlsLines = r.stderr.split('\n').filter((line) => line.startsWith('*') && !/^\* (connecting|connected|closing|\d+ bytes)/.test(line));
  t.same(tlsLines.slice(0, 11), [
    '* TLS handshake (SNI localhost), ALPN offers http/1.1',
    `*  CAfile: ${pki.caFile}`,
    '* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384',
    '* ALPN: server accepted http/1.1',
    '* Server certificate:',
    '*  subject: CN=ecdsa-local',
    `*  start date: ${cert.validFrom}`,
    `*  expire date: ${cert.validTo}`,
    '*  subjectAltName: DNS:localhost, IP Address:127.0.0.1',
    '*  issuer: CN=fleetserve test CA',
    '*  SSL certificate verify ok.',
  ]);
  t.match(r.stderr, /^> GET \/ HTTP\/1\.1$/m, 'then the request, as over plain HTTP');
  // The lines curl -v writes for the same handshake.
  const curl = await runProgramOutput('curl', ['-sv', '-o', '/dev/null', '--cacert', pki.caFile, `https://localhost:${l.port}/`]);
  for (const line of ['* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384', '*  subject: CN=ecdsa-local', `*  expire date: ${cert.validTo}`, '*  issuer: CN=fleetserve test CA', '*  SSL certificate verify ok.']) {
    t.ok(curl.split('\n').includes(line), `curl -v says "${line}" too`);
  }
  // A TLS 1.2 server: the version and its ECDHE suite.
  const tls12 = tls.createServer({ cert: fs.readFileSync(pki.rsaLocal.cert), key: fs.readFileSync(pki.rsaLocal.key), maxVersion: 'TLSv1.2' }, answerer('rsa-local'));
  await new Promise<void>((resolve) => tls12.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => tls12.close(() => resolve())));
  const old = await runClient(['-v', '--cacert', pki.caFile, `https://localhost:${(tls12.address() as net.AddressInfo).port}/`]);
  t.equal(old.code, 0);
  t.match(old.stderr, /^\* SSL connection using TLSv1\.2 \/ TLS_ECDHE_RSA_WITH_AES_(128_GCM_SHA256|256_GCM_SHA384)$/m);
  t.match(old.stderr, /^\* ALPN: server did not agree on a protocol$/m, 'a server without ALPN');

  const expired = await startTlsListener(t, { defaultPair: pki.expired }, {}, answerer('expired'));
  const k = await runClient(['-vk', `https://localhost:${expired.port}/`]);
  t.equal(k.code, 0);
  t.match(k.stderr, /^\*  expire date: Feb {2}1 00:00:00 2020 GMT$/m);
  t.match(k.stderr, /^\*  SSL certificate verify result: it expired on Feb {2}1 00:00:00 2020 GMT \(CERT_HAS_EXPIRED\), continuing anyway \(-k\)\.$/m);
  const refused = await runClient(['-v', '--cacert', pki.caFile, `https://localhost:${expired.port}/`]);
  t.equal(refused.code, 60);
  t.match(refused.stderr, /^\*  SSL certificate verify failed: it expired on Feb {2}1 00:00:00 2020 GMT \(CERT_HAS_EXPIRED\)\.\nfleetserve-client: the certificate/m, 'the certificate is shown, then the error');
  t.notMatch(refused.stderr, /^> GET/m, 'no request is sent');
}

async function sni(t: Test, pki: TestPki): Promise<void> {
  // The acceptor chooses by SNI: localhost's certificate only for the name localhost; no name gets a.test's.
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaA, sniPairs: [pki.rsaLocal] }, {}, (socket) => {
    answerer(pki.cnOf(socket.getX509Certificate()?.toString() ?? ''))(socket);
  });
  const named = await runClient(['--cacert', pki.caFile, `https://localhost:${l.port}/`]);
  t.same([named.code, named.stdout.toString()], [0, 'rsa-local sni=localhost /\n'], 'SNI localhost: the certificate for localhost, verified');
  const ip = await runClient(['-k', `https://127.0.0.1:${l.port}/`]);
  t.same([ip.code, ip.stdout.toString()], [0, 'ecdsa-a sni=(none) /\n'], 'no SNI for an IP address: the default certificate');
  const host = await runClient(['-k', '-H', 'Host: a.test', `https://localhost:${l.port}/`]);
  t.equal(host.stdout.toString(), 'rsa-local sni=localhost /\n', '-H Host does not change SNI (the URL\'s host does, as in curl)');
}

async function redirects(t: Test, pki: TestPki): Promise<void> {
  const heads: string[] = [];
  const l = await startTlsListener(t, { defaultPair: pki.ecdsaLocal }, {}, answerer('ecdsa-local', heads));
  const origin = await startHttp((req, res) => {
    res.writeHead(301, { Location: `https://localhost:${l.port}${req.url}` });
    res.end();
  });
  t.teardown(origin.close);
  const r = await runClient(['-L', '--cacert', pki.caFile, '-w', '%{url_effective} %{num_redirects}\\n', `http://127.0.0.1:${origin.port}/p?q`, `http://127.0.0.1:${origin.port}/r`]);
  t.equal(r.code, 0);
  t.equal(r.stdout.toString(), `ecdsa-local sni=localhost /p?q\nhttps://localhost:${l.port}/p?q 1\necdsa-local sni=localhost /r\nhttps://localhost:${l.port}/r 1\n`);
  t.same(heads.map((h) => h.split('\r\n')[1]), [`Host: localhost:${l.port}`, `Host: localhost:${l.port}`]);
  const without = await runClient([`http://127.0.0.1:${origin.port}/p`]);
  t.same([without.code, without.stdout.length], [0, 0], 'without -L the redirect is the answer');
  // Two paths, one TLS connection.
  const two = await runClient(['-v', '--cacert', pki.caFile, `https://localhost:${l.port}/1`, `https://localhost:${l.port}/2`]);
  t.equal(two.stdout.toString(), 'ecdsa-local sni=localhost /1\necdsa-local sni=localhost /2\n');
  t.match(two.stderr, /^\* reusing connection to localhost:\d+$/m, 'keep-alive over TLS');
  t.equal((two.stderr.match(/^\* TLS handshake/gm) ?? []).length, 1, 'one handshake');
}

/** The exit code of a program (curl), its output ignored. */
function runProgram(cmd: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(cmd, args, { stdio: 'ignore' }).on('close', (code) => resolve(code)));
}

/** What a program (curl -v) writes on stderr. */
function runProgramOutput(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', () => resolve(err));
  });
}
