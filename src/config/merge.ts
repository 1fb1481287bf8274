/**
 * The sources merged in convict's precedence, defaults < JSON file < env < flags, and each
 * key checked by its format, a bad value's message saying where it came from. The values
 * come out validated; their paths are not resolved yet.
 */
import path from 'node:path';
import { readConfigFile, type ConfigFile } from './config-file';
import { makeSchema, oneLine, refuseObject, type Schema } from './convict-schema';
import { ConfigError } from '../errors';
import { DEFS, type Config } from './schema';

/** Where a key's value came from, as a message adds it: "", " (from PORT)", " (from /etc/x.json)". */
export type Where = (key: string) => string;

export interface Merged {
  values: Config;
  /** The JSON file, when one was named. */
  file?: ConfigFile;
  where: Where;
}

/**
 * Merges and validates. `flags` are [key, value] from the command line in its order (a
 * repeated flag's last value wins); a relative --config is taken from `cwd`. Throws
 * ConfigError.
 */
export function mergeSources(flags: readonly (readonly [string, string])[], env: NodeJS.ProcessEnv, cwd: string): Merged {
  let instance: Schema;
  try {
    instance = makeSchema(env);
  } catch (err) {
    throw new ConfigError(oneLine((err as Error).message));
  }
  // The file is named by the last --config flag, else FLEETSERVE_CONFIG (already in instance).
  const fileFlag = flags.filter(([key]) => key === 'config').pop();
  const name = fileFlag ? fileFlag[1] : instance.get('config');
  const file = name ? readConfigFile(path.resolve(cwd, name)) : undefined;
  if (file) {
    try {
      instance.load(file.data);
    } catch (err) {
      throw new ConfigError(`config: ${file.file}: ${oneLine((err as Error).message)}`);
    }
  }
  for (const [key, value] of flags) instance.set(key as keyof Config, value as never);
  const where = sources(new Set(flags.map(([key]) => key)), env, file);
  // A JSON object from an env var or a flag ("--headers '{...}'"), as from the file.
  for (const [key, value] of Object.entries(instance.getProperties())) refuseObject(key, value, where(key));
  try {
    instance.validate({ allowed: 'strict' });
  } catch (err) {
    // convict's lines start with the key: each is told where its value came from.
    throw new ConfigError(oneLine((err as Error).message.replace(/^(\w+): .*$/gm, (line, key: string) => line + where(key))));
  }
  return { values: instance.getProperties() as Config, ...(file ? { file } : {}), where };
}

/**
 * Where each key's value came from, for messages: "" from a flag (the user just typed it) or
 * the default, " (from FLEETSERVE_ROOT)" from the environment, " (from /etc/x.json)" from
 * the file.
 */
function sources(flagKeys: ReadonlySet<string>, env: NodeJS.ProcessEnv, file: ConfigFile | undefined): Where {
  return (key) => {
    if (flagKeys.has(key)) return '';
    const def = DEFS[key];
    if (def && env[def.env] !== undefined) return ` (from ${def.env})`;
    if (file && Object.hasOwn(file.data, key)) return ` (from ${file.file})`;
    return '';
  };
}
