// trustedProxies and what is believed from them (src/http/trusted-proxies.ts, forwarded.ts),
// pure: which entries the setting takes and the exact error for each it refuses, how an
// X-Forwarded-For list is walked (from the right, trusted hops skipped, spoofed entries on the
// left never reached), and X-Forwarded-Proto.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addressOf, clientFromForwardedFor, ForwardedFields, protoFromForwardedProto } from '../../../src/http/forwarded';
import { parseTrustedProxy, TrustedProxies } from '../../../src/http/trusted-proxies';
import type { Request } from '../../../src/http/types';
import { errorOf, run } from '../../fixtures/config';

const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-forwarded-'));
fs.mkdirSync(path.join(cwd, 'site'));
t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));

t.test('trustedProxies takes addresses and CIDR ranges, IPv4 and IPv6, as a comma list or JSON', (t) => {
  t.same(run([], {}, cwd).trustedProxies, [], 'default: nobody');
  t.same(run(['--trusted-proxies', '127.0.0.1, 10.0.0.0/8 ,::1,2001:db8::/32'], {}, cwd).trustedProxies, ['127.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32'], 'a comma list (spaces trimmed)');
  t.same(run([], { FLEETSERVE_TRUSTED_PROXIES: '["192.0.2.0/24", "::ffff:10.0.0.0/104"]' }, cwd).trustedProxies, ['192.0.2.0/24', '::ffff:10.0.0.0/104'], 'JSON in env');
  t.same(run(['--trusted-proxies', ''], {}, cwd).trustedProxies, [], 'an empty flag: nobody');
  fs.writeFileSync(path.join(cwd, 'c.json'), JSON.stringify({ trustedProxies: ['10.0.0.1', '0.0.0.0/0'] }));
  t.same(run(['--config', 'c.json'], {}, cwd).trustedProxies, ['10.0.0.1', '0.0.0.0/0'], 'an array in the file');
  for (const [entry, range] of [
    ['192.0.2.7', { address: '192.0.2.7', prefix: 32, family: 'ipv4' }],
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
    ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['::/0', { address: '::', prefix: 0, family: 'ipv6' }],
  ] as const) {
    t.same(parseTrustedProxy(entry), range, entry);
  }
  t.end();
});

t.test('a bad trustedProxies entry is a configuration error that names it', (t) => {
  const cases: [string[], string][] = [
    [['--trusted-proxies', '10.0.0.0/33'], 'trustedProxies: "10.0.0.0/33": the prefix length must be a number from 0 to 32: value was ["10.0.0.0/33"]'],
    [['--trusted-proxies', '2001:db8::/129'], 'trustedProxies: "2001:db8::/129": the prefix length must be a number from 0 to 128: value was ["2001:db8::/129"]'],
    [['--trusted-proxies', '10.0.0.0/'], 'trustedProxies: "10.0.0.0/": the prefix length must be a number from 0 to 32: value was ["10.0.0.0/"]'],
    [['--trusted-proxies', '10.0.0.0/+8'], 'trustedProxies: "10.0.0.0/+8": the prefix length must be a number from 0 to 32: value was ["10.0.0.0/+8"]'],
    [['--trusted-proxies', '127.0.0.1, proxy.internal'], 'trustedProxies: "proxy.internal" is not an IP address or CIDR range (like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32): value was ["127.0.0.1","proxy.internal"]'],
    [['--trusted-proxies', '10.0.0.256'], 'trustedProxies: "10.0.0.256" is not an IP address or CIDR range (like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32): value was ["10.0.0.256"]'],
    [['--trusted-proxies', 'fe80::1%eth0'], 'trustedProxies: "fe80::1%eth0" is not an IP address or CIDR range (like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32): value was ["fe80::1%eth0"]'],
    [['--trusted-proxies', '[1, 2]'], 'trustedProxies: 1 is not an IP address or CIDR range (entries are strings): value was [1,2]'],
    [['--trusted-proxies', '["10.0.0.1"'], 'trustedProxies: starts with "[" but is not a JSON array of strings: value was "[\\"10.0.0.1\\""'],
  ];
  for (const [argv, line] of cases) t.equal(errorOf(argv, {}, cwd), line, argv.join(' '));
  t.equal(errorOf([], { FLEETSERVE_TRUSTED_PROXIES: '10.0.0.1;10.0.0.2' }, cwd), 'trustedProxies: "10.0.0.1;10.0.0.2" is not an IP address or CIDR range (like 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32): value was ["10.0.0.1;10.0.0.2"] (from FLEETSERVE_TRUSTED_PROXIES)', 'env');
  t.equal(errorOf(['--proxy-protocol=maybe'], {}, cwd), 'proxyProtocol: must be true or false (or 1/0, yes/no, on/off): value was "maybe"');
  t.equal(errorOf(['--proxy-protocol-timeout-ms', '0'], {}, cwd), 'proxyProtocolTimeoutMs: must be a whole number ≥ 1');
  t.end();
});

