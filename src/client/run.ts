/**
 * The network side of fleetserve-client: connections, request writing, and
 * turning parser events into output. Everything it touches outside of memory
 * comes in through ClientIO, so tests can run it in-process with fakes.
 */
import * as net from 'node:net';
import { buildRequest, type BuiltRequest, type ClientOptions } from './args';
import { ClientError, EXIT } from './exit-codes';
import {
  dumpHead,
  dumpRequest,
  dumpTrailers,
  fieldValue,
  formatBytes,
  headAsOutput,
  isTextual,
} from './format';
import { Output, ProgressBar } from './output';
import { ResponseParser, type Framing, type ParserProgress, type ResponseHead } from './response-parser';
import { renderWriteOut } from './write-out';

export interface ClientIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal (binary bodies are then held back). */
  stdoutIsTTY: boolean;
  /** Whether stderr may show a progress bar (a terminal, or forced by the caller). */
  progressAllowed: boolean;
  /** Width for the progress bar. */
  columns: number;
  userAgent: string;
  connect(host: string, port: number): net.Socket;
  now(): number;
}

export const defaultConnect = (host: string, port: number): net.Socket => net.connect({ host, port });

const EMPTY = Buffer.alloc(0);
/** Received chunks held before the socket is paused. */
const MAX_QUEUED_CHUNKS = 16;

type End = 'closed' | 'reset';

class IdleTimeout extends Error {}

/** One TCP connection, read as a sequence of chunks ending with how it ended. */
class Connection {
  /** Unparsed bytes after the last complete response (pipelining). */
  pending: Buffer = EMPTY;
  responses = 0;
  private readonly queue: Buffer[] = [];
  private ended: End | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      if (this.queue.length >= MAX_QUEUED_CHUNKS) socket.pause();
      this.notify();
    });
    socket.on('end', () => this.finish('closed'));
    // After the connection is up, any socket error (ECONNRESET, EPIPE...) means the response is cut short.
    socket.on('error', () => this.finish('reset'));
    socket.on('close', () => this.finish('closed'));
  }

  get open(): boolean {
    return this.ended === undefined && !this.socket.destroyed;
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next chunk, or how the connection ended; rejects with IdleTimeout after timeoutMs of silence. */
  async next(timeoutMs: number): Promise<Buffer | End> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) {
        if (this.queue.length < MAX_QUEUED_CHUNKS / 2 && this.socket.isPaused()) this.socket.resume();
        return chunk;
      }
      if (this.ended) return this.ended;
      await new Promise<void>((resolve, reject) => {
        const timer =
          timeoutMs > 0 ? setTimeout(() => ((this.wake = undefined), reject(new IdleTimeout())), timeoutMs) : undefined;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(how: End): void {
    this.ended ??= how;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

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

/** Where one path's next request goes; -L changes it, possibly to another host. */
interface Hop {
  host: string;
  port: number;
  authority: string;
  target: string;
  method: string;
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function originOf(hop: Pick<Hop, 'host' | 'port'>): string {
  return `${hop.host.includes(':') ? `[${hop.host}]` : hop.host}:${hop.port}`;
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
          hop = this.nextHop(h, outcome.status, outcome.location);
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

  /** The request a redirect leads to, as curl -L makes it. */
  private nextHop(from: Hop, status: number, location: string): Hop {
    let url: URL;
    try {
      url = new URL(location, `http://${from.authority}${from.target}`);
    } catch {
      throw new ClientError(EXIT.MALFORMED, `malformed response from ${this.origin}: bad Location "${location}" in the redirect for ${from.target}`);
    }
    if (url.protocol !== 'http:') {
      throw new ClientError(EXIT.USAGE, `redirected to ${url.href}: fleetserve-client follows http:// only`);
    }
    if (from.redirects >= this.opts.maxRedirs) {
      throw new ClientError(EXIT.TOO_MANY_REDIRECTS, `more than ${this.opts.maxRedirs} redirects (the next to ${url.href}); see --max-redirs`);
    }
    // 303 means "GET the other resource"; 301/302 turn a POST into a GET, as browsers and curl do.
    const method = (status === 303 && from.method !== 'HEAD') || ((status === 301 || status === 302) && from.method === 'POST') ? 'GET' : from.method;
    this.info(`* following the redirect to ${url.href}\n`);
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? 80 : Number(url.port),
      authority: url.host,
      target: url.pathname + url.search,
      method,
      redirects: from.redirects + 1,
    };
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
    const socket = await this.connect();
    socket.setNoDelay(true);
    this.conn = new Connection(socket);
    this.info(`* connected to ${hop.host} (${socket.remoteAddress ?? '?'}) port ${hop.port}${pipelined}\n`);
    return this.conn;
  }

  private connect(): Promise<net.Socket> {
    const { host, port } = this.current;
    const { connectTimeoutMs } = this.opts;
    return new Promise((resolve, reject) => {
      const socket = this.io.connect(host, port);
      const timer =
        connectTimeoutMs > 0
          ? setTimeout(() => {
              socket.destroy();
              reject(new ClientError(EXIT.TIMEOUT, `connection to ${this.origin} timed out after ${connectTimeoutMs} ms`));
            }, connectTimeoutMs)
          : undefined;
      const onError = (err: NodeJS.ErrnoException): void => {
        if (timer) clearTimeout(timer);
        socket.destroy();
        reject(this.connectError(err));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        if (timer) clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(socket);
      });
    });
  }

  private connectError(err: NodeJS.ErrnoException): ClientError {
    // With several addresses to try (happy eyeballs) Node reports an AggregateError; its parts carry the codes.
    const parts = (err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }).errors ?? [];
    const code = err.code ?? parts.find((e) => e.code)?.code ?? '';
    switch (code) {
      case 'ECONNREFUSED':
        return new ClientError(EXIT.CONNECT, `connection refused by ${this.origin}`);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_NONAME':
      case 'EAI_NODATA':
      case 'EAI_FAIL':
        return new ClientError(EXIT.HOST_NOT_FOUND, `host not found: ${this.current.host}`);
      case 'ETIMEDOUT':
        return new ClientError(EXIT.TIMEOUT, `connection to ${this.origin} timed out (ETIMEDOUT)`);
      default:
        return new ClientError(
          EXIT.CONNECT,
          `cannot connect to ${this.origin}: ${code === '' ? err.message : code}`,
        );
    }
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
    let input: Buffer | End = conn.pending;
    conn.pending = EMPTY;
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
            location = this.opts.follow && REDIRECTS.has(ev.head.status) ? fieldValue(ev.head.headers, 'location') : undefined;
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
              return { reusable: false, why: `server sent ${ev.rest.length} bytes after the response`, ...facts };
            }
            return { reusable: true, ...facts };
          }
          case 'error':
            body.abort();
            if (ev.empty && mayRetry) return { retry: ev.message };
            throw ev.kind === 'malformed'
              ? new ClientError(EXIT.MALFORMED, `malformed response from ${this.origin}: ${ev.message}`)
              : new ClientError(EXIT.INCOMPLETE, `${ev.message} (${req.target} from ${this.origin})`);
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
      throw new ClientError(
        EXIT.TIMEOUT,
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
      return `after ${p.bodyBytes} body bytes`;
  }
}

