import t from 'tap';
import { parseArgs, type ClientOptions } from '../../../src/client/args';
import { buildRequest } from '../../../src/client/request';
import { toRequestTarget } from '../../../src/client/target';
import { formatBytes, formatDuration, formatProgress, isTextual } from '../../../src/client/format';
import { parseWriteOut, renderWriteOut } from '../../../src/client/write-out';

function options(argv: string[]): ClientOptions {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error(`expected options, got ${JSON.stringify(r)}`);
  return r.options;
}

/** The message of a command-line mistake; the exit code must be `exitCode` (2, usage, unless given). */
function usageError(argv: string[], exitCode = 2): string {
  const r = parseArgs(argv);
  if (r.kind !== 'error') return `no usage error: ${r.kind}`;
  return r.exitCode === exitCode ? r.message : `exit ${r.exitCode}, not ${exitCode}: ${r.message}`;
}

t.test('HOST PORT PATH form', async (t) => {
  const o = options(['127.0.0.1', '6789', 'HelloWorld.html']);
  t.same(
    { host: o.host, port: o.port, authority: o.authority, paths: o.paths, method: o.method },
    { host: '127.0.0.1', port: 6789, authority: '127.0.0.1:6789', paths: ['/HelloWorld.html'], method: 'GET' },
  );
  t.same(options(['localhost', '80']).paths, ['/'], 'PATH defaults to /');
  t.equal(options(['localhost', '80']).authority, 'localhost', 'port 80 is left out of Host');
  t.same(options(['h', '1', '/a', 'b']).paths, ['/a', '/b'], 'several paths');
  const v6 = options(['::1', '8080', '/']);
  t.same([v6.host, v6.authority], ['::1', '[::1]:8080'], 'IPv6 host is bracketed in Host');
  t.same(options(['[::1]', '8080']).host, '::1', 'brackets are accepted and removed');
});

t.test('URL form', async (t) => {
  const o = options(['http://127.0.0.1:6789/HelloWorld.html', 'http://127.0.0.1:6789/b?x=1#frag']);
  t.same(
    { host: o.host, port: o.port, authority: o.authority, paths: o.paths },
    { host: '127.0.0.1', port: 6789, authority: '127.0.0.1:6789', paths: ['/HelloWorld.html', '/b?x=1'] },
  );
  const d = options(['http://Example.COM/']);
  t.same([d.host, d.port, d.authority], ['example.com', 80, 'example.com'], 'default port, host lower-cased');
  t.same(options(['http://[::1]:81/x']).host, '::1');
  t.same(options(['http://h/a%20b c']).paths, ['/a%20b%20c']);
});

t.test('https:// URLs: TLS, port 443 by default, the Host without it; --cacert and -k', async (t) => {
  const o = options(['https://Example.COM/a', 'https://example.com:443/b']);
  t.same(
    { host: o.host, port: o.port, authority: o.authority, paths: o.paths, tls: o.tls, cacert: o.cacert, insecure: o.insecure },
    { host: 'example.com', port: 443, authority: 'example.com', paths: ['/a', '/b'], tls: true, cacert: undefined, insecure: false },
  );
  const p = options(['https://127.0.0.1:8443/x']);
  t.same([p.port, p.authority, p.tls], [8443, '127.0.0.1:8443', true]);
  t.same([options(['HTTPS://h/']).tls, options(['http://h/']).tls, options(['h/']).tls, options(['h', '443']).tls], [true, false, false, false], 'the scheme says TLS; no scheme and HOST PORT are http');
  t.equal(options(['https://h:80/']).authority, 'h:80', 'https on port 80 names the port');
  t.equal(options(['https://[::1]/']).host, '::1');
  t.same([options(['--cacert', 'ca.pem', 'https://h/']).cacert, options(['--cacert=/a b.pem', 'https://h/']).cacert], ['ca.pem', '/a b.pem']);
  t.same([options(['-k', 'https://h/']).insecure, options(['--insecure', 'https://h/']).insecure, options(['-skv', 'https://h/']).insecure], [true, true, true]);
  t.equal(options(['--cacert', 'a.pem', '--cacert', 'b.pem', 'https://h/']).cacert, 'b.pem', 'the last one counts');
});

