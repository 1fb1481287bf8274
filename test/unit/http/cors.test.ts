// Unit tests for src/http/cors.ts, and the cors / corsOrigins keys as loadConfig reads them.
import os from 'node:os';
import t from 'tap';
import { corsOriginsProblem, corsPolicy, corsRuleConflict, CorsPolicy, isTokenList, originProblem, preflightLines, withVaryMember } from '../../../src/http/cors';
import { errorOf, run } from '../../fixtures/config';

const EXPOSE = 'Access-Control-Expose-Headers: Accept-Ranges, Content-Encoding, Content-Length, Content-Range, ETag\r\n';

t.test('originProblem: origins as browsers send them', (t) => {
  for (const ok of ['https://example.com', 'http://localhost:5173', 'http://127.0.0.1:8080', 'http://[::1]:3000', 'https://a.b-c.example', 'HTTPS://Example.COM', 'chrome-extension://abcdefghijklmnop', 'https://example.com:8443', 'http://example.com:443']) {
    t.equal(originProblem(ok), null, ok);
  }
  const bad: [unknown, string][] = [
    ['https://example.com/', '"https://example.com/" is not an origin: write scheme://host[:port] with nothing after it, as browsers send it: "https://example.com"'],
    ['https://example.com/app?x=1', '"https://example.com/app?x=1" is not an origin: write scheme://host[:port] with nothing after it, as browsers send it: "https://example.com"'],
    ['https://user@example.com', '"https://user@example.com" is not an origin: write scheme://host[:port] with nothing after it, e.g. "https://example.com"'],
    ['https://example.com:443', '"https://example.com:443": browsers send this origin without its default port: "https://example.com"'],
    ['http://example.com:80', '"http://example.com:80": browsers send this origin without its default port: "http://example.com"'],
    ['http://example.com:0', '"http://example.com:0": the port must be a number from 1 to 65535'],
    ['http://example.com:65536', '"http://example.com:65536": the port must be a number from 1 to 65535'],
    ['http://example.com:', '"http://example.com:": the port must be a number from 1 to 65535'],
    ['example.com', '"example.com" is not an origin: write scheme://host[:port] with an ASCII host (punycode for other scripts), e.g. "https://example.com"'],
    ['https://bücher.example', '"https://bücher.example" is not an origin: write scheme://host[:port] with an ASCII host (punycode for other scripts), e.g. "https://example.com"'],
    ['https://-x.example', '"https://-x.example" is not an origin: write scheme://host[:port] with an ASCII host (punycode for other scripts), e.g. "https://example.com"'],
    ['', '"" is not an origin: write scheme://host[:port] with an ASCII host (punycode for other scripts), e.g. "https://example.com"'],
    ['*', '"*" is not an origin: leave corsOrigins empty ([]) to allow every origin'],
    ['null', '"null" is not allowed: it is the origin of sandboxed frames and local files, which any page can make'],
    [42, '42 is not a string'],
  ];
  for (const [v, msg] of bad) t.equal(originProblem(v), msg, JSON.stringify(v));
  t.equal(corsOriginsProblem(['https://a.example', 'https://b.example/']), 'entry #2: "https://b.example/" is not an origin: write scheme://host[:port] with nothing after it, as browsers send it: "https://b.example"');
  t.match(corsOriginsProblem('https://a.example'), /^must be an array of origins/);
  t.equal(corsOriginsProblem([]), null);
  t.end();
});

t.test('isTokenList: what Access-Control-Request-Headers may hold to be echoed', (t) => {
  for (const ok of ['content-type', 'content-type,x-requested-with', 'x-a, x-b ,x-c', ' x-a ', 'x-a,,x-b', "!#$%&'*+-.^_`|~09AZaz"]) t.equal(isTokenList(ok), true, JSON.stringify(ok));
  for (const bad of ['', ',', ' , ', 'x a', 'x-a;x-b', 'x-a,x b', 'x:a', 'x\u00e9', 'x-a, "b"', 'x(a)']) t.equal(isTokenList(bad), false, JSON.stringify(bad));
  t.end();
});

