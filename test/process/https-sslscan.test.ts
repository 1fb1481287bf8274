// The cipher policy of the wired server (dist/, src/process/https.ts over src/tls/context.ts) as
// Debian's sslscan sees it from outside, on 127.0.0.1: TLS 1.2 and 1.3 only, on TLS 1.2 only the
// ECDHE suites with AES-GCM or ChaCha20-Poly1305 for the certificate's key type (ECDSA and
// RSA pairs, chosen by SNI), on TLS 1.3 its three suites; with tlsMinVersion TLSv1.3, no TLS 1.2.
// First a control: Node's own default list on the same certificates, which sslscan must catch
// accepting what the policy forbids, so that a scanner that offers less cannot pass the policy
// checks by seeing nothing.
import fs from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { makeSite, startServer } from '../fixtures/server';
import { checkIntermediatePolicy, FORBIDDEN_TLS12, runSslscan, sslscanSkip } from '../fixtures/sslscan';
import { makeTestPki, opensslSkip, type TestPair, type TestPki } from '../fixtures/tls';

/** The server's arguments for a default pair, the SNI pairs and more. */
function tlsArgs(defaultPair: TestPair, sniPairs: TestPair[], extra: string[] = []): string[] {
  return ['--tls-cert', defaultPair.cert, '--tls-key', defaultPair.key, '--tls-certificates', JSON.stringify(sniPairs.map((p) => ({ cert: p.cert, key: p.key }))), ...extra];
}

t.test('sslscan against the wired HTTPS listener', { skip: opensslSkip || sslscanSkip() }, async (t) => {
  const pki = makeTestPki(t);
  t.test('control: Node\'s default cipher list is caught accepting what the policy forbids', (t) => control(t, pki));
  t.test('tlsMinVersion TLSv1.2 (the default): ECDSA default, RSA by SNI', async (t) => {
    const s = await startServer(t, { root: makeSite(t, { 'index.html': 'x\n' }), args: [...tlsArgs(pki.ecdsaLocal, [pki.rsaA])] });
    checkIntermediatePolicy(t, await runSslscan(s.port, 'localhost'), 'ECDSA', { tls12: true, label: 'ECDSA (localhost)' });
    checkIntermediatePolicy(t, await runSslscan(s.port, 'a.test'), 'RSA', { tls12: true, label: 'RSA (a.test)' });
  });
  t.test('tlsMinVersion TLSv1.3: RSA default, ECDSA by SNI; no TLS 1.2', async (t) => {
    const s = await startServer(t, { root: makeSite(t, { 'index.html': 'x\n' }), args: [...tlsArgs(pki.rsaLocal, [pki.ecdsaA], ['--tls-min-version', 'TLSv1.3'])] });
    checkIntermediatePolicy(t, await runSslscan(s.port, 'localhost'), 'RSA', { tls12: false, label: 'RSA (localhost), TLSv1.3' });
    checkIntermediatePolicy(t, await runSslscan(s.port, 'a.test'), 'ECDSA', { tls12: false, label: 'ECDSA (a.test), TLSv1.3' });
  });
});

/** A plain node:tls server with Node's defaults (no ciphers option): what fleetserve must not be. */
async function control(t: Test, pki: TestPki): Promise<void> {
  const server = tls.createServer({ cert: fs.readFileSync(pki.rsaLocal.cert), key: fs.readFileSync(pki.rsaLocal.key) }, (socket) => socket.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const scan = await runSslscan((server.address() as net.AddressInfo).port, 'localhost');
  const accepted12 = scan.accepted.filter((a) => a.startsWith('TLSv1.2 ')).map((a) => a.slice(8));
  for (const [what, bad] of FORBIDDEN_TLS12) {
    // Node's default list leaves out finite-field DHE (no dhparam) and CAMELLIA.
    if (what === 'finite-field DHE' || what === 'CAMELLIA') continue;
    t.ok(accepted12.some(bad), `sslscan sees a TLS 1.2 suite with ${what} on Node's defaults (${accepted12.filter(bad).join(' ')})`);
  }
}
