// Counts in messages: "1 worker", never "1 workers".
import t from 'tap';
import { countOf, nounFor } from '../../src/plural';
import { describeIgnoredFds } from '../../src/process/activation';

t.test('a count and its noun agree', async (t) => {
  t.equal(countOf(0, 'worker'), '0 workers');
  t.equal(countOf(1, 'worker'), '1 worker');
  t.equal(countOf(2, 'open connection'), '2 open connections');
  t.equal(nounFor(1, 'fd'), 'fd');
  t.equal(nounFor(3, 'fd'), 'fds');
});

t.test('inherited sockets that are not served', async (t) => {
  t.equal(describeIgnoredFds({ fd: 3, name: '', ignoredFds: [4] }), 'serving fd 3 only; ignoring inherited fd 4');
  t.equal(describeIgnoredFds({ fd: 3, name: 'web', ignoredFds: [4, 5] }), 'serving fd 3 only; ignoring inherited fds 4, 5');
});
