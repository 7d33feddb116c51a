import { readSettings, type Environment } from '../../src/config/environment.js';
import { ConfigError } from '../../src/errors.js';

/** What readSettings refuses in `env`, a line a problem (`<file> <JSON path>: <message>`); [] when it accepts it. */
export function settingsProblems(env: Environment, cwd: string): string[] {
  try {
    readSettings(env, { cwd });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.file}${p.path ? ` ${p.path}` : ''}: ${p.message}`);
    throw err;
  }
  return [];
}