t.test('matching: ranges, single addresses, and IPv4-mapped peers against IPv4 ranges', (t) => {
  const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', '2001:db8:ffff::/48']);
  const yes = ['127.0.0.1', '10.0.0.0', '10.255.255.255', '::ffff:127.0.0.1', '::ffff:10.1.2.3', '2001:db8:ffff::1', '2001:db8:ffff:ffff::'];
  const no = ['127.0.0.2', '11.0.0.1', '9.255.255.255', '::1', '2001:db8:fffe::1', '::ffff:192.0.2.1', '', 'garbage'];
  for (const a of yes) t.ok(trusted.has(a), `${a} is trusted`);
  for (const a of no) t.notOk(trusted.has(a), `${JSON.stringify(a)} is not`);
  t.ok(new TrustedProxies(['0.0.0.0/0']).has('203.0.113.9'), '0.0.0.0/0: every IPv4 address');
  t.notOk(new TrustedProxies([]).has('127.0.0.1'), 'an empty list trusts nobody');
  t.end();
});

t.test('X-Forwarded-For: walked from the right, trusted hops skipped, the first untrusted address is the client', (t) => {
  const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', '2001:db8:ffff::/48']);
  const remote = '127.0.0.1';
  const cases: [string, string, string][] = [
    ['203.0.113.9', '203.0.113.9', 'one hop'],
    ['198.51.100.1, 203.0.113.9', '203.0.113.9', 'a spoofed leftmost entry is never reached'],
    ['6.6.6.6,198.51.100.1, 203.0.113.9', '203.0.113.9', 'neither are two'],
    ['1.1.1.1, 203.0.113.9, 10.1.2.3', '203.0.113.9', 'a trusted inner proxy is skipped'],
    ['1.1.1.1, 203.0.113.9, 10.1.2.3, 127.0.0.1', '203.0.113.9', 'two of them'],
    ['10.0.0.5, 10.1.2.3', '10.0.0.5', 'nothing but trusted hops: the leftmost'],
    ['203.0.113.9, 2001:db8:ffff::1', '203.0.113.9', 'an IPv6 trusted hop'],
    ['2001:db8::9', '2001:db8::9', 'an IPv6 client'],
    ['2001:DB8:0:0::9', '2001:db8::9', 'written as Node writes addresses'],
    ['203.0.113.9, ::ffff:10.1.2.3', '203.0.113.9', 'an IPv4-mapped trusted hop'],
    ['::ffff:203.0.113.9', '::ffff:203.0.113.9', 'an IPv4-mapped client stays as sent'],
    ['203.0.113.9:4711', '203.0.113.9', 'IPv4 with a port'],
    ['[2001:db8::9]:443', '2001:db8::9', 'IPv6 in brackets with a port'],
    ['[2001:db8::9]', '2001:db8::9', 'IPv6 in brackets'],
    ['203.0.113.9,,  , 10.1.2.3', '203.0.113.9', 'empty elements mean nothing'],
    ['203.0.113.9\t,\t10.1.2.3\t', '203.0.113.9', 'tabs are whitespace too'],
    [',203.0.113.9,', '203.0.113.9', 'leading and trailing commas'],
    ['203.0.113.9, garbage, 10.1.2.3', '10.1.2.3', 'an unreadable entry stops the walk: the last good address'],
    ['203.0.113.9, unknown', remote, 'an unreadable rightmost entry: the peer'],
    ['203.0.113.9, proxy.example', remote, 'host names are not addresses'],
    ['203.0.113.9, fe80::1%eth0', remote, 'nor are zoned addresses'],
    ['203.0.113.9, [2001:db8::9', remote, 'an unclosed bracket'],
    ['203.0.113.9, [2001:db8::9]:', remote, 'a bracket with an empty port'],
    ['203.0.113.9, [2001:db8::9]x', remote, 'a bracket with something else after it'],
    ['203.0.113.9, 198.51.100.7:123456', remote, 'a port of six digits'],
    ['203.0.113.9, 198.51.100.7:', remote, 'an empty port'],
    ['203.0.113.9, 198.51.100.007', remote, 'leading zeros (octal in some parsers)'],
    ['', remote, 'an empty field: the peer'],
    [' , ', remote, 'nothing but separators'],
  ];
  for (const [value, client, what] of cases) t.equal(clientFromForwardedFor(value, remote, trusted), client, `${what}: ${JSON.stringify(value)}`);
  t.end();
});

