/**
 * The JSON file (--config or FLEETSERVE_CONFIG): read, every key checked against the schema,
 * values convict would misread refused or turned into the words it reads, and relative paths
 * made absolute against the file's own directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { booleanWord } from './command-line';
import { resolvePaths } from './config-paths';
import { isPlainObject, refuseObject } from './convict-schema';
import { ConfigError } from '../errors';
import { nearestName } from './nearest-name';
import { DEFS, type KeyDef } from './schema';

/** The JSON file's values, checked and with their paths resolved against its directory. */
export interface ConfigFile {
  /** The file's absolute path. */
  file: string;
  data: Record<string, unknown>;
}

/**
 * Reads and checks the JSON file before convict sees it: every key must be one of ours (a
 * typo gets the nearest key), no value may be an object where the key takes none (convict
 * would read it as nested keys, or crash), and relative paths are made absolute against the
 * file's directory. Throws ConfigError.
 */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(data)) throw new ConfigError(`config: ${file} must hold a JSON object`);
  const values = data as Record<string, unknown>;
  if (Object.hasOwn(values, 'config')) throw new ConfigError(`config: ${file} may not name another config file`);
  const known = Object.keys(DEFS).filter((k) => k !== 'config');
  for (const key of Object.keys(values)) {
    if (Object.hasOwn(DEFS, key)) continue;
    const near = nearestName(key, known);
    // A key that is not a plain name ("", "a b") is quoted, so the line still reads.
    const shown = /^[\w.$-]+$/.test(key) ? key : JSON.stringify(key);
    throw new ConfigError(`${shown}: unknown key in ${file} (${near ? `did you mean ${near}?` : 'fleetserve --help lists the keys'})`);
  }
  for (const [key, value] of Object.entries(values)) {
    refuseObject(key, value, ` (from ${file})`);
    values[key] = jsonWord(DEFS[key]!, value);
  }
  return { file, data: resolvePaths(values, path.dirname(file)) };
}

/**
 * A JSON number or boolean for a key whose format reads words (true/false, 1/0, ...): the
 * word, so that `"listing": 1` and `"logPretty": false` mean what they say (convict coerces
 * strings only).
 */
function jsonWord(def: KeyDef, value: unknown): unknown {
  if (def.format !== 'strict-boolean' && def.format !== 'log-pretty') return value;
  if (typeof value !== 'number' && typeof value !== 'boolean') return value;
  return booleanWord(String(value)) === undefined ? value : String(value);
}
