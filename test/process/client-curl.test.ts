// fleetserve-client's curl habits (-v -i -I -X -L --max-redirs -w -O, host:port/path),
// against the real fleetserve server and small node:http servers on 127.0.0.1.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { buildProblem, runClient, startHttp, VERSION } from '../fixtures/client/harness';
import { makeSite, startServer } from '../fixtures/server';

const problem = buildProblem();
if (problem) {
  t.fail(problem);
} else {
  const A = 'the body of a.txt\n';
  const root = makeSite(t, { 'a.txt': A, 'dir/index.html': '<p>dir index</p>\n', 'with space.txt': 'spaced\n' });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-curl-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  t.test('with the real server', async (t) => {
    const s = await startServer(t, { root });
    const hp = `127.0.0.1:${s.port}`;

    t.test('host:port/path without a scheme; quiet by default, as curl', async (t) => {
      const r = await runClient([`${hp}/a.txt`]);
      t.equal(r.code, 0);
      t.equal(r.stdout.toString(), A);
      t.equal(r.stderr, '', 'nothing on stderr without -v');
      const bare = await runClient(['-s', '-o', '/dev/null', '-w', '%{url_effective} %{http_code}', hp]);
      t.equal(bare.stdout.toString(), `http://${hp}/ 404`, 'host:port alone asks for / (this site has no index.html)');
      t.equal(bare.code, 22);
    });

    t.test('-v: the request and the response head on stderr, the body on stdout', async (t) => {
      const r = await runClient(['-v', `${hp}/a.txt`]);
      t.equal(r.code, 0);
      t.equal(r.stdout.toString(), A);
      t.match(r.stderr, `* connecting to 127.0.0.1 port ${s.port}\n`);
      t.match(r.stderr, `> GET /a.txt HTTP/1.1\n> Host: ${hp}\n> User-Agent: fleetserve-client/${VERSION}\n> Accept: */*\n>\n`);
      t.match(r.stderr, /< HTTP\/1\.1 200 OK\n(< [^\n]+\n)*< Content-Length: 18\n(< [^\n]+\n)*<\n\* 18 body bytes \(Content-Length\)\n\* closing connection\n$/);
    });

    t.test('-i: the head, then the body, on stdout', async (t) => {
      const r = await runClient(['-i', `${hp}/a.txt`]);
      t.equal(r.code, 0);
      const out = r.stdout.toString('latin1');
      const [head, body] = [out.slice(0, out.indexOf('\r\n\r\n') + 4), out.slice(out.indexOf('\r\n\r\n') + 4)];
      t.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      t.match(head, /\r\nContent-Length: 18\r\n/);
      t.match(head, /\r\nETag: "[^"]+"\r\n/);
      t.equal(body, A);
      t.equal(r.stderr, '');
    });

    t.test('-I: HEAD, the head as output and no body', async (t) => {
      const r = await runClient(['-I', `http://${hp}/a.txt`]);
      t.equal(r.code, 0);
      const out = r.stdout.toString('latin1');
      t.match(out, /^HTTP\/1\.1 200 OK\r\n/);
      t.match(out, /\r\nContent-Length: 18\r\n/);
      t.ok(out.endsWith('\r\n\r\n'), 'ends with the head');
      t.notMatch(out, 'the body');
      const logged = await s.waitForLog((l) => l.kind === 'access' && l.method === 'HEAD' && l.path === '/a.txt');
      t.equal(logged.status, 200, 'the server saw a HEAD');
      const get = await runClient(['-I', '-X', 'GET', `${hp}/a.txt`]);
      t.equal(get.code, 0);
      t.match(get.stdout.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/, '-I -X GET: the head only, the body read and dropped');
      t.notMatch(get.stdout.toString(), 'the body');
      const logGet = await s.waitForLog((l) => l.kind === 'access' && l.method === 'GET' && l.path === '/a.txt' && l.bytes === 18);
      t.equal(logGet.status, 200, 'the server saw a GET');
    });

    t.test('-X METHOD', async (t) => {
      const del = await runClient(['-X', 'DELETE', `${hp}/a.txt`]);
      t.equal(del.code, 22, 'a 405 is an HTTP error');
      t.equal(del.stderr, 'fleetserve-client: HTTP 405 Method Not Allowed for /a.txt\n');
      const opt = await runClient(['-i', '-X', 'OPTIONS', `${hp}/a.txt`]);
      t.equal(opt.code, 0);
      t.match(opt.stdout.toString(), /^HTTP\/1\.1 204 No Content\r\n/);
      t.match(opt.stdout.toString(), /\r\nAllow: GET, HEAD, OPTIONS\r\n/);
      const head = await runClient(['-X', 'HEAD', `${hp}/a.txt`], {}, 5000);
      t.equal(head.code, 0, '-X HEAD expects no body (and does not hang)');
      t.equal(head.killed, false);
      t.equal(head.stdout.length, 0);
      const bad = await runClient(['-X', 'GET /x', `${hp}/`]);
      t.equal(bad.code, 2);
      t.equal(bad.stderr, 'fleetserve-client: bad method "GET /x" for -X (a token such as GET, DELETE or PURGE) (see --help)\n');
    });

    t.test('-L follows the directory redirect; without it the 301 is the answer', async (t) => {
      const plain = await runClient(['-w', '%{http_code} %{num_redirects}\\n', `${hp}/dir`]);
      t.equal(plain.code, 0);
      t.match(plain.stdout.toString(), /301 0\n$/);
      const followed = await runClient(['-L', '-w', '%{http_code} %{num_redirects} %{url_effective}\\n', `${hp}/dir?x=1`]);
      t.equal(followed.code, 0);
      t.equal(followed.stdout.toString(), `<p>dir index</p>\n200 1 http://${hp}/dir/?x=1\n`, 'only the final body, then -w');
      const headers = await runClient(['-L', '-I', `${hp}/dir`]);
      const heads = headers.stdout.toString().split('\r\n\r\n').filter(Boolean);
      t.same(heads.map((h) => h.split('\r\n')[0]), ['HTTP/1.1 301 Moved Permanently', 'HTTP/1.1 200 OK'], '-IL prints every head');
    });

    t.test('-w: the variables curl users script with', async (t) => {
      const r = await runClient(['-o', '/dev/null', '-w', 'code=%{http_code} size=%{size_download} time=%{time_total} url=%{url_effective} type=%{content_type} method=%{method} ip=%{remote_ip} port=%{remote_port} 100%%\\tend\\n', `${hp}/a.txt`]);
      t.equal(r.code, 0);
      const m = /^code=200 size=18 time=(\d+\.\d{6}) url=(\S+) type=text\/plain; charset=utf-8 method=GET ip=127\.0\.0\.1 port=(\d+) 100%\tend\n$/.exec(r.stdout.toString());
      t.ok(m, `the line: ${JSON.stringify(r.stdout.toString())}`);
      t.equal(m?.[2], `http://${hp}/a.txt`);
      t.equal(Number(m?.[3]), s.port);
      t.ok(Number(m?.[1]) > 0 && Number(m?.[1]) < 10, 'time in seconds');
      const two = await runClient(['-s', '-o', '/dev/null', '-w', '%{http_code}\\n', `${hp}/a.txt`, `${hp}/missing`]);
      t.equal(two.stdout.toString(), '200\n404\n', 'one line per transfer');
      t.equal(two.code, 22);
      const none = await runClient(['-w', '%{http_code}', `127.0.0.1:1/`]);
      t.equal(none.code, 7);
      t.equal(none.stdout.toString(), '', 'no transfer, no -w output');
      const unknown = await runClient(['-w', '%{nope}', `${hp}/`]);
      t.equal(unknown.code, 2);
      t.match(unknown.stderr, /^fleetserve-client: -w: unknown variable %\{nope\} \(known: http_code, /);
    });

    t.test('-f: no body (and no file) for a status of 400 or more, exit 22; later paths still written', async (t) => {
      const plain = await runClient([`${hp}/missing`]);
      t.equal(plain.code, 22);
      t.match(plain.stdout.toString(), /^<!doctype html>/i, 'without -f the 404 page is written');
      const failed = await runClient(['-f', '-w', '[%{http_code}]', `${hp}/missing`, `${hp}/a.txt`]);
      t.equal(failed.code, 22);
      t.equal(failed.stdout.toString(), `[404]${A}[200]`, 'no 404 body; the next body and every -w');
      t.equal(failed.stderr, 'fleetserve-client: HTTP 404 Not Found for /missing\n');

      const dir = fs.mkdtempSync(path.join(tmp, 'f-'));
      const [file, saved, quiet, head] = await Promise.all([
        runClient(['-sSf', '-o', 'out.html', `${hp}/missing`], {}, 10_000, dir),
        runClient(['-fO', `${hp}/missing`, `${hp}/a.txt`], {}, 10_000, dir),
        runClient(['-sf', `${hp}/missing`]),
        runClient(['-fi', `${hp}/missing`]),
      ]);
      t.same([file.code, saved.code, quiet.code, head.code], [22, 22, 22, 22]);
      t.same(fs.readdirSync(dir), ['a.txt'], 'neither -o nor -O created a file for the 404');
      t.equal(file.stderr, 'fleetserve-client: HTTP 404 Not Found for /missing\n', '-sSf: the error line');
      t.same([quiet.stdout.length, quiet.stderr], [0, ''], '-sf: nothing at all');
      t.match(head.stdout.toString('latin1'), /^HTTP\/1\.1 404 Not Found\r\n[\s\S]*\r\n\r\n$/, '-fi: the head, as curl -fi, and no body');
    });

    t.test('-O: saved under the remote name, one file per path', async (t) => {
      const dir = fs.mkdtempSync(path.join(tmp, 'o-'));
      const r = await runClient(['-O', `${hp}/a.txt`, `${hp}/with%20space.txt`], {}, 10_000, dir);
      t.equal(r.code, 0, r.stderr);
      t.same(fs.readdirSync(dir).sort(), ['a.txt', 'with space.txt']);
      t.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), A);
      t.equal(fs.readFileSync(path.join(dir, 'with space.txt'), 'utf8'), 'spaced\n');
      t.equal(r.stdout.length, 0);
      const slash = await runClient(['-O', `${hp}/dir/`], {}, 10_000, dir);
      t.equal(slash.code, 2);
      t.match(slash.stderr, /-O cannot name a file after "\/dir\/"/);
      const both = await runClient(['-O', '-o', 'x', `${hp}/a.txt`], {}, 10_000, dir);
      t.equal(both.code, 2);
      t.same(fs.readdirSync(dir).sort(), ['a.txt', 'with space.txt'], 'nothing else written');
    });
  });

  t.test('redirects: other hosts, methods, and the bound', async (t) => {
    const target = await startHttp((req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`${req.method} ${req.url} on the target\n`);
    });
    t.teardown(target.close);
    let loops = 0;
    const origin = await startHttp((req, res) => {
      if (req.url === '/loop') {
        loops++;
        res.writeHead(302, { Location: '/loop' });
        res.end('again\n');
      } else if (req.url === '/see-other') {
        res.writeHead(303, { Location: `http://127.0.0.1:${target.port}/result` });
        res.end();
      } else if (req.url === '/keep') {
        res.writeHead(307, { Location: `http://localhost:${target.port}/kept` });
        res.end();
      } else if (req.url === '/other-scheme') {
        res.writeHead(301, { Location: 'gopher://127.0.0.1/' });
        res.end();
      } else if (req.url === '/bad-location') {
        res.writeHead(302, { Location: 'http://[bad/' });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    t.teardown(origin.close);
    const o = `127.0.0.1:${origin.port}`;
    const seeOther = await runClient(['-L', '-X', 'POST', `${o}/see-other`]);
    t.equal(seeOther.code, 0);
    t.equal(seeOther.stdout.toString(), 'GET /result on the target\n', '303 → GET on the other server');
    const keep = await runClient(['-L', '-X', 'PUT', '-w', '%{url_effective}\\n', `${o}/keep`]);
    t.equal(keep.stdout.toString(), `PUT /kept on the target\nhttp://localhost:${target.port}/kept\n`, '307 keeps the method');
    const loop = await runClient(['-L', '--max-redirs', '3', `${o}/loop`]);
    t.equal(loop.code, 47);
    t.equal(loop.stderr, `fleetserve-client: more than 3 redirects (the next to http://${o}/loop); see --max-redirs\n`);
    t.equal(loops, 4, 'the first request and 3 redirects, then it stops');
    t.equal(loop.stdout.length, 0, 'no redirect body is printed');
    const other = await runClient(['-L', `${o}/other-scheme`]);
    t.equal(other.code, 1, 'unsupported protocol, as curl');
    t.equal(other.stderr, 'fleetserve-client: redirected to gopher://127.0.0.1/: fleetserve-client follows http:// and https:// only\n');
    const bad = await runClient(['-L', `${o}/bad-location`]);
    t.equal(bad.code, 3, 'malformed URL, as curl');
    t.equal(bad.stderr, `fleetserve-client: bad Location "http://[bad/" in the redirect for /bad-location from ${o} (not a URL)\n`);
    const pipelined = await runClient(['-L', '--pipeline', `${o}/loop`]);
    t.equal(pipelined.code, 2, '-L and --pipeline are refused together');
  });
}