t.test('addressOf reads one entry', (t) => {
  t.equal(addressOf('192.0.2.1'), '192.0.2.1');
  t.equal(addressOf('::1'), '::1');
  t.equal(addressOf('[::1]:80'), '::1');
  t.equal(addressOf('::ffff:1.2.3.4'), '::ffff:1.2.3.4', 'a mapped address is not IPv4:port');
  t.equal(addressOf('1.2.3.4:5:6'), null);
  t.equal(addressOf('unknown'), null);
  t.equal(addressOf('_hidden'), null, 'RFC 7239 obfuscated identifiers are not addresses');
  t.end();
});

t.test('X-Forwarded-Proto: its last value, http or https, any case', (t) => {
  const cases: [string, 'http' | 'https' | undefined][] = [
    ['https', 'https'],
    ['http', 'http'],
    ['HTTPS', 'https'],
    [' https ', 'https'],
    ['https, http', 'http'],
    ['http,https', 'https'],
    ['ftp', undefined],
    ['https2', undefined],
    ['', undefined],
    ['wss', undefined],
  ];
  for (const [value, proto] of cases) t.equal(protoFromForwardedProto(value), proto, JSON.stringify(value));
  t.end();
});

t.test('ForwardedFields sets req.forwarded only when the request carries either field', (t) => {
  const fields = new ForwardedFields(new TrustedProxies(['127.0.0.1']));
  const request = (headers: Record<string, string>): Request => ({ method: 'GET', target: '/', path: '/', query: '', minor: 1, headers, host: 'x', keepAlive: true });
  const none = request({});
  fields.apply(none, '127.0.0.1');
  t.equal(none.forwarded, undefined, 'neither field: nothing');
  const both = request({ 'x-forwarded-for': '198.51.100.1, 203.0.113.9', 'x-forwarded-proto': 'https' });
  fields.apply(both, '127.0.0.1');
  t.same(both.forwarded, { for: '203.0.113.9', proto: 'https' });
  const protoOnly = request({ 'x-forwarded-proto': 'http' });
  fields.apply(protoOnly, '127.0.0.1');
  t.same(protoOnly.forwarded, { for: '127.0.0.1', proto: 'http' }, 'the scheme alone: the client is the proxy itself');
  const forOnly = request({ 'x-forwarded-for': '203.0.113.9' });
  fields.apply(forOnly, '127.0.0.1');
  t.same(forOnly.forwarded, { for: '203.0.113.9', proto: undefined });
  t.end();
});
