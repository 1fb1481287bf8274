// What a host setting means as listening addresses, with a fake resolver and interfaces:
// literals and wildcards are themselves, localhost is this machine's loopbacks (RFC 6761),
// a name is every address it resolves to (once each, in order); a name that does not
// resolve is the usual one-line error.
import type dns from 'node:dns';
import t from 'tap';
import { ListenError } from '../../../src/errors';
import { isLocalhostName, loopbackAddresses, resolveListenAddresses, type ResolveDeps } from '../../../src/process/listen-addresses';

const lo = (...addresses: string[]) => ({
  lo: addresses.map((address) => ({ address, family: address.includes(':') ? 'IPv6' : 'IPv4', internal: true, netmask: '', mac: '', cidr: null }) as never),
  eth0: [{ address: '192.0.2.7', family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null } as never],
});

function deps(answer: dns.LookupAddress[] | NodeJS.ErrnoException, interfaces = lo('127.0.0.1', '::1')): ResolveDeps & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    interfaces: () => interfaces,
    lookup: (host, _options, callback) => {
      asked.push(host);
      setImmediate(() => (Array.isArray(answer) ? callback(null, answer) : callback(answer, [])));
    },
  };
}

t.test('literal addresses and the wildcards are one listener each, without a lookup', async (t) => {
  const d = deps([]);
  for (const host of ['0.0.0.0', '::', '127.0.0.1', '::1', '192.0.2.7', '2001:db8::5']) t.same(await resolveListenAddresses(host, 80, d), [host], host);
  t.same(d.asked, []);
});

t.test('localhost: the loopback addresses the machine has, whatever the resolver would say', async (t) => {
  const d = deps([{ address: '127.0.0.1', family: 4 }]);
  for (const host of ['localhost', 'LOCALHOST', 'localhost.', 'app.localhost']) t.same(await resolveListenAddresses(host, 80, d), ['127.0.0.1', '::1'], host);
  t.same(d.asked, [], 'RFC 6761: never asked');
  t.same(loopbackAddresses(lo('127.0.0.1')), ['127.0.0.1'], 'no IPv6 loopback: IPv4 only');
  t.same(loopbackAddresses(lo('::1')), ['::1'], 'IPv6 only');
  t.same(loopbackAddresses({}), ['127.0.0.1'], 'nothing known: 127.0.0.1, as a plain listen');
  t.notOk(isLocalhostName('localhost.example.com'));
  t.notOk(isLocalhostName('notlocalhost'));
});

t.test('a name: every address it resolves to, once, in the order given', async (t) => {
  const d = deps([
    { address: '192.0.2.10', family: 4 },
    { address: '2001:db8::10', family: 6 },
    { address: '192.0.2.10', family: 4 },
  ]);
  t.same(await resolveListenAddresses('www.example', 8080, d), ['192.0.2.10', '2001:db8::10']);
  t.same(d.asked, ['www.example']);
});

t.test('a name that does not resolve: the one-line error of a plain listen', async (t) => {
  await t.rejects(resolveListenAddresses('nowhere.invalid', 8080, deps(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))), new ListenError('host name nowhere.invalid could not be resolved'));
  await t.rejects(resolveListenAddresses('flaky.example', 8080, deps(Object.assign(new Error('x'), { code: 'EAI_AGAIN' }))), new ListenError('host name flaky.example could not be resolved'));
  await t.rejects(resolveListenAddresses('empty.example', 8080, deps([])), new ListenError('host name empty.example could not be resolved'));
  await t.rejects(resolveListenAddresses('odd.example', 8080, deps(Object.assign(new Error('x'), { code: 'EBADNAME' }))), new ListenError('cannot listen on odd.example:8080: EBADNAME'));
});
