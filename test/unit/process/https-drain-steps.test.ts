// The HTTPS listener's handshake steps and the drain (src/process/https.ts): a step is never
// idle and its drain does not close a handshake that has begun; a socket that sent nothing is
// closed after the fresh-connection grace; and a finished handshake's connection is opened
// before its step is released, so a drain counting the connections never sees zero between.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import type { ConnectionOptions } from '../../../src/http/connection';
import { okReply } from '../../../src/http/respond';
import { Https } from '../../../src/process/https';
import type { Admitted } from '../../../src/process/listener';
import type { Drainable } from '../../../src/process/shutdown';
import { readPair } from '../../../src/tls/certificates';
import { makeTestPki, opensslSkip, TEST_POLICY } from '../../fixtures/tls';

t.test('handshake steps under a drain', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const options: ConnectionOptions = {
    keepAliveTimeoutMs: 5000,
    headersTimeoutMs: 5000,
    sendTimeoutMs: 5000,
    handle: () => okReply('Content-Length: 3\r\n', Buffer.from('ok\n')),
    onAccess: null,
    counters: null,
    onError: () => undefined,
  };
  const https = new Https({ defaultPair: readPair(pki.ecdsaLocal.cert, pki.ecdsaKey), sniPairs: [] }, TEST_POLICY, options, { onHandshake: () => undefined, onHandshakeError: () => undefined });
  const open = new Set<Drainable>();
  const events: string[] = [];
  const steps: Drainable[] = [];
  const admitted: Admitted = {
    open: (c) => {
      events.push(`open (${open.size} counted)`);
      open.add(c);
    },
    hold: (c) => {
      steps.push(c);
      open.add(c);
    },
    closed: (c) => {
      open.delete(c);
      events.push(`closed ${steps.includes(c) ? 'step' : 'connection'} (${open.size} left)`);
    },
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => https.accept(socket, admitted)).listen(0, '127.0.0.1');
  t.teardown(() => [...open].forEach((c) => c.cut('forced')));
  t.teardown(() => server.close());
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  const client = tls.connect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost' });
  client.on('data', () => undefined);
  const secured = new Promise<void>((resolve) => client.once('secureConnect', () => resolve()));
  await new Promise<void>((resolve) => server.once('connection', () => setImmediate(resolve)));
  t.equal(steps.length, 1, 'the handshake is held as a step');
  t.equal(steps[0]!.idle, false, 'never idle: a drain does not count it as closed at once');
  steps[0]!.drain(); // the drain began while the handshake runs: it is let finish
  await secured;
  await new Promise<void>((resolve) => {
    const wait = () => (events.length >= 2 ? resolve() : setTimeout(wait, 5));
    wait();
  });
  t.same(events.slice(0, 2), ['open (1 counted)', 'closed step (1 left)'], 'the connection is counted before its step is released: never zero between');
  client.destroy();

  const silent = net.connect(port, '127.0.0.1');
  silent.on('error', () => undefined);
  await new Promise<void>((resolve) => server.once('connection', () => setImmediate(resolve)));
  const closed = new Promise<number>((resolve) => silent.once('close', () => resolve(performance.now())));
  const drainedAt = performance.now();
  steps.at(-1)!.drain();
  const ms = (await closed) - drainedAt;
  // The grace is 250 ms from the accept; TEST_POLICY's handshake timeout is 5000 ms.
  t.ok(ms < 500, `a socket that sent nothing is closed after the grace (${Math.round(ms)} ms), not at the handshake timeout`);
});
