/**
 * The values of the ACME keys, checked before anything is started (pure): the names a
 * certificate is ordered for, the challenge types, the contact address. Each problem is the
 * text after the key's name in the configuration error.
 */

/** A DNS name an ACME CA can validate over HTTP-01 or TLS-ALPN-01: letters, digits and hyphens in labels, at least two labels. */
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^\d+(?:\.\d+){3}$/;

/** The challenge types fleetserve answers: HTTP-01 on httpPort, TLS-ALPN-01 on the TLS port. */
export const CHALLENGE_TYPES = ['http-01', 'tls-alpn-01'] as const;

/** Why `name` cannot be ordered (null: it can). */
export function domainProblem(name: string): string | null {
  if (name.startsWith('*.')) return `"${name}" is a wildcard name, which only a DNS-01 challenge can prove (fleetserve answers HTTP-01 and TLS-ALPN-01)`;
  if (IPV4.test(name) || name.includes(':')) return `"${name}" is an IP address; ACME certificates here are for DNS names`;
  if (name !== name.toLowerCase()) return `"${name}" must be written in lower case`;
  if (!DNS_NAME.test(name)) return `"${name}" is not a DNS name (labels of letters, digits and hyphens, at least two of them)`;
  return null;
}

/** Why the list of names is not usable (null: it is). */
export function domainsProblem(v: unknown): string | null {
  if (!Array.isArray(v) || v.some((n) => typeof n !== 'string')) return 'must be a list of DNS names (example.com,www.example.com or a JSON array)';
  const seen = new Set<string>();
  for (const name of v as string[]) {
    const problem = domainProblem(name);
    if (problem !== null) return problem;
    if (seen.has(name)) return `"${name}" is listed twice`;
    seen.add(name);
  }
  return null;
}

export function challengesProblem(v: unknown): string | null {
  if (!Array.isArray(v) || v.length === 0) return 'must name at least one challenge type: http-01, tls-alpn-01';
  const seen = new Set<unknown>();
  for (const type of v) {
    if (!(CHALLENGE_TYPES as readonly unknown[]).includes(type)) return `${JSON.stringify(type)} is not a challenge type fleetserve answers (http-01, tls-alpn-01)`;
    if (seen.has(type)) return `"${String(type)}" is listed twice`;
    seen.add(type);
  }
  return null;
}

/** A contact address as the CA takes it (mailto:), loosely: one @, no spaces. */
export function emailProblem(v: unknown): string | null {
  if (typeof v !== 'string') return 'must be an e-mail address';
  if (v === '' || /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/.test(v)) return null;
  return `"${v}" is not an e-mail address`;
}

/** A list given as text (env, flag): JSON, or comma-separated words. */
export function listFromText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const text = v.trim();
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return v;
    }
  }
  return text === '' ? [] : text.split(',').map((s) => s.trim());
}