t.test('options', async (t) => {
  const o = options([
    '-sI',
    '-o',
    'out.bin',
    '-H',
    'X-A: 1',
    '--header=X-B:2',
    '-HX-C: 3',
    '--pipeline',
    '--connect-timeout',
    '250',
    '--timeout=0',
    'http://h/',
  ]);
  t.same(
    {
      silent: o.silent,
      method: o.method,
      output: o.output,
      headers: o.headers,
      pipeline: o.pipeline,
      connectTimeoutMs: o.connectTimeoutMs,
      timeoutMs: o.timeoutMs,
    },
    {
      silent: true,
      method: 'HEAD',
      output: 'out.bin',
      headers: [
        ['X-A', '1'],
        ['X-B', '2'],
        ['X-C', '3'],
      ],
      pipeline: true,
      connectTimeoutMs: 250,
      timeoutMs: 0,
    },
  );
  const d = options(['http://h/']);
  t.same([d.connectTimeoutMs, d.timeoutMs, d.silent, d.showError, d.output], [10000, 30000, false, false, undefined], 'defaults');
  const sS = options(['-sS', 'http://h/']);
  t.same([sS.silent, sS.showError], [true, true], '-sS, grouped as curl users type it');
  t.same([options(['--show-error', 'http://h/']).showError, options(['-S', 'http://h/']).silent], [true, false], '-S alone');
  t.equal(options(['-o', '-', 'http://h/']).output, '-', '"-o -" takes "-" as the value');
  t.equal(options(['--connect-timeout', '2147483647', 'http://h/']).connectTimeoutMs, 2147483647, 'the longest timer');
  t.same(options(['--', 'h', '1', '-x']).paths, ['/-x'], 'after --, everything is positional');
  t.same(parseArgs(['--help', '--bogus']), { kind: 'help' }, '--help wins');
  t.same(parseArgs(['-V']), { kind: 'version' });
});

t.test('usage errors are one line and say what is wrong', async (t) => {
  const cases: [string[], RegExp, number?][] = [
    [[], /missing URL/],
    [['--http2', 'https://h/'], /^--http2: this client speaks HTTP\/1\.1 only \(the server offers HTTP\/2 to clients that do, such as curl --http2\)$/],
    [['127.0.0.1', 'http'], /bad port "http"/],
    [['127.0.0.1:1/a', 'localhost:1/b'], /all URLs must share/],
    [['127.0.0.1', '0', '/'], /bad port "0"/],
    [['127.0.0.1', '65536'], /bad port "65536"/],
    [['bad host', '80'], /bad host "bad host"/],
    [['ftp://127.0.0.1/'], /unsupported scheme ftp:\/\/ \(only http:\/\/ and https:\/\/ are supported\)/, 1],
    [['https://a/x', 'http://a/y'], /all URLs must share scheme, host and port.*http:\/\/a is not https:\/\/a/],
    [['https://a:80/x', 'http://a:80/y'], /all URLs must share scheme/],
    [['--cacert', 'https://h/'], /missing URL/],
    [['--cacert=', 'https://h/'], /--cacert needs a file name/],
    [['--insecure=yes', 'https://h/'], /option --insecure takes no value/],
    [['http://a:1/x', 'http://b:1/y'], /all URLs must share scheme, host and port.*http:\/\/b:1 is not http:\/\/a:1/],
    [['http://a:1/x', 'http://a:2/y'], /all URLs must share/],
    [['http://a:1/x', '/y'], /"\/y" is not a URL/],
    [['http://a:99999/'], /invalid URL/, 3],
    [['127.0.0.1:99999/'], /invalid URL "http:\/\/127\.0\.0\.1:99999\/"/, 3],
    [['http://[bad/'], /invalid URL/, 3],
    [['http://u:p@a/'], /credentials in URLs are not supported/],
    [['h', '1', 'http://h:1/'], /cannot mix a URL/],
    [['-H', 'NoColon', 'http://h/'], /bad header "NoColon"/],
    [['-H', ': value', 'http://h/'], /bad header/],
    [['-H', 'Bad Name: v', 'http://h/'], /bad header "Bad Name: v"/],
    [['-H', 'X: a\r\nInjected: 1', 'http://h/'], /control characters/],
    [['-o'], /option -o needs a value/],
    [['--output'], /option --output needs a value/],
    [['--output=', 'http://h/'], /-o needs a file name/],
    [['--timeout', 'soon', 'http://h/'], /bad --timeout value "soon"/],
    [['--connect-timeout=-1', 'http://h/'], /bad --connect-timeout value "-1"/],
    // A longer timer would fire after 1 ms: Node clamps what does not fit in 32 bits.
    [['--timeout', '2147483648', 'http://h/'], /bad --timeout value "2147483648" \(a number of milliseconds up to 2147483647; 0 for no limit\)/],
    [['--pipeline=yes', 'http://h/'], /option --pipeline takes no value/],
    [['--bogus', 'http://h/'], /unknown option --bogus/],
    [['-x', 'http://h/'], /unknown option -x/],
  ];
  for (const [argv, message, exitCode] of cases) {
    const m = usageError(argv, exitCode);
    t.match(m, message, JSON.stringify(argv));
    t.notMatch(m, /\n/, `${JSON.stringify(argv)}: one line`);
  }
});

