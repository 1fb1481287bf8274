/** Where fleetserve-client's bodies go (stdout, the -o file, the -O files) and its progress bar. */
import * as fs from 'node:fs';
import { OutputError } from './errors';
import { formatProgress } from './format';
import type { ClientIO } from './io';

/** How often the progress line is redrawn at most. */
const PROGRESS_INTERVAL_MS = 200;

/** Where bodies go: stdout, or the -o file, opened only once there is a response to put in it. */
export class Output {
  private fd: number | undefined;
  private stdoutError: Error | undefined;

  constructor(
    private file: string | undefined,
    private readonly stdout: NodeJS.WritableStream,
  ) {
    stdout.on('error', (err: Error) => {
      this.stdoutError = err;
    });
  }

  get toStdout(): boolean {
    return this.file === undefined;
  }

  /** -O: the next bodies go to this file (the previous one is closed). */
  useFile(file: string): void {
    if (file === this.file) return;
    this.close();
    this.file = file;
  }

  /** -w text: always stdout, after the body when the body goes there too. */
  async writeStdout(text: string): Promise<void> {
    const file = this.file;
    this.file = undefined;
    try {
      await this.write(Buffer.from(text, 'utf8'));
    } finally {
      this.file = file;
    }
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
      throw new OutputError(`cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Creates (truncates) the file, so that a failed connection leaves an existing file alone. */
  open(): void {
    if (this.file === undefined || this.fd !== undefined) return;
    try {
      this.fd = fs.openSync(this.file, 'w');
    } catch (err) {
      throw new OutputError(`cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch (err) {
      throw new OutputError(`cannot write ${this.file}: ${(err as Error).message}`);
    }
  }

  private checkStdout(): void {
    if (this.stdoutError) {
      throw new OutputError(`cannot write to stdout: ${this.stdoutError.message}`);
    }
  }
}

export class ProgressBar {
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
