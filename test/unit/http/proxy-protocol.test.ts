// The PROXY protocol header parser (src/http/proxy-protocol.ts), pure: versions 1 and 2 as
// HAProxy's doc/proxy-protocol.txt defines them, every prefix of a valid header, and each way
// a header can be wrong.
import crypto from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { parseProxyHeader, V1_MAX_BYTES, V2_MAX_BYTES, type ProxyHeaderResult } from '../../../src/http/proxy-protocol';
import { proxyV1, proxyV2, tlv } from '../../fixtures/proxy-header';

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
const b = (s: string) => Buffer.from(s, 'latin1');

function reason(r: ProxyHeaderResult): string {
  return r.kind === 'invalid' ? r.reason : `(${r.kind})`;
}

/** Every strict prefix of a valid header is incomplete: nothing is decided before the header ends. */
function everyPrefixIncomplete(t: Test, header: Buffer, what: string): void {
  const bad: number[] = [];
  for (let n = 0; n < header.length; n++) if (parseProxyHeader(header.subarray(0, n)).kind !== 'incomplete') bad.push(n);
  t.same(bad, [], `${what}: each of its ${header.length} prefixes is incomplete`);
}

t.test('v1: TCP4 and TCP6 name the client and end at the CRLF', (t) => {
  const line = proxyV1('TCP4', '192.0.2.1', '198.51.100.2', 56324, 443);
  t.same(parseProxyHeader(Buffer.concat([b(line), REQUEST])), { kind: 'ok', source: { address: '192.0.2.1', port: 56324 }, consumed: line.length });
  t.same(parseProxyHeader(b(line)), { kind: 'ok', source: { address: '192.0.2.1', port: 56324 }, consumed: line.length }, 'nothing after it');
  const six = proxyV1('TCP6', '2001:DB8:0:0:0:0:0:7', '2001:db8::2', 0, 65535);
  t.same(parseProxyHeader(b(six)), { kind: 'ok', source: { address: '2001:db8::7', port: 0 }, consumed: six.length }, 'IPv6 comes out canonical, ports 0 and 65535 are ports');
  const mapped = proxyV1('TCP6', '::ffff:192.0.2.9', '::1', 1, 2);
  t.same(parseProxyHeader(b(mapped)), { kind: 'ok', source: { address: '::ffff:192.0.2.9', port: 1 }, consumed: mapped.length }, 'an IPv4-mapped address as Node writes it');
  const longest = proxyV1('TCP6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 65535);
  t.equal(longest.length, 104, 'the longest TCP6 line (104 bytes)');
  t.match(parseProxyHeader(b(longest)), { kind: 'ok', consumed: 104 });
  everyPrefixIncomplete(t, b(line), 'TCP4');
  everyPrefixIncomplete(t, b(longest), 'TCP6');
  t.end();
});

t.test('v1: UNKNOWN names nobody; whatever follows it up to the CRLF is ignored', (t) => {
  t.same(parseProxyHeader(b('PROXY UNKNOWN\r\nGET')), { kind: 'ok', source: null, consumed: 15 });
  const worst = `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`;
  t.equal(worst.length, V1_MAX_BYTES, 'the worst case of the specification is 107 bytes');
  t.same(parseProxyHeader(b(worst)), { kind: 'ok', source: null, consumed: 107 });
  t.same(parseProxyHeader(b('PROXY UNKNOWN anything\tat all\r\n')), { kind: 'ok', source: null, consumed: 31 });
  everyPrefixIncomplete(t, b(worst), 'UNKNOWN, longest');
  t.end();
});

t.test('v1: a line that is not exactly the format is refused', (t) => {
  const cases: [string, string][] = [
    ['PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n', 'v1: protocol is not TCP4, TCP6 or UNKNOWN'],
    ['PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n', 'v1: protocol is not TCP4, TCP6 or UNKNOWN'],
    ['PROXY UNKNOWNX\r\n', 'v1: protocol is not TCP4, TCP6 or UNKNOWN'],
    ['PROXY \r\n', 'v1: protocol is not TCP4, TCP6 or UNKNOWN'],
    ['PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n', 'v1: protocol is not TCP4, TCP6 or UNKNOWN'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n', 'v1: not "PROXY TCPn SOURCE DESTINATION SPORT DPORT"'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n', 'v1: not "PROXY TCPn SOURCE DESTINATION SPORT DPORT"'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n', 'v1: not "PROXY TCPn SOURCE DESTINATION SPORT DPORT"'],
    ['PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n', 'v1: not "PROXY TCPn SOURCE DESTINATION SPORT DPORT"'],
    ['PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n', 'v1: source is not an IPv4 address'],
    ['PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n', 'v1: source is not an IPv4 address'],
    ['PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n', 'v1: source is not an IPv4 address'],
    ['PROXY TCP4 192.0.2.1 2001:db8::2 1 2\r\n', 'v1: destination is not an IPv4 address'],
    ['PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n', 'v1: source is not an IPv6 address'],
    ['PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n', 'v1: source is not an IPv6 address'],
    ['PROXY TCP6 2001:db8::1 2001:db8::2::3 1 2\r\n', 'v1: destination is not an IPv6 address'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 0443 2\r\n', 'v1: source port is not a number from 0 to 65535'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n', 'v1: source port is not a number from 0 to 65535'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n', 'v1: source port is not a number from 0 to 65535'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 +2\r\n', 'v1: destination port is not a number from 0 to 65535'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 100000\r\n', 'v1: destination port is not a number from 0 to 65535'],
    ['PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n', 'v1: LF without CR'],
    ['PROXY TCP4 192.0.2.1\n', 'v1: LF without CR'],
    ['PROXY TCP4 192.0.2.1\r198.51.100.2 1 2\r\n', 'v1: CR without LF'],
  ];
  for (const [line, why] of cases) t.equal(reason(parseProxyHeader(b(line))), why, JSON.stringify(line));
  t.end();
});

t.test('v1: the CRLF must come within 107 bytes; a bad first byte is refused at once', (t) => {
  const padded = (n: number) => b(`PROXY UNKNOWN ${'x'.repeat(n - 14)}`);
  t.equal(parseProxyHeader(padded(106)).kind, 'incomplete', '106 bytes, no CRLF yet: the CRLF may still fit');
  t.equal(reason(parseProxyHeader(padded(107))), 'v1: no CRLF within 107 bytes', '107 bytes without a CRLF');
  t.equal(reason(parseProxyHeader(Buffer.concat([padded(106), b('\r')]))), 'v1: no CRLF within 107 bytes', 'a CR as byte 107: its LF would be byte 108');
  t.equal(reason(parseProxyHeader(Buffer.concat([padded(106), b('\r\n')]))), 'v1: no CRLF within 107 bytes');
  t.same(parseProxyHeader(Buffer.concat([padded(105), b('\r\n')])), { kind: 'ok', source: null, consumed: 107 }, 'a CRLF ending at byte 107 fits');
  for (const start of ['GET / HTTP/1.1\r\n', 'G', 'proxy TCP4', 'PROXX', 'PROXY\r\n', '\r\n\r\nGET', '\x16\x03\x01', ' PROXY']) {
    t.equal(reason(parseProxyHeader(b(start))), 'no PROXY protocol header', `${JSON.stringify(start)}: refused on what is there`);
  }
  t.equal(parseProxyHeader(Buffer.alloc(0)).kind, 'incomplete', 'nothing yet');
  t.end();
});

t.test('v2: PROXY over TCP names the client; the length field says where the header ends, TLVs skipped', (t) => {
  const four = proxyV2({ source: '203.0.113.7', sourcePort: 4711 });
  t.equal(four.length, 28);
  t.same(parseProxyHeader(Buffer.concat([four, REQUEST])), { kind: 'ok', source: { address: '203.0.113.7', port: 4711 }, consumed: 28 });
  const six = proxyV2({ family: 2, source: '2001:db8:0:0:1:0:0:1', sourcePort: 65535 });
  t.same(parseProxyHeader(six), { kind: 'ok', source: { address: '2001:db8::1:0:0:1', port: 65535 }, consumed: 52 }, 'IPv6 canonical (RFC 5952: the first longest zero run)');
  t.same(parseProxyHeader(proxyV2({ family: 2, source: '::' })), { kind: 'ok', source: { address: '::', port: 56324 }, consumed: 52 });
  t.same(parseProxyHeader(proxyV2({ family: 2, source: '::ffff:192.0.2.5' })), { kind: 'ok', source: { address: '::ffff:192.0.2.5', port: 56324 }, consumed: 52 });
  // HAProxy's TLVs (ALPN, authority, unique id, a CRC) and AWS's, of any type: skipped.
  const tlvs = Buffer.concat([tlv(0x01, b('http/1.1')), tlv(0x02, b('example.com')), tlv(0x05, crypto.randomBytes(32)), tlv(0xea, b('vpce-0123')), tlv(0x04, Buffer.alloc(0))]);
  const withTlvs = proxyV2({ source: '198.51.100.9', tlvs });
  t.same(parseProxyHeader(Buffer.concat([withTlvs, REQUEST])), { kind: 'ok', source: { address: '198.51.100.9', port: 56324 }, consumed: 28 + tlvs.length });
  everyPrefixIncomplete(t, withTlvs, 'INET with TLVs');
  everyPrefixIncomplete(t, six, 'INET6');
  t.end();
});

t.test('v2: LOCAL, AF_UNSPEC, AF_UNIX and datagrams are valid but name nobody (the peer is the client)', (t) => {
  t.same(parseProxyHeader(Buffer.concat([proxyV2({ command: 0, family: 0, transport: 0 }), REQUEST])), { kind: 'ok', source: null, consumed: 16 }, 'LOCAL, as HAProxy sends with its health checks');
  t.same(parseProxyHeader(proxyV2({ command: 0, family: 1 })), { kind: 'ok', source: null, consumed: 28 }, 'LOCAL with addresses: ignored, but skipped');
  t.same(parseProxyHeader(proxyV2({ command: 0, family: 1, addressBlock: Buffer.alloc(3) })), { kind: 'ok', source: null, consumed: 19 }, 'LOCAL: the family is ignored, the length is not');
  t.same(parseProxyHeader(proxyV2({ command: 1, family: 0, transport: 0 })), { kind: 'ok', source: null, consumed: 16 }, 'PROXY with AF_UNSPEC');
  t.same(parseProxyHeader(proxyV2({ family: 3, transport: 1 })), { kind: 'ok', source: null, consumed: 232 }, 'AF_UNIX stream');
  t.same(parseProxyHeader(proxyV2({ family: 1, transport: 2 })), { kind: 'ok', source: null, consumed: 28 }, 'UDP over IPv4');
  t.same(parseProxyHeader(proxyV2({ family: 2, transport: 0 })), { kind: 'ok', source: null, consumed: 52 }, 'INET6 with transport UNSPEC');
  everyPrefixIncomplete(t, proxyV2({ command: 0, family: 0, transport: 0, tlvs: tlv(0x20, Buffer.alloc(5)) }), 'LOCAL with a TLV');
  t.end();
});

t.test('v2: a header that breaks the format is refused as soon as its bytes show it', (t) => {
  // [header, reason, what, bytes after which it is refused: the version/command byte is the 13th,
  // family/transport the 14th, a length is judged once the 16 fixed bytes are in]
  const cases: [Buffer, string, string, number][] = [
    [proxyV2({ version: 1 }), 'v2: version is not 2', 'version 1 in the binary format', 13],
    [proxyV2({ version: 3 }), 'v2: version is not 2', 'version 3', 13],
    [proxyV2({ command: 2 }), 'v2: command is neither LOCAL nor PROXY', 'command 2', 13],
    [proxyV2({ command: 15 }), 'v2: command is neither LOCAL nor PROXY', 'command 15', 13],
    [proxyV2({ family: 4, addressBlock: Buffer.alloc(0) }), 'v2: unknown address family', 'family 4', 14],
    [proxyV2({ family: 15, addressBlock: Buffer.alloc(0) }), 'v2: unknown address family', 'family 15', 14],
    [proxyV2({ transport: 3 }), 'v2: unknown transport protocol', 'transport 3', 14],
    [proxyV2({ family: 1, addressBlock: Buffer.alloc(11) }), 'v2: address block shorter than its family needs', 'INET in 11 bytes', 16],
    [proxyV2({ family: 2, addressBlock: Buffer.alloc(35) }), 'v2: address block shorter than its family needs', 'INET6 in 35 bytes', 16],
    [proxyV2({ family: 3, addressBlock: Buffer.alloc(215) }), 'v2: address block shorter than its family needs', 'UNIX in 215 bytes', 16],
    [proxyV2({ family: 1, transport: 2, addressBlock: Buffer.alloc(4) }), 'v2: address block shorter than its family needs', 'UDP over IPv4 in 4 bytes', 16],
    [proxyV2({ length: V2_MAX_BYTES - 16 + 1 }), `v2: header longer than ${V2_MAX_BYTES} bytes`, 'a length beyond the limit', 16],
    [proxyV2({ length: 0xffff }), `v2: header longer than ${V2_MAX_BYTES} bytes`, 'the largest length', 16],
  ];
  for (const [header, why, what, decidedAt] of cases) {
    t.equal(reason(parseProxyHeader(header)), why, what);
    t.equal(reason(parseProxyHeader(header.subarray(0, decidedAt))), why, `${what}: refused after ${decidedAt} bytes`);
    t.equal(parseProxyHeader(header.subarray(0, decidedAt - 1)).kind, 'incomplete', `${what}: not before`);
  }
  const big = proxyV2({ tlvs: tlv(0x20, Buffer.alloc(V2_MAX_BYTES - 28 - 3)) });
  t.equal(big.length, V2_MAX_BYTES);
  t.match(parseProxyHeader(big), { kind: 'ok', consumed: V2_MAX_BYTES }, 'a header of exactly the limit is taken');
  const signature = proxyV2();
  for (let i = 0; i < 12; i++) {
    const broken = Buffer.from(signature);
    broken[i] ^= 0x20;
    t.equal(reason(parseProxyHeader(broken.subarray(0, i + 1))), 'no PROXY protocol header', `a signature wrong at byte ${i + 1} is refused at that byte`);
  }
  t.end();
});

t.test('random bytes and random splits never throw, and a valid header is found whatever follows it', (t) => {
  const kinds = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const junk = crypto.randomBytes(crypto.randomInt(0, 200));
    if (i % 3 === 0) junk[0] = 0x50; // "P": down the v1 path
    if (i % 3 === 1 && junk.length >= 12) Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(junk); // down the v2 path
    const r = parseProxyHeader(junk);
    kinds.add(r.kind);
    if (r.kind === 'ok') t.ok(r.consumed <= junk.length, 'consumed within what was given');
  }
  t.ok(kinds.has('invalid') && kinds.has('incomplete'), `kinds seen: ${[...kinds].join(', ')}`);
  for (const header of [b(proxyV1('TCP4', '10.1.2.3', '10.0.0.1', 80, 8080)), proxyV2({ family: 2, source: '2001:db8::99' })]) {
    for (let i = 0; i < 50; i++) {
      const r = parseProxyHeader(Buffer.concat([header, crypto.randomBytes(crypto.randomInt(0, 100))]));
      t.match(r, { kind: 'ok', consumed: header.length }, 'the header, not the bytes after it');
    }
  }
  t.end();
});
