/**
 * The plain-HTTP port beside the HTTPS one (httpPort): its connections are plain HTTP
 * (PlainHttp) whose requests go through decideHttpPort first — a 308 to HTTPS, or the health
 * path and ACME challenges (the answers of an order under way — this host's, else those
 * another host sharing acmeStorage stored — else files; and with
 * httpRedirect false the whole site) answered as on the main port. Everything else (timeouts, access log, counters) is the main port's.
 */
import type { ConnectionOptions } from '../http/connection';
import { decideHttpPort } from '../http/redirect-port';
import { errorReply, plainTextReply, redirectReply } from '../http/respond';
import { ChallengeAnswers } from '../acme/answers';
import { acmeEnabled } from '../acme/settings';
import { readStoredAnswer } from '../acme/storage';
import type { Reply, Request } from '../http/types';
import type { InForce } from './serving';

export class HttpPortOptions implements ConnectionOptions {
  /** The port the main listener bound (the Location's port); set once it is listening. */
  tlsPort = 0;

  constructor(
    private readonly main: ConnectionOptions,
    private readonly inForce: InForce,
    /** The HTTP-01 answers of an ACME order under way (none without ACME). */
    private readonly answers: ChallengeAnswers = new ChallengeAnswers(),
  ) {}

  get keepAliveTimeoutMs(): number {
    return this.main.keepAliveTimeoutMs;
  }

  get headersTimeoutMs(): number {
    return this.main.headersTimeoutMs;
  }

  get sendTimeoutMs(): number {
    return this.main.sendTimeoutMs;
  }

  get limits(): ConnectionOptions['limits'] {
    return this.main.limits;
  }

  get onAccess(): ConnectionOptions['onAccess'] {
    return this.main.onAccess;
  }

  get counters(): ConnectionOptions['counters'] {
    return this.main.counters;
  }

  readonly onError = (err: unknown, what: string): void => this.main.onError(err, what);

  handle(req: Request, remote: string): Reply | Promise<Reply> {
    const { config, healthPath } = this.inForce.current;
    const d = decideHttpPort(req.path, req.query, req.host, { tlsPort: this.tlsPort, healthPath, redirect: config.httpRedirect });
    switch (d.kind) {
      case 'health':
      case 'site':
        return this.main.handle(req, remote);
      case 'acme-challenge': {
        const answer = this.answers.get(d.token);
        if (answer !== undefined) return plainTextReply(200, answer);
        return acmeEnabled(config) ? this.storedAnswer(config.acmeStorage, d.token, req, remote) : this.main.handle(req, remote);
      }
      case 'redirect':
        return redirectReply(d.location, 308);
      case 'bad-host':
        return errorReply(400, false);
    }
  }

  /** Behind a load balancer the CA's check may reach this host while another orders: its stored answer, else the site. */
  private async storedAnswer(dir: string, token: string, req: Request, remote: string): Promise<Reply> {
    const stored = await readStoredAnswer(dir, token);
    return stored === undefined ? this.main.handle(req, remote) : plainTextReply(200, stored);
  }
}
