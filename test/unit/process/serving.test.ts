// The serving state a reload in place swaps: replaced whole (the old value never changes),
// cache counts carried over, a bad configuration or handler leaving everything in force,
// restart-only keys reported; and what a connection already open sees after the swap (its
// next request uses the new handler and health path, its next wait the new keep-alive
// timeout; who is behind a proxy is decided per accepted socket).
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import type { Config } from '../../../src/config/config';
import { ConfigError } from '../../../src/errors';
import type { BehindProxy } from '../../../src/http/behind-proxy';
import { plainTextReply } from '../../../src/http/respond';
import type { Reply } from '../../../src/http/types';
import type { Admitted } from '../../../src/process/listener';
import { PlainHttp } from '../../../src/process/plain-http';
import { firstServing, InForce, reloadInPlace, ServingConnectionOptions, type Handler, type ServingParts } from '../../../src/process/serving';
import type { Drainable } from '../../../src/process/shutdown';
import { run, sandbox } from '../../fixtures/config';
import { recordingLog } from '../../fixtures/process-fakes';
import { hasResponses, parseResponses, req } from '../../fixtures/server';
import { Client, poll } from '../../fixtures/wire';

/** A handler that answers every request with its own name, and counts like the real one. */
class NamedHandler implements Handler {
  cacheHits = 0;
  cacheMisses = 0;
  readonly cacheSize = { entries: 0, bytes: 0 };
  constructor(readonly name: string) {}
  handle(): Reply {
    this.cacheHits++;
    return plainTextReply(200, `${this.name}\n`);
  }
}

function configs(t: Test) {
  const box = sandbox(t);
  return (...argv: string[]): Config => run(['--root', box.site, ...argv], {}, box.cwd);
}

function parts(made: NamedHandler[], fail: () => Error | null = () => null): ServingParts {
  return {
    handler: () => {
      const err = fail();
      if (err) throw err;
      const h = new NamedHandler(`h${made.length + 1}`);
      made.push(h);
      return h;
    },
    behindProxy: () => null,
    certificates: () => null,
  };
}

t.test('a reload replaces the state whole; the old value stays as it was', async (t) => {
  const config = configs(t);
  const made: NamedHandler[] = [];
  const p = parts(made);
  const inForce = new InForce(firstServing(config('--keep-alive-timeout-ms', '5000'), p));
  const before = inForce.current;
  t.ok(Object.isFrozen(before), 'immutable');
  made[0]!.cacheHits = 7;
  made[0]!.cacheMisses = 3;
  const { log, lines } = recordingLog();
  reloadInPlace(inForce, () => config('--keep-alive-timeout-ms', '700', '--log-level', 'debug'), p, log);
  const after = inForce.current;
  t.not(after, before, 'a new value');
  t.ok(Object.isFrozen(after));
  t.equal(before.config.keepAliveTimeoutMs, 5000, 'the old value is untouched');
  t.equal(before.handler, made[0]);
  t.equal(after.config.keepAliveTimeoutMs, 700);
  t.equal(after.handler, made[1], 'a new handler (fresh cache, rules, htpasswd read again)');
  t.equal(after.retiredCacheHits, 7, "the replaced handler's counts carry over");
  t.equal(after.retiredCacheMisses, 3);
  t.equal(log.level, 'debug', 'the log level applies at once');
  t.same(
    lines.map((l) => [l.level, l.msg]),
    [
      ['info', 'reload started: reading the configuration again'],
      ['info', 'reload finished in place: keepAliveTimeoutMs: 5000 → 700, logLevel: "info" → "debug"'],
    ],
  );
  made[1]!.cacheHits = 2;
  reloadInPlace(inForce, () => config(), p, log);
  t.equal(inForce.current.retiredCacheHits, 9, 'summed over every reload');
});

t.test('a configuration or handler that fails leaves the state in force', async (t) => {
  const config = configs(t);
  const made: NamedHandler[] = [];
  let failWith: Error | null = null;
  const p = parts(made, () => failWith);
  const inForce = new InForce(firstServing(config(), p));
  const before = inForce.current;
  const { log, lines } = recordingLog();
  reloadInPlace(inForce, () => {
    throw new ConfigError('headers: must be a list');
  }, p, log);
  t.equal(inForce.current, before);
  t.same(lines.at(-1), { level: 'error', fields: { reason: 'headers: must be a list' }, msg: 'reload failed: headers: must be a list; the configuration in force stays' });
  failWith = new ConfigError('basicAuth[0].htpasswd: cannot read /gone: ENOENT');
  reloadInPlace(inForce, () => config('--keep-alive-timeout-ms', '1'), p, log);
  t.equal(inForce.current, before, 'a handler that cannot be built changes nothing either');
  t.equal(lines.at(-1)!.msg, 'reload failed: basicAuth[0].htpasswd: cannot read /gone: ENOENT; the configuration in force stays');
  t.equal(made.length, 1);
});

