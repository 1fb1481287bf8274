// The ClientHello peek (src/tls/client-hello.ts): real ClientHellos from node's tls.connect and
// from openssl s_client (TLS 1.2 and 1.3, with and without SNI, with and without ALPN) give
// their server name and ALPN list, hand-made ones check the ALPN list's edge cases, every
// proper prefix asks for more, a ClientHello split over records is reassembled, plain text is
// told apart, and anything malformed or oversized is handed on (kind 'tls', no name).
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { MAX_CLIENT_HELLO_BYTES, MAX_CLIENT_HELLO_RECORDS, peekClientHello } from '../../src/tls/client-hello';
import { opensslSkip } from '../fixtures/tls';

/** The first flight a client sends: one whole TLS record (a ClientHello fits in one). */
function captureFirstRecord(start: (port: number) => () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let stop = () => {};
    const server = net.createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
          socket.destroy();
          server.close();
          stop();
          resolve(got.subarray(0, 5 + got.readUInt16BE(3)));
        }
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      stop = start((server.address() as net.AddressInfo).port);
    });
  });
}

function nodeHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  return captureFirstRecord((port) => {
    const c = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...opts });
    c.on('error', () => {});
    return () => c.destroy();
  });
}

function opensslHello(args: string[]): Promise<Buffer> {
  return captureFirstRecord((port) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    return () => p.kill();
  });
}

/** Every proper prefix of `hello` needs more; the whole gives `name` and the ALPN list `alpn`. */
function checkPrefixes(t: Test, hello: Buffer, name: string | null, label: string, alpn: string[] | null = null): void {
  let wrong = 0;
  for (let n = 0; n < hello.length; n++) if (peekClientHello(hello.subarray(0, n)).kind !== 'more') wrong++;
  t.equal(wrong, 0, `${label}: each of the ${hello.length} proper prefixes asks for more`);
  t.same(peekClientHello(hello), { kind: 'tls', serverName: name, alpn }, `${label}: server name ${JSON.stringify(name)}, ALPN ${JSON.stringify(alpn)}`);
}

/**
 * The handshake message of a one-record hello, split into records of `size` bytes (the last
 * may be shorter), or of the sizes listed and then one record with the rest.
 */
function resplit(hello: Buffer, size: number | number[]): Buffer {
  const handshake = hello.subarray(5);
  const sizes = typeof size === 'number' ? [] : size;
  const out: Buffer[] = [];
  for (let i = 0, n = 0; i < handshake.length; n++) {
    const take = typeof size === 'number' ? size : (sizes[n] ?? handshake.length - i);
    const part = handshake.subarray(i, i + take);
    i += take;
    const head = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    out.push(head, part);
  }
  return Buffer.concat(out);
}

