// Redirect rules (pure): which rule a normalised path meets, the Location it gets (":splat"
// encoded, the query kept, never protocol-relative from a local rule), and the rules refused
// with a message naming them.
import t from 'tap';
import { normaliseRequestPath } from '../../../src/files/resolve';
import { compileRedirectRules, RedirectRuleError, withQuery, type RedirectRule } from '../../../src/http/redirects';

/** The Location (and status) a raw request path and query get, or null. */
function locate(rules: RedirectRule[], rawPath: string, query = ''): string | null {
  const n = normaliseRequestPath(rawPath);
  if (n.kind !== 'ok') return null;
  const target = compileRedirectRules(rules)(n.segments, n.trailingSlash);
  return target === null ? null : `${target.status} ${withQuery(target, query)}`;
}

function refusal(rules: unknown[]): string {
  try {
    compileRedirectRules(rules);
    return '(accepted)';
  } catch (err) {
    return err instanceof RedirectRuleError ? err.message : `(not a RedirectRuleError: ${String(err)})`;
  }
}

t.test('exact rules match the normalised path, with or without a trailing slash', async (t) => {
  const rules: RedirectRule[] = [{ from: '/old', to: '/new' }, { from: '/caf%C3%A9/', to: '/coffee', status: 302 }, { from: '/', to: '/home', status: 307 }];
  const cases: [string, string | null][] = [
    ['/old', '301 /new'],
    ['/old/', '301 /new'],
    ['/%6Fld', '301 /new'], // an encoded letter is the same path
    ['//old', '301 /new'],
    ['/x/../old', '301 /new'],
    ['/./old', '301 /new'],
    ['/old%2F', '301 /new'], // %2F decodes to "/", as the lookup reads it
    ['/old/x', null],
    ['/old/../secret', null], // is "/secret"
    ['/olde', null],
    ['/OLD', null], // paths are case-sensitive
    ['/café', null], // not a valid request path (raw non-ASCII): never matched
    ['/caf%C3%A9', '302 /coffee'],
    ['/caf%c3%a9/', '302 /coffee'],
    ['/', '307 /home'],
    ['/%2e%2e/old', null], // climbs above the root: the lookup answers 400
    ['/old%00', null],
    ['/o%5Cld', null],
    ['/old%ZZ', null],
  ];
  for (const [path, want] of cases) t.equal(locate(rules, path), want, path);
});

t.test('prefix rules: the rest is :splat, re-encoded for where it stands', async (t) => {
  const rules: RedirectRule[] = [
    { from: '/blog/**', to: 'https://blog.example.com/:splat' },
    { from: '/docs/**', to: '/manual/:splat', status: 308 },
    { from: '/search/**', to: '/find?q=:splat' },
    { from: '/twice/**', to: '/:splat/:splat/end' },
    { from: '/root/**', to: '/:splat' },
  ];
  const cases: [string, string | null][] = [
    ['/blog/2024/hello', '301 https://blog.example.com/2024/hello'],
    ['/blog', '301 https://blog.example.com/'],
    ['/blog/', '301 https://blog.example.com/'],
    ['/blog/dir/', '301 https://blog.example.com/dir/'], // the trailing slash is kept
    ['/blog/a%20b', '301 https://blog.example.com/a%20b'],
    ['/blog/caf%C3%A9', '301 https://blog.example.com/caf%C3%A9'],
    ['/blog/100%25', '301 https://blog.example.com/100%25'],
    ['/blog/a%3Fb%23c', '301 https://blog.example.com/a%3Fb%23c'], // "?" and "#" inside a segment stay encoded
    ['/blog/x/../y', '301 https://blog.example.com/y'],
    ['/blog/../etc/passwd', null],
    ['/blogs', null],
    ['/docs/a/b.html', '308 /manual/a/b.html'],
    ['/search/a/b%20c', '301 /find?q=a%2Fb%20c'], // in the query, "/" is encoded too
    ['/twice/a', '301 /a/a/end'],
    ['/twice', '301 /end'], // "//end" would be protocol-relative: one "/" is kept
    ['/twice/', '301 /end'],
    // The open-redirect attempts: the splat is made of normalised segments, never empty.
    ['/root//evil.example', '301 /evil.example'],
    ['/root/%2F%2Fevil.example', '301 /evil.example'],
    ['/root/%2F/evil.example/', '301 /evil.example/'],
    ['/root/%5Cevil.example', null], // a backslash: the lookup refuses it (400)
    ['/root/..%2F..%2Fevil', null],
    ['/root', '301 /'],
  ];
  for (const [path, want] of cases) t.equal(locate(rules, path), want, path);
  t.equal(locate([{ from: '/**', to: 'https://new.example/:splat' }], '/a/b'), '301 https://new.example/a/b', '"/**" moves the whole site');
  t.equal(locate([{ from: '/**', to: 'https://new.example/:splat' }], '/'), '301 https://new.example/');
});

t.test('the first matching rule wins, in the order written', async (t) => {
  const rules: RedirectRule[] = [
    { from: '/a/**', to: '/first/:splat' },
    { from: '/a/b', to: '/second' },
    { from: '/c', to: '/third' },
    { from: '/c/**', to: '/fourth/:splat' },
  ];
  t.equal(locate(rules, '/a/b'), '301 /first/b');
  t.equal(locate(rules, '/c'), '301 /third');
  t.equal(locate(rules, '/c/d'), '301 /fourth/d');
});

