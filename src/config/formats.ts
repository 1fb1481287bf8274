/**
 * The value formats the schema names (schema.ts), for convict: how each checks a value and
 * how a value given as text (env, flag) becomes one. A table: one entry per format; the
 * checks of rules and lists are the modules that use them (cache-policy, cors, redirects, …).
 */
import type convict from 'convict';
import net from 'node:net';
import { booleanWord } from './command-line';
import { compileHeaderRules, type HeaderRule } from '../http/cache-policy';
import { corsOriginsProblem } from '../http/cors';
import { BUILD_TOOLS_ENTRY, compileImmutablePaths } from '../http/immutable-paths';
import { checkTrustedProxies, trustedProxiesFromText } from '../http/trusted-proxies';
import { hstsProblem } from '../tls/hsts';
import { challengesProblem, domainsProblem, emailProblem, listFromText } from '../acme/names';

function toStrictBoolean(v: unknown): unknown {
  if (typeof v === 'boolean') return v;
  return booleanWord(String(v)) ?? v; // left as is so validate() names it
}

/**
 * A JSON array given as text (env, flag), parsed. Anything else is left as the text, so that
 * validate() names it: convict would take a parsed object for nested keys of the setting and
 * answer "configuration param 'headers' missing from config, did you override its parent?".
 */
function parseJsonArrayText(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed : v;
  } catch {
    return v;
  }
}

/** A format whose check says its problem (null: none), with an optional coercion from text. */
function problemFormat(problem: (v: unknown) => string | null, coerce?: (v: unknown) => unknown): convict.Format {
  return {
    validate(v: unknown) {
      const p = problem(v);
      if (p !== null) throw new Error(p);
    },
    ...(coerce ? { coerce } : {}),
  };
}

/** Every format by name, as convict.addFormats() takes them. */
export const FORMATS: Readonly<Record<string, convict.Format>> = {
  'strict-boolean': {
    validate(v: unknown) {
      if (typeof v !== 'boolean') throw new Error('must be true or false (or 1/0, yes/no, on/off)');
    },
    coerce: toStrictBoolean,
  },
  'host-address': {
    validate(v: unknown) {
      if (typeof v !== 'string' || v.length === 0) throw new Error('must be an IP address or a host name');
      if (net.isIP(v) !== 0) return;
      if (!/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)) {
        throw new Error('must be an IP address or a host name');
      }
    },
  },
  'port-number': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new Error('must be a port number from 0 to 65535');
    },
    // Only plain digits: "8080abc", "80.5", "1e3" or "0x50" are mistakes, not ports.
    coerce: (v: unknown) => (typeof v === 'string' && /^\d{1,5}$/.test(v.trim()) ? Number(v) : v),
  },
  'whole-number': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new Error('must be a whole number ≥ 0');
      }
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
  },
  'positive-number': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
        throw new Error('must be a whole number ≥ 1');
      }
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
  },
  'brotli-quality': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 11) throw new Error('must be a whole number from 0 to 11');
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d{1,2}$/.test(v.trim()) ? Number(v) : v),
  },
  'health-path': {
    validate(v: unknown) {
      // Compared with the request's path as sent (before percent-decoding, without the query).
      if (typeof v !== 'string' || (v !== '' && !/^\/[!-~]*$/.test(v)) || /[?#]/.test(v)) {
        throw new Error('must be "" (off) or a path starting with "/" (visible ASCII, no "?" or "#")');
      }
    },
  },
  'log-pretty': {
    validate(v: unknown) {
      if (v !== 'auto' && v !== 'true' && v !== 'false') throw new Error('must be auto, true or false');
    },
    coerce: (v: unknown) => {
      const b = toStrictBoolean(v);
      return typeof b === 'boolean' ? String(b) : String(v).trim().toLowerCase();
    },
  },
  'trusted-proxies': {
    validate: checkTrustedProxies,
    coerce: trustedProxiesFromText,
  },
  // Only the shape here (convict would add "value was ..." to every message); each rule is
  // checked after the merge, by checkPathRules, with a message naming it.
  'rule-list': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error('must be a JSON array of rules');
    },
    // Only an array is taken from text: an object given to convict's set() would be read as
    // nested keys, with a message about the schema instead of this one.
    coerce: parseJsonArrayText,
  },
  'tls-certificates': {
    validate(v: unknown) {
      const shape = 'must be an array of {"cert": FILE, "key": FILE}';
      if (!Array.isArray(v)) throw new Error(shape);
      v.forEach((e: unknown, i) => {
        const ok = e !== null && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).sort().join() === 'cert,key';
        const { cert, key } = (ok ? e : {}) as { cert?: unknown; key?: unknown };
        if (!ok || typeof cert !== 'string' || cert === '' || typeof key !== 'string' || key === '') {
          throw new Error(`${shape}: entry ${i} is ${JSON.stringify(e)}`);
        }
      });
    },
    coerce: parseJsonArrayText,
  },
  hsts: {
    validate(v: unknown) {
      if (typeof v !== 'string') throw new Error('must be a Strict-Transport-Security value, or "" (off)');
      const problem = hstsProblem(v);
      if (problem) throw new Error(problem);
    },
  },
  'header-rules': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error('must be an array of {"glob": "...", "headers": {"Name": "value"}}');
      for (const rule of v) {
        if (!rule || typeof rule !== 'object' || typeof rule.glob !== 'string' || !rule.headers || typeof rule.headers !== 'object') {
          throw new Error(`each rule must be {"glob": "...", "headers": {...}}: got ${JSON.stringify(rule)}`);
        }
      }
      compileHeaderRules(v as HeaderRule[]); // throws with the bad rule named
    },
    coerce: parseJsonArrayText,
  },
  'immutable-paths': {
    validate(v: unknown) {
      if (!Array.isArray(v)) throw new Error(`must be an array of globs and "${BUILD_TOOLS_ENTRY}", e.g. ["${BUILD_TOOLS_ENTRY}", "/fonts/**"]`);
      compileImmutablePaths(v); // throws with the bad entry named
    },
    coerce: parseJsonArrayText,
  },
  'acme-domains': problemFormat(domainsProblem, listFromText),
  'acme-challenge': problemFormat(challengesProblem, listFromText),
  'acme-email': problemFormat(emailProblem),
  'https-url': problemFormat((v) => (typeof v === 'string' && /^https:\/\/[^\s/]+/.test(v) ? null : 'must be an https:// URL')),
  'acme-retry-ms': {
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1000) throw new Error('must be a whole number of milliseconds ≥ 1000');
    },
    coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
  },
  'cors-origins': {
    validate(v: unknown) {
      const problem = corsOriginsProblem(v);
      if (problem !== null) throw new Error(problem);
    },
    coerce: parseJsonArrayText,
  },
};