t.test('node tls.connect ClientHellos', async (t) => {
  checkPrefixes(t, await nodeHello({ servername: 'a.test' }), 'a.test', 'TLS 1.3 with SNI');
  checkPrefixes(t, await nodeHello({ servername: 'x.b.test', maxVersion: 'TLSv1.2' }), 'x.b.test', 'TLS 1.2 only, with SNI');
  checkPrefixes(t, await nodeHello({}), null, 'to an IP address: no SNI');
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.test`;
  checkPrefixes(t, await nodeHello({ servername: long }), long, 'a long name');
  checkPrefixes(t, await nodeHello({ servername: 'a.test', ALPNProtocols: ['acme-tls/1'] }), 'a.test', 'a TLS-ALPN-01 validation', ['acme-tls/1']);
  checkPrefixes(t, await nodeHello({ servername: 'a.test', ALPNProtocols: ['h2', 'http/1.1'] }), 'a.test', 'h2 and http/1.1', ['h2', 'http/1.1']);
  checkPrefixes(t, await nodeHello({ ALPNProtocols: ['http/1.1'], maxVersion: 'TLSv1.2' }), null, 'TLS 1.2, ALPN without SNI', ['http/1.1']);
});

t.test('openssl s_client ClientHellos', { skip: opensslSkip }, async (t) => {
  checkPrefixes(t, await opensslHello(['-servername', 'a.test', '-tls1_3']), 'a.test', 'TLS 1.3');
  checkPrefixes(t, await opensslHello(['-servername', 'A.Test.', '-tls1_2']), 'A.Test.', 'TLS 1.2, the name as sent');
  checkPrefixes(t, await opensslHello(['-noservername']), null, 'no SNI');
  checkPrefixes(t, await opensslHello(['-servername', 'a.test', '-alpn', 'acme-tls/1']), 'a.test', 'a TLS-ALPN-01 validation', ['acme-tls/1']);
  checkPrefixes(t, await opensslHello(['-servername', 'a.test', '-tls1_2', '-alpn', 'h2,http/1.1']), 'a.test', 'TLS 1.2, h2 and http/1.1', ['h2', 'http/1.1']);
});

t.test('a ClientHello split over several records is put together, up to a bound', async (t) => {
  const hello = await nodeHello({ servername: 'split.test' });
  const length = hello.length - 5;
  for (const records of [2, 3, 10, MAX_CLIENT_HELLO_RECORDS]) {
    const size = Math.ceil(length / records);
    checkPrefixes(t, resplit(hello, size), 'split.test', `${records} records of ${size} bytes`);
  }
  const tooMany = resplit(hello, Math.floor(length / (MAX_CLIENT_HELLO_RECORDS + 1)));
  t.same(peekClientHello(tooMany), { kind: 'tls', serverName: null, alpn: null }, `more than ${MAX_CLIENT_HELLO_RECORDS} records: handed on unparsed`);
  checkPrefixes(t, resplit(hello, [1, 2, 1, 100]), 'split.test', 'the 4-byte handshake header itself over three records');
  const withAlpn = await nodeHello({ servername: 'split.test', ALPNProtocols: ['acme-tls/1'] });
  // Records as small as the bound allows for this Node's ClientHello (Node 22's and 24's are
  // larger than Node 20's: they carry a post-quantum key share), never under 7 bytes.
  const small = Math.max(7, Math.ceil((withAlpn.length - 5) / MAX_CLIENT_HELLO_RECORDS));
  checkPrefixes(t, resplit(withAlpn, small), 'split.test', `an ALPN list split over records of ${small} bytes`, ['acme-tls/1']);
});

/** An extension: type, then its body with a 16-bit length. */
function extension(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** A vector with a length prefix of `width` bytes. */
function vector(width: 1 | 2, body: Buffer): Buffer {
  const head = Buffer.alloc(width);
  head.writeUIntBE(body.length, 0, width);
  return Buffer.concat([head, body]);
}

/** A well-formed ALPN extension body (RFC 7301 §3.1) for `names`. */
function alpnBody(names: string[]): Buffer {
  return vector(2, Buffer.concat(names.map((n) => vector(1, Buffer.from(n, 'latin1')))));
}

/** A server_name extension body with one host_name. */
function sniBody(name: string): Buffer {
  return vector(2, Buffer.concat([Buffer.from([0]), vector(2, Buffer.from(name))]));
}

/** A minimal one-record TLS 1.2 ClientHello with these extensions (in this order). */
function handMadeHello(extensions: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 1), vector(1, Buffer.alloc(0)), vector(2, Buffer.from([0xc0, 0x2b])), vector(1, Buffer.from([0])), vector(2, Buffer.concat(extensions))]);
  const handshake = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
  handshake.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), vector(2, handshake)]);
}

t.test('ALPN lists made by hand: the edge cases of RFC 7301 §3.1', (t) => {
  const peek = (extensions: Buffer[]) => peekClientHello(handMadeHello(extensions));
  const sni = extension(0, sniBody('a.test'));
  const alpn = (body: Buffer) => extension(16, body);
  t.same(peek([sni, alpn(alpnBody(['acme-tls/1']))]), { kind: 'tls', serverName: 'a.test', alpn: ['acme-tls/1'] }, 'SNI, then ALPN');
  t.same(peek([alpn(alpnBody(['h2', 'http/1.1'])), sni]), { kind: 'tls', serverName: 'a.test', alpn: ['h2', 'http/1.1'] }, 'ALPN before SNI, order kept');
  t.same(peek([alpn(alpnBody(['x'.repeat(255), 'y']))]), { kind: 'tls', serverName: null, alpn: ['x'.repeat(255), 'y'] }, 'a 255-byte name (the longest), no SNI');
  t.same(peek([alpn(alpnBody(['\xff\x00a']))]), { kind: 'tls', serverName: null, alpn: ['\xff\x00a'] }, 'bytes outside ASCII, as latin1');
  t.same(peek([alpn(alpnBody(['acme-tls/1'])), alpn(alpnBody(['http/1.1']))]), { kind: 'tls', serverName: null, alpn: ['acme-tls/1'] }, 'twice: the first (OpenSSL refuses the duplicate)');
  const malformed: [string, Buffer][] = [
    ['an empty extension', Buffer.alloc(0)],
    ['an empty list', Buffer.from([0, 0])],
    ['one byte', Buffer.from([0])],
    ['an empty name', Buffer.from([0, 1, 0])],
    ['a name running past the list', Buffer.from([0, 3, 5, 0x68, 0x32])],
    ['a list shorter than the extension', Buffer.concat([alpnBody(['h2']), Buffer.from([2, 0x68, 0x32])])],
    ['a list longer than the extension', Buffer.from([0, 9, 2, 0x68, 0x32])],
    ['an empty name after a good one', Buffer.from([0, 4, 2, 0x68, 0x32, 0])],
  ];
  for (const [label, body] of malformed) t.same(peek([sni, alpn(body)]), { kind: 'tls', serverName: 'a.test', alpn: null }, `${label}: no ALPN list, the server name kept`);
  t.same(peek([extension(0, Buffer.from([0, 9, 0])), alpn(alpnBody(['acme-tls/1']))]), { kind: 'tls', serverName: null, alpn: ['acme-tls/1'] }, 'a malformed server name: no name, the ALPN list kept');
  const overrun = handMadeHello([sni, alpn(alpnBody(['acme-tls/1']))]);
  overrun.writeUInt16BE(overrun.readUInt16BE(overrun.length - 15) + 1, overrun.length - 15);
  t.same(peekClientHello(overrun), { kind: 'tls', serverName: null, alpn: null }, 'an extension running past the extensions: handed on with neither');
  t.same(peek([]), { kind: 'tls', serverName: null, alpn: null }, 'no extensions at all');
  t.end();
});

t.test('plain text: an ASCII letter first', (t) => {
  for (const s of ['GET / HTTP/1.1\r\n', 'G', 'HEAD', 'POST /x', 'PRI * HTTP/2.0', 'get /', 'OPTIONS *']) t.same(peekClientHello(Buffer.from(s)), { kind: 'plain-text' }, JSON.stringify(s));
  t.same(peekClientHello(Buffer.alloc(0)), { kind: 'more' }, 'nothing yet: more');
  t.end();
});

t.test('not a ClientHello: handed on without a name, for OpenSSL to refuse', async (t) => {
  const hello = await nodeHello({ servername: 'a.test' });
  const unknown = { kind: 'tls', serverName: null, alpn: null };
  const patch = (at: number, bytes: number[]) => {
    const b = Buffer.from(hello);
    bytes.forEach((v, i) => (b[at + i] = v));
    return b;
  };
  t.same(peekClientHello(Buffer.from([0x15, 3, 3, 0, 2, 2, 40])), unknown, 'an alert record');
  t.same(peekClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])), unknown, 'an SSLv2-style hello');
  t.same(peekClientHello(Buffer.from([0x00, 0x00, 0x00])), unknown, 'zero bytes');
  t.same(peekClientHello(Buffer.from('\r\nGET /')), unknown, 'CRLF first');
  t.same(peekClientHello(patch(5, [0x02])), unknown, 'a ServerHello type');
  t.same(peekClientHello(patch(3, [0, 0])), unknown, 'an empty record');
  t.same(peekClientHello(patch(3, [0x40, 0x01])), unknown, 'a record longer than 2^14');
  t.same(peekClientHello(Buffer.concat([resplit(hello, 10).subarray(0, 15), Buffer.from([0x17, 3, 3, 0, 1, 0])])), unknown, 'application data in the middle of the hello');
  t.same(peekClientHello(patch(6, [0x01, 0x00, 0x00])), unknown, 'a ClientHello longer than the peek keeps');
  // The extensions length (after version, random, session id, suites, compression) made too long.
  const body = hello.subarray(9);
  const sid = body[34]!;
  const suites = body.readUInt16BE(35 + sid);
  const comp = body[37 + sid + suites]!;
  const extAt = 9 + 38 + sid + suites + comp;
  t.same(peekClientHello(patch(extAt, [0xff, 0xff])), unknown, 'extensions running past the end');
  t.same(peekClientHello(patch(9 + 34, [0xff])), unknown, 'a session id running past the end');
  t.end();
});

t.test('the peek is bounded: a ClientHello still incomplete at the limit is handed on', (t) => {
  // One short record that announces a long hello, then a second record that never completes.
  // The hello: 16385 bytes of body, as long as the peek keeps; the second record carries the
  // 16383 bytes after the first two, so it completes only past the limit.
  const first = Buffer.from([0x16, 3, 1, 0, 6, 0x01, 0x00, 0x40, 0x01, 0, 0]);
  const second = Buffer.concat([Buffer.from([0x16, 3, 1, 0x3f, 0xff]), Buffer.alloc(MAX_CLIENT_HELLO_BYTES)]);
  const upTo = (n: number) => Buffer.concat([first, second]).subarray(0, n);
  t.same(peekClientHello(upTo(MAX_CLIENT_HELLO_BYTES - 1)), { kind: 'more' }, 'one byte below the limit: more');
  t.same(peekClientHello(upTo(MAX_CLIENT_HELLO_BYTES)), { kind: 'tls', serverName: null, alpn: null }, 'at the limit: handed on');
  t.end();
});
