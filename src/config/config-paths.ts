/**
 * Configuration values that are file-system paths, and where in a value they sit.
 *
 * A relative path written in the JSON file is resolved against that file's directory (so a
 * file and the site or logs next to it work from any working directory, as nginx's and
 * systemd's files do); one from an environment variable or a flag against the working
 * directory. loadConfig applies PATH_KEYS twice: to the file's values with the file's
 * directory, when it reads the file, and to the merged values with the working directory
 * (a path the file made absolute stays as it is).
 *
 * A key that holds a path adds one line to PATH_KEYS: `tlsCert: aPath,` for a plain path,
 * `basicAuth: aPathInEachRule('htpasswd'),` for a path inside each rule of an array.
 */
import path from 'node:path';

/**
 * Returns the value with its paths resolved by `resolve`. It may see a value before it is
 * validated (from the file): anything not of the expected shape is returned unchanged, for
 * the key's format to refuse by name.
 */
export type PathsIn = (value: unknown, resolve: (p: string) => string) => unknown;

/** The value is one path; "" (off, or "use the default") stays "". */
export const aPath: PathsIn = (value, resolve) => (typeof value === 'string' && value !== '' ? resolve(value) : value);

/** The value is an array of rules (objects), each of which may hold a path in each of `fields`. */
export function aPathInEachRule(...fields: string[]): PathsIn {
  return (value, resolve) => {
    if (!Array.isArray(value)) return value;
    return value.map((rule: unknown) => {
      if (!rule || typeof rule !== 'object' || Array.isArray(rule)) return rule;
      const out = { ...rule } as Record<string, unknown>;
      for (const field of fields) {
        const p = out[field];
        if (typeof p === 'string' && p !== '') out[field] = resolve(p);
      }
      return out;
    });
  };
}

/** Every key whose value holds a path. */
export const PATH_KEYS: Readonly<Record<string, PathsIn>> = {
  root: aPath,
  accessLogFile: aPath,
  logFile: aPath,
  pidFile: aPath,
  basicAuth: aPathInEachRule('htpasswd'),
  tlsCert: aPath,
  tlsKey: aPath,
  tlsCertificates: aPathInEachRule('cert', 'key'),
  acmeCaFile: aPath,
  acmeStorage: aPath,
};

/** A copy of `values` with the paths of every key in PATH_KEYS resolved against `base`. */
export function resolvePaths<T extends object>(values: T, base: string): T {
  const out = { ...values } as Record<string, unknown>;
  const resolve = (p: string) => path.resolve(base, p);
  for (const [key, pathsIn] of Object.entries(PATH_KEYS)) {
    if (Object.hasOwn(out, key)) out[key] = pathsIn(out[key], resolve);
  }
  return out as T;
}
