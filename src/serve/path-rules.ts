/**
 * The rules answered before the file lookup, by path: basic auth (`basicAuth`), then
 * redirects (`redirects`). Both match the decoded, normalised path (files/resolve.ts), so no
 * spelling of a path that reaches a file dodges a rule about it; a path that does not
 * normalise (a malformed escape, NUL, a backslash, ".." above the root) matches nothing, and
 * the lookup refuses it with 400 before touching a file.
 *
 * Order: a protected path asks for credentials first, its redirects included (a protected
 * area stays protected, even where it only says where it moved). OPTIONS passes without
 * credentials: browsers never send them with a CORS preflight, and its answer reveals no file.
 * Responses to authenticated requests get a private Cache-Control, so no shared cache keeps
 * them for others (see auth/basic-auth.ts's privateCacheControl).
 *
 * Built when a worker starts and on each reload (the htpasswd files are read here, then);
 * what a path leads to is worked out once and remembered, so a request costs one map lookup,
 * plus for a protected one an HMAC of its Authorization field once it has passed.
 */
import type { Config } from '../config/config';
import type { Logger } from '../logs/logger';
import { authCandidates, challengeLine, compileBasicAuthGlobs, DEFAULT_REALM, parseBasicCredentials, privateHeaderLines, type BasicAuthRule } from '../auth/basic-auth';
import { clientOf, FAILURE_LIMITS, FailureBook } from '../auth/failures';
import { HtpasswdError, readHtpasswdFile } from '../auth/htpasswd';
import { ConfigError } from '../errors';
import { PasswordCheck } from '../auth/password-check';
import { compileRedirectRules, withQuery, type RedirectTarget } from '../http/redirects';
import { redirectReply, tooManySignInsReply, unauthorizedReply } from '../http/respond';
import type { Reply, Request } from '../http/types';
import { normaliseRequestPath } from '../files/resolve';

export type PathRulesConfig = Pick<Config, 'redirects' | 'basicAuth' | 'basicAuthLogPeriodMs' | 'cleanUrls'>;

/** One basic-auth rule as a worker uses it. */
interface Guard {
  /** The 401, built once. */
  challenge: Reply;
  check: PasswordCheck;
}

/** What a path leads to before the lookup. */
interface Route {
  guard: Guard | null;
  redirect: RedirectTarget | null;
}

const PASS: Route = { guard: null, redirect: null };

/** Most paths whose route is remembered (the oldest is forgotten first). */
const MAX_ROUTES = 4096;
/** Most header-line strings remembered in their private form (a file entry's lines are one string). */
const MAX_PRIVATE_LINES = 1024;
/** A user name in a log line is cut to this. */
const MAX_LOGGED_USER = 64;

export class PathRules {
  private readonly routes = new Map<string, Route>();
  private readonly privateLines = new Map<string, string>();
  private readonly guards: Guard[];
  private readonly guardFor: (candidates: readonly string[]) => number;
  private readonly redirectFor: ReturnType<typeof compileRedirectRules>;
  private readonly failures: FailureBook;

  /** Null when no rule is configured: then nothing runs before the lookup at all. ConfigError for an htpasswd file that cannot be used. */
  static create(config: PathRulesConfig, log: Logger): PathRules | null {
    if (config.redirects.length === 0 && config.basicAuth.length === 0) return null;
    return new PathRules(config, log);
  }

  private constructor(
    private readonly config: PathRulesConfig,
    log: Logger,
  ) {
    this.redirectFor = compileRedirectRules(config.redirects);
    this.guardFor = compileBasicAuthGlobs(config.basicAuth);
    // Rules naming one file share its users and what passed.
    const checks = new Map<string, PasswordCheck>();
    this.guards = config.basicAuth.map((rule: BasicAuthRule) => {
      let check = checks.get(rule.htpasswd);
      if (check === undefined) {
        check = new PasswordCheck(readFile(rule.htpasswd));
        checks.set(rule.htpasswd, check);
      }
      return { challenge: unauthorizedReply(challengeLine(rule.realm ?? DEFAULT_REALM)), check };
    });
    this.failures = new FailureBook({ ...FAILURE_LIMITS, logEveryMs: config.basicAuthLogPeriodMs, now: () => performance.now(), warn: (fields, msg) => log.warn(fields, msg) });
  }