t.test('the query is kept: appended to the target\'s own with "&", before its fragment', async (t) => {
  const cases: [string, string, string][] = [
    ['/new', '?a=1', '301 /new?a=1'],
    ['/new', '', '301 /new'],
    ['/new', '?', '301 /new'], // an empty query adds nothing
    ['/new?x=1', '?a=1&b=2', '301 /new?x=1&a=1&b=2'],
    ['/new?x=1', '', '301 /new?x=1'],
    ['/new#top', '?a=1', '301 /new?a=1#top'],
    ['/new?x=1#top', '?a=1', '301 /new?x=1&a=1#top'],
    ['/new#frag?not-a-query', '?a=1', '301 /new?a=1#frag?not-a-query'],
    ['https://example.com', '?a=1', '301 https://example.com?a=1'],
  ];
  for (const [to, query, want] of cases) t.equal(locate([{ from: '/old', to }], '/old', query), want, `${to} + ${query}`);
  t.equal(locate([{ from: '/s/**', to: '/n/:splat#:splat' }], '/s/a%23b', '?q'), '301 /n/a%23b?q#a%23b', 'a splat in the fragment is encoded: the first "#" is the fragment');
});

t.test('bad rules are refused, each message naming the rule', async (t) => {
  const cases: [unknown[], string][] = [
    [[{ to: '/new' }], 'rule #1: "from" is missing (a path starting with "/")'],
    [[{ from: '/a', to: '/b' }, { from: '/x' }], 'rule #2 (from "/x"): "to" is missing (a path starting with "/" or an http(s) URL)'],
    [[{ from: 'old', to: '/new' }], 'rule #1 (from "old"): "from" must start with "/"'],
    [[{ from: '/a/*', to: '/b' }], 'rule #1 (from "/a/*"): "from" may only end in "/**" (a prefix); no other glob is supported'],
    [[{ from: '/a/**/b', to: '/b' }], 'rule #1 (from "/a/**/b"): "from" may only end in "/**" (a prefix); no other glob is supported'],
    [[{ from: '/a**', to: '/b' }], 'rule #1 (from "/a**"): "from" may only end in "/**" (a prefix); no other glob is supported'],
    [[{ from: '/a?x', to: '/b' }], 'rule #1 (from "/a?x"): "from" is a path: no "?" or "#"'],
    [[{ from: '/a b', to: '/b' }], 'rule #1 (from "/a b"): "from" holds a space or a control character (percent-encode it)'],
    [[{ from: '/a%zz', to: '/b' }], 'rule #1 (from "/a%zz"): "from" has a malformed percent-encoding'],
    [[{ from: '/a/../b', to: '/b' }], 'rule #1 (from "/a/../b"): "from" must be a normalised path (no "//", "." or ".." segments)'],
    [[{ from: '//a', to: '/b' }], 'rule #1 (from "//a"): "from" must be a normalised path (no "//", "." or ".." segments)'],
    [[{ from: '/a%5Cb', to: '/b' }], 'rule #1 (from "/a%5Cb"): "from" holds a backslash or NUL, which no request path can'],
    [[{ from: '/a', to: '/b', status: 303 }], 'rule #1 (from "/a"): "status" must be 301, 302, 307 or 308: got 303'],
    [[{ from: '/a', to: '/b', status: '301' }], 'rule #1 (from "/a"): "status" must be 301, 302, 307 or 308: got "301"'],
    [[{ from: '/a', to: '/b' }, { from: '/c', to: '/d' }, { from: '/a/', to: '/e' }], 'rule #3 (from "/a/"): the same "from" as rule #1'],
    [[{ from: '/caf%C3%A9', to: '/b' }, { from: '/caf%c3%a9', to: '/e' }], 'rule #2 (from "/caf%c3%a9"): the same "from" as rule #1'],
    [[{ from: '/a', to: '/b', stauts: 302 }], 'rule #1 (from "/a"): unknown field "stauts" (a rule has "from", "to" and "status")'],
    [['/a'], 'rule #1: must be {"from": "/old", "to": "/new", "status": 301}'],
    [[{ from: '/a', to: '//evil.example' }], 'rule #1 (from "/a"): "to" starting with "//" leaves the site (write https://host/... for that)'],
    [[{ from: '/a', to: '/\\evil.example' }], 'rule #1 (from "/a"): "to" may not hold a backslash (browsers read it as "/")'],
    [[{ from: '/a', to: 'new' }], 'rule #1 (from "/a"): "to" must be a path starting with "/" or an http:// or https:// URL (":splat" only after the host)'],
    [[{ from: '/a', to: 'javascript:alert(1)' }], 'rule #1 (from "/a"): "to" must be a path starting with "/" or an http:// or https:// URL (":splat" only after the host)'],
    [[{ from: '/a/**', to: 'https://:splat/' }], 'rule #1 (from "/a/**"): "to" must be a path starting with "/" or an http:// or https:// URL (":splat" only after the host)'],
    [[{ from: '/a/**', to: 'https://x.example:splat/' }], 'rule #1 (from "/a/**"): "to" must be a path starting with "/" or an http:// or https:// URL (":splat" only after the host)'],
    [[{ from: '/a', to: '/caf\u00e9' }], 'rule #1 (from "/a"): "to" must be visible ASCII without spaces: percent-encode other characters (é as %C3%A9)'],
    [[{ from: '/a', to: '/b\r\nSet-Cookie: x=1' }], 'rule #1 (from "/a"): "to" must be visible ASCII without spaces: percent-encode other characters (é as %C3%A9)'],
    [[{ from: '/a', to: '/:splat' }], 'rule #1 (from "/a"): "to" uses ":splat" but "from" is not a prefix ending in "/**"'],
  ];
  for (const [rules, want] of cases) t.equal(refusal(rules), want, JSON.stringify(rules));
  t.equal(refusal([{ from: '/a', to: '/b' }, { from: '/a/**', to: '/c/:splat' }]), '(accepted)', 'an exact path and a prefix of the same path are two rules');
});
