/** Byte counts for people, in binary units: a directory listing's sizes and the client's progress line. */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/**
 * "512 B", "1.5 KiB", ... `decimals`: 'always' keeps one decimal ("10.0 MiB", steady in a
 * progress line that updates in place); 'below-ten' drops it from 10 up ("200 MiB", a column).
 */
export function formatByteSize(bytes: number, decimals: 'always' | 'below-ten'): string {
  if (bytes < 1024) return `${bytes} B`;
  let v = bytes;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < UNITS.length - 1);
  return `${decimals === 'always' || v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}
