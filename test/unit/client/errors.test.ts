/**
 * fleetserve-client's error catalogue (src/client/errors.ts), the usage text built from it, and
 * the two pure places that choose an error: a failed connect (connection.ts) and -L (redirect.ts).
 */
import t from 'tap';
import { connectError } from '../../../src/client/connection';
import * as errors from '../../../src/client/errors';
import { ClientError, EXIT, EXIT_MEANINGS, TimeoutError } from '../../../src/client/errors';
import { nextHop, type Hop } from '../../../src/client/redirect';
import { maxTimeLeft, nearer, optionLimit, type TimeLimit } from '../../../src/client/time-limit';
import { USAGE } from '../../../src/client/usage';

/** Every concrete error class of the catalogue, by name. */
const classes = Object.entries(errors as Record<string, unknown>).filter(
  (e): e is [string, new (message: string) => ClientError] =>
    typeof e[1] === 'function' && e[1].prototype instanceof ClientError,
);

t.test('each failure kind is a class with a stable code and its exit code', async (t) => {
  const expected: Record<string, [string, number]> = {
    UnsupportedProtocolError: ['FLEETSERVE_CLIENT_UNSUPPORTED_PROTOCOL', 1],
    UsageError: ['FLEETSERVE_CLIENT_USAGE', 2],
    BadUrlError: ['FLEETSERVE_CLIENT_BAD_URL', 3],
    HostNotFoundError: ['FLEETSERVE_CLIENT_HOST_NOT_FOUND', 6],
    ConnectError: ['FLEETSERVE_CLIENT_CONNECT', 7],
    MalformedResponseError: ['FLEETSERVE_CLIENT_MALFORMED', 8],
    IncompleteResponseError: ['FLEETSERVE_CLIENT_INCOMPLETE', 18],
    OutputError: ['FLEETSERVE_CLIENT_OUTPUT', 23],
    TimeoutError: ['FLEETSERVE_CLIENT_TIMEOUT', 28],
    EmptyReplyError: ['FLEETSERVE_CLIENT_EMPTY_REPLY', 52],
    ConnectionResetError: ['FLEETSERVE_CLIENT_RESET', 56],
    BadContentEncodingError: ['FLEETSERVE_CLIENT_CONTENT_ENCODING', 61],
    TooManyRedirectsError: ['FLEETSERVE_CLIENT_TOO_MANY_REDIRECTS', 47],
    TlsHandshakeError: ['FLEETSERVE_CLIENT_TLS_HANDSHAKE', 35],
    CertificateError: ['FLEETSERVE_CLIENT_CERTIFICATE', 60],
    CaFileError: ['FLEETSERVE_CLIENT_CA_FILE', 77],
  };
  t.same(classes.map(([name]) => name).sort(), Object.keys(expected).sort(), 'the catalogue');
  for (const [name, Class] of classes) {
    const err = new Class('what went wrong');
    t.same([err.name, err.code, err.exitCode, err.message], [name, ...expected[name]!, 'what went wrong'], name);
    t.ok(err instanceof Error, `${name} is an Error`);
  }
});

t.test('the usage text lists every exit code with its meaning, from the table', async (t) => {
  const section = USAGE.slice(USAGE.indexOf('Exit codes:\n'));
  const listed = section.split('\n').slice(1).filter(Boolean);
  t.same(
    listed,
    (Object.keys(EXIT) as (keyof typeof EXIT)[]).map((name) => `  ${String(EXIT[name]).padEnd(4)}${EXIT_MEANINGS[name]}`),
  );
  t.match(section, /^ {2}22 {2}a response had an HTTP status of 400 or more$/m);
  t.match(section, /^ {2}2 {3}usage error$/m);
  t.match(section, /^ {2}7 {3}cannot connect$/m);
  t.match(section, /^ {2}28 {2}timeout$/m);
  t.match(section, /^ {2}35 {2}TLS handshake failed$/m);
  t.match(section, /^ {2}60 {2}the server certificate cannot be verified \(see --cacert, -k\)$/m);
  t.match(section, /^ {2}77 {2}cannot use the --cacert file$/m);
  const codes = listed.map((l) => Number(l.trim().split(' ')[0]));
  t.same(codes, [...codes].sort((a, b) => a - b), 'in numeric order');
});

