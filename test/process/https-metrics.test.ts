// The HTTPS listener's metrics as an operator scrapes them from the primary (2 workers, summed):
// handshakes full and resumed, failures made for real and counted by reason (a TLS 1.1-only
// client, one that sends nothing past headersTimeoutMs, garbage bytes, plain-text HTTP), one
// expiry series per configured certificate that follows the files on a reload, and the
// per-response counters labelled by the listener that answered (https, and httpPort's http).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { scrape, sumOf, type Scrape } from '../fixtures/ops';
import { makeSite, rawExchange, startServer } from '../fixtures/server';
import { makeTestPki, opensslSkip } from '../fixtures/tls';
import { freePort, poll } from '../fixtures/wire';

const HEADERS_TIMEOUT_MS = 400;

/** One TLS connection that sends a GET and reads to the end: whether it resumed, and its session. */
function tlsGet(port: number, ca: string, version: tls.SecureVersion, session?: Buffer): Promise<{ resumed: boolean; session: Buffer | undefined; response: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: version, maxVersion: version, session });
    let got: Buffer | undefined;
    let resumed = false;
    let response = '';
    s.on('session', (b: Buffer) => (got ??= b));
    s.once('secureConnect', () => {
      resumed = s.isSessionReused();
      s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    s.setEncoding('latin1').on('data', (d: string) => (response += d));
    s.once('error', reject);
    s.once('close', () => resolve({ resumed, session: got ?? session, response }));
  });
}

/** A raw TCP client that sends `bytes` (maybe none) and resolves when the server closes; how long that took. */
function rawUntilClosed(port: number, bytes: Buffer): Promise<{ ms: number; received: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let received = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    s.on('error', () => undefined);
    s.setEncoding('latin1').on('data', (d: string) => (received += d));
    s.on('close', () => resolve({ ms: performance.now() - started, received }));
  });
}

/** OpenSSL's client offering TLS 1.1 only (security level 0, or OpenSSL 3 would not send it). */
function tls11Client(port: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.stdin.end();
    p.on('close', () => resolve(out));
  });
}

const notAfterSeconds = (file: string) => Date.parse(new crypto.X509Certificate(fs.readFileSync(file)).validTo) / 1000;
const lines = (m: Scrape, prefix: string) => m.text.split('\n').filter((l) => l.startsWith(prefix));

