// The HTTPS listener kind in process, on real sockets: what it puts in the process's book of
// connections from the accept to the close — behind a proxy the PROXY header's reader, then
// the handshake, then the connection, never an empty book in between (a drain would end the
// process there) — and the client the header named is the connection's.
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { BehindProxy } from '../../../src/http/behind-proxy';
import type { Connection } from '../../../src/http/connection';
import { plainTextReply } from '../../../src/http/respond';
import { Https } from '../../../src/process/https';
import type { Admitted } from '../../../src/process/listener';
import { firstServing, InForce, ServingConnectionOptions } from '../../../src/process/serving';
import type { Drainable } from '../../../src/process/shutdown';
import { readPair } from '../../../src/tls/certificates';
import { run, sandbox } from '../../fixtures/config';
import { recordingLog } from '../../fixtures/process-fakes';
import { proxyV1 } from '../../fixtures/proxy-header';
import { req } from '../../fixtures/server';
import { makeTestPki, opensslSkip, TEST_POLICY, type TestPki } from '../../fixtures/tls';

/** The book, as a listener's Admission keeps it: every event with the size after it. */
class Book implements Admitted {
  readonly entries = new Set<Drainable>();
  readonly events: [string, string, number][] = [];
  readonly opened: Drainable[] = [];
  private emptied: (() => void) | null = null;

  readonly open = (c: Drainable) => {
    this.entries.add(c);
    this.opened.push(c);
    this.events.push(['open', c.constructor.name, this.entries.size]);
  };

  readonly hold = (c: Drainable) => {
    this.entries.add(c);
    this.events.push(['hold', c.constructor.name, this.entries.size]);
  };

  readonly closed = (c: Drainable) => {
    this.entries.delete(c);
    this.events.push(['closed', c.constructor.name, this.entries.size]);
    if (this.entries.size === 0) this.emptied?.();
  };

  /** Resolves once the book is empty after at least one connection opened. */
  async empty(): Promise<void> {
    if (this.entries.size === 0 && this.opened.length > 0) return;
    await new Promise<void>((resolve) => (this.emptied = resolve));
  }
}

async function listening(t: Test, pki: TestPki, args: string[]): Promise<{ port: number; book: Book }> {
  const box = sandbox(t);
  const config = run(['--root', box.site, ...args], {}, box.cwd);
  const { log } = recordingLog();
  const inForce = new InForce(firstServing(config, { handler: () => ({ handle: () => plainTextReply(200, 'hi\n'), cacheHits: 0, cacheMisses: 0, cacheSize: { entries: 0, bytes: 0 } }), behindProxy: (c) => BehindProxy.from(c, log), certificates: () => null }));
  const options = new ServingConnectionOptions(inForce, () => false, null, null, () => {});
  const certificates = { defaultPair: readPair(pki.ecdsaLocal.cert, pki.ecdsaLocal.key), sniPairs: [] };
  const kind = new Https(certificates, TEST_POLICY, options, { onHandshake: () => {}, onHandshakeError: () => {} }, null, () => inForce.current.behindProxy);
  const book = new Book();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => kind.accept(socket, book));
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, book };
}

/** One request over TLS (after `header`, on the same TCP connection); resolves with the answer. */
function exchange(port: number, pki: TestPki, header: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1', () => {
      if (header !== null) raw.write(header);
      const c = tls.connect({ socket: raw, ca: pki.caPem, servername: 'localhost' }, () => c.write(req('/', 'Connection: close\r\n')));
      let got = '';
      c.on('data', (d: Buffer) => (got += d.toString('latin1')));
      c.on('error', reject);
      c.on('close', () => resolve(got));
    });
    raw.on('error', reject);
  });
}

t.test('behind a proxy: the reader, then the handshake, then the connection, and the book is never empty between', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const { port, book } = await listening(t, pki, ['--proxy-protocol', 'true']);
  t.match(await exchange(port, pki, proxyV1('TCP4', '203.0.113.7', '127.0.0.1', 1, 443)), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhi\n$/);
  await book.empty();
  t.same(book.events, [
    ['hold', 'ProxyHeaderReader', 1],
    ['hold', 'Handshake', 2],
    ['closed', 'ProxyHeaderReader', 1],
    ['open', 'Connection', 2],
    ['closed', 'Handshake', 1],
    ['closed', 'Connection', 0],
  ]);
  const conn = book.opened[0] as Connection;
  t.same([conn.remote, conn.peer], ['203.0.113.7', '127.0.0.1'], 'the client the header named; the peer beside it');
});

t.test('no proxy: the handshake, then the connection', { skip: opensslSkip }, async (t) => {
  const pki = makeTestPki(t);
  const { port, book } = await listening(t, pki, []);
  t.match(await exchange(port, pki, null), /^HTTP\/1\.1 200 OK\r\n/);
  await book.empty();
  t.same(book.events, [
    ['hold', 'Handshake', 1],
    ['open', 'Connection', 2],
    ['closed', 'Handshake', 1],
    ['closed', 'Connection', 0],
  ]);
  t.equal((book.opened[0] as Connection).remote, '127.0.0.1');
});
