/**
 * The body of one response on its way to the output: -i/-I heads, bodies dropped (redirects,
 * -I, -f), --compressed bodies decoded, binary bodies held back from a terminal, the progress
 * bar, and the -v summary line.
 */
import { hasConnectionToken } from '../http/token';
import { countOf } from '../plural';
import type { ClientOptions } from './args';
import { BodyDecoder, contentCodings } from './decode';
import { fieldValue, formatBytes, headAsOutput, isTextual } from './format';
import type { ClientIO } from './io';
import { ProgressBar, type Output } from './output';
import type { Framing, ResponseHead } from './response-grammar';

/** The body of one response on its way to the output. */
export class BodyState {
  head: ResponseHead | undefined;
  chunks = 0;
  private framing: Framing = { kind: 'none' };
  /** Set once the body is kept off the terminal. */
  private heldBack = false;
  private written = 0;
  private toTerminal = false;
  private progress: ProgressBar | undefined;
  /** --compressed: the codings to undo (none: the bytes are written as they come). */
  private codings: string[] = [];
  /** Made at the first body byte, so that an empty body needs no decoder. */
  private decoder: BodyDecoder | undefined;
  private decodedBytes = 0;

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
    // -f: a status of 400 or more writes no body, so not even an empty -o/-O file, as curl -f.
    // Its body is still read (and dropped), so that the connection serves the next path.
    const failed = this.opts.fail && head.status >= 400;
    // -I and -i write every head, the redirects' too, as curl -IL and -iL do (and curl -fi).
    const writesHead = this.opts.headOnly || this.opts.include;
    if (writesHead || !failed) this.output.open();
    this.toTerminal = this.output.toStdout && this.io.stdoutIsTTY && this.opts.output !== '-';
    if (writesHead) await this.output.write(headAsOutput(head));
    // -I with -X GET still makes the head the whole output: the body is read and dropped.
    this.dropped = drop || this.opts.headOnly || failed;
    if (this.dropped || this.method === 'HEAD') return;
    if (this.opts.compressed) {
      this.codings = contentCodings(head.headers.filter(([n]) => n.toLowerCase() === 'content-encoding').map(([, v]) => v));
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
    if (this.dropped) return;
    this.progress?.add(data.length);
    if (this.codings.length === 0) return this.emit(data);
    this.decoder ??= new BodyDecoder(this.codings, (decoded) => this.emit(decoded));
    await this.decoder.write(data);
  }

  /** Body bytes as the output gets them (decoded, with --compressed). */
  private async emit(data: Buffer): Promise<void> {
    this.decodedBytes += data.length;
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

  /** The last body byte arrived: the progress line is finished, and what a decoder holds is written. */
  async end(): Promise<void> {
    this.progress?.finish();
    this.progress = undefined;
    await this.decoder?.end();
  }

  /** Ends the progress line so that the error message starts on a line of its own. */
  abort(): void {
    if (this.progress) this.io.stderr.write('\n');
    this.progress = undefined;
    this.decoder?.destroy();
  }

  whyNotReusable(): string {
    const head = this.head as ResponseHead;
    if (hasConnectionToken(fieldValue(head.headers, 'connection'), 'close')) return 'server closed the connection (Connection: close)';
    if (this.framing.kind === 'close') return 'the body ended with the connection';
    return `${head.version} response without keep-alive`;
  }

  summary(bodyBytes: number): string {
    const decoded = this.decoder ? `, ${this.decodedBytes} once decoded (${this.codings.join(', ')})` : '';
    return this.framingSummary(bodyBytes) + decoded;
  }

  private framingSummary(bodyBytes: number): string {
    const head = this.head as ResponseHead;
    switch (this.framing.kind) {
      case 'none':
        return this.method === 'HEAD'
          ? 'no body (response to HEAD)'
          : `no body (status ${head.status})`;
      case 'length':
        return `${countOf(bodyBytes, 'body byte')} (Content-Length)`;
      case 'chunked':
        return `${countOf(bodyBytes, 'body byte')} (chunked, ${countOf(this.chunks, 'chunk')})`;
      case 'close':
        return `${countOf(bodyBytes, 'body byte')} (read until the server closed the connection)`;
    }
  }
}