t.test('-m SECONDS, as curl: fractions, ms rounded up, 0 for no limit', async (t) => {
  const ms = (v: string): number => options(['-m', v, 'http://h/']).maxTimeMs;
  t.equal(options(['http://h/']).maxTimeMs, 0, 'no limit by default');
  t.same(['30', '0.5', '.25', '1.1', '2.', '0', '0.0001', '1.0009', '1.0000'].map(ms), [30000, 500, 250, 1100, 2000, 0, 1, 1001, 1000]);
  t.equal(options(['--max-time=1.5', 'http://h/']).maxTimeMs, 1500);
  t.equal(options(['-m0.75', 'http://h/']).maxTimeMs, 750, 'attached');
  t.equal(ms('2147483.647'), 2147483647, 'the longest timer');
  for (const bad of ['', '.', '-1', '1,5', '1e3', 'soon', '2147483.648', '0x10', '1.2.3']) {
    t.equal(usageError(['-m', bad, 'http://h/']), `bad --max-time value "${bad}" (seconds, such as 30 or 0.5, up to 2147483; 0 for no limit)`, JSON.stringify(bad));
  }
});

t.test('request targets keep what was typed, encoded where the request line requires it', async (t) => {
  t.equal(toRequestTarget('HelloWorld.html'), '/HelloWorld.html');
  t.equal(toRequestTarget('/a b/ü?q=1'), '/a%20b/%C3%BC?q=1');
  t.equal(toRequestTarget('/../etc/passwd'), '/../etc/passwd', 'dot segments are kept');
  t.equal(toRequestTarget('/%41'), '/%41', 'existing escapes are kept');
  t.equal(toRequestTarget('/x#y"<>'), '/x%23y%22%3C%3E');
});

t.test('the request head', async (t) => {
  const r = buildRequest('GET', '/a', '127.0.0.1:6789', 'fleetserve-client/1.2.3', []);
  t.equal(
    r.bytes.toString(),
    'GET /a HTTP/1.1\r\nHost: 127.0.0.1:6789\r\nUser-Agent: fleetserve-client/1.2.3\r\nAccept: */*\r\n\r\n',
  );
  const h = buildRequest('HEAD', '/', 'h', 'ua', [
    ['accept', 'text/html'],
    ['Accept', 'text/plain'],
    ['User-Agent', ''],
    ['X-Empty', ''],
  ]);
  t.same(h.lines, ['HEAD / HTTP/1.1', 'Host: h', 'accept: text/html', 'Accept: text/plain', 'X-Empty: '],
    'the first -H of a default name replaces it in place, "Name:" drops a default, later ones are added');
});

t.test('textual content types', async (t) => {
  for (const ct of [undefined, 'text/html; charset=utf-8', 'TEXT/PLAIN', 'application/json', 'application/problem+json',
    'application/xml', 'application/atom+xml', 'application/javascript', 'image/svg+xml']) {
    t.equal(isTextual(ct), true, String(ct));
  }
  for (const ct of ['image/png', 'application/octet-stream', 'application/pdf', 'video/mp4', 'application/gzip']) {
    t.equal(isTextual(ct), false, ct);
  }
});

