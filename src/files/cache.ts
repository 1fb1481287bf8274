/**
 * Per-worker file cache: what a lookup found for a request path (a file with its validators,
 * headers and — for small files — its bytes; a redirect; a refusal), trusted for
 * `validMs` and then checked again with stat, like nginx's open_file_cache_valid. Bounded by
 * entries and by body bytes; least recently used entries go first.
 *
 * ETags are content hashes, so every worker and every replica serving the same bytes sends
 * the same ETag. A hash is computed once per (device, inode, size, mtime) and kept in its
 * own small table, so revalidating an unchanged file never reads it again.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Coding } from '../http/negotiate';

/** A file on disk as it was when looked at. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/**
 * Bytes that can answer for a file: the file itself, a precompressed sibling on disk, or a
 * compressed copy made in memory (then `path` is the original's and `body` always set).
 */
export interface Representation extends FileIdentity {
  path: string;
  /** Content-Encoding, null for the file as it is. */
  coding: Coding | null;
  etag: string;
  lastModifiedMs: number;
  /** "ETag: ...\r\nLast-Modified: ...\r\n" */
  validatorLines: string;
  /** The whole representation when it is small enough to keep. */
  body: Buffer | null;
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export function identityOf(st: fs.Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

export interface CacheBounds {
  maxEntries: number;
  maxBytes: number;
}

export interface Cached {
  /** When a lookup last confirmed this entry (performance.now() ms). */
  checkedAt: number;
  /** Body bytes this entry holds in memory. */
  bytes: number;
}

export class LruCache<V extends Cached> {
  private readonly map = new Map<string, V>();
  private bytes = 0;

  constructor(private readonly bounds: CacheBounds) {}

  get size(): number {
    return this.map.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      // Re-insert: Map keeps insertion order, so the oldest key is the least recently used.
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    if (this.bounds.maxEntries === 0 || value.bytes > this.bounds.maxBytes) return;
    this.map.set(key, value);
    this.bytes += value.bytes;
    for (const [k, v] of this.map) {
      if (this.map.size <= this.bounds.maxEntries && this.bytes <= this.bounds.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.bytes;
    }
  }

  /** The value without marking it used. */
  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  /**
   * Adds `extra` bytes to `value`, which must still be the one stored under `key` (for
   * results that arrive after the entry was stored). Marks it used and evicts others to make
   * room; false, and nothing changed, when it is no longer stored or would not fit at all.
   */
  grow(key: string, value: V, extra: number): boolean {
    if (this.map.get(key) !== value || value.bytes + extra > this.bounds.maxBytes) return false;
    this.map.delete(key);
    this.map.set(key, value);
    value.bytes += extra;
    this.bytes += extra;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.bounds.maxBytes || k === key) break;
      this.map.delete(k);
      this.bytes -= v.bytes;
    }
    return true;
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
  }
}

const HASH_TABLE_MAX = 20000;
const hashes = new Map<string, string>();

/** One file version: device, inode, size and mtime. */
export function identityKey(id: FileIdentity): string {
  return `${id.dev}:${id.ino}:${id.size}:${id.mtimeMs}`;
}

function remember(key: string, etag: string): string {
  if (hashes.size >= HASH_TABLE_MAX) hashes.delete(hashes.keys().next().value as string);
  hashes.set(key, etag);
  return etag;
}

/** A strong ETag from bytes already in memory. */
export function etagOfBytes(id: FileIdentity, body: Buffer): string {
  const key = identityKey(id);
  return hashes.get(key) ?? remember(key, `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`);
}

/**
 * A strong ETag from a file's contents, read in 1 MiB chunks. Large files cost one read per
 * worker the first time they are asked for (about 1 s per GB here); after that it is a table
 * look-up. Rejects when the file changed while it was read, so a torn hash is never cached.
 */
export async function etagOfFile(path: string, id: FileIdentity): Promise<string> {
  const key = identityKey(id);
  const known = hashes.get(key);
  if (known !== undefined) return known;
  const hash = crypto.createHash('sha256');
  const handle = await fs.promises.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const after = identityOf(await handle.stat());
    if (!sameIdentity(after, id) || pos !== id.size) throw Object.assign(new Error(`${path} changed while it was hashed`), { code: 'ECHANGED' });
  } finally {
    await handle.close();
  }
  return remember(key, `"${hash.digest('base64url').slice(0, 32)}"`);
}

/**
 * Reads a whole small file through one descriptor and checks it is still the file that was
 * stat()ed; null when it changed meanwhile (the caller looks again).
 */
export async function readWhole(path: string, id: FileIdentity): Promise<Buffer | null> {
  const handle = await fs.promises.open(path, 'r');
  try {
    const st = identityOf(await handle.stat());
    if (!sameIdentity(st, id)) return null;
    const body = Buffer.allocUnsafeSlow(id.size);
    let pos = 0;
    while (pos < id.size) {
      const { bytesRead } = await handle.read(body, pos, id.size - pos, pos);
      if (bytesRead === 0) return null;
      pos += bytesRead;
    }
    return body;
  } finally {
    await handle.close();
  }
}
