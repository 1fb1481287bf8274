// The acceptor and half-open sockets (src/tls/acceptor.ts): the listener's sockets allow
// half-open, but a TLS handshake on one must not, or a client that closes right after its
// Finished leaves the server's side waiting out the whole handshake timeout (a connection
// slot and a drain held that long). Once secure, the socket allows half-open again, so a
// client that sends its request and shuts down its side still gets the answer.
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { TlsAcceptor } from '../../../src/tls/acceptor';
import { readPair } from '../../../src/tls/certificates';
import { makeTestPki, opensslSkip, TEST_POLICY } from '../../fixtures/tls';

t.test('half-open sockets through the acceptor', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const set = { defaultPair: readPair(pki.ecdsaLocal.cert, pki.ecdsaLocal.key), sniPairs: [] };
  const secured: tls.TLSSocket[] = [];
  const acceptor = new TlsAcceptor(set, TEST_POLICY, {
    onSecure: (s) => {
      secured.push(s);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      // The answer comes after the client's FIN: only a half-open socket can still send it.
      s.on('end', () => setImmediate(() => s.end('answer after your FIN\n')));
    },
    onPlainText: (s) => s.destroy(),
    onHandshakeError: () => undefined,
  });
  const raw: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    raw.push(s);
    acceptor.accept(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    raw.forEach((s) => s.destroy());
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;

  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const before = raw.length;
    await new Promise<void>((resolve) => {
      const c = tls.connect({ port, host: '127.0.0.1', ca: pki.caPem, servername: 'localhost', minVersion: v, maxVersion: v });
      c.on('error', () => undefined);
      c.once('secureConnect', () => {
        c.destroy();
        resolve();
      });
    });
    const socket = raw[before]!;
    // TEST_POLICY's handshake timeout is 5000 ms: closing within a fifth of it is not the timeout.
    const closedIn = await new Promise<number>((resolve) => {
      const t0 = performance.now();
      const timer = setTimeout(() => resolve(Infinity), 1000);
      if (socket.destroyed) resolve(0);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
    });
    t.ok(closedIn < 1000, `${v}: a client gone right after its handshake frees the server's socket at once (${Math.round(closedIn)} ms)`);
  }

  const answer = await new Promise<string>((resolve, reject) => {
    const c = tls.connect({ port, host: '127.0.0.1', ca: pki.caPem, servername: 'localhost', allowHalfOpen: true } as tls.ConnectionOptions);
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.once('secureConnect', () => c.end('request\n'));
    c.on('close', () => resolve(got));
    c.on('error', reject);
  });
  t.equal(answer, 'answer after your FIN\n', 'a secure socket allows half-open again: the answer after the FIN arrives');
  t.equal(secured.at(-1)!.allowHalfOpen, true);
});