t.test('progress line', async (t) => {
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(10 * 1024 * 1024), '10.0 MiB');
  t.equal(formatDuration(3_000), '0:03');
  t.equal(formatDuration(3_725_000), '1:02:05');
  t.equal(
    formatProgress({ received: 5 * 1024 * 1024, total: 10 * 1024 * 1024, elapsedMs: 2000, done: false, columns: 80 }),
    '[###############---------------]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s  ETA 0:02',
  );
  t.equal(
    formatProgress({ received: 1024, total: 1024, elapsedMs: 500, done: true, columns: 80 }),
    '[############################] 100%  1.0 KiB / 1.0 KiB  2.0 KiB/s  done in 0.5s',
  );
  t.equal(formatProgress({ received: 2048, total: undefined, elapsedMs: 1000, done: false, columns: 80 }), '2.0 KiB  2.0 KiB/s');
  t.equal(formatProgress({ received: 0, total: 100, elapsedMs: 0, done: false, columns: 80 }).endsWith('ETA --:--'), true);
  const narrow = formatProgress({ received: 1, total: 2, elapsedMs: 1000, done: false, columns: 50 });
  t.ok(narrow.length <= 60, `narrow terminals get a shorter bar: ${narrow}`);
});

t.test('curl habits: URLs without a scheme, -v -i -I -X -L -w -O', async (t) => {
  const o = options(['localhost:6789/a%20b', 'localhost:6789/x']);
  t.same([o.host, o.port, o.authority, o.paths], ['localhost', 6789, 'localhost:6789', ['/a%20b', '/x']], 'host:port/path');
  t.same([options(['example.com']).host, options(['example.com']).port], ['example.com', 80], 'a bare host is a URL on port 80');
  t.same(options(['[::1]:81/z']).host, '::1');
  t.same(options(['h', '8080', 'p']).paths, ['/p'], 'HOST PORT PATH still works');
  const d = options(['h:1']);
  t.same([d.verbose, d.include, d.headOnly, d.method, d.follow, d.maxRedirs, d.writeOut, d.remoteNames], [false, false, false, 'GET', false, 10, undefined, undefined], 'defaults');
  const f = options(['-viL', '--max-redirs', '3', '-X', 'PURGE', 'h:1/a']);
  t.same([f.verbose, f.include, f.follow, f.maxRedirs, f.method], [true, true, true, 3, 'PURGE']);
  t.equal(options(['-I', 'h:1']).method, 'HEAD');
  t.same(options(['-I', '-X', 'GET', 'h:1']).method, 'GET', '-X wins over -I for the method');
  t.same(options(['-O', 'h:1/dir/file.tar.gz?x=1', 'h:1/a%20b']).remoteNames, ['file.tar.gz', 'a b']);
  t.match(usageError(['-O', 'h:1/']), /-O cannot name a file after "\/"/);
  t.match(usageError(['-O', 'h', '1', '/a/..']), /-O cannot name a file/);
  t.match(usageError(['-O', 'h:1/a%2Fb']), /-O cannot name a file/, 'a decoded "/" is refused');
  t.match(usageError(['-O', '-o', 'f', 'h:1/a']), /-O and -o/);
  t.match(usageError(['-X', '', 'h:1']), /bad method/);
  t.match(usageError(['--max-redirs', 'many', 'h:1']), /bad --max-redirs/);
});

t.test('-w formats', async (t) => {
  const facts = { httpCode: 200, sizeDownload: 18, sizeHeader: 200, timeTotalMs: 12.5, urlEffective: 'http://h/', numRedirects: 1, contentType: 'text/plain', method: 'GET', remoteIp: '127.0.0.1', remotePort: 80 };
  t.equal(renderWriteOut(parseWriteOut('%{http_code} %{size_download} %{time_total} %{url_effective}\\n'), facts), '200 18 0.012500 http://h/\n');
  t.equal(renderWriteOut(parseWriteOut('100%% \\t\\\\ \\x %{response_code}'), { ...facts, httpCode: 0 }), '100% \t\\ \\x 000', 'escapes; an unknown escape stays as typed; no response is 000');
  t.throws(() => parseWriteOut('%{bogus}'), /unknown variable %\{bogus\}/);
  t.throws(() => parseWriteOut('%{http_code'), /unclosed/);
});
