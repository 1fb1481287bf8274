/**
 * One run of fleetserve-client: each path's requests in order over one keep-alive connection
 * (reuse, pipelining, the retry after an idle-close race, -L hops), each response's parser
 * events turned into output, -w, and the exit code. connection.ts makes and reads the
 * connections, body.ts writes the bodies, redirect.ts chooses the next hop. Everything it
 * touches outside of memory comes in through ClientIO, so tests can run it in-process.
 */
import { countOf } from '../plural';
import type { ClientOptions } from './args';
import { BodyState } from './body';
import { Connection, connectSocket, IdleTimeout, type End } from './connection';
import { ClientError, EXIT, IncompleteResponseError, MalformedResponseError, TimeoutError } from './errors';
import { dumpHead, dumpRequest, dumpTrailers, fieldValue, headAsOutput } from './format';
import type { ClientIO } from './io';
import { Output } from './output';
import { buildRequest, type BuiltRequest } from './request';
import { isRedirect, nextHop, originOf, type Hop } from './redirect';
import type { ResponseHead } from './response-grammar';
import { ResponseParser, type ParserProgress } from './response-parser';
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

  private info(text: string): void {
    if (this.opts.verbose && !this.opts.silent) this.io.stderr.write(text);
  }

  private firstHop(i: number): Hop {
    const { host, port, authority, method } = this.opts;
    return { host, port, authority, target: this.opts.paths[i] ?? '/', method, redirects: 0 };
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
      const conn = await this.connection(hop, hops.length);
      const requests = hops.map((h) => buildRequest(h.method, h.target, h.authority, this.io.userAgent, this.opts.headers));
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
        const outcome = await this.readResponse(conn, req, h, mayRetry);
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
      urlEffective: `http://${hop.authority}${hop.target}`,
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

  private async connection(hop: Hop, requestCount: number): Promise<Connection> {
    const pipelined = requestCount > 1 ? `; pipelining ${requestCount} requests` : '';
    if (this.conn?.open && originOf(hop) === this.origin) {
      this.info(`* reusing connection to ${this.origin}${pipelined}\n`);
      return this.conn;
    }
    if (this.conn) this.drop(`* closing the connection to ${this.origin}\n`);
    this.current = hop;
    this.info(`* connecting to ${hop.host} port ${hop.port}\n`);
    const socket = await connectSocket(this.io.connect, { host: hop.host, port: hop.port, origin: this.origin }, this.opts.connectTimeoutMs);
    socket.setNoDelay(true);
    this.conn = new Connection(socket);
    this.info(`* connected to ${hop.host} (${socket.remoteAddress ?? '?'}) port ${hop.port}${pipelined}\n`);
    return this.conn;
  }

  private async readResponse(
    conn: Connection,
    req: BuiltRequest,
    hop: Hop,
    mayRetry: boolean,
  ): Promise<Outcome | { retry: string }> {
    const parser = new ResponseParser({ method: hop.method });
    const body = new BodyState(this.opts, this.io, this.output, hop.method);
    let location: string | undefined;
    let input: Buffer | End = conn.takePending();
    if (input.length === 0) input = await this.next(conn, parser);

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
          case 'complete': {
            body.end();
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
          case 'error':
            body.abort();
            if (ev.empty && mayRetry) return { retry: ev.message };
            throw ev.kind === 'malformed'
              ? new MalformedResponseError(`malformed response from ${this.origin}: ${ev.message}`)
              : new IncompleteResponseError(`${ev.message} (${req.target} from ${this.origin})`);
        }
      }
      if (typeof input === 'string') {
        // end() always yields complete or error, so this is unreachable; failing loudly beats spinning.
        throw new Error('parser did not settle at end of input');
      }
      input = await this.next(conn, parser);
    }
  }

  private async next(conn: Connection, parser: ResponseParser): Promise<Buffer | End> {
    try {
      return await conn.next(this.opts.timeoutMs);
    } catch (err) {
      if (!(err instanceof IdleTimeout)) throw err;
      throw new TimeoutError(
        `timed out: no data from ${this.origin} for ${this.opts.timeoutMs} ms ${waitingFor(parser.progress())}`,
      );
    }
  }

  private reportStatus(head: ResponseHead | undefined, req: BuiltRequest): void {
    if (head && head.status >= 400) {
      this.httpErrors++;
      this.io.stderr.write(`fleetserve-client: HTTP ${head.status}${head.reason ? ' ' + head.reason : ''} for ${req.target}\n`);
    }
  }
}

function waitingFor(p: ParserProgress): string {
  switch (p.phase) {
    case 'status-line':
      return p.received === 0 ? 'while waiting for the response' : 'in the middle of the response head';
    case 'headers':
      return 'in the middle of the response head';
    case 'body-length':
      return `after ${p.bodyBytes} of ${p.expected} body bytes`;
    default:
      return `after ${countOf(p.bodyBytes, 'body byte')}`;
  }
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
      io.stderr.write(`fleetserve-client: ${err.message}\n`);
      code = err.exitCode;
    } else {
      io.stderr.write(`fleetserve-client: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      code = EXIT.INTERNAL;
    }
  }
  try {
    client.close();
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    io.stderr.write(`fleetserve-client: ${err.message}\n`);
    if (code === EXIT.OK || code === EXIT.HTTP_ERROR) code = err.exitCode;
  }
  return code;
}
