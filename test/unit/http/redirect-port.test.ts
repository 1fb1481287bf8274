// The plain-HTTP port's decision (src/http/redirect-port.ts), as a table of plain values.
import t from 'tap';
import { decideHttpPort, hostWithoutPort, type HttpPortDecision, type HttpPortSettings } from '../../../src/http/redirect-port';

const on8443: HttpPortSettings = { tlsPort: 8443, healthPath: '/healthz', redirect: true };
const on443: HttpPortSettings = { ...on8443, tlsPort: 443 };
const serving: HttpPortSettings = { ...on8443, redirect: false };
const to = (location: string): HttpPortDecision => ({ kind: 'redirect', location });

const table: [string, string, string, string, HttpPortSettings, HttpPortDecision][] = [
  // [what, path, query, Host, settings, decision]
  ['a name, TLS port kept', '/a.html', '', 'example.com', on8443, to('https://example.com:8443/a.html')],
  ['the Host port dropped', '/a.html', '', 'example.com:8080', on8443, to('https://example.com:8443/a.html')],
  ['443 left out', '/a.html', '', 'example.com:80', on443, to('https://example.com/a.html')],
  ['the query kept as sent', '/s', '?q=a%20b&x=1', 'example.com', on443, to('https://example.com/s?q=a%20b&x=1')],
  ['percent-encoding kept', '/a%20b/', '', 'example.com', on443, to('https://example.com/a%20b/')],
  ['the root', '/', '', 'Example.COM', on443, to('https://example.com/')],
  ['IPv4', '/x', '', '127.0.0.1:8080', on8443, to('https://127.0.0.1:8443/x')],
  ['IPv6 in brackets', '/x', '', '[::1]:8080', on8443, to('https://[::1]:8443/x')],
  ['IPv6 without port', '/x', '?a', '[2001:db8::1]', on443, to('https://[2001:db8::1]/x?a')],
  ['an empty port', '/x', '', 'example.com:', on443, to('https://example.com/x')],
  ['no Host (HTTP/1.0)', '/x', '', '', on443, { kind: 'bad-host' }],
  ['userinfo', '/x', '', 'user@example.com', on443, { kind: 'bad-host' }],
  ['a path in Host', '/x', '', 'example.com/evil', on443, { kind: 'bad-host' }],
  ['a space', '/x', '', 'exa mple.com', on443, { kind: 'bad-host' }],
  ['an unclosed bracket', '/x', '', '[::1', on443, { kind: 'bad-host' }],
  ['a bracket without colon', '/x', '', '[127.0.0.1]', on443, { kind: 'bad-host' }],
  ['a port that is not digits', '/x', '', 'example.com:https', on443, { kind: 'bad-host' }],
  ['OPTIONS *', '*', '', 'example.com', on443, { kind: 'bad-host' }],
  ['the health path', '/healthz', '', 'example.com', on8443, { kind: 'health' }],
  ['the health path without a Host', '/healthz', '', '', on8443, { kind: 'health' }],
  ['an ACME challenge', '/.well-known/acme-challenge/tok3n', '', 'example.com', on8443, { kind: 'acme-challenge', token: 'tok3n' }],
  ['an ACME challenge without Host', '/.well-known/acme-challenge/tok3n', '', '', on8443, { kind: 'acme-challenge', token: 'tok3n' }],
  ['other .well-known paths redirect', '/.well-known/security.txt', '', 'example.com', on443, to('https://example.com/.well-known/security.txt')],
  ['the prefix alone is no challenge', '/.well-known/acme-challenge', '', 'example.com', on443, to('https://example.com/.well-known/acme-challenge')],
  ['httpRedirect false: the site', '/a.html', '?q', 'example.com', serving, { kind: 'site' }],
  ['httpRedirect false: even without Host', '/a.html', '', '', serving, { kind: 'site' }],
  ['httpRedirect false: health still health', '/healthz', '', '', serving, { kind: 'health' }],
];

t.test('decideHttpPort: 308 target, health, ACME challenges, httpRedirect false', async (t) => {
  for (const [what, path, query, host, s, expected] of table) t.same(decideHttpPort(path, query, host, s), expected, what);
});

t.test('hostWithoutPort: the host of a Host field, lower-cased, brackets kept', async (t) => {
  t.equal(hostWithoutPort('a.example:1'), 'a.example');
  t.equal(hostWithoutPort('[::FFFF:1.2.3.4]:9'), '[::ffff:1.2.3.4]');
  t.equal(hostWithoutPort(':80'), null);
  t.equal(hostWithoutPort('a:1:2'), null);
});
