// Which challenge of an authorization is answered: the first type of acmeChallenge the CA
// offers, in the configuration's order, whatever order the CA lists them in.
import t from 'tap';
import { chooseChallenge } from '../../../src/acme/order';

const offered = [{ type: 'dns-01', token: 'd' }, { type: 'tls-alpn-01', token: 'a' }, { type: 'http-01', token: 'h' }];

t.test('the first configured type the CA offers', async (t) => {
  t.equal(chooseChallenge(offered, ['http-01'], 'a.test').token, 'h');
  t.equal(chooseChallenge(offered, ['tls-alpn-01'], 'a.test').token, 'a');
  t.equal(chooseChallenge(offered, ['http-01', 'tls-alpn-01'], 'a.test').token, 'h', 'http-01 preferred when listed first');
  t.equal(chooseChallenge(offered, ['tls-alpn-01', 'http-01'], 'a.test').token, 'a', 'tls-alpn-01 preferred when listed first');
  t.equal(chooseChallenge([offered[2]!], ['tls-alpn-01', 'http-01'], 'a.test').token, 'h', 'the next type when the first is not offered');
});

t.test('none of them offered: an error naming the name, what was asked and what is offered', async (t) => {
  t.throws(() => chooseChallenge([offered[0]!], ['http-01', 'tls-alpn-01'], 'a.test'), { message: 'the CA offers no http-01 or tls-alpn-01 challenge for a.test (it offers dns-01)' });
  t.throws(() => chooseChallenge([], ['tls-alpn-01'], 'a.test'), { message: 'the CA offers no tls-alpn-01 challenge for a.test (it offers none)' });
});