t.test('keys a single process cannot apply in place keep their values, and the line says so', async (t) => {
  const config = configs(t);
  const p = parts([]);
  const inForce = new InForce(firstServing(config('--host', '127.0.0.1', '--max-connections', '100'), p));
  const { log, lines } = recordingLog();
  reloadInPlace(inForce, () => config('--host', '127.0.0.2', '--max-connections', '50', '--health-path', '/up'), p, log);
  t.equal(inForce.current.config.host, '127.0.0.1');
  t.equal(inForce.current.config.maxConnections, 100);
  t.equal(inForce.current.config.healthPath, '/up', 'the rest applied');
  const last = lines.at(-1)!;
  t.equal(last.level, 'warn');
  t.match(last.msg, /^reload finished in place: healthPath: .* → "\/up"; needs a restart \(not applied\): host: "127.0.0.1" → "127.0.0.2", maxConnections: 100 → 50$/);
});

t.test('the connection options are a view of the state in force', async (t) => {
  const config = configs(t);
  const made: NamedHandler[] = [];
  const p = parts(made);
  const inForce = new InForce(firstServing(config('--keep-alive-timeout-ms', '5000', '--headers-timeout-ms', '4000', '--send-timeout-ms', '3000', '--health-path', '/healthz'), p));
  let stopping = false;
  const o = new ServingConnectionOptions(inForce, () => stopping, null, null, () => {});
  t.same([o.keepAliveTimeoutMs, o.headersTimeoutMs, o.sendTimeoutMs], [5000, 4000, 3000]);
  const ask = (path: string) => o.handle({ method: 'GET', path } as never, '') as Reply;
  t.equal(ask('/healthz').status, 200, 'the health path, before any lookup');
  t.equal(made[0]!.cacheHits, 0, 'the handler never saw it');
  stopping = true;
  t.equal(ask('/healthz').status, 503, 'stopping: 503');
  reloadInPlace(inForce, () => config('--keep-alive-timeout-ms', '600', '--headers-timeout-ms', '500', '--send-timeout-ms', '400', '--health-path', '/up'), p, recordingLog().log);
  t.same([o.keepAliveTimeoutMs, o.headersTimeoutMs, o.sendTimeoutMs], [600, 500, 400], 'the new values, read when asked');
  t.equal(ask('/up').status, 503, 'the new health path');
  t.equal(ask('/healthz').body?.toString(), 'h2\n', 'the old one is a file path again, for the new handler');
});

/** A real socket pair: the server side opened by PlainHttp into a set, as a listener would. */
async function openedConnection(t: Test, kind: PlainHttp): Promise<{ client: Client; open: Set<Drainable> }> {
  const open = new Set<Drainable>();
  const to: Admitted = { open: (c) => open.add(c), hold: (c) => open.add(c), closed: (c) => open.delete(c) };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => kind.accept(socket, to));
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => server.close());
  const client = await Client.connect((server.address() as net.AddressInfo).port);
  t.teardown(() => client.destroy());
  return { client, open };
}

t.test('a live connection after a reload: its next request uses the new handler, its next wait the new keep-alive timeout', async (t) => {
  const config = configs(t);
  const made: NamedHandler[] = [];
  const p = parts(made);
  const inForce = new InForce(firstServing(config('--keep-alive-timeout-ms', '30000'), p));
  const options = new ServingConnectionOptions(inForce, () => false, null, null, () => {});
  const { client, open } = await openedConnection(t, new PlainHttp(inForce, options));
  client.write(req('/a'));
  const first = parseResponses(await client.waitFor(hasResponses(1)))[0]!;
  t.equal(first.body.toString(), 'h1\n');
  t.equal(open.size, 1);
  reloadInPlace(inForce, () => config('--keep-alive-timeout-ms', '300'), p, recordingLog().log);
  client.write(req('/a'));
  const second = parseResponses(await client.waitFor(hasResponses(2)))[1]!;
  t.equal(second.body.toString(), 'h2\n', 'the same connection, the new handler');
  const idleFrom = performance.now();
  t.ok(await client.waitClosed(2000), 'closed after the new keep-alive timeout, not the 30 s one');
  const idle = performance.now() - idleFrom;
  t.ok(idle >= 250 && idle < 600, `idle for about 300 ms (${Math.round(idle)} ms)`);
  t.ok(await poll(async () => open.size === 0, 20, 25), 'and it left the book');
});

t.test('who is behind a proxy is decided per accepted socket, from the state in force then', async (t) => {
  const config = configs(t);
  const seen: string[] = [];
  const fakeProxy = (name: string) =>
    ({
      accept: (_socket: net.Socket, to: { open(origin: null): void }) => {
        seen.push(name);
        to.open(null);
      },
    }) as unknown as BehindProxy;
  let next: BehindProxy | null = fakeProxy('first');
  const p: ServingParts = { handler: () => new NamedHandler('h'), behindProxy: () => next, certificates: () => null };
  const inForce = new InForce(firstServing(config(), p));
  const options = new ServingConnectionOptions(inForce, () => false, null, null, () => {});
  const kind = new PlainHttp(inForce, options);
  const a = await openedConnection(t, kind);
  a.client.write(req('/'));
  await a.client.waitFor(hasResponses(1));
  next = null;
  reloadInPlace(inForce, () => config(), p, recordingLog().log);
  const b = await openedConnection(t, kind);
  b.client.write(req('/'));
  await b.client.waitFor(hasResponses(1));
  t.same(seen, ['first'], 'the second socket went straight to its connection');
  t.equal(b.open.size, 1);
});