t.test('preflightLines', (t) => {
  const base = 'Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Max-Age: 86400\r\n';
  t.equal(preflightLines({}), '', 'no Access-Control-Request-Method: no preflight');
  t.equal(preflightLines({ 'access-control-request-headers': 'x-a' }), '', 'headers alone: no preflight');
  t.equal(preflightLines({ 'access-control-request-method': 'GET' }), base);
  t.equal(preflightLines({ 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a,content-type' }), `${base}Access-Control-Allow-Headers: x-a,content-type\r\n`, 'requested headers echoed; the methods stay ours');
  t.equal(preflightLines({ 'access-control-request-method': 'GET', 'access-control-request-headers': ' x-a , x-b ' }), `${base}Access-Control-Allow-Headers: x-a , x-b\r\n`, 'trimmed');
  t.equal(preflightLines({ 'access-control-request-method': 'GET', 'access-control-request-headers': 'x a' }), base, 'not a token list: dropped');
  t.end();
});

t.test('withVaryMember: one Vary line', (t) => {
  t.equal(withVaryMember('A: 1\r\n', 'Origin'), 'A: 1\r\nVary: Origin\r\n', 'added');
  t.equal(withVaryMember('A: 1\r\nVary: Accept\r\nB: 2\r\n', 'Origin'), 'A: 1\r\nVary: Accept, Origin\r\nB: 2\r\n', 'merged');
  t.equal(withVaryMember('vary: accept\r\n', 'Origin'), 'vary: accept, Origin\r\n', 'a lower-case name');
  t.equal(withVaryMember('Vary: Accept, origin\r\n', 'Origin'), 'Vary: Accept, origin\r\n', 'already listed');
  t.equal(withVaryMember('Vary: *\r\n', 'Origin'), 'Vary: *\r\n', '* covers it');
  t.equal(withVaryMember('X-Vary: a\r\n', 'Origin'), 'X-Vary: a\r\nVary: Origin\r\n', 'only the Vary field itself');
  t.end();
});

t.test('CorsPolicy: every origin, or a list', (t) => {
  t.equal(corsPolicy({ cors: false, corsOrigins: ['https://a.example'] }), null, 'off');
  const any = new CorsPolicy([]);
  t.equal(any.fixedLines, `Access-Control-Allow-Origin: *\r\n${EXPOSE}`);
  t.equal(any.vary, '');
  t.equal(any.echoesOrigin, false);
  t.equal(any.originLines('https://a.example'), '', 'nothing per request');
  t.equal(any.addTo('Content-Length: 0\r\n', undefined), `Access-Control-Allow-Origin: *\r\n${EXPOSE}Content-Length: 0\r\n`);
  const complete = `X: 1\r\nAccess-Control-Allow-Origin: *\r\n${EXPOSE}`;
  t.equal(any.addTo(complete, 'https://a.example'), complete, 'a file reply that has them already is left alone');

  const list = new CorsPolicy(['https://a.example', 'HTTP://LOCALHOST:5173']);
  t.equal(list.fixedLines, '');
  t.equal(list.vary, 'Origin');
  t.equal(list.echoesOrigin, true);
  t.equal(list.originLines('https://a.example'), `Access-Control-Allow-Origin: https://a.example\r\n${EXPOSE}`);
  t.equal(list.originLines('http://localhost:5173'), `Access-Control-Allow-Origin: http://localhost:5173\r\n${EXPOSE}`, 'configured in any case');
  for (const o of ['https://b.example', 'https://a.example.evil', 'https://A.example', 'null', undefined]) t.equal(list.originLines(o), '', `${o}: not listed`);
  t.equal(list.addTo('Vary: Accept-Encoding, Origin\r\n', 'https://a.example'), `Access-Control-Allow-Origin: https://a.example\r\n${EXPOSE}Vary: Accept-Encoding, Origin\r\n`, 'a file reply gets the echo');
  t.equal(list.addTo('Vary: Accept\r\n', 'https://b.example'), 'Vary: Accept, Origin\r\n', 'not listed: only Vary');
  t.equal(list.addTo('Content-Length: 0\r\n', undefined), 'Content-Length: 0\r\nVary: Origin\r\n');
  t.end();
});

t.test('corsRuleConflict: with cors on, rules may not set Access-Control-* fields', (t) => {
  t.equal(corsRuleConflict([{ glob: '/**', headers: { 'X-A': '1', 'Timing-Allow-Origin': '*' } }]), null);
  t.equal(
    corsRuleConflict([{ glob: '/x', headers: {} }, { glob: '/api/**', headers: { 'access-control-max-age': '60' } }]),
    'header rule #2 (glob "/api/**") sets access-control-max-age, which cors sets itself: remove it from the rule (corsOrigins lists the allowed origins)',
  );
  t.end();
});

t.test('loadConfig: cors and corsOrigins from flags, env and a file; errors are one line', (t) => {
  const cwd = os.tmpdir();
  const root = ['--root', cwd];
  const d = run(root, {}, cwd);
  t.equal(d.cors, false, 'off by default');
  t.same(d.corsOrigins, [], 'every origin by default');
  const c = run([...root, '--cors', 'true', '--cors-origins', '["https://a.example", "http://localhost:5173"]'], {}, cwd);
  t.equal(c.cors, true);
  t.same(c.corsOrigins, ['https://a.example', 'http://localhost:5173']);
  const e = run(root, { FLEETSERVE_CORS: 'yes', FLEETSERVE_CORS_ORIGINS: '["https://b.example"]' }, cwd);
  t.equal(e.cors, true);
  t.same(e.corsOrigins, ['https://b.example']);
  t.equal(errorOf([...root, '--cors=maybe'], {}, cwd), 'cors: must be true or false (or 1/0, yes/no, on/off): value was "maybe"');
  t.equal(
    errorOf([...root, '--cors-origins', '["https://a.example", "https://b.example/"]'], {}, cwd),
    'corsOrigins: entry #2: "https://b.example/" is not an origin: write scheme://host[:port] with nothing after it, as browsers send it: "https://b.example": value was ["https://a.example","https://b.example/"]',
  );
  t.equal(
    errorOf([...root, '--cors-origins', 'https://a.example'], {}, cwd),
    'corsOrigins: must be an array of origins, e.g. ["https://example.com", "http://localhost:5173"] ([]: every origin): value was "https://a.example"',
  );
  const rules = JSON.stringify([{ glob: '/fonts/**', headers: { 'Access-Control-Allow-Origin': '*' } }]);
  t.equal(run([...root, '--headers', rules], {}, cwd).headers.length, 1, 'such a rule is fine with cors off');
  t.equal(
    errorOf([...root, '--headers', rules, '--cors', 'true'], {}, cwd),
    'headers: header rule #1 (glob "/fonts/**") sets Access-Control-Allow-Origin, which cors sets itself: remove it from the rule (corsOrigins lists the allowed origins)',
  );
  t.end();
});
