/**
 * Which certificate answers a TLS server name (SNI), decided once per connection from a table
 * built once per configuration: two map lookups, no scan over the certificates.
 *
 * The rule is RFC 6125 §6.4.3 as browsers apply it: a name matches a certificate's DNS name
 * exactly, case-insensitively, with a trailing dot ignored; a wildcard is only a whole
 * left-most label (`*.example.com`) and stands for exactly one label, so it matches
 * `a.example.com` but neither `example.com` nor `a.b.example.com`. Partial wildcards
 * (`f*.example.com`, `*x.example.com`), wildcards elsewhere (`a.*.example.com`) and wildcards
 * over a single label (`*.com`, `*`) match nothing. An exact name beats a wildcard; between
 * two certificates with the same name, the earlier one wins (the default pair comes first).
 * No server name, or one no certificate has, gets the default.
 */

export interface SniIndex<T> {
  readonly exact: ReadonlyMap<string, T>;
  /** Keyed by the part after `*.`: `*.b.test` is found under `b.test`. */
  readonly wildcard: ReadonlyMap<string, T>;
  readonly fallback: T;
}

/** A host name as SNI carries it and as DNS names are compared: lower-case LDH labels. */
const HOST_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

/**
 * A server name (or a certificate's DNS name without its wildcard) made comparable: ASCII
 * lower case, one trailing dot removed. Null for anything that is not a host name (empty
 * labels, characters outside ASCII letters, digits, "-" and "_"): such a name matches
 * nothing. Only ASCII is lower-cased: toLowerCase would turn the Kelvin sign into "k".
 */
export function normalizeHostName(name: string): string | null {
  if (name.length === 0 || name.length > 254) return null;
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (!/^[\x21-\x7e]+$/.test(trimmed)) return null;
  const lower = trimmed.toLowerCase();
  return HOST_NAME.test(lower) ? lower : null;
}

/** The suffix a wildcard DNS name stands over (`*.b.test` → `b.test`), or null if it is not a usable wildcard. */
export function wildcardSuffix(dnsName: string): string | null {
  if (!dnsName.startsWith('*.')) return null;
  const rest = normalizeHostName(dnsName.slice(2));
  // "*.com" would stand for every name of a top-level domain: never matched (RFC 6125 §7.2).
  return rest !== null && rest.includes('.') ? rest : null;
}

/** Whether a certificate's DNS name can ever match a server name (a host name, or a usable wildcard). */
export function isMatchableDnsName(name: string): boolean {
  if (name.startsWith('*.')) return wildcardSuffix(name) !== null;
  return !name.includes('*') && normalizeHostName(name) !== null;
}

/**
 * The index of `entries` (each a value and the DNS names its certificate holds), in order
 * of precedence, with `fallback` for everything else.
 */
export function buildSniIndex<T>(entries: readonly { readonly names: readonly string[]; readonly value: T }[], fallback: T): SniIndex<T> {
  const exact = new Map<string, T>();
  const wildcard = new Map<string, T>();
  for (const { names, value } of entries) {
    for (const name of names) {
      if (!isMatchableDnsName(name)) continue;
      const [map, key] = name.startsWith('*.') ? [wildcard, wildcardSuffix(name)!] : [exact, normalizeHostName(name)!];
      if (!map.has(key)) map.set(key, value);
    }
  }
  return { exact, wildcard, fallback };
}

/** The value for a server name (null or undefined: the client sent none). */
export function chooseForServerName<T>(index: SniIndex<T>, serverName: string | null | undefined): T {
  if (!serverName) return index.fallback;
  const host = normalizeHostName(serverName);
  if (host === null) return index.fallback;
  const exact = index.exact.get(host);
  if (exact !== undefined) return exact;
  const dot = host.indexOf('.');
  // The wildcard stands for the first label only, which must not be empty (HOST_NAME ensures it).
  if (dot > 0) {
    const wild = index.wildcard.get(host.slice(dot + 1));
    if (wild !== undefined) return wild;
  }
  return index.fallback;
}
