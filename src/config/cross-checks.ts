/**
 * Checks of the merged values as a whole, once each key's own format has passed: keys that
 * conflict with one another (CORS and the header rules, the metrics port and the public
 * port), and the redirect and basic-auth rules one by one, each error naming its rule (for an
 * htpasswd file the line and the user), the htpasswd paths made absolute. The TLS settings
 * are checked the same way by tls/settings.ts.
 */
import { BasicAuthRuleError, checkBasicAuthRules } from '../auth/basic-auth';
import { ConfigError } from '../errors';
import { corsRuleConflict } from '../http/cors';
import { compileRedirectRules, RedirectRuleError } from '../http/redirects';
import type { Config } from './schema';

/** Keys that conflict, then the rules; returns the rules as they are to be used. */
export function checkAcrossKeys(values: Config, baseDir: string): Pick<Config, 'redirects' | 'basicAuth'> {
  const corsConflict = values.cors ? corsRuleConflict(values.headers) : null;
  if (corsConflict !== null) throw new ConfigError(`headers: ${corsConflict}`);
  if (values.metricsPort !== 0 && values.metricsPort === values.port) {
    throw new ConfigError(`metricsPort: ${values.metricsPort} is the public port; metrics need a port of their own`);
  }
  // htpasswd paths are absolute by now (PATH_KEYS: against the file's directory or the working directory).
  return checkPathRules(values, baseDir);
}

/**
 * The redirect and basic-auth rules checked one by one (each error names its rule, and for
 * an htpasswd file the line and the user), the htpasswd paths made absolute against `baseDir`.
 */
function checkPathRules(values: Config, baseDir: string): Pick<Config, 'redirects' | 'basicAuth'> {
  try {
    compileRedirectRules(values.redirects);
  } catch (err) {
    if (err instanceof RedirectRuleError) throw new ConfigError(`redirects: ${err.message}`);
    throw err;
  }
  try {
    return { redirects: values.redirects, basicAuth: checkBasicAuthRules(values.basicAuth, baseDir) };
  } catch (err) {
    if (err instanceof BasicAuthRuleError) throw new ConfigError(`basicAuth: ${err.message}`);
    throw err;
  }
}
