// Headless Chromium loads the default site over HTTP/2 (issue 21's "a browser gets h2").
//
// How the protocol is proven, the choice written down: Chromium runs with
// --ignore-certificate-errors (the test PKI's CA is not in its store) and --dump-dom, which
// prints the page once it has loaded with its subresources; the server's access log then has
// a line for the page and for each asset the page loads (style.css, logo.svg), and each says
// "protocol":"HTTP/2.0" — a line the HTTP/1.1 handler never writes. The DOM shows the page was
// rendered from what was served. Chromium is bounded in time (killed after 60 s, and at
// teardown also on failure) and gets a temporary --user-data-dir, removed after.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startServer } from '../fixtures/server';
import { makeTestPki, opensslSkip } from '../fixtures/tls';

const CHROMIUM = '/usr/bin/chromium';
const SITE = path.join(__dirname, '..', '..', 'site');
const chromiumSkip = fs.existsSync(CHROMIUM) ? opensslSkip : `${CHROMIUM} is not installed (Debian package chromium)`;

t.test('headless Chromium loads the default site over h2: the page and its assets', { skip: chromiumSkip }, async (t) => {
  const pki = makeTestPki(t);
  const s = await startServer(t, { root: SITE, args: ['--tls-cert', pki.ecdsaLocal.cert, '--tls-key', pki.ecdsaLocal.key, '--access-log', 'true'] });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-chromium-'));
  t.teardown(() => fs.rmSync(profile, { recursive: true, force: true }));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--ignore-certificate-errors', `--user-data-dir=${profile}`, '--dump-dom', `https://localhost:${s.port}/`];
  const browser = spawn(CHROMIUM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  browser.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  browser.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const killer = setTimeout(() => browser.kill('SIGKILL'), 60_000);
  t.teardown(() => {
    clearTimeout(killer);
    if (browser.exitCode === null && browser.signalCode === null) browser.kill('SIGKILL');
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => browser.once('close', (code, signal) => resolve({ code, signal })));
  t.same(exit, { code: 0, signal: null }, `Chromium exited 0 within 60 s (${stderr.split('\n').filter((l) => !/dbus|bus\.cc/.test(l)).slice(-3).join(' | ')})`);
  t.match(stdout, /<h1>fleetserve<\/h1>/, 'the DOM is the default site\'s page');
  for (const p of ['/', '/style.css', '/logo.svg']) {
    const line = await s.waitForLog((l) => l.kind === 'access' && l.path === p, 5000);
    t.match(line, { protocol: 'HTTP/2.0', status: 200, tls: 'TLSv1.3' }, `${p}: fetched by Chromium over HTTP/2`);
  }
  t.notOk(s.logs.some((l) => l.kind === 'access' && l.protocol !== 'HTTP/2.0'), 'no request of the page load came over HTTP/1.1');
});
