// Listener, Admission and ListenerGroup with fakes (and one real bind): every accepted socket
// passes the gate before its kind sees it; a connection accepted during the drain is drained;
// errors before the bind are the one-line ListenError, after it they never stop anything;
// listening again after a pause uses the very options of the first listen; with port 0 every
// address of a name gets the first one's port.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { ListenError } from '../../../src/errors';
import type { AcceptGate } from '../../../src/process/accept-gate';
import { Admission, Listener, ListenerGroup, type Admitted, type ListenerKind, type ListenTarget, type ServerLike } from '../../../src/process/listener';
import type { Drainable } from '../../../src/process/shutdown';
import { RequestCounters } from '../../../src/metrics/counters';
import { FakeSocket, recordingLog } from '../../fixtures/process-fakes';

/** A net.Server that records its calls; `bind()` plays the listen completing, `fail()` its error. */
class FakeServer extends EventEmitter {
  listens: unknown[] = [];
  closes = 0;
  port = 4321;
  private onListening: (() => void) | null = null;
  constructor(readonly onConnection: (socket: net.Socket) => void) {
    super();
  }
  listen(options: unknown, cb?: () => void): this {
    this.listens.push(options);
    this.onListening = cb ?? null;
    return this;
  }
  bind(): void {
    this.onListening?.();
  }
  close(): this {
    this.closes++;
    return this;
  }
  address(): net.AddressInfo {
    return { address: '127.0.0.1', family: 'IPv4', port: this.port };
  }
}

class FakeConnection implements Drainable {
  drains = 0;
  idle = false;
  drain(): void {
    this.drains++;
  }
  cut(): void {}
}

function setup(o: { admit?: boolean } = {}) {
  const calls: string[] = [];
  const gate = {
    admit: () => (calls.push('admit'), o.admit ?? true),
    afterAdmit: () => calls.push('afterAdmit'),
    acceptFailed: () => calls.push('acceptFailed'),
  } as unknown as AcceptGate;
  const drain = { draining: false, checks: 0, check: () => void drain.checks++ };
  const counters = new RequestCounters(['http']);
  const admission = new Admission(new Set(), gate, drain, counters);
  const { log, lines } = recordingLog();
  const accepted: net.Socket[] = [];
  const kind: ListenerKind = { accept: (socket: net.Socket, to: Admitted) => (t.equal(to, admission, 'the kind opens into the admission'), accepted.push(socket)) };
  let server: FakeServer | null = null;
  const make = (target: ListenTarget) =>
    new Listener(target, kind, admission, log, (onConnection) => {
      server = new FakeServer(onConnection);
      return server as unknown as ServerLike;
    });
  return { calls, drain, counters, admission, log, lines, accepted, make, server: () => server! };
}

t.test('an accepted socket is counted, passes the gate, then goes to its kind', async (t) => {
  const o = setup();
  o.make({ host: '127.0.0.1', port: 0 });
  const s = new FakeSocket() as FakeSocket & net.Socket;
  o.server().onConnection(s);
  t.same(o.calls, ['admit']);
  t.same(o.accepted, [s]);
  t.equal(o.counters.connectionsAccepted, 1);
});

t.test('a socket the gate refuses never reaches the kind (it was answered 503 there)', async (t) => {
  const o = setup({ admit: false });
  o.make({ host: '127.0.0.1', port: 0 });
  o.server().onConnection(new FakeSocket() as FakeSocket & net.Socket);
  t.same(o.accepted, []);
  t.equal(o.counters.connectionsAccepted, 1, 'counted all the same');
});

t.test('Admission: an opened connection is counted; during the drain it is told to drain instead', async (t) => {
  const o = setup();
  const a = new FakeConnection();
  o.admission.open(a);
  t.ok(o.admission.connections.has(a));
  t.same(o.calls, ['afterAdmit'], 'the gate looks at the count');
  t.equal(a.drains, 0);
  o.drain.draining = true;
  const b = new FakeConnection();
  o.admission.open(b);
  t.equal(b.drains, 1, 'accepted after the drain began: answered with Connection: close');
  t.same(o.calls, ['afterAdmit'], 'no gate business during the drain');
  const step = new FakeConnection();
  o.admission.hold(step);
  t.equal(o.admission.connections.size, 3, 'a PROXY header being read counts too');
  o.admission.closed(step);
  o.admission.closed(a);
  t.same([...o.admission.connections], [b]);
  t.equal(o.drain.checks, 2, 'every close lets the drain check whether it is done');
});

t.test('listen options: an address with the backlog, or the inherited fd', async (t) => {
  const o = setup();
  o.make({ host: '::1', port: 8080 });
  t.same(o.server().listens, []);
  const started = o.make({ host: '::1', port: 8080 }).start();
  o.server().bind();
  t.same(o.server().listens, [{ host: '::1', port: 8080, backlog: 4096 }]);
  t.same(await started, { address: '127.0.0.1', family: 'IPv4', port: 4321 }, 'resolves with the address bound');
  void o.make({ inherited: { fd: 3, name: 'web' } }).start();
  t.same(o.server().listens, [{ fd: 3, backlog: 4096 }]);
});

