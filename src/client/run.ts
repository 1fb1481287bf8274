/**
 * The network side of fleetserve-client: connections, request writing, and
 * turning parser events into output. Everything it touches outside of memory
 * comes in through ClientIO, so tests can run it in-process with fakes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { buildRequest, type BuiltRequest, type ClientOptions } from './args';
import { ClientError, EXIT } from './exit-codes';
import {
  dumpHead,
  dumpRequest,
  dumpTrailers,
  fieldValue,
  formatBytes,
  formatProgress,
  headAsOutput,
  isTextual,
} from './format';
import { ResponseParser, type Framing, type ParserProgress, type ResponseHead } from './response-parser';

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
/** How often the progress line is redrawn at most. */
const PROGRESS_INTERVAL_MS = 200;
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

/** Where bodies go: stdout, or the -o file, opened only once there is a response to put in it. */
class Output {
  private fd: number | undefined;
  private stdoutError: Error | undefined;

  constructor(
    private readonly file: string | undefined,
    private readonly stdout: NodeJS.WritableStream,
  ) {
    stdout.on('error', (err: Error) => {
      this.stdoutError = err;
    });
  }

  get toStdout(): boolean {
    return this.file === undefined;
  }

  async write(data: Buffer | string): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (buf.length === 0) return;
    if (this.file === undefined) {
      this.checkStdout();
      if (!this.stdout.write(buf)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            this.stdout.removeListener('drain', done);
            this.stdout.removeListener('error', done);
            resolve();
          };
          this.stdout.once('drain', done);
          this.stdout.once('error', done);
        });
      }
      this.checkStdout();
      return;
    }
    this.open();
    try {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.fd as number, buf, off);
    } catch (err) {
      throw new ClientError(EXIT.OUTPUT, `cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Creates (truncates) the file, so that a failed connection leaves an existing file alone. */
  open(): void {
    if (this.file === undefined || this.fd !== undefined) return;
    try {
      this.fd = fs.openSync(this.file, 'w');
    } catch (err) {
      throw new ClientError(EXIT.OUTPUT, `cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch (err) {
      throw new ClientError(EXIT.OUTPUT, `cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  private checkStdout(): void {
    if (this.stdoutError) {
      throw new ClientError(EXIT.OUTPUT, `cannot write to stdout: ${this.stdoutError.message}`);
    }
  }
}

class ProgressBar {
  private readonly start: number;
  private lastDraw: number;
  private received = 0;
  private width = 0;

  constructor(
    private readonly io: ClientIO,
    private readonly total: number | undefined,
  ) {
    this.start = io.now();
    // The first draw waits one interval, so that short downloads do not flash a bar for every update.
    this.lastDraw = this.start;
  }

  add(n: number): void {
    this.received += n;
    const now = this.io.now();
    if (now - this.lastDraw >= PROGRESS_INTERVAL_MS) {
      this.lastDraw = now;
      this.draw(false);
    }
  }

  finish(): void {
    this.draw(true);
    this.io.stderr.write('\n');
  }

  private draw(done: boolean): void {
    const line = formatProgress({
      received: this.received,
      total: this.total,
      elapsedMs: this.io.now() - this.start,
      done,
      columns: this.io.columns,
    });
    // Padding instead of an erase-line escape keeps the output plain text when it is captured.
    this.io.stderr.write('\r' + line.padEnd(this.width));
    this.width = line.length;
  }
}

interface Outcome {
  /** Whether the next request may use the same connection. */
  reusable: boolean;
  /** Why not, when there are further requests to explain the reconnect to. */
  why?: string;
}

class Client {
  private conn: Connection | undefined;
  private readonly output: Output;
  private readonly origin: string;
  httpErrors = 0;

  constructor(
    private readonly opts: ClientOptions,
    private readonly io: ClientIO,
  ) {
    this.output = new Output(opts.output === '-' ? undefined : opts.output, io.stdout);
    this.origin = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  }

  private info(text: string): void {
    if (!this.opts.silent) this.io.stderr.write(text);
  }

  async fetchAll(): Promise<void> {
    const requests = this.opts.paths.map((p) =>
      buildRequest(this.opts.method, p, this.opts.authority, this.io.userAgent, this.opts.headers),
    );
    const retried = new Set<number>();
    let pipeline = this.opts.pipeline;
    let i = 0;
    while (i < requests.length) {
      const conn = await this.connection(pipeline ? requests.length - i : 1);
      const batch = pipeline ? requests.slice(i) : [requests[i] as BuiltRequest];
      for (const req of batch) {
        this.info(dumpRequest(req.lines));
        conn.write(req.bytes);
      }
      for (const req of batch) {
        // A server may close an idle reused connection just as a request goes out, and one that
        // closes with pipelined requests unread makes its kernel reset the connection, which can
        // destroy the response already sent. Either way nothing arrived: retry once, unpipelined.
        const mayRetry = !retried.has(i) && (conn.responses > 0 || batch.length > 1);
        const outcome = await this.readResponse(conn, req, mayRetry);
        if ('retry' in outcome) {
          retried.add(i);
          const unpipelined = pipeline ? ' without pipelining' : '';
          pipeline = false;
          this.drop(`* no response to ${req.target} (${outcome.retry}); retrying on a new connection${unpipelined}\n`);
          break;
        }
        i++;
        if (!outcome.reusable) {
          this.drop(i < requests.length ? `* ${outcome.why}; reconnecting to ${this.origin}\n` : '');
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

  private drop(message: string): void {
    this.info(message);
    this.conn?.destroy();
    this.conn = undefined;
  }

  private async connection(requestCount: number): Promise<Connection> {
    const pipelined = requestCount > 1 ? `; pipelining ${requestCount} requests` : '';
    if (this.conn?.open) {
      this.info(`* reusing connection to ${this.origin}${pipelined}\n`);
      return this.conn;
    }
    this.conn = undefined;
    this.info(`* connecting to ${this.opts.host} port ${this.opts.port}\n`);
    const socket = await this.connect();
    socket.setNoDelay(true);
    this.conn = new Connection(socket);
    this.info(`* connected to ${this.opts.host} (${socket.remoteAddress ?? '?'}) port ${this.opts.port}${pipelined}\n`);
    return this.conn;
  }

  private connect(): Promise<net.Socket> {
    const { host, port, connectTimeoutMs } = this.opts;
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
        return new ClientError(EXIT.HOST_NOT_FOUND, `host not found: ${this.opts.host}`);
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
    mayRetry: boolean,
  ): Promise<Outcome | { retry: string }> {
    const parser = new ResponseParser({ method: this.opts.method });
    const body = new BodyState(this.opts, this.io, this.output);
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
            await body.start(ev.head, ev.framing);
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
            this.reportStatus(body.head, req);
            if (!ev.keepAlive) return { reusable: false, why: body.whyNotReusable() };
            if (this.opts.pipeline) {
              conn.pending = ev.rest;
            } else if (ev.rest.length > 0) {
              return { reusable: false, why: `server sent ${ev.rest.length} bytes after the response` };
            }
            return { reusable: true };
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

  constructor(
    private readonly opts: ClientOptions,
    private readonly io: ClientIO,
    private readonly output: Output,
  ) {}

  async start(head: ResponseHead, framing: Framing): Promise<void> {
    this.head = head;
    this.framing = framing;
    this.output.open();
    this.toTerminal = this.output.toStdout && this.io.stdoutIsTTY && this.opts.output !== '-';
    if (this.opts.method === 'HEAD') {
      await this.output.write(headAsOutput(head));
      return;
    }
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
        return this.opts.method === 'HEAD'
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
