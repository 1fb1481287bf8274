/**
 * One run of fleetserve-client: each path's requests in order over one keep-alive connection
 * (reuse, pipelining, the retry after an idle-close race, -L hops), each response's parser
 * events turned into output, -w, and the exit code. connection.ts makes and reads the
 * connections, body.ts writes the bodies, redirect.ts chooses the next hop. Everything it
 * touches outside of memory comes in through ClientIO, so tests can run it in-process.
 */
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { countOf } from '../plural';
import type { ClientOptions } from './args';
import { BodyState } from './body';
import { ACCEPT_ENCODING } from './decode';
import { Connection, connectSocket, IdleTimeout, type Destination, type End } from './connection';
import { ClientError, EXIT } from './errors';
import { dumpHead, dumpRequest, dumpTrailers, fieldValue, headAsOutput } from './format';
import type { ClientIO } from './io';
import { Output } from './output';
import { buildRequest, type BuiltRequest } from './request';
import { isRedirect, nextHop, originOf, urlOf, type Hop } from './redirect';
import type { ResponseHead } from './response-grammar';
import { responseError, waitingFor } from './response-errors';
import { ResponseParser, type ParserEvent } from './response-parser';
import { certificateError, describeSession, loadCaFile, peerCertificate, startTls, systemTrust, verificationProblem, type Trust } from './secure';
import { maxTimeLeft, nearer, optionLimit, remaining, type TimeLimit } from './time-limit';
import { renderWriteOut } from './write-out';

interface Outcome {
  /** Whether the next request may use the same connection. */
  reusable: boolean;
  /** Why not, when there are further requests to explain the reconnect to. */
  why?: string;
  status: number;
  /** -L: where this redirect leads (the response was read, its body dropped). */
  location?: string;
  bodyBytes: number;
  headBytes: number;
  contentType: string;
}

class Client {
  private conn: Connection | undefined;
  /** The hop the open connection (or the one being made) goes to. */
  private current: Hop;
  private readonly output: Output;
  /** The CAs of https:// connections: read at the first one (--cacert, or the system's). */
  private trust: Trust | undefined;
  httpErrors = 0;

  constructor(
    private readonly opts: ClientOptions,
    private readonly io: ClientIO,
  ) {
    this.output = new Output(opts.output === '-' ? undefined : opts.output, io.stdout);
    this.current = this.firstHop(0);
  }

  private get origin(): string {
    return originOf(this.current);
  }

  /** -v output; -s does not mute it, as `curl -sv` shows. */
  private info(text: string): void {
    if (this.opts.verbose) this.io.stderr.write(text);
  }

  private firstHop(i: number): Hop {
    const { host, port, tls, authority, method } = this.opts;
    return { host, port, tls, authority, target: this.opts.paths[i] ?? '/', method, redirects: 0 };
  }

  async fetchAll(): Promise<void> {
    const paths = this.opts.paths;
    const retried = new Set<number>();
    const startedAt: number[] = [];
    let pipeline = this.opts.pipeline;
    let hop = this.firstHop(0);
    let i = 0;
    while (i < paths.length) {
      if (this.opts.remoteNames) this.output.useFile(this.opts.remoteNames[i]!);
      // Pipelining is refused with -L, so every request of a batch is its path's first hop.
      const hops = pipeline ? paths.slice(i).map((_, k) => (k === 0 ? hop : this.firstHop(i + k))) : [hop];
      const now = this.io.now();
      for (let k = 0; k < hops.length; k++) startedAt[i + k] ??= now;
      const conn = await this.connection(hop, hops.length, startedAt[i]!);
      const acceptEncoding = this.opts.compressed ? ACCEPT_ENCODING : undefined;
      const requests = hops.map((h) => buildRequest(h.method, h.target, h.authority, this.io.userAgent, this.opts.headers, acceptEncoding));
      for (const req of requests) {
        this.info(dumpRequest(req.lines));
        conn.write(req.bytes);
      }
      for (let k = 0; k < requests.length; k++) {
        const req = requests[k]!;
        const h = hops[k]!;
        // A server may close an idle reused connection just as a request goes out, and one that
        // closes with pipelined requests unread makes its kernel reset the connection, which can
        // destroy the response already sent. Either way nothing arrived: retry once, unpipelined.
        const mayRetry = !retried.has(i) && (conn.responses > 0 || requests.length > 1);
        const outcome = await this.readResponse(conn, req, h, mayRetry, startedAt[i + k]!);
        if ('retry' in outcome) {
          retried.add(i);
          const unpipelined = pipeline ? ' without pipelining' : '';
          pipeline = false;
          this.drop(`* no response to ${req.target} (${outcome.retry}); retrying on a new connection${unpipelined}\n`);
          break;
        }
        if (outcome.location !== undefined) {
          const next = nextHop(h, outcome.status, outcome.location, this.opts.maxRedirs);
          this.info(`* following the redirect to ${next.url}\n`);
          hop = next.hop;
          if (!outcome.reusable) this.drop(`* ${outcome.why}; reconnecting\n`);
          break;
        }
        await this.writeOut(h, outcome, conn, startedAt[i]!);
        i++;
        hop = this.firstHop(i);
        if (!outcome.reusable) {
          this.drop(i < paths.length ? `* ${outcome.why}; reconnecting to ${this.origin}\n` : '');
          break;
        }
      }
    }
    if (this.conn) this.drop('* closing connection\n');
  }