t.test('HTTPS metrics, summed over 2 workers', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': '<h1>home</h1>\n' });
  // The default pair's certificate in a file of its own: the reload below renews it in place.
  const certFile = path.join(pki.dir, 'site.pem');
  fs.copyFileSync(pki.ecdsaLocal.cert, certFile);
  const [metricsPort, httpPort] = [await freePort(), await freePort()];
  const pairs = JSON.stringify([{ cert: pki.rsaA.cert, key: pki.rsaKey }]);
  const s = await startServer(t, {
    root,
    workers: 2,
    args: ['--tls-cert', certFile, '--tls-key', pki.ecdsaKey, '--tls-certificates', pairs, '--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--headers-timeout-ms', String(HEADERS_TIMEOUT_MS)],
  });

  // Handshakes: a full one per version, three resumed with the TLS 1.3 session.
  const first = await tlsGet(s.port, pki.caPem, 'TLSv1.3');
  t.match(first.response, /^HTTP\/1\.1 200 /);
  t.equal(first.resumed, false);
  for (let i = 0; i < 3; i++) t.equal((await tlsGet(s.port, pki.caPem, 'TLSv1.3', first.session)).resumed, true, `reconnect ${i + 1} resumed`);
  t.equal((await tlsGet(s.port, pki.caPem, 'TLSv1.2')).resumed, false);

  // Failures, each made for real.
  t.match(await tls11Client(s.port), /alert protocol version|unsupported protocol|wrong version number/, 'TLS 1.1 refused');
  const silent = await rawUntilClosed(s.port, Buffer.alloc(0));
  t.ok(silent.ms >= HEADERS_TIMEOUT_MS * 0.9 && silent.ms < 2 * HEADERS_TIMEOUT_MS, `a client that sends nothing is closed after ${silent.ms.toFixed(0)} ms (headersTimeoutMs ${HEADERS_TIMEOUT_MS})`);
  const garbage = await rawUntilClosed(s.port, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x00, 0x10, ...Buffer.alloc(16, 0xaa)]));
  t.ok(garbage.ms < HEADERS_TIMEOUT_MS, 'garbage is refused at once, not timed out');
  const plain = await rawUntilClosed(s.port, Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
  t.match(plain.received, /^HTTP\/1\.1 400 Bad Request\r\n/, 'plain text: the plain-text 400');

  // The plain port beside HTTPS: a 308, counted under listener="http".
  t.match((await rawExchange(httpPort, 'GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).data.toString('latin1'), /^HTTP\/1\.1 308 /);

  const tlsLines = [
    'fleetserve_tls_handshakes_total{resumed="false"} 2',
    'fleetserve_tls_handshakes_total{resumed="true"} 3',
    'fleetserve_tls_handshake_errors_total{reason="timeout"} 1',
    'fleetserve_tls_handshake_errors_total{reason="protocol"} 2',
    'fleetserve_tls_handshake_errors_total{reason="no_shared_cipher_or_version"} 1',
    'fleetserve_tls_handshake_errors_total{reason="other"} 0',
  ];
  const expiry = (file: string) => `fleetserve_tls_certificate_expiry_timestamp_seconds{file="${file}"} ${notAfterSeconds(file)}`;
  // Counted as the workers see them: a scrape right after the last close may come first.
  const m = await poll(async () => {
    const sc = await scrape(metricsPort);
    return lines(sc, 'fleetserve_tls_handshake').join('\n') === tlsLines.join('\n') ? sc : null;
  }, 30, 100);
  t.ok(m, 'the TLS counters reached their values');
  if (m === null) return;
  t.same(lines(m, 'fleetserve_tls_handshake'), tlsLines, 'handshakes by resumed, failures by reason');
  t.same(lines(m, 'fleetserve_tls_certificate_expiry'), [expiry(certFile), expiry(pki.rsaA.cert)], 'one series per configured certificate, the notAfter in seconds');
  for (const name of ['fleetserve_tls_handshakes_total', 'fleetserve_tls_handshake_errors_total']) t.equal(m.families.get(name)!.type, 'COUNTER');
  t.equal(m.families.get('fleetserve_tls_certificate_expiry_timestamp_seconds')!.type, 'GAUGE');

  t.same(
    lines(m, 'fleetserve_http_requests_total{').filter((l) => !l.endsWith(' 0')),
    ['fleetserve_http_requests_total{listener="http",method="GET",status_class="3xx"} 1', 'fleetserve_http_requests_total{listener="https",method="GET",status_class="2xx"} 5'],
    'per listener: the 308 on http, the five GETs on https (the plain-text 400 is no request)',
  );
  t.equal(m.families.get('fleetserve_http_requests_total')!.metrics.length, 40, '2 listeners x 4 methods x 5 classes');
  t.equal(sumOf(m, 'fleetserve_http_response_body_bytes_total', (l) => l.listener === 'https'), 5 * '<h1>home</h1>\n'.length);
  t.same(lines(m, 'fleetserve_http_not_modified_total'), ['fleetserve_http_not_modified_total{listener="http"} 0', 'fleetserve_http_not_modified_total{listener="https"} 0']);

  // A renewed certificate in the same file: after the reload the series shows its notAfter.
  const renewed = pki.issue({ cn: 'renewed', san: ['DNS:localhost', 'IP:127.0.0.1'], keyType: 'ecdsa', days: 90 });
  fs.copyFileSync(renewed.cert, certFile);
  t.not(notAfterSeconds(certFile), notAfterSeconds(pki.ecdsaLocal.cert), 'the renewed certificate expires later');
  process.kill(s.pid, 'SIGHUP');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload finished'), 30_000);
  const after = await poll(async () => {
    const sc = await scrape(metricsPort);
    return lines(sc, 'fleetserve_tls_certificate_expiry')[0] === expiry(certFile) ? sc : null;
  }, 30, 100);
  t.ok(after, 'the expiry series follows the certificate in force');
  if (after === null) return;
  t.same(lines(after, 'fleetserve_tls_certificate_expiry'), [expiry(certFile), expiry(pki.rsaA.cert)]);
  t.same(lines(after, 'fleetserve_tls_handshake'), tlsLines, 'the retired workers handed over their TLS counts');
  t.equal((await tlsGet(s.port, pki.caPem, 'TLSv1.3')).resumed, false);
  const counted = await poll(async () => {
    const sc = await scrape(metricsPort);
    return lines(sc, 'fleetserve_tls_handshakes_total{resumed="false"}')[0] === 'fleetserve_tls_handshakes_total{resumed="false"} 3' ? sc : null;
  }, 30, 100);
  t.ok(counted, 'and counting goes on');
});

t.test('single process (workers 0): the same TLS series, served by the process itself', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const root = makeSite(t, { 'index.html': 'x' });
  const metricsPort = await freePort();
  const s = await startServer(t, { root, workers: 0, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--metrics-port', String(metricsPort)] });
  t.match((await tlsGet(s.port, pki.caPem, 'TLSv1.2')).response, /^HTTP\/1\.1 200 /);
  const m = await poll(async () => {
    const sc = await scrape(metricsPort);
    return lines(sc, 'fleetserve_tls_handshakes_total{resumed="false"}')[0]?.endsWith(' 1') ? sc : null;
  }, 30, 100);
  t.ok(m, 'the handshake is counted');
  if (m === null) return;
  t.same(lines(m, 'fleetserve_tls_certificate_expiry'), [`fleetserve_tls_certificate_expiry_timestamp_seconds{file="${pki.ecdsaLocal.cert}"} ${notAfterSeconds(pki.ecdsaLocal.cert)}`]);
  t.same(lines(m, 'fleetserve_http_requests_total{').filter((l) => !l.endsWith(' 0')), ['fleetserve_http_requests_total{listener="https",method="GET",status_class="2xx"} 1']);
  t.equal(m.families.get('fleetserve_http_requests_total')!.metrics.length, 20, 'one listener: https');
});
