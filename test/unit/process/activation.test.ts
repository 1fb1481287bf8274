// Socket activation, the pure part: the protocol's variables (sd_listen_fds(3)) read into
// inherited sockets with their names, and which listener each one serves.
import t from 'tap';
import { assignInheritedSockets, readActivation, type InheritedSocket } from '../../../src/process/activation';

t.test('readActivation follows sd_listen_fds(3)', async (t) => {
  t.same(readActivation({}, 10), { kind: 'none' }, 'no variables: not activated');
  t.same(readActivation({ LISTEN_PID: '11', LISTEN_FDS: '1' }, 10), { kind: 'none' }, 'fds meant for another process are not ours');
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '0' }, 10), { kind: 'none' }, 'zero fds');
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '1' }, 10), { kind: 'sockets', sockets: [{ fd: 3, name: '' }] });
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, 10), { kind: 'sockets', sockets: [{ fd: 3, name: 'web' }] });
  for (const env of [{ LISTEN_PID: '10' }, { LISTEN_FDS: '1' }, { LISTEN_PID: 'ten', LISTEN_FDS: '1' }, { LISTEN_PID: '10', LISTEN_FDS: '-1' }, { LISTEN_PID: '10', LISTEN_FDS: '1x' }]) {
    const r = readActivation(env, 10);
    t.equal(r.kind, 'invalid', `${JSON.stringify(env)} is an error`);
    if (r.kind === 'invalid') t.match(r.reason, /LISTEN_(PID|FDS)/, 'the reason names the variable');
  }
});

t.test('LISTEN_FDNAMES: one name per fd, in order from fd 3; unset or empty names none', async (t) => {
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '2', LISTEN_FDNAMES: 'https:http' }, 10), {
    kind: 'sockets',
    sockets: [
      { fd: 3, name: 'https' },
      { fd: 4, name: 'http' },
    ],
  });
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '2', LISTEN_FDNAMES: 'http:https' }, 10), {
    kind: 'sockets',
    sockets: [
      { fd: 3, name: 'http' },
      { fd: 4, name: 'https' },
    ],
  });
  for (const names of [undefined, '']) {
    t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '2', LISTEN_FDNAMES: names }, 10), {
      kind: 'sockets',
      sockets: [
        { fd: 3, name: '' },
        { fd: 4, name: '' },
      ],
    }, `LISTEN_FDNAMES ${JSON.stringify(names)}`);
  }
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '2', LISTEN_FDNAMES: 'https:' }, 10), {
    kind: 'sockets',
    sockets: [
      { fd: 3, name: 'https' },
      { fd: 4, name: '' },
    ],
  }, 'an empty name is a socket without one');
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '2', LISTEN_FDNAMES: 'https' }, 10), {
    kind: 'invalid',
    reason: 'LISTEN_FDNAMES names 1 sockets ("https") but LISTEN_FDS is 2',
  });
  t.same(readActivation({ LISTEN_PID: '10', LISTEN_FDS: '1', LISTEN_FDNAMES: 'https:http' }, 10), {
    kind: 'invalid',
    reason: 'LISTEN_FDNAMES names 2 sockets ("https:http") but LISTEN_FDS is 1',
  });
});

const TLS = { tls: true, httpPort: 8080 };
const PLAIN = { tls: false, httpPort: 0 };
const fds = (...names: string[]): InheritedSocket[] => names.map((name, i) => ({ fd: 3 + i, name }));

t.test('one socket is the main listener whatever its name, unless the name says another protocol', async (t) => {
  for (const name of ['', 'web', 'fleetserve.socket', 'http']) {
    t.same(assignInheritedSockets(fds(name), PLAIN), { kind: 'ok', inherited: { main: { fd: 3, name }, httpPort: null } }, `plain HTTP, ${JSON.stringify(name)}`);
  }
  for (const name of ['', 'web', 'https']) {
    // httpPort then binds host:httpPort itself.
    t.same(assignInheritedSockets(fds(name), TLS), { kind: 'ok', inherited: { main: { fd: 3, name }, httpPort: null } }, `HTTPS, ${JSON.stringify(name)}`);
  }
  t.same(assignInheritedSockets(fds('https'), PLAIN), {
    kind: 'invalid',
    reason: 'the inherited socket is named "https" but HTTPS is off: set tlsCert and tlsKey, or rename the socket (FileDescriptorName=)',
  });
  t.same(assignInheritedSockets(fds('http'), TLS), {
    kind: 'invalid',
    reason: 'the only inherited socket is named "http" (the httpPort listener) but HTTPS is on: the main listener needs a socket named "https"',
  });
});

t.test('two sockets: "https" is the main listener, "http" is httpPort, in either order', async (t) => {
  t.same(assignInheritedSockets(fds('https', 'http'), TLS), { kind: 'ok', inherited: { main: { fd: 3, name: 'https' }, httpPort: { fd: 4, name: 'http' } } });
  t.same(assignInheritedSockets(fds('http', 'https'), TLS), { kind: 'ok', inherited: { main: { fd: 4, name: 'https' }, httpPort: { fd: 3, name: 'http' } } });
});

t.test('sockets that cannot be told apart or have no listener are errors naming what to set', async (t) => {
  const naming = '"https" for the main listener (host/port) and "http" for httpPort (FileDescriptorName= in their socket units)';
  const cases: [string, InheritedSocket[], { tls: boolean; httpPort: number }, string][] = [
    ['two without names', fds('', ''), TLS, `2 inherited sockets need names to tell them apart: ${naming}`],
    ['an unknown name', fds('https', 'web'), TLS, `inherited fd 4 is named "web": name the 2 sockets ${naming}`],
    ['one named, one not', fds('', 'http'), TLS, `inherited fd 3 is named "": name the 2 sockets ${naming}`],
    ['the same name twice', fds('https', 'https'), TLS, `both inherited sockets are named "https": name them ${naming}`],
    ['"http" twice', fds('http', 'http'), TLS, `both inherited sockets are named "http": name them ${naming}`],
    [
      'httpPort 0',
      fds('https', 'http'),
      { tls: true, httpPort: 0 },
      'the inherited socket fd 4 is named "http" (the httpPort listener) but httpPort is 0 (off): set httpPort to turn that listener on (the socket\'s own port is served)',
    ],
    ['two without HTTPS', fds('https', 'http'), PLAIN, '2 inherited sockets (LISTEN_FDS=2), but without HTTPS (tlsCert and tlsKey) fleetserve has one listener'],
    ['three', fds('https', 'http', 'metrics'), TLS, `3 inherited sockets (LISTEN_FDS=3), but fleetserve serves at most 2: ${naming}`],
  ];
  for (const [what, sockets, listeners, reason] of cases) t.same(assignInheritedSockets(sockets, listeners), { kind: 'invalid', reason }, what);
});
