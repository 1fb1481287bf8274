// A client may send its requests and shut down its sending side at once (printf ... | nc,
// the classic socket exercise). It must still get every answer, and then the close.
import crypto from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { makeSite, parseResponses, req, startServer } from '../fixtures/server';

function sendAndShutdown(port: number, bytes: string): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.end(bytes)); // FIN right after the requests
    const timer = setTimeout(() => (sock.destroy(), resolve({ data: Buffer.concat(chunks), closed: false })), 5000);
    sock.on('data', (d) => chunks.push(d));
    sock.on('close', () => (clearTimeout(timer), resolve({ data: Buffer.concat(chunks), closed: true })));
    sock.on('error', reject);
  });
}

t.test('requests followed at once by FIN are all answered, then the server closes', async (t) => {
  const big = crypto.randomBytes(3 * 1024 * 1024);
  const root = makeSite(t, { 'a.html': 'A\n', 'big.bin': big, '404.html': 'nope\n' });
  // A cache that holds nothing: every answer needs a file-system lookup first (the async path).
  const s = await startServer(t, { root, args: ['--cache-max-entries', '0', '--cache-max-file-bytes', '1024'] });

  const one = await sendAndShutdown(s.port, req('/a.html'));
  t.ok(one.closed, 'closed by the server');
  const [r] = parseResponses(one.data);
  t.equal(r?.status, 200);
  t.equal(r?.body.toString(), 'A\n');

  const three = await sendAndShutdown(s.port, req('/a.html') + req('/big.bin') + req('/missing'));
  t.ok(three.closed, 'closed after the last answer');
  const rs = parseResponses(three.data);
  t.same(rs.map((x) => x.status), [200, 200, 404], 'three answers, in order');
  t.equal(rs[1]!.body.length, big.length, 'the streamed body is complete');
  t.ok(rs[1]!.body.equals(big), 'and intact');

  const partial = await sendAndShutdown(s.port, 'GET /a.html HTTP/1.1\r\nHo');
  t.ok(partial.closed, 'a head cut short by FIN: the server just closes');
  t.equal(partial.data.length, 0, 'no answer to half a request');
});