  close(): void {
    this.conn?.destroy();
    this.conn = undefined;
    this.output.close();
  }

  private async writeOut(hop: Hop, outcome: Outcome, conn: Connection, startedAt: number): Promise<void> {
    if (!this.opts.writeOut) return;
    const text = renderWriteOut(this.opts.writeOut, {
      httpCode: outcome.status,
      sizeDownload: outcome.bodyBytes,
      sizeHeader: outcome.headBytes,
      timeTotalMs: this.io.now() - startedAt,
      urlEffective: urlOf(hop),
      numRedirects: hop.redirects,
      contentType: outcome.contentType,
      method: hop.method,
      remoteIp: conn.socket.remoteAddress ?? '',
      remotePort: conn.socket.remotePort ?? hop.port,
    });
    await this.output.writeStdout(text);
  }

  private drop(message: string): void {
    this.info(message);
    this.conn?.destroy();
    this.conn = undefined;
  }

  /** What -m leaves of the transfer that started at `startedAt`; `where` says how far it got. */
  private maxTime(startedAt: number, where: () => string): TimeLimit | undefined {
    return maxTimeLeft(this.opts.maxTimeMs, startedAt, this.io.now(), where);
  }

  private async connection(hop: Hop, requestCount: number, startedAt: number): Promise<Connection> {
    const pipelined = requestCount > 1 ? `; pipelining ${requestCount} requests` : '';
    if (this.conn?.open && originOf(hop) === this.origin && hop.tls === this.current.tls) {
      this.info(`* reusing connection to ${this.origin}${pipelined}\n`);
      return this.conn;
    }
    if (this.conn) this.drop(`* closing the connection to ${this.origin}\n`);
    this.current = hop;
    this.info(`* connecting to ${hop.host} port ${hop.port}\n`);
    const origin = this.origin;
    const { connectTimeoutMs } = this.opts;
    const limit = nearer(
      optionLimit(connectTimeoutMs, () => `connection to ${origin} timed out after ${connectTimeoutMs} ms`),
      this.maxTime(startedAt, () => `while connecting to ${origin}`),
    );
    const to = { host: hop.host, port: hop.port, origin };
    const connectStart = this.io.now();
    let socket: net.Socket = await connectSocket(this.io.connect, to, limit);
    socket.setNoDelay(true);
    this.info(`* connected to ${hop.host} (${socket.remoteAddress ?? '?'}) port ${hop.port}${pipelined}\n`);
    // --connect-timeout (and -m) bound the connect and the handshake together, as in curl.
    if (hop.tls) socket = await this.handshake(socket, to, remaining(limit, this.io.now() - connectStart));
    this.conn = new Connection(socket);
    return this.conn;
  }

