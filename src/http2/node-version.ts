/**
 * Whether this Node's HTTP/2 (nghttp2 and node:http2) has the fixes for the known floods
 * (pure). fleetserve adds caps of its own (session.ts), but those sit above node:http2 and
 * cannot mend a leak inside it:
 *
 * - rapid reset, CVE-2023-44487: fixed in 20.8.1;
 * - CONTINUATION flood, CVE-2024-27983: fixed in 20.12.1 (and 21.7.2);
 * - the Http2Session kept after a WINDOW_UPDATE overflow's GOAWAY, CVE-2026-21714: fixed in
 *   20.20.2, 22.22.2, 24.14.1 and 25.8.2 — the newest of the three, so the one that decides.
 *
 * Odd-numbered lines (21, 23, 25) get no fixes once they end; 25.8.2 is named for completeness.
 */
const FIXED_IN: Readonly<Record<number, readonly [number, number, number]>> = {
  20: [20, 20, 2],
  22: [22, 22, 2],
  24: [24, 14, 1],
  25: [25, 8, 2],
};

/** The first version of each line above 25 has them (released after the fixes). */
const NEWEST_LINE_WITH_A_FIX = 25;

/** null when `version` ("v20.20.2" or "20.20.2") may serve HTTP/2; else why not, in one line. */
export function http2Refusal(version: string): string | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null) return `Node ${version} is not a version this server knows`;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major > NEWEST_LINE_WITH_A_FIX) return null;
  const fixed = FIXED_IN[major];
  const need = 'Node 20.20.2, 22.22.2 or 24.14.1 or later';
  if (fixed === undefined) return `Node ${major}.${minor}.${patch} has no fix for CVE-2026-21714 (an HTTP/2 session leak); HTTP/2 needs ${need}`;
  const [, fMinor, fPatch] = fixed;
  if (minor > fMinor || (minor === fMinor && patch >= fPatch)) return null;
  return `Node ${major}.${minor}.${patch} lacks the HTTP/2 fix for CVE-2026-21714 (in ${fixed.join('.')}); HTTP/2 needs ${need}`;
}
