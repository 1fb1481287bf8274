// The request corpus (test/corpus/requests.json): every byte sequence goes to a fresh
// connection of the real server; the first response must have the expected status, there
// must be exactly one response per request, and the connection must close (or stay open)
// as expected.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { makeSite, parseResponses, startServer } from '../fixtures/server';

interface Entry {
  name: string;
  request: string;
  status: number;
  close: boolean;
  responses?: number;
  why?: string;
}

const corpus = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'corpus', 'requests.json'), 'utf8')) as { requests: Entry[] };

/** "<<s*N>>" stands for s repeated N times; each character is one byte. */
function bytesOf(request: string): Buffer {
  return Buffer.from(request.replace(/<<(.+?)\*(\d+)>>/gs, (_, s: string, n: string) => s.repeat(Number(n))), 'latin1');
}

interface Outcome {
  data: Buffer;
  closed: boolean;
}

/** Sends the bytes; resolves once the server closed, or `want` responses arrived and 200 ms passed without a close. */
function exchange(port: number, bytes: Buffer, complete: (data: Buffer) => boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    let quiet: NodeJS.Timeout | null = null;
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (quiet) clearTimeout(quiet);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const deadline = setTimeout(() => finish(false), 4000);
    sock.on('data', (d) => {
      chunks.push(d);
      if (quiet === null && complete(Buffer.concat(chunks))) quiet = setTimeout(() => finish(false), 200);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

t.test('request corpus', async (t) => {
  t.ok(corpus.requests.length >= 200, `${corpus.requests.length} requests in the corpus`);
  const names = new Set(corpus.requests.map((e) => e.name));
  t.equal(names.size, corpus.requests.length, 'names are unique');

  const dir = makeSite(t, {
    'index.html': '<p>index</p>\n',
    'a.txt': 'a\n',
    'dir/index.html': '<p>dir</p>\n',
    'dir/.hidden': 'hidden\n',
    '.env': 'SECRET=1\n',
    '.git/config': '[core]\n',
  });
  // A sibling of the root whose name starts like it: never reachable.
  fs.mkdirSync(path.join(dir, '..', 'dir-old'));
  fs.writeFileSync(path.join(dir, '..', 'dir-old', 'secret.txt'), 'secret\n');
  const s = await startServer(t, { root: dir, args: ['--access-log', 'false'] });

  const BATCH = 16;
  for (let i = 0; i < corpus.requests.length; i += BATCH) {
    const batch = corpus.requests.slice(i, i + BATCH);
    const outcomes = await Promise.all(
      batch.map((e) => {
        const want = e.responses ?? 1;
        const noBody = (_: number, status: number) => e.request.startsWith('HEAD ') && status < 400;
        return exchange(s.port, bytesOf(e.request), (d) => {
          try {
            const r = parseResponses(d, noBody);
            const last = r[want - 1];
            if (r.length < want || !last) return false;
            const cl = last.headers['content-length'];
            return noBody(0, last.status) || cl === undefined || last.body.length === Number(cl);
          } catch {
            return false;
          }
        });
      }),
    );
    batch.forEach((e, k) => {
      const { data, closed } = outcomes[k]!;
      let responses: ReturnType<typeof parseResponses> = [];
      try {
        responses = parseResponses(data, (_, status) => e.request.startsWith('HEAD ') && status < 400);
      } catch {
        // counted as no response below
      }
      const diag = { got: data.subarray(0, 200).toString('latin1'), why: e.why };
      t.equal(responses[0]?.status, e.status, `${e.name}: status ${e.status}`, diag);
      t.equal(responses.length, e.responses ?? 1, `${e.name}: ${e.responses ?? 1} response(s)`, diag);
      t.equal(closed, e.close, `${e.name}: connection ${e.close ? 'closed' : 'kept open'}`, diag);
    });
  }
  t.equal(s.logs.filter((l) => l.level >= 50).length, 0, 'no error lines in the log');
  t.equal(s.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('died')).length, 0, 'no worker died');
});
