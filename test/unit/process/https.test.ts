// The HTTPS listener kind in-process (src/process/https.ts), over 127.0.0.1 with the test PKI:
// what it tells the process about handshakes (completed, resumed, failed by reason), the
// listener data it hands each connection (its access records say https and the TLS version),
// and the certificates in force it shows the metrics, before and after replaceCertificates.
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { PlainTextOnTlsPortError } from '../../../src/errors';
import type { ConnectionOptions } from '../../../src/http/connection';
import { okReply } from '../../../src/http/respond';
import type { AccessRecord } from '../../../src/http/types';
import { Https } from '../../../src/process/https';
import type { Admitted } from '../../../src/process/listener';
import type { Drainable } from '../../../src/process/shutdown';
import { readPair } from '../../../src/tls/certificates';
import { classifyHandshakeError, type HandshakeFailure } from '../../../src/tls/context';
import { makeTestPki, opensslSkip, TEST_POLICY } from '../../fixtures/tls';

t.test('plain text on the TLS port is a protocol failure, as OpenSSL\'s own record errors are', async (t) => {
  t.equal(classifyHandshakeError(new PlainTextOnTlsPortError('x')), 'protocol');
  t.equal(classifyHandshakeError(Object.assign(new Error('x'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' })), 'protocol');
});

t.test('Https: handshake events, listener data per connection, the certificates in force', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const access: AccessRecord[] = [];
  const handshakes: boolean[] = [];
  const failures: HandshakeFailure[] = [];
  const options: ConnectionOptions = {
    keepAliveTimeoutMs: 5000,
    headersTimeoutMs: 300,
    sendTimeoutMs: 5000,
    handle: () => okReply('Content-Length: 3\r\n', Buffer.from('ok\n')),
    onAccess: (r) => access.push(r),
    counters: null,
    onError: () => undefined,
  };
  const set = { defaultPair: readPair(pki.ecdsaLocal.cert, pki.ecdsaKey), sniPairs: [readPair(pki.rsaA.cert, pki.rsaKey)] };
  const https = new Https(set, TEST_POLICY, options, { onHandshake: (resumed) => handshakes.push(resumed), onHandshakeError: (reason) => failures.push(reason) });
  const open = new Set<Drainable>();
  const admitted: Admitted = { open: (c) => open.add(c), hold: (c) => open.add(c), closed: (c) => open.delete(c) };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => https.accept(socket, admitted));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const c of open) c.cut('forced');
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;

  t.same(https.certificates().map((p) => p.certFile), [pki.ecdsaLocal.cert, pki.rsaA.cert], 'the configured pairs, the default first');

  const get = (version: tls.SecureVersion, session?: Buffer) =>
    new Promise<Buffer | undefined>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost', minVersion: version, maxVersion: version, session });
      let saved: Buffer | undefined;
      s.on('session', (b: Buffer) => (saved ??= b));
      s.once('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.on('data', () => undefined);
      s.once('error', reject);
      s.once('close', () => resolve(saved));
    });
  const session = await get('TLSv1.3');
  await get('TLSv1.3', session);
  await get('TLSv1.2');
  t.same(handshakes, [false, true, false], 'full, resumed, full');
  t.same(access.map((r) => [r.status, r.listener, r.tls]), [[200, 'https', 'TLSv1.3'], [200, 'https', 'TLSv1.3'], [200, 'https', 'TLSv1.2']]);

  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\n\r\n'));
    s.on('data', () => undefined);
    s.on('close', () => resolve());
  });
  t.same(failures, ['protocol'], 'a plain-text request is counted as a protocol failure');

  https.replaceCertificates({ defaultPair: readPair(pki.rsaLocal.cert, pki.rsaKey), sniPairs: [] });
  t.same(https.certificates().map((p) => p.certFile), [pki.rsaLocal.cert], 'after a replacement: the new set, and only it');
});