t.test('listening again after a pause uses the same options object (cluster finds the handle by them)', async (t) => {
  const o = setup();
  const l = o.make({ host: '127.0.0.1', port: 0 });
  const started = l.start();
  o.server().bind();
  await started;
  l.close();
  l.resume();
  const [first, again] = o.server().listens;
  t.equal(o.server().closes, 1);
  t.equal(again, first, 'the very same object');
});

t.test('an error before the bind rejects with the one-line ListenError', async (t) => {
  const cases: [ListenTarget, string, string][] = [
    [{ host: '127.0.0.1', port: 80 }, 'EACCES', 'permission denied to listen on port 80 on 127.0.0.1 (ports below 1024 need privileges)'],
    [{ host: '::1', port: 8080 }, 'EADDRINUSE', 'port 8080 on ::1 is already in use'],
    [{ host: '192.0.2.9', port: 8080 }, 'EADDRNOTAVAIL', 'address 192.0.2.9 is not available on this machine'],
    [{ inherited: { fd: 3, name: 'web' } }, 'EBADF', 'cannot serve the inherited socket fd 3 (web): EBADF'],
  ];
  for (const [target, code, message] of cases) {
    const o = setup();
    const started = o.make(target).start();
    o.server().emit('error', Object.assign(new Error(code), { code }));
    const err = await started.then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof ListenError, `${code}: a ListenError`);
    t.equal((err as ListenError).message, message);
    t.equal((err as ListenError).code, 'FLEETSERVE_LISTEN');
  }
});

t.test('errors after the bind: out of descriptors goes to the gate, others are logged; nothing stops', async (t) => {
  const o = setup();
  const started = o.make({ host: '127.0.0.1', port: 0 }).start();
  o.server().bind();
  await started;
  o.server().emit('error', Object.assign(new Error('EMFILE'), { code: 'EMFILE' }));
  o.server().emit('error', Object.assign(new Error('ENFILE'), { code: 'ENFILE' }));
  o.server().emit('error', Object.assign(new Error('ECONNABORTED'), { code: 'ECONNABORTED' }));
  t.same(o.calls, ['acceptFailed', 'acceptFailed']);
  t.same(
    o.lines.map((l) => [l.level, l.msg]),
    [['error', 'accept failed: ECONNABORTED']],
  );
  t.equal(o.server().closes, 0);
});

t.test('a real bind: EADDRINUSE names the address and the port', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const o = setup();
  const l = new Listener({ host: '127.0.0.1', port }, { accept: () => {} }, o.admission, o.log);
  await t.rejects(l.start(), new ListenError(`port ${port} on 127.0.0.1 is already in use`));
  const free = new Listener({ host: '127.0.0.1', port: 0 }, { accept: () => {} }, o.admission, o.log);
  const bound = await free.start();
  t.ok(bound.port > 0, 'port 0: some free port');
  free.close();
});

t.test('ListenerGroup: with port 0 the other addresses take the first one\'s port; pause, resume, close', async (t) => {
  const o = setup();
  const servers: FakeServer[] = [];
  const group = new ListenerGroup();
  const make = (target: ListenTarget) => {
    const l = o.make(target);
    const s = o.server();
    servers.push(s);
    s.port = 40000 + servers.length; // what a port-0 bind would pick
    setImmediate(() => s.bind());
    return l;
  };
  const bound = await group.listen(
    [
      { host: '127.0.0.1', port: 0 },
      { host: '::1', port: 0 },
    ],
    make,
  );
  t.equal(bound!.port, 40001, 'the first listener\'s address');
  t.same(servers.map((s) => s.listens[0]), [
    { host: '127.0.0.1', port: 0, backlog: 4096 },
    { host: '::1', port: 40001, backlog: 4096 },
  ]);
  group.pause();
  t.same(servers.map((s) => s.closes), [1, 1], 'a pause closes every listener');
  group.resume();
  t.same(servers.map((s) => s.listens.length), [2, 2], 'and they all listen again');
  t.equal(group.closed, false);
  group.close();
  t.equal(group.closed, true);
  t.same(servers.map((s) => s.closes), [2, 2]);
  group.resume();
  t.same(servers.map((s) => s.listens.length), [2, 2], 'never again after the drain');
});

t.test('ListenerGroup: the first failure rejects; a drain during the start stops it', async (t) => {
  const o = setup();
  const group = new ListenerGroup();
  let made = 0;
  const failing = group.listen(
    [
      { host: '127.0.0.1', port: 8080 },
      { host: '::1', port: 8080 },
    ],
    (target) => {
      const l = o.make(target);
      const s = o.server();
      s.port = 8080;
      made++;
      if (made === 1) setImmediate(() => s.bind());
      else setImmediate(() => s.emit('error', Object.assign(new Error('in use'), { code: 'EADDRINUSE' })));
      return l;
    },
  );
  await t.rejects(failing, new ListenError('port 8080 on ::1 is already in use'));

  const drained = new ListenerGroup();
  let server: FakeServer | null = null;
  let madeThere = 0;
  const stopped = drained.listen(
    [
      { host: '127.0.0.1', port: 0 },
      { host: '::1', port: 0 },
    ],
    (target) => {
      madeThere++;
      const l = o.make(target);
      server = o.server();
      return l;
    },
  );
  drained.close(); // SIGTERM while the first one binds
  server!.bind();
  t.equal(await stopped, null, 'nothing to announce');
  t.equal(server!.closes, 2, 'closed again once its bind took effect');
  t.equal(madeThere, 1, 'no second listener was made');
});