t.test('a failed connect, by its code', async (t) => {
  const to = { host: 'example.test', port: 81, origin: 'example.test:81' };
  const failed = (code: string | undefined, message = 'boom'): NodeJS.ErrnoException =>
    Object.assign(new Error(message), code === undefined ? {} : { code });
  const cases: [NodeJS.ErrnoException, string, number, string][] = [
    [failed('ECONNREFUSED'), 'ConnectError', 7, 'connection refused by example.test:81'],
    [failed('ENOTFOUND'), 'HostNotFoundError', 6, 'host not found: example.test'],
    [failed('EAI_AGAIN'), 'HostNotFoundError', 6, 'host not found: example.test'],
    [failed('ETIMEDOUT'), 'TimeoutError', 28, 'connection to example.test:81 timed out (ETIMEDOUT)'],
    [failed('EHOSTUNREACH'), 'ConnectError', 7, 'cannot connect to example.test:81: EHOSTUNREACH'],
    [failed(undefined, 'socket hang up'), 'ConnectError', 7, 'cannot connect to example.test:81: socket hang up'],
  ];
  // Happy eyeballs: an AggregateError without a code of its own; its parts carry them.
  const aggregate: NodeJS.ErrnoException = new AggregateError([failed('ECONNREFUSED'), failed('ECONNREFUSED')], '');
  cases.push([aggregate, 'ConnectError', 7, 'connection refused by example.test:81']);
  for (const [err, name, exitCode, message] of cases) {
    const e = connectError(err, to);
    t.same([e.name, e.exitCode, e.message], [name, exitCode, message], String(err.code ?? err.message));
  }
});

t.test('-L: the next hop, and the errors a redirect can end in', async (t) => {
  const from: Hop = { host: 'a', port: 8080, tls: false, authority: 'a:8080', target: '/x/y?q', method: 'POST', redirects: 0 };
  t.same(nextHop(from, 302, '../z#frag', 10), {
    hop: { host: 'a', port: 8080, tls: false, authority: 'a:8080', target: '/z', method: 'GET', redirects: 1 },
    url: 'http://a:8080/z#frag',
  }, 'relative Location, 302 turns POST into GET');
  t.equal(nextHop(from, 307, '/z', 10).hop.method, 'POST', '307 keeps the method');
  t.equal(nextHop({ ...from, method: 'HEAD' }, 303, '/z', 10).hop.method, 'HEAD', '303 keeps HEAD');
  t.equal(nextHop({ ...from, method: 'PUT' }, 303, '/z', 10).hop.method, 'GET', '303 turns PUT into GET');
  t.same(nextHop(from, 301, 'http://[::1]/w', 10).hop, { host: '::1', port: 80, tls: false, authority: '[::1]', target: '/w', method: 'GET', redirects: 1 }, 'to another host');
  t.same(nextHop(from, 308, 'https://a/', 10), {
    hop: { host: 'a', port: 443, tls: true, authority: 'a', target: '/', method: 'POST', redirects: 1 },
    url: 'https://a/',
  }, 'http → https: port 443, TLS');
  const secure: Hop = { ...from, tls: true, port: 8443, authority: 'a:8443' };
  t.same(nextHop(secure, 302, '/z?q', 10).url, 'https://a:8443/z?q', 'a relative Location stays on https');
  t.same(nextHop(secure, 307, 'http://a/z', 10).hop, { host: 'a', port: 80, tls: false, authority: 'a', target: '/z', method: 'POST', redirects: 1 }, 'https → http is followed too, as curl -L does');
  const thrown = (f: () => unknown): [string, number, string] => {
    try {
      f();
    } catch (err) {
      if (err instanceof ClientError) return [err.name, err.exitCode, err.message];
      throw err;
    }
    return ['none', 0, ''];
  };
  t.same(thrown(() => nextHop({ ...from, redirects: 3 }, 302, '/z', 3)), ['TooManyRedirectsError', 47, 'more than 3 redirects (the next to http://a:8080/z); see --max-redirs']);
  t.same(thrown(() => nextHop(from, 302, 'ftp://a/', 10)), ['UnsupportedProtocolError', 1, 'redirected to ftp://a/: fleetserve-client follows http:// and https:// only']);
  t.same(thrown(() => nextHop(from, 302, 'http://[bad', 10)), ['BadUrlError', 3, 'bad Location "http://[bad" in the redirect for /x/y?q from a:8080 (not a URL)']);
});

t.test('time limits: the nearer one wins and names its error', async (t) => {
  const idle: TimeLimit = { ms: 300, error: () => new TimeoutError('idle') };
  t.equal(nearer(undefined, undefined), undefined);
  t.equal(nearer(idle, undefined), idle);
  const left = maxTimeLeft(1000, 5000, 5400, () => 'while waiting');
  t.equal(left?.ms, 600, 'what is left of the transfer');
  t.equal(nearer(idle, left), idle);
  t.equal(nearer({ ...idle, ms: 600 }, left), left, 'a tie goes to -m');
  t.same([left?.error().message, left?.error().exitCode], ['timed out: --max-time 1 s reached while waiting', 28]);
  t.equal(maxTimeLeft(0, 5000, 5400, () => ''), undefined, '0 is no limit');
  t.equal(optionLimit(0, () => 'never'), undefined, 'an option of 0 is no limit');
  t.same([optionLimit(250, () => 'idle for 250 ms')?.ms, optionLimit(250, () => 'idle for 250 ms')?.error().message], [250, 'idle for 250 ms']);
  t.equal(maxTimeLeft(1500, 5000, 9000, () => '')?.ms, 1, 'spent: fires at once, never "no limit"');
});
