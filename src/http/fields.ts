/**
 * Header field lines a file's entry is built with (lookup builds them once per file version)
 * and render puts into heads: plain strings, no response built here.
 */
import { formatHttpDate } from './http-date';

export const SERVER_HEADERS = 'X-Content-Type-Options: nosniff\r\n';

/** One header line. */
export function fieldLine(name: string, value: string): string {
  return `${name}: ${value}\r\n`;
}

/** "ETag: ...\r\nLast-Modified: ...\r\n" of a representation, built once per representation. */
export function validatorLines(etag: string, lastModifiedMs: number): string {
  return `ETag: ${etag}\r\nLast-Modified: ${formatHttpDate(lastModifiedMs)}\r\n`;
}

/** A file's own fields, after the configured header rules (see files/entry.ts). */
export interface FileFieldValues {
  cacheControl: string;
  vary: string;
  /** The X-Content-Type-Options line (the server's, or a rule's). */
  nosniff: string;
  /** The lines of the other configured fields. */
  configured: string;
}

/**
 * The header lines every answer for a file carries. `otherCodings`: the file has (or will
 * have) other codings, so every answer says so, the uncompressed one included, or a shared
 * cache would hand it to every client.
 */
export function fileHeaderLines(f: FileFieldValues, otherCodings: boolean): string {
  const vary = otherCodings ? (f.vary === '' ? 'Accept-Encoding' : `Accept-Encoding, ${f.vary}`) : f.vary;
  let lines = `Cache-Control: ${f.cacheControl}\r\nAccept-Ranges: bytes\r\n`;
  if (vary !== '') lines += `Vary: ${vary}\r\n`;
  return lines + f.nosniff + f.configured;
}
