/**
 * --compressed: the Accept-Encoding the client sends, and a body's Content-Encoding undone with
 * node:zlib as its bytes arrive, as curl --compressed does. Decoded bytes go to a sink in
 * order, with backpressure; a coding without a decoder, or bytes that do not decode, end the
 * transfer with BadContentEncodingError (curl's exit 61).
 */
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { BadContentEncodingError, ClientError } from './errors';

/** zstd is in node:zlib from Node 22.15 / 23.8: detected, never assumed. */
const zstd = zlib as typeof zlib & { createZstdDecompress?: () => Transform };

const DECODERS: ReadonlyMap<string, () => Transform> = new Map<string, () => Transform>([
  ['deflate', () => zlib.createInflate()],
  ['gzip', () => zlib.createGunzip()],
  // RFC 9110 section 8.4.1.3: a recipient should take x-gzip as gzip.
  ['x-gzip', () => zlib.createGunzip()],
  ['br', () => zlib.createBrotliDecompress()],
  ...(typeof zstd.createZstdDecompress === 'function' ? [['zstd', () => zstd.createZstdDecompress!()] as const] : []),
]);

/** What --compressed asks for: every coding this Node.js decodes (x-gzip is only an alias). */
export const ACCEPT_ENCODING = [...DECODERS.keys()].filter((c) => c !== 'x-gzip').join(', ');

/** The codings of a response's Content-Encoding fields, in the order they were applied; identity dropped. */
export function contentCodings(values: readonly string[]): string[] {
  return values
    .join(',')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

/** Undoes `codings` (the last applied first) on the bytes written to it. */
export class BodyDecoder {
  private readonly input: Transform;
  /** Settles when the last decoded byte has reached the sink, or the pipeline failed (never rejects). */
  private readonly done: Promise<void>;
  private failure: ClientError | undefined;

  /** Throws BadContentEncodingError for a coding without a decoder. */
  constructor(codings: readonly string[], sink: (data: Buffer) => Promise<void>) {
    const unknown = codings.find((c) => !DECODERS.has(c));
    if (unknown !== undefined) {
      throw new BadContentEncodingError(`cannot decode Content-Encoding "${unknown}" (--compressed decodes ${ACCEPT_ENCODING})`);
    }
    const stages = [...codings].reverse().map((c) => (DECODERS.get(c) as () => Transform)());
    this.input = stages[0] as Transform;
    const deliver = async (source: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of source) await sink(chunk);
    };
    // The typings take a fixed number of stages; at run time pipeline takes any.
    const run = pipeline as unknown as (...parts: unknown[]) => Promise<void>;
    this.done = run(...stages, deliver).catch((err: unknown) => {
      this.failure =
        err instanceof ClientError
          ? err
          : new BadContentEncodingError(`cannot decode the ${codings.join(', ')} body: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  async write(data: Buffer): Promise<void> {
    // A failed pipeline has destroyed its streams; `done` is about to say why.
    if (this.input.destroyed) await this.done;
    this.check();
    if (!this.input.write(data)) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          this.input.off('drain', go);
          resolve();
        };
        this.input.on('drain', go);
        void this.done.then(go);
      });
    }
    this.check();
  }

  /** Flushes what the decoders hold; throws if the body did not decode to its end (a cut gzip stream, say). */
  async end(): Promise<void> {
    if (!this.input.destroyed) this.input.end();
    await this.done;
    this.check();
  }

  /** Stops decoding (the transfer failed for another reason); the pipeline settles on its own. */
  destroy(): void {
    this.input.destroy();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}
