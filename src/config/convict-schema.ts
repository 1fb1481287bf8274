/**
 * convict, as the loader uses it: the schema with our formats, built with the environment to
 * read (never process.env itself), one key's value checked alone, and convict's messages in
 * one line of our words.
 */
import convict from 'convict';
import { ConfigError } from '../errors';
import { FORMATS } from './formats';
import { DEFS, SCHEMA, type Config } from './schema';

convict.addFormats(FORMATS);

export type Schema = convict.Config<Config>;

/**
 * convict reads env itself; flags are applied by mergeSources with set(), after the file, so
 * the precedence stays defaults < file < env < flags. (convict's own argv parser would turn
 * "--root 1.10" into the number 1.1 and keep only the first of two repeated flags.)
 */
export function makeSchema(env: NodeJS.ProcessEnv): Schema {
  return convict(SCHEMA as convict.Schema<Config>, { args: [], env }) as unknown as Schema;
}

/**
 * convict's (possibly multi-line) error as one line in our words: every line trimmed, blank
 * ones dropped, the rest joined with "; ".
 */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((s) => s.trim().replace(/must be of type String/g, 'must be a string'))
    .filter(Boolean)
    .join('; ');
}

export function isPlainObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON object where the key takes none ("headers": {...} instead of an array of rules):
 * refused with the key's own rule. convict would read an object as nested keys and fail
 * with "not declared" or a TypeError, so it must never get one. The rule comes from the
 * key's format, checked alone on a throwaway schema whose default is an object (convict
 * validates an object whole there).
 */
export function refuseObject(key: string, value: unknown, where: string): void {
  const def = DEFS[key]!;
  if (!isPlainObject(value) || isPlainObject(def.default)) return;
  const probe = convict({ [key]: { format: def.format, default: {} } } as never, { args: [], env: {} });
  probe.set(key as never, value as never);
  try {
    probe.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`${oneLine((err as Error).message)}${where}`);
  }
  throw new ConfigError(`${key}: must not be a JSON object: value was ${JSON.stringify(value)}${where}`);
}
