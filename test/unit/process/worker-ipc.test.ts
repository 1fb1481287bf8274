// The worker's side of the cluster IPC channel with a fake channel: each message of the
// primary is one call, anything else (a metrics scrape, garbage) changes nothing.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { dispatchToWorker, onPrimaryMessages, type WorkerActions } from '../../../src/process/worker-ipc';

function recorder(): { act: WorkerActions; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    act: {
      stop: () => calls.push('stop'),
      retire: () => calls.push('retire'),
      force: () => calls.push('force'),
      reopenLogs: () => calls.push('reopenLogs'),
      acceptPause: (granted) => calls.push(`acceptPause ${granted}`),
      ticketKeys: (keys) => calls.push(`ticketKeys ${keys}`),
      acmeChallenge: (token, answer) => calls.push(`acmeChallenge ${token} ${answer}`),
      acmeAlpn: (serverName, pair) => calls.push(`acmeAlpn ${serverName} ${pair === null ? 'null' : `${pair.cert}/${pair.key}`}`),
      acmeCertificate: () => calls.push('acmeCertificate'),
    },
  };
}

t.test('each message of the primary is its one action', async (t) => {
  const channel = new EventEmitter();
  const { act, calls } = recorder();
  onPrimaryMessages(channel, act);
  for (const m of [{ cmd: 'drain' }, { cmd: 'retire' }, { cmd: 'force' }, { cmd: 'reopen' }, { cmd: 'accept-pause', granted: true }, { cmd: 'accept-pause', granted: false }, { cmd: 'ticket-keys', keys: 'k' }, { cmd: 'acme-challenge', token: 't', keyAuthorization: 't.x' }, { cmd: 'acme-challenge', token: 't', keyAuthorization: null }, { cmd: 'acme-alpn', serverName: 'a.test', pair: { cert: 'C', key: 'K' } }, { cmd: 'acme-alpn', serverName: 'a.test', pair: null }, { cmd: 'acme-certificate' }]) {
    channel.emit('message', m);
  }
  t.same(calls, ['stop', 'retire', 'force', 'reopenLogs', 'acceptPause true', 'acceptPause false', 'ticketKeys k', 'acmeChallenge t t.x', 'acmeChallenge t null', 'acmeAlpn a.test C/K', 'acmeAlpn a.test null', 'acmeCertificate']);
});

t.test('what is not a message for the worker changes nothing', async (t) => {
  const { act, calls } = recorder();
  for (const m of [{ cmd: 'metrics', id: 1 }, { type: 'metrics-ready' }, null, undefined, 'drain', 42, { cmd: 'DRAIN' }, {}]) dispatchToWorker(m, act);
  t.same(calls, []);
  dispatchToWorker({ cmd: 'accept-pause', granted: 'yes' }, act);
  t.same(calls, ['acceptPause false'], 'only a real true grants a pause');
  dispatchToWorker({ cmd: 'acme-alpn', serverName: 'a.test', pair: { cert: 'C' } }, act);
  t.same(calls.slice(1), ['acmeAlpn a.test null'], 'a pair without its key withdraws rather than half-sets');
});
