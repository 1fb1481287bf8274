/**
 * Sends a byte range of an open file to a socket with large reads into pooled buffers and
 * at most two chunks in flight: one being written, one read ahead. A write's callback means
 * the kernel took the bytes, so a client that stops reading stops us after two chunks
 * instead of making us buffer the file. No allocation per chunk once the pool is warm.
 */
import fs from 'node:fs';
import type net from 'node:net';

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

export class StreamAborted extends Error {
  override readonly name = 'StreamAborted';
  readonly code = 'FLEETSERVE_STREAM_ABORTED';
}

/**
 * Writes bytes [start, end) of `fd` to `sock`; resolves with the count sent. `alive()` says
 * whether the connection still wants bytes; `waitFor(register)` parks until a write
 * callback (or the socket's close) calls the function it registers.
 */
export async function sendFileRange(
  sock: net.Socket,
  fd: number,
  start: number,
  end: number,
  alive: () => boolean,
  waitFor: (register: (wake: () => void) => void) => Promise<void>,
): Promise<number> {
  let pos = start;
  let inFlight = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const onWritten = (buf: Buffer) => (err?: Error | null) => {
    inFlight--;
    giveBuffer(buf);
    if (err) failure = err;
    const w = wake;
    wake = null;
    w?.();
  };
  while (pos < end) {
    if (failure) throw failure;
    if (!alive()) throw new StreamAborted('connection closed during the body');
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
      throw new StreamAborted(`file ended at byte ${pos} of ${end}`);
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
