/**
 * "Did you mean …?" for a mistyped name (a config key in a file, a flag): the known name
 * nearest to what was typed, by edit distance, or none when nothing is close enough to be a
 * typo. Pure; shared by the config loader and the command-line readers.
 */

/**
 * Case and separators do not count: `drain-timeout-ms`, `drainTimeoutMs` and
 * `DRAIN_TIMEOUT_MS` are the same name written three ways.
 */
function normalized(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/**
 * Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
 * neighbours each cost 1, so "prot" is 1 from "port" and "lisitng" 1 from "listing" (plain
 * Levenshtein counts a swap as 2).
 */
export function editDistance(a: string, b: string): number {
  // Three rows: the one before the previous is needed for a swap.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known name nearest to `typed`, or undefined when none is within a typo's reach: one
 * edit for short names, then one more per four characters, at most three (so "bogus" or
 * "frobnicate" suggest nothing rather than something unrelated). On a tie the first known
 * name wins.
 */
export function nearestName(typed: string, known: readonly string[]): string | undefined {
  const t = normalized(typed);
  if (t === '') return undefined;
  const reach = Math.min(3, Math.max(1, Math.floor(t.length / 4)));
  let best: string | undefined;
  let bestDistance = reach + 1;
  for (const name of known) {
    const d = editDistance(t, normalized(name));
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}
