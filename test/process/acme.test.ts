// ACME end to end against Debian's pebble: the first certificate over HTTP-01 (pebble really
// fetches fleetserve's answer) and over TLS-ALPN-01 (pebble really handshakes acme-tls/1 with
// the TLS port, no plain-HTTP port at all), a restart serving the stored certificate with the CA stopped,
// and an unreachable directory: handshakes refused, health 503, every attempt logged.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { pebbleSkip, startPebble } from '../fixtures/pebble';
import { makeSite, startServer, type Server } from '../fixtures/server';
import { freePort } from '../fixtures/wire';

const NAME = 'acme.test';

function storageDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-acme-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'store');
}

async function start(t: Test, o: { httpPort: number; directory: string; caFile: string; storage: string; retryMs?: number }): Promise<Server> {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const args = ['--acme-domains', NAME, '--acme-directory', o.directory, '--acme-ca-file', o.caFile, '--acme-storage', o.storage, '--http-port', String(o.httpPort), '--acme-retry-min-ms', String(o.retryMs ?? 60_000)];
  return startServer(t, { root, workers: 2, args });
}

/** Resolves once `n` serving processes said they serve the new certificate (a handshake before that may meet one still without it). */
async function everyWorkerServes(s: Server, n: number): Promise<void> {
  const count = () => s.logs.filter((l) => String(l.msg ?? '').startsWith(`ACME: serving the new certificate for ${NAME}`)).length;
  for (const end = Date.now() + 10_000; count() < n; await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`${count()} of ${n} processes serve the new certificate after 10 s`);
  }
}

function health(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

/** The certificate the TLS port serves for NAME, or the handshake's error. */
function served(port: number): Promise<tls.PeerCertificate | Error> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate());
      s.end();
    });
    s.on('error', (err) => resolve(err));
    s.setTimeout(3000, () => (s.destroy(), resolve(new Error('handshake timed out'))));
  });
}

t.test('first issuance over http-01, then a restart from storage without the CA', { skip: pebbleSkip, timeout: 60_000 }, async (t) => {
  const httpPort = await freePort();
  const pebble = await startPebble(t, { httpPort });
  const storage = storageDir(t);
  const s = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage });
  await s.waitForLog((l) => String(l.msg ?? '').startsWith(`ACME: certificate for ${NAME} obtained`), 30_000);
  await everyWorkerServes(s, 2);
  const cert = await served(s.port);
  if (cert instanceof Error) throw cert;
  t.match(cert.subjectaltname, `DNS:${NAME}`, 'the certificate is for the name');
  t.match(cert.issuer.CN, /Pebble/, 'issued by pebble');
  t.equal(pebble.issued(), 1, 'one order at the CA');
  t.same(await health(httpPort), { status: 200, body: 'ok\n' });
  t.equal(fs.statSync(storage).mode & 0o777, 0o700, 'storage 0700');
  for (const f of fs.readdirSync(storage, { recursive: true }) as string[]) {
    const stat = fs.statSync(path.join(storage, f));
    t.equal(stat.mode & 0o777, stat.isDirectory() ? 0o700 : 0o600, `${f} ${stat.isDirectory() ? '0700' : '0600'}`);
  }

  s.signalGroup('SIGTERM');
  t.equal((await s.exited()).code, 0);
  await pebble.stop();
  const again = await start(t, { httpPort, directory: pebble.directory, caFile: pebble.caFile, storage });
  await again.waitForLog((l) => String(l.msg ?? '').startsWith(`ACME: serving the stored certificate for ${NAME}`));
  const stored = await served(again.port);
  if (stored instanceof Error) throw stored;
  t.equal(stored.fingerprint256, cert.fingerprint256, 'the stored certificate at once');
  t.notOk(again.logs.some((l) => String(l.msg ?? '').startsWith('ACME: ordering')), 'no order placed');
});

for (const workers of [2, 0]) {
  t.test(`first issuance over tls-alpn-01 (workers ${workers}): pebble handshakes acme-tls/1 with the TLS port, no httpPort`, { skip: pebbleSkip, timeout: 60_000 }, async (t) => {
    const port = await freePort();
    const nothingThere = await freePort(); // pebble's httpPort: an HTTP-01 validation could not succeed
    const pebble = await startPebble(t, { httpPort: nothingThere, tlsPort: port });
    const root = makeSite(t, { 'index.html': 'hi\n' });
    const args = ['--port', String(port), '--acme-domains', NAME, '--acme-directory', pebble.directory, '--acme-ca-file', pebble.caFile, '--acme-storage', storageDir(t), '--acme-challenge', 'tls-alpn-01', '--acme-retry-min-ms', '60000'];
    const s = await startServer(t, { root, workers, args });
    t.equal(s.port, port);
    await s.waitForLog((l) => String(l.msg ?? '').startsWith(`ACME: certificate for ${NAME} obtained`), 30_000);
    await everyWorkerServes(s, Math.max(workers, 1));
    const cert = await served(port);
    if (cert instanceof Error) throw cert;
    t.match(cert.subjectaltname, `DNS:${NAME}`, 'the certificate is for the name');
    t.match(cert.issuer.CN, /Pebble/, 'issued by pebble');
    t.equal(pebble.issued(), 1, 'one order at the CA');
    t.ok(s.logs.some((l) => l.msg === `ACME: answered a TLS-ALPN-01 validation for ${NAME}`), 'pebble validated over tls-alpn-01');
    t.notOk(s.logs.some((l) => String(l.msg ?? '').includes('failed')), 'no attempt failed');
  });
}

t.test('an unreachable directory: handshakes refused, health 503, each attempt logged', { skip: pebbleSkip, timeout: 30_000 }, async (t) => {
  const httpPort = await freePort();
  const closed = await freePort();
  const storage = storageDir(t);
  const s = await startNoCa(t, httpPort, closed, storage);
  const first = await s.waitForLog((l) => String(l.msg ?? '').startsWith(`ACME: order for ${NAME} failed (attempt 1)`));
  t.match(first.msg, /no certificate yet: TLS handshakes are refused; trying again in 1 s/);
  await s.waitForLog((l) => String(l.msg ?? '').startsWith(`ACME: order for ${NAME} failed (attempt 2)`), 5000);
  t.match(String((await s.waitForLog((l) => String(l.msg ?? '').includes('failed (attempt 2)'))).msg), /trying again in 2 s/, 'the back-off doubles');
  t.same(await health(httpPort), { status: 503, body: 'no certificate yet\n' });
  t.type(await served(s.port), Error, 'the handshake is refused');
});

function startNoCa(t: Test, httpPort: number, closed: number, storage: string): Promise<Server> {
  const root = makeSite(t, { 'index.html': 'hi\n' });
  const args = ['--acme-domains', NAME, '--acme-directory', `https://127.0.0.1:${closed}/dir`, '--acme-storage', storage, '--http-port', String(httpPort), '--acme-retry-min-ms', '1000'];
  return startServer(t, { root, workers: 2, args });
}