  /** https://: the TLS handshake on a connected socket, and the certificate's verdict (-k goes on). */
  private async handshake(socket: net.Socket, to: Destination, limit: TimeLimit | undefined): Promise<tls.TLSSocket> {
    const trust = (this.trust ??= this.opts.cacert === undefined ? systemTrust() : loadCaFile(this.opts.cacert));
    this.info(`* TLS handshake${net.isIP(to.host) === 0 ? ` (SNI ${to.host})` : ' (no SNI for an IP address)'}, ALPN offers http/1.1\n`);
    let secure: tls.TLSSocket;
    try {
      secure = await startTls(socket, to, trust, limit);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    const cert = peerCertificate(secure);
    const problem = verificationProblem(secure, cert, to.host);
    this.info(describeSession(secure, cert, trust, problem, this.opts.insecure));
    if (problem !== undefined && !this.opts.insecure) {
      secure.destroy();
      throw certificateError(problem, to);
    }
    return secure;
  }

  /** One response (after any 1xx), its body written as it arrives; `startedAt` is when its transfer began (-m). */
  private async readResponse(
    conn: Connection,
    req: BuiltRequest,
    hop: Hop,
    mayRetry: boolean,
    startedAt: number,
  ): Promise<Outcome | { retry: string }> {
    const parser = new ResponseParser({ method: hop.method });
    const body = new BodyState(this.opts, this.io, this.output, hop.method);
    const next = (): Promise<Buffer | End> => this.next(conn, parser, req, startedAt);
    let location: string | undefined;
    let input: Buffer | End = conn.takePending();
    try {
      if (input.length === 0) input = await next();
      for (;;) {
        const events = typeof input === 'string' ? parser.end(input) : parser.feed(input);
        for (const ev of events) {
          switch (ev.type) {
            case 'interim':
              this.info(dumpHead(ev.head));
              break;
            case 'head':
              this.info(dumpHead(ev.head));
              location = this.opts.follow && isRedirect(ev.head.status) ? fieldValue(ev.head.headers, 'location') : undefined;
              await body.start(ev.head, ev.framing, location !== undefined);
              break;
            case 'chunk':
              // The zero-size last chunk only marks the end; it is not counted.
              if (ev.size > 0) body.chunks++;
              break;
            case 'data':
              await body.write(ev.data);
              break;
            case 'complete':
              return await this.completed(ev, body, location, conn, req);
            case 'error':
              if (ev.empty && mayRetry) {
                body.abort();
                return { retry: ev.message };
              }
              throw responseError(ev, input === 'reset', `${req.target} from ${this.origin}`, this.origin);
          }
        }
        if (typeof input === 'string') {
          // end() always yields complete or error, so this is unreachable; failing loudly beats spinning.
          throw new Error('parser did not settle at end of input');
        }
        input = await next();
      }
    } catch (err) {
      // Whatever ends the response early (an error event, a timeout, the output) ends the progress line first.
      body.abort();
      throw err;
    }
  }

  private async completed(
    ev: Extract<ParserEvent, { type: 'complete' }>,
    body: BodyState,
    location: string | undefined,
    conn: Connection,
    req: BuiltRequest,
  ): Promise<Outcome> {
    await body.end();
    conn.responses++;
    if (ev.trailers.length > 0) this.info('* trailer fields:\n' + dumpTrailers(ev.trailers));
    this.info(`* ${body.summary(ev.bodyBytes)}\n`);
    if (location === undefined) this.reportStatus(body.head, req);
    const head = body.head as ResponseHead;
    const facts = {
      status: head.status,
      location,
      bodyBytes: ev.bodyBytes,
      headBytes: Buffer.byteLength(headAsOutput(head), 'latin1'),
      contentType: fieldValue(head.headers, 'content-type') ?? '',
    };
    if (!ev.keepAlive) return { reusable: false, why: body.whyNotReusable(), ...facts };
    if (this.opts.pipeline) {
      conn.pending = ev.rest;
    } else if (ev.rest.length > 0) {
      return { reusable: false, why: `server sent ${countOf(ev.rest.length, 'byte')} after the response`, ...facts };
    }
    return { reusable: true, ...facts };
  }

  /** The next bytes of the response, within the nearer of --timeout (of silence) and what -m leaves. */
  private async next(conn: Connection, parser: ResponseParser, req: BuiltRequest, startedAt: number): Promise<Buffer | End> {
    const origin = this.origin;
    const idleMs = this.opts.timeoutMs;
    const limit = nearer(
      optionLimit(idleMs, () => `timed out: no data from ${origin} for ${idleMs} ms ${waitingFor(parser.progress())}`),
      this.maxTime(startedAt, () => `${waitingFor(parser.progress())} (${req.target} from ${origin})`),
    );
    try {
      return await conn.next(limit?.ms ?? 0);
    } catch (err) {
      if (!(err instanceof IdleTimeout) || limit === undefined) throw err;
      throw limit.error();
    }
  }

  private reportStatus(head: ResponseHead | undefined, req: BuiltRequest): void {
    if (head && head.status >= 400) {
      this.httpErrors++;
      if (showsErrors(this.opts)) this.io.stderr.write(`fleetserve-client: HTTP ${head.status}${head.reason ? ' ' + head.reason : ''} for ${req.target}\n`);
    }
  }
}

/** Whether error lines are written: not with -s, unless -S (curl's -s and -S). */
function showsErrors(opts: ClientOptions): boolean {
  return !opts.silent || opts.showError;
}

/** Runs one invocation; writes its error line, if any, and returns the exit code. */
export async function run(opts: ClientOptions, io: ClientIO): Promise<number> {
  const client = new Client(opts, io);
  let code: number = EXIT.OK;
  try {
    await client.fetchAll();
    if (client.httpErrors > 0) code = EXIT.HTTP_ERROR;
  } catch (err) {
    if (err instanceof ClientError) {
      if (showsErrors(opts)) io.stderr.write(`fleetserve-client: ${err.message}\n`);
      code = err.exitCode;
    } else {
      // A bug is reported even with -s: the exit code alone would not say where to look.
      io.stderr.write(`fleetserve-client: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      code = EXIT.INTERNAL;
    }
  }
  try {
    client.close();
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    if (showsErrors(opts)) io.stderr.write(`fleetserve-client: ${err.message}\n`);
    if (code === EXIT.OK || code === EXIT.HTTP_ERROR) code = err.exitCode;
  }
  return code;
}
