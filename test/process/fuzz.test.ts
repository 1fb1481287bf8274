// Seeded fuzzing through the real server over TCP: a few thousand heads mutated from the
// request corpus. Whatever arrives, every connection gets at most one response per request
// (never a second answer to one head), every response is well-formed, a response announcing
// Connection: close is the last, the server ends every connection within its timeouts, and
// the worker never dies. The seed is fixed so a failure can be replayed (FUZZ_SEED overrides).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { makeSite, startServer } from '../fixtures/server';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = 4000;
const PARALLEL = 48;
const TIMEOUT_MS = 300; // headers and keep-alive timeouts of the server under test

/** mulberry32: small, fast, and the same sequence everywhere for one seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const corpus = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'corpus', 'requests.json'), 'utf8')) as { requests: { request: string }[] };
const SEEDS = corpus.requests
  .map((e) => Buffer.from(e.request.replace(/<<(.+?)\*(\d+)>>/gs, (_, s: string, n: string) => s.repeat(Math.min(Number(n), 20000))), 'latin1'))
  .concat([Buffer.from('GET /index.html HTTP/1.1\r\nHost: a\r\nRange: bytes=0-3,5-7\r\nIf-None-Match: "x"\r\nAccept-Encoding: gzip\r\n\r\n', 'latin1')]);
/** Bytes parsers care about. */
const INTERESTING = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x3a, 0x2f, 0x25, 0x2e, 0x3f, 0x23, 0x2c, 0x3b, 0x22, 0x5c, 0x7f, 0x80, 0xff, 0x30, 0x39];
const TOKENS = ['\r\n', '\r\n\r\n', ' ', 'Host: a\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 0\r\n', 'Content-Length: 5\r\n', 'Connection: close\r\n', '%2e%2e/', '../', 'HTTP/1.1', '*', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'].map((s) => Buffer.from(s, 'latin1'));

function mutate(rand: () => number, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + Math.floor(rand() * 4);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  for (let i = 0; i < rounds; i++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 8)) {
      case 0: // replace a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = rand() < 0.7 ? pick(INTERESTING) : Math.floor(rand() * 256);
        break;
      case 1: // insert a byte
        b = Buffer.concat([b.subarray(0, at), Buffer.from([pick(INTERESTING)]), b.subarray(at)]);
        break;
      case 2: // delete a few bytes
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rand() * 4))]);
        break;
      case 3: // insert a token
        b = Buffer.concat([b.subarray(0, at), pick(TOKENS), b.subarray(at)]);
        break;
      case 4: // duplicate a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + Math.floor(rand() * 40)), b.subarray(at)]);
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: // splice with another seed
        b = Buffer.concat([b.subarray(0, at), pick(SEEDS).subarray(Math.floor(rand() * 30))]);
        break;
      default: // flip the case of a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)]! ^= 0x20;
    }
  }
  return b;
}

interface Outcome {
  data: Buffer;
  closedByServer: boolean;
}

function exchange(port: number, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closedByServer });
    };
    // The server ends every connection by its timeouts: idle, 408, or after a refusal.
    const timer = setTimeout(() => finish(false), TIMEOUT_MS * 2 + 2500);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
  });
}

/** Splits the server's bytes into responses; null if something in it is not a well-formed response. */
function responsesOf(data: Buffer, requestsAreHead: boolean[]): { status: number; close: boolean }[] | null {
  const out: { status: number; close: boolean }[] = [];
  let off = 0;
  while (off < data.length) {
    const end = data.indexOf('\r\n\r\n', off);
    if (end === -1) return null;
    const head = data.toString('latin1', off, end);
    const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*((?:\r\n[^\r\n]+)*)$/.exec(head);
    if (!m) return null;
    const status = Number(m[1]);
    const cl = /\r\ncontent-length: (\d+)/i.exec(head);
    const bodyless = status === 304 || status === 204 || (requestsAreHead[out.length] === true && status < 400);
    off = end + 4 + (bodyless || !cl ? 0 : Number(cl[1]));
    if (off > data.length) return null;
    out.push({ status, close: /\r\nconnection: close/i.test(head) });
  }
  return out;
}

t.test(`fuzzed heads (seed ${SEED}, ${CASES} cases)`, async (t) => {
  const root = makeSite(t, { 'index.html': '<p>index</p>\n', 'a.txt': 'a\n', 'dir/index.html': 'd\n' });
  const s = await startServer(t, {
    root,
    args: ['--headers-timeout-ms', String(TIMEOUT_MS), '--keep-alive-timeout-ms', String(TIMEOUT_MS), '--access-log', 'false'],
  });
  const rand = prng(SEED);
  const cases = Array.from({ length: CASES }, () => mutate(rand, SEEDS[Math.floor(rand() * SEEDS.length)]!));
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const started = Date.now();
  let next = 0;
  const work = async () => {
    while (next < cases.length) {
      const i = next++;
      const input = cases[i]!;
      const { data, closedByServer } = await exchange(s.port, input);
      const show = JSON.stringify(input.subarray(0, 160).toString('latin1'));
      // Requests the client sent: complete heads (CRLF CRLF), plus one partial head the server may refuse.
      const text = input.toString('latin1');
      const heads = text.split('\r\n\r\n').length - 1;
      const isHead = text.split('\r\n\r\n').map((h) => /^(\r\n)*HEAD /.test(h));
      const responses = responsesOf(data, isHead);
      for (const r of responses ?? []) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (responses === null) failures.push(`case ${i}: malformed response bytes for ${show}: ${JSON.stringify(data.subarray(0, 200).toString('latin1'))}`);
      else if (responses.length > heads + 1) failures.push(`case ${i}: ${responses.length} responses to ${heads} heads: ${show}`);
      else if (responses.some((r, k) => r.close && k !== responses.length - 1)) failures.push(`case ${i}: a response after Connection: close: ${show}`);
      if (!closedByServer) failures.push(`case ${i}: the server did not end the connection in time: ${show}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, work));
  // The mutations must reach past the first check: answers of many kinds, not only 400.
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  t.ok([200, 400, 404, 405, 413, 431, 505].every((st) => (statuses.get(st) ?? 0) > 0), 'answers include 200, 400, 404, 405, 413, 431 and 505');
  t.same(failures.slice(0, 20), [], `no failures in ${CASES} cases (${Date.now() - started} ms)`);
  t.equal(s.logs.filter((l) => typeof l.msg === 'string' && /died|replacing/.test(l.msg)).length, 0, 'no worker died');
  t.equal(s.logs.filter((l) => l.level >= 50).length, 0, 'no error lines in the log');
  t.ok(s.proc.exitCode === null, 'the server is still running');
});
