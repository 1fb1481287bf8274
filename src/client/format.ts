/** Text that fleetserve-client shows: dumps, notes and the progress line. Pure functions. */
import { formatByteSize } from '../byte-size';
import { printable, type HeaderField, type ResponseHead } from './response-grammar';

/** Escapes control characters so that a hostile server cannot drive the terminal through the dump. */
export function escapeLine(line: string): string {
  return printable(line, Infinity);
}

export function dumpRequest(lines: readonly string[]): string {
  return lines.map((l) => `> ${escapeLine(l)}\n`).join('') + '>\n';
}

export function statusLine(head: ResponseHead): string {
  return `${head.version} ${head.status}${head.reason === '' ? '' : ' ' + head.reason}`;
}

export function dumpHead(head: ResponseHead): string {
  return [statusLine(head), ...head.headers.map(([n, v]) => `${n}: ${v}`)].map((l) => `< ${escapeLine(l)}\n`).join('') + '<\n';
}

export function dumpTrailers(trailers: readonly HeaderField[]): string {
  return trailers.map(([n, v]) => `< ${escapeLine(`${n}: ${v}`)}\n`).join('');
}

/** The response head as -I prints it to the output: CRLF lines, as curl -I does. */
export function headAsOutput(head: ResponseHead): string {
  return [statusLine(head), ...head.headers.map(([n, v]) => `${n}: ${v}`)].map((l) => l + '\r\n').join('') + '\r\n';
}

export function fieldValue(headers: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/**
 * Whether a Content-Type names text that is safe on a terminal. No Content-Type
 * counts as text: the bytes themselves are then checked for NUL.
 */
export function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  if (mime === '') return true;
  if (mime.startsWith('text/')) return true;
  if (mime.endsWith('+json') || mime.endsWith('+xml')) return true;
  return [
    'application/json',
    'application/xml',
    'application/javascript',
    'application/x-javascript',
    'application/ecmascript',
    'application/x-www-form-urlencoded',
    'image/svg+xml',
  ].includes(mime);
}

export function formatBytes(n: number): string {
  return formatByteSize(n, 'always');
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export interface ProgressState {
  received: number;
  /** undefined when the body length is not announced (chunked or close-delimited). */
  total: number | undefined;
  elapsedMs: number;
  done: boolean;
  /** Terminal width; the bar shrinks to fit. */
  columns: number;
}

/**
 * One progress line: "[#####-----]  45%  4.5 MiB / 10.0 MiB  2.3 MiB/s  ETA 0:03".
 * Without a known total there is no bar, percentage or ETA, only bytes and rate.
 */
export function formatProgress(p: ProgressState): string {
  const rate = p.elapsedMs > 0 ? (p.received * 1000) / p.elapsedMs : 0;
  const rateText = `${formatBytes(Math.round(rate))}/s`;
  const tail = p.done
    ? `done in ${(p.elapsedMs / 1000).toFixed(1)}s`
    : p.total !== undefined && rate > 0
      ? `ETA ${formatDuration(((p.total - p.received) / rate) * 1000)}`
      : p.total !== undefined
        ? 'ETA --:--'
        : '';
  if (p.total === undefined) {
    return [formatBytes(p.received), rateText, tail].filter((s) => s !== '').join('  ');
  }
  const fraction = p.total === 0 ? 1 : Math.min(1, p.received / p.total);
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const text = `${pct}  ${formatBytes(p.received)} / ${formatBytes(p.total)}  ${rateText}  ${tail}`;
  const barWidth = Math.max(10, Math.min(30, p.columns - text.length - 4));
  const filled = Math.round(fraction * barWidth);
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${text}`;
}
