#!/usr/bin/env node
// npm run bench:cpu -- [--rounds 5] [--duration 5] [--conns 50,256] [--servers raw-net,fleetserve,fleetserve-nolog]
//                      [--site /tmp/bench-site] [--node-flags=--max-semi-space-size=2]
//
// CPU time per request of ONE server process: each server runs as a single process
// (fleetserve with --workers 0) pinned to core 0, wrk runs with one thread pinned to core 1,
// both on 127.0.0.1. Before and after each run the server's user and system CPU time is read
// from /proc/PID/stat; divided by the requests wrk completed, it is what one request costs,
// which stays comparable across rounds when the machine's noise moves req/s a lot.
//   raw-net           the ceiling for any node:net design: parses nothing, answers every
//                     request head with one precomputed response (scripts/peers/servers/raw-net.js)
//   fleetserve        this build, access log on, into a file in a temporary directory
//   fleetserve-nolog  this build, --access-log false
// The site is scripts/peers/make-site.sh's (created when missing); the file is index.html.
// Needs wrk and taskset (util-linux) and 2 cores. Prints one line per run, then medians.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, median, waitForPort } from './bench-lib.mjs';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    conns: { type: 'string', default: '50,256' },
    servers: { type: 'string', default: 'raw-net,fleetserve,fleetserve-nolog' },
    site: { type: 'string', default: '/tmp/bench-site' },
    'node-flags': { type: 'string', default: '' },
  },
  strict: true,
});
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

if (!fs.existsSync(path.join(o.site, 'index.html'))) spawnSync('bash', [path.join(PROJECT, 'scripts/peers/make-site.sh'), o.site], { stdio: 'inherit' });
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-cpu-'));
const nodeFlags = o['node-flags'].split(/\s+/).filter(Boolean);

function command(name, port) {
  const fleetserve = [...nodeFlags, path.join(PROJECT, 'dist/main.js'), o.site, '--workers', '0', '--host', '127.0.0.1', '--port', String(port), '--log-pretty', 'false'];
  if (name === 'raw-net') return { args: [...nodeFlags, path.join(PROJECT, 'scripts/peers/servers/raw-net.js')], env: { PORT: String(port), WORKERS: '0', BODY: path.join(o.site, 'index.html') } };
  if (name === 'fleetserve') return { args: [...fleetserve, '--access-log-file', path.join(logDir, 'access.log')], env: {} };
  if (name === 'fleetserve-nolog') return { args: [...fleetserve, '--access-log', 'false'], env: {} };
  throw new Error(`unknown server ${name} (known: raw-net, fleetserve, fleetserve-nolog)`);
}

function cpuTicks(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) };
}

function wrk(port, conns, seconds) {
  const r = spawnSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/index.html`], { encoding: 'utf8' });
  const text = r.stdout;
  const unit = { us: 1e-3, ms: 1, s: 1000 };
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(text);
  return {
    requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? 0),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0),
    p99: p99 ? Number(p99[1]) * unit[p99[2]] : NaN,
  };
}

const rows = [];
for (let round = 1; round <= Number(o.rounds); round++) {
  for (const name of o.servers.split(',')) {
    for (const conns of o.conns.split(',').map(Number)) {
      const port = await freePort();
      const { args, env } = command(name, port);
      const proc = spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: 'ignore', env: { ...process.env, ...env } });
      try {
        await waitForPort(port, proc, name);
        wrk(port, conns, 1); // warm-up: JIT, cache
        const pid = proc.pid; // taskset execs node: the same process
        const before = cpuTicks(pid);
        const r = wrk(port, conns, Number(o.duration));
        const after = cpuTicks(pid);
        const us = (ticks) => (ticks / TICK / r.requests) * 1e6;
        const row = { round, name, conns, rps: r.rps, p99: r.p99, user: us(after.user - before.user), sys: us(after.sys - before.sys) };
        rows.push(row);
        process.stderr.write(`[${round}] ${name.padEnd(17)} c${String(conns).padEnd(4)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99.toFixed(2)} ms  CPU ${row.user.toFixed(2)} user + ${row.sys.toFixed(2)} sys µs/request\n`);
      } finally {
        proc.kill('SIGTERM');
        await new Promise((resolve) => (proc.exitCode !== null ? resolve() : proc.once('exit', resolve)));
      }
    }
  }
}
fs.rmSync(logDir, { recursive: true, force: true });

const lines = [`median of ${o.rounds} rounds of ${o.duration} s, one process on core 0, wrk on core 1, Node ${process.version}${nodeFlags.length ? ` (${nodeFlags.join(' ')})` : ''}`, '', '| server | connections | req/s | p99 ms | CPU µs/request (user + system) |', '|---|---:|---:|---:|---:|'];
for (const name of o.servers.split(',')) {
  for (const conns of o.conns.split(',').map(Number)) {
    const rs = rows.filter((r) => r.name === name && r.conns === conns);
    const user = median(rs.map((r) => r.user));
    const sys = median(rs.map((r) => r.sys));
    lines.push(`| ${name} | ${conns} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(rs.map((r) => r.p99)).toFixed(2)} | ${(user + sys).toFixed(2)} (${user.toFixed(2)} + ${sys.toFixed(2)}) |`);
  }
}
process.stdout.write(lines.join('\n') + '\n');