/** The body of one response on its way to the output. */
class BodyState {
  head: ResponseHead | undefined;
  chunks = 0;
  private framing: Framing = { kind: 'none' };
  /** Set once the body is kept off the terminal. */
  private heldBack = false;
  private written = 0;
  private toTerminal = false;
  private progress: ProgressBar | undefined;

  /** A redirect that -L follows: its body is read and dropped. */
  private dropped = false;

  constructor(
    private readonly opts: ClientOptions,
    private readonly io: ClientIO,
    private readonly output: Output,
    private readonly method: string,
  ) {}

  async start(head: ResponseHead, framing: Framing, drop: boolean): Promise<void> {
    this.head = head;
    this.framing = framing;
    this.output.open();
    this.toTerminal = this.output.toStdout && this.io.stdoutIsTTY && this.opts.output !== '-';
    // -I and -i write every head, the redirects' too, as curl -IL and -iL do.
    if (this.opts.headOnly || this.opts.include) await this.output.write(headAsOutput(head));
    // -I with -X GET still makes the head the whole output: the body is read and dropped.
    this.dropped = drop || this.opts.headOnly;
    if (this.dropped || this.method === 'HEAD') return;
    const type = fieldValue(head.headers, 'content-type');
    if (this.toTerminal && !isTextual(type)) {
      const size = framing.kind === 'length' ? `, ${formatBytes(framing.length)}` : '';
      this.holdBack(`the body (Content-Type ${type}${size})`);
    }
    // On a terminal the bar would tangle with the body itself.
    const outputIsTerminal = this.output.toStdout && this.io.stdoutIsTTY;
    if (this.io.progressAllowed && !this.opts.silent && !outputIsTerminal && framing.kind !== 'none') {
      this.progress = new ProgressBar(this.io, framing.kind === 'length' ? framing.length : undefined);
    }
  }

  async write(data: Buffer): Promise<void> {
    if (this.dropped) return;
    this.progress?.add(data.length);
    if (!this.heldBack && this.toTerminal && data.includes(0)) {
      this.holdBack(this.written > 0 ? 'the rest of the body (it contains NUL bytes)' : 'the body (it contains NUL bytes)');
    }
    if (this.heldBack) return;
    this.written += data.length;
    await this.output.write(data);
  }

  /**
   * Said when decided rather than at the end, so a long binary download does not look hung.
   * Shown even with -s: without it, a silent run would print nothing and look broken.
   */
  private holdBack(what: string): void {
    this.heldBack = true;
    this.io.stderr.write(
      `fleetserve-client: not printing ${what} to the terminal: it is binary; use -o FILE to save it, or -o - to print it anyway\n`,
    );
  }

  end(): void {
    this.progress?.finish();
    this.progress = undefined;
  }

  /** Ends the progress line so that the error message starts on a line of its own. */
  abort(): void {
    if (this.progress) this.io.stderr.write('\n');
    this.progress = undefined;
  }

  whyNotReusable(): string {
    const head = this.head as ResponseHead;
    const connection = (fieldValue(head.headers, 'connection') ?? '').toLowerCase();
    if (connection.split(',').some((t) => t.trim() === 'close')) return 'server closed the connection (Connection: close)';
    if (this.framing.kind === 'close') return 'the body ended with the connection';
    return `${head.version} response without keep-alive`;
  }

  summary(bodyBytes: number): string {
    const head = this.head as ResponseHead;
    switch (this.framing.kind) {
      case 'none':
        return this.method === 'HEAD'
          ? 'no body (response to HEAD)'
          : `no body (status ${head.status})`;
      case 'length':
        return `${bodyBytes} body bytes (Content-Length)`;
      case 'chunked':
        return `${bodyBytes} body bytes (chunked, ${this.chunks} chunk${this.chunks === 1 ? '' : 's'})`;
      case 'close':
        return `${bodyBytes} body bytes (read until the server closed the connection)`;
    }
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
