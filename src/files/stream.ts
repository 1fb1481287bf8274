/**
 * File bodies: the one owner of the descriptors a response body is read from. `OpenFile.open`
 * opens a file and checks it is still the version whose length and ETag the head will carry;
 * `sendBody` streams a byte range (or a multipart/byteranges body) and closes the file when
 * it ends, whichever way; `discardBody` closes one that will never be sent.
 *
 * Sending uses large reads into pooled buffers and at most two chunks in flight: one being
 * written, one read ahead. A write's callback means the kernel took the bytes, so a client
 * that stops reading stops us after two chunks instead of making us buffer the file. No
 * allocation per chunk once the pool is warm.
 */
import fs from 'node:fs';
import { FileChangedError, StreamAbortedError } from '../errors';
import { identityOf, sameIdentity, type FileIdentity } from './cache';

/** An open descriptor of one file version; closed exactly once, here. */
export class OpenFile {
  private closed = false;
  private constructor(readonly fd: number) {}

  /** Opens `file.path` and checks it is still `file` (FileChangedError otherwise). */
  static open(file: FileIdentity & { path: string }): Promise<OpenFile> {
    return new Promise((resolve, reject) => {
      fs.open(file.path, 'r', (err, fd) => {
        if (err) return reject(err);
        fs.fstat(fd, (err2, st) => {
          if (err2 || !sameIdentity(identityOf(st), file)) {
            fs.close(fd, () => {});
            return reject(err2 ?? new FileChangedError(`${file.path} changed since it was cached`));
          }
          resolve(new OpenFile(fd));
        });
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.close(this.fd, () => {});
  }
}

/** Bytes of an open file to send: [start, end). */
export interface FileBody {
  kind: 'file';
  file: OpenFile;
  start: number;
  end: number;
}

/** multipart/byteranges from an open file: each part's head, its bytes [start, end), then the tail. */
export interface MultipartBody {
  kind: 'multipart';
  file: OpenFile;
  parts: { head: Buffer; start: number; end: number }[];
  tail: Buffer;
}

/**
 * `alive()`: the connection still wants bytes; `waitFor(register)`: park until a write
 * callback (or the socket's close) calls the function it registers; `progress()`: a write
 * completed (the kernel took its bytes), for the connection's count of what was sent.
 */
export interface SendControl {
  alive: () => boolean;
  waitFor: (register: (wake: () => void) => void) => Promise<void>;
  progress: () => void;
}

/**
 * Where a body goes: a connection's socket (HTTP/1.1, plain or TLS) or an HTTP/2 stream. The
 * callback of a write means the bytes left our hands (the kernel or nghttp2 took them), so a
 * pooled buffer can be used again.
 */
export interface BodySink {
  write(chunk: Buffer, done: (err?: Error | null) => void): boolean;
}

/** The bytes `body` holds: what its head's Content-Length says. */
export function bodyLength(body: FileBody | MultipartBody): number {
  if (body.kind === 'file') return body.end - body.start;
  let n = body.tail.length;
  for (const part of body.parts) n += part.head.length + part.end - part.start;
  return n;
}

/**
 * Streams `body` to `sock` and closes its file; resolves with the body bytes sent, once the
 * kernel has taken the last of them (or the connection went away meanwhile).
 */
export async function sendBody(sock: BodySink, body: FileBody | MultipartBody, ctl: SendControl): Promise<number> {
  try {
    if (body.kind === 'file') return await sendFileRange(sock, body.file.fd, body.start, body.end, ctl);
    let bytes = 0;
    for (const part of body.parts) {
      sock.write(part.head, () => undefined);
      bytes += part.head.length;
      bytes += await sendFileRange(sock, body.file.fd, part.start, part.end, ctl);
    }
    await new Promise<void>((resolve) => sock.write(body.tail, () => resolve()));
    return bytes + body.tail.length;
  } finally {
    body.file.close();
  }
}

/** A body that will never be sent still owns its descriptor. */
export function discardBody(body: Buffer | FileBody | MultipartBody | null): void {
  if (body !== null && !Buffer.isBuffer(body)) body.file.close();
}

export const CHUNK_BYTES = 256 * 1024;
const POOL_MAX = 64;
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveBuffer(buf: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buf);
}

function readInto(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Writes bytes [start, end) of `fd` to `sock` under `ctl` (see SendControl); resolves with the count sent. */
export async function sendFileRange(sock: BodySink, fd: number, start: number, end: number, ctl: SendControl): Promise<number> {
  const { alive, waitFor } = ctl;
  let pos = start;
  let inFlight = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const onWritten = (buf: Buffer) => (err?: Error | null) => {
    inFlight--;
    giveBuffer(buf);
    if (err) failure = err;
    else ctl.progress();
    const w = wake;
    wake = null;
    w?.();
  };
  while (pos < end) {
    if (failure) throw failure;
    if (!alive()) throw new StreamAbortedError('connection closed during the body');
    const buf = takeBuffer();
    let n: number;
    try {
      n = await readInto(fd, buf, Math.min(CHUNK_BYTES, end - pos), pos);
    } catch (err) {
      giveBuffer(buf);
      throw err;
    }
    if (n === 0) {
      giveBuffer(buf);
      // The file shrank after its length was sent: the only honest signal left is a short body.
      throw new StreamAbortedError(`file ended at byte ${pos} of ${end}`);
    }
    pos += n;
    inFlight++;
    sock.write(n === buf.length ? buf : buf.subarray(0, n), onWritten(buf));
    while (inFlight >= 2 && failure === null && alive()) await waitFor((w) => (wake = w));
  }
  while (inFlight > 0 && failure === null && alive()) await waitFor((w) => (wake = w));
  if (failure) throw failure;
  return end - start;
}
