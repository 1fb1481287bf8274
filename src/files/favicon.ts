/**
 * The icon answered at /favicon.ico when the site has none. Browsers ask for /favicon.ico on
 * every page view of a site that does not name an icon, and a 404 there is an access line
 * (and the site's 404.html) each time; a small icon they may keep for a day ends that. A
 * site's own favicon.ico always wins: this is only what a missing one becomes.
 *
 * It is a real .ico (one 32×32 image, stored as PNG, which every browser reads inside an
 * .ico), drawn here once — three white server units on a teal rounded square — so the package ships no
 * binary file and the bytes (and so the ETag) are the same in every worker and release.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Representation } from './cache';
import { fileFields, type FileEntry, type FileHeaderPolicy } from './entry';
import { fileHeaderLines, validatorLines } from '../http/fields';

export const FAVICON_PATH = '/favicon.ico';
/** A day: long enough to stop the requests, short enough for a site that adds its own icon. */
export const FAVICON_CACHE_CONTROL = 'public, max-age=86400';
/** When this drawing was made: its Last-Modified, the same everywhere. */
const DRAWN_AT_MS = Date.UTC(2026, 11, 2);

const SIZE = 32;

const TEAL: [number, number, number, number] = [15, 118, 110, 255];
const WHITE: [number, number, number, number] = [255, 255, 255, 255];
const CLEAR: [number, number, number, number] = [0, 0, 0, 0];

/** RGBA of one pixel: a teal rounded square holding three white units, each with a teal light. */
function pixel(x: number, y: number): [number, number, number, number] {
  const r = 6; // corner radius
  const cx = Math.min(Math.max(x, r), SIZE - 1 - r);
  const cy = Math.min(Math.max(y, r), SIZE - 1 - r);
  if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return CLEAR;
  const unit = [6, 13, 20].find((top) => y >= top && y <= top + 5);
  if (unit === undefined || x < 6 || x > 25) return TEAL;
  const light = x >= 9 && x <= 10 && y >= unit + 2 && y <= unit + 3;
  return light ? TEAL : WHITE;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 as PNG chunks use it (zlib.crc32 is not in every Node 20). */
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

function drawPng(): Buffer {
  const rows = Buffer.alloc(SIZE * (1 + SIZE * 4)); // each row: filter byte 0 (none), then RGBA
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) Buffer.from(pixel(x, y)).copy(rows, y * (1 + SIZE * 4) + 1 + x * 4);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIZE, 0);
  header.writeUInt32BE(SIZE, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, no filter set, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', zlib.deflateSync(rows, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The .ico file: its header, one directory entry, then the PNG. */
export function drawFavicon(): Buffer {
  const png = drawPng();
  const head = Buffer.alloc(6 + 16);
  head.writeUInt16LE(0, 0); // reserved
  head.writeUInt16LE(1, 2); // type: icon
  head.writeUInt16LE(1, 4); // one image
  head.writeUInt8(SIZE, 6);
  head.writeUInt8(SIZE, 7);
  head.writeUInt8(0, 8); // no palette
  head.writeUInt8(0, 9);
  head.writeUInt16LE(1, 10); // colour planes
  head.writeUInt16LE(32, 12); // bits per pixel
  head.writeUInt32LE(png.length, 14);
  head.writeUInt32LE(head.length, 18); // the image follows the header
  return Buffer.concat([head, png]);
}

let representation: Representation | null = null;

/** Drawn on first use, then the same bytes for the life of the process. */
function faviconRepresentation(): Representation {
  if (representation === null) {
    const body = drawFavicon();
    const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
    representation = { dev: 0, ino: 0, size: body.length, mtimeMs: DRAWN_AT_MS, path: '(built-in favicon)', coding: null, etag, lastModifiedMs: DRAWN_AT_MS, validatorLines: validatorLines(etag, DRAWN_AT_MS), body };
  }
  return representation;
}

/**
 * The built-in icon as a file entry at /favicon.ico, so it is answered like a file (ETag,
 * If-None-Match, HEAD, ranges) with the header rules of that path (and the CORS lines); only
 * its Cache-Control default is its own.
 */
export function builtInFavicon(policy: FileHeaderPolicy): FileEntry {
  const rep = faviconRepresentation();
  // The site's header rules and CORS lines apply; the Cache-Control default is the icon's own.
  const fields = fileFields({ ...policy, cacheControl: FAVICON_CACHE_CONTROL, immutableCacheControl: '' }, 'favicon.ico', FAVICON_PATH);
  const entry: FileEntry = {
    kind: 'file',
    rep,
    variants: [],
    codings: [],
    contentType: fields.contentType,
    headerLines: fileHeaderLines(fields, false),
    heads: [],
    compressKey: null,
    checkedAt: performance.now(),
    bytes: rep.size,
  };
  return entry;
}
