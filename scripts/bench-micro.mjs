#!/usr/bin/env node
// npm run bench:micro — micro-benchmarks of the two per-request hot paths, in-process:
// the request-head parser (a wrk-style head and a browser-style head) and the static
// handler's cache hit (a parsed GET for a cached small file → Reply; and for a stylesheet
// with Accept-Encoding: gzip, br → its brotli copy, made once). Reports the median
// of 5 runs in ns/op and ops/s. Uses the built dist/ (npm run build first).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parseRequestHead } = require('../dist/http/parse.js');
const { StaticHandler } = require('../dist/serve/static.js');
const pino = require('pino');

const WRK = Buffer.from('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n', 'latin1');
const BROWSER = Buffer.from(
  'GET /assets/app.3f9a1c2e.js HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n' +
    'sec-ch-ua: "Chromium";v="124", "Not-A.Brand";v="99"\r\nsec-ch-ua-mobile: ?0\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n' +
    'sec-ch-ua-platform: "Linux"\r\nAccept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\n' +
    'Sec-Fetch-Dest: script\r\nReferer: https://example.com/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n' +
    'Accept-Language: en-US,en;q=0.9\r\nIf-None-Match: "abc"\r\n\r\n',
  'latin1',
);

function bench(name, n, fn) {
  for (let i = 0; i < n / 10; i++) fn(); // warm up the JIT
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    runs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  runs.sort((a, b) => a - b);
  const ns = runs[2];
  console.log(`${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/op ${(1e9 / ns).toFixed(0).padStart(10)} ops/s`);
}

async function main() {
  bench('parse: wrk head (49 B)', 1_000_000, () => parseRequestHead(WRK));
  bench(`parse: browser head (${BROWSER.length} B)`, 300_000, () => parseRequestHead(BROWSER));

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetserve-micro-'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><h1>hello</h1>\n'.repeat(15));
  fs.writeFileSync(path.join(root, 'style.css'), Array.from({ length: 400 }, (_, i) => `.c${i} { margin: ${i % 9}px; color: #${(i * 99991).toString(16).slice(-6).padStart(6, '0')}; }\n`).join(''));
  const handler = new StaticHandler(
    {
      root, dotfiles: 'ignore', symlinks: 'inside-root', listing: false, spa: false, cors: false, corsOrigins: [], precompressed: true, maxRanges: 16,
      compress: true, compressMinBytes: 1024, compressMaxBytes: 4 << 20, compressBrotliQuality: 11, cleanUrls: false,
      cacheControl: 'public, max-age=0, must-revalidate', immutableCacheControl: 'public, max-age=31536000, immutable', immutablePaths: ['@build-tools'], headers: [],
      cacheMaxEntries: 1000, cacheMaxBytes: 1 << 26, cacheMaxFileBytes: 1 << 18, cacheValidMs: 3_600_000,
    },
    pino({ level: 'silent' }),
  );
  const parsed = parseRequestHead(WRK);
  await handler.handle(parsed.request); // fill the cache
  const hit = handler.handle(parsed.request);
  if (hit instanceof Promise || !hit.wire) throw new Error('expected a synchronous cache hit with a precomputed response');
  bench('cache hit: GET /index.html → Reply', 1_000_000, () => handler.handle(parsed.request));
  bench('parse + cache hit', 1_000_000, () => handler.handle(parseRequestHead(WRK).request));
  const css = parseRequestHead(Buffer.from('GET /style.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n', 'latin1')).request;
  await handler.handle(css); // fill the cache and start compressing
  for (let i = 0; i < 100; i++) {
    const r = handler.handle(css);
    if (!(r instanceof Promise) && r.wire && r.headers.includes('Content-Encoding: br')) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const br = handler.handle(css);
  if (br instanceof Promise || !br.wire || !br.headers.includes('Content-Encoding: br')) throw new Error('expected a synchronous hit on the brotli copy');
  bench('cache hit: style.css, br copy', 1_000_000, () => handler.handle(css));
  fs.rmSync(root, { recursive: true, force: true });
}

main();