  /** The reply for `req`: a 401, 429 or redirect of the rules, else `next`'s (made private when authenticated). */
  handle(req: Request, remote: string, next: (req: Request) => Reply | Promise<Reply>): Reply | Promise<Reply> {
    const route = this.routeOf(req.path);
    if (route === PASS) return next(req);
    if (route.guard === null || req.method === 'OPTIONS') return this.pass(req, route, false, next);
    const verdict = this.authenticate(route.guard, req, remote);
    if (verdict === true) return this.pass(req, route, true, next);
    if (verdict instanceof Promise) return verdict.then((v) => (v === true ? this.pass(req, route, true, next) : v));
    return verdict;
  }

  private pass(req: Request, route: Route, authenticated: boolean, next: (req: Request) => Reply | Promise<Reply>): Reply | Promise<Reply> {
    const reply = route.redirect !== null ? redirectReply(withQuery(route.redirect, req.query), route.redirect.status) : next(req);
    if (!authenticated) return reply;
    return reply instanceof Promise ? reply.then((r) => this.privately(r)) : this.privately(reply);
  }

  /** True when the request may pass; else the 401 or 429 to answer (a promise while bcrypt runs). */
  private authenticate(guard: Guard, req: Request, remote: string): true | Reply | Promise<true | Reply> {
    const field = req.headers.authorization;
    // A browser's first request never has credentials: asking for them is no failure.
    if (field === undefined) return guard.challenge;
    const key = guard.check.keyOf(field);
    if (guard.check.passedBefore(key) !== undefined) return true;
    const client = clientOf(remote);
    const wait = this.failures.retryAfterMs(client);
    if (wait > 0) return tooManySignInsReply(Math.ceil(wait / 1000));
    const credentials = parseBasicCredentials(field);
    if (credentials === null) {
      this.failures.failed(client, { user: '', reason: 'malformed Authorization', path: req.path });
      return guard.challenge;
    }
    this.failures.checkStarted(client);
    const user = credentials.user.slice(0, MAX_LOGGED_USER);
    return guard.check.verify(key, credentials).then(
      (passed) => {
        if (passed !== null) {
          this.failures.checkEnded(client, null);
          return true;
        }
        const known = guard.check.hasUser(credentials.user);
        this.failures.checkEnded(client, { user, reason: known ? 'wrong password' : 'unknown user', path: req.path });
        return guard.challenge;
      },
      (err: unknown) => {
        this.failures.checkEnded(client, null);
        throw err;
      },
    );
  }

  /** `reply` with a private Cache-Control (and without its precomputed bytes, whose head said otherwise). */
  private privately(reply: Reply): Reply {
    let lines = this.privateLines.get(reply.headers);
    if (lines === undefined) {
      lines = privateHeaderLines(reply.headers);
      if (this.privateLines.size >= MAX_PRIVATE_LINES) this.privateLines.delete(this.privateLines.keys().next().value!);
      this.privateLines.set(reply.headers, lines);
    }
    const out: Reply = { status: reply.status, headers: lines, body: reply.body };
    if (reply.close !== undefined) out.close = reply.close;
    return out;
  }

  /** What a raw path leads to, worked out once per path. */
  private routeOf(rawPath: string): Route {
    let route = this.routes.get(rawPath);
    if (route === undefined) {
      route = this.routeOnce(rawPath);
      if (this.routes.size >= MAX_ROUTES) this.routes.delete(this.routes.keys().next().value!);
      this.routes.set(rawPath, route);
    }
    return route;
  }

  private routeOnce(rawPath: string): Route {
    const n = normaliseRequestPath(rawPath);
    if (n.kind === 'refuse') return PASS;
    const g = this.guardFor(authCandidates(n.segments, n.trailingSlash, this.config.cleanUrls));
    const redirect = this.redirectFor(n.segments, n.trailingSlash);
    if (g === -1 && redirect === null) return PASS;
    return { guard: g === -1 ? null : this.guards[g]!, redirect };
  }
}

/** An htpasswd file read again (it was checked with the configuration, and may have changed since). */
function readFile(file: string) {
  try {
    return readHtpasswdFile(file);
  } catch (err) {
    if (err instanceof HtpasswdError) throw new ConfigError(`basicAuth: ${err.message}`);
    throw err;
  }
}
