// Counts in messages: "1 worker", never "1 workers".
import t from 'tap';
import { countOf, nounFor } from '../../src/plural';

t.test('a count and its noun agree', async (t) => {
  t.equal(countOf(0, 'worker'), '0 workers');
  t.equal(countOf(1, 'worker'), '1 worker');
  t.equal(countOf(2, 'open connection'), '2 open connections');
  t.equal(nounFor(1, 'fd'), 'fd');
  t.equal(nounFor(3, 'fd'), 'fds');
});
