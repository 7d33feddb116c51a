/**
 * Reload without restart (issue 17, Operate): what a new reading of the configuration may change
 * while the gateway serves, what only a restart applies, and the opt-in file watch. The swap itself
 * is the gateway's (`Gateway.reconfigure`), decided in src/server/start.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/environment.js';
import type { Destination } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Configuration } from './configuration.js';

/** What a reload did: applied (with what changed), or refused (with every problem, as start-up lists them). */
export type ReloadOutcome =
  | {
      applied: true;
      routes: number;
      destinations: { added: string[]; removed: string[]; changed: string[] };
      /** Settings that differ from the running ones and are not applied: they need a restart. */
      needsRestart: string[];
    }
  | { applied: false; problems: string[] };

/**
 * The settings the process is built around (ports, tenant pattern, stores, keys, identity): a
 * different value is reported, never applied. Everything but `destinations` is such a setting.
 */
export function settingsNeedingRestart(running: Configuration, next: Configuration): string[] {
  const changed: string[] = [];
  for (const key of Object.keys(running.settings) as (keyof Settings)[]) {
    if (key === 'destinations') continue;
    if (comparable(running.settings[key]) !== comparable(next.settings[key])) changed.push(key);
  }
  if (comparable(running.security) !== comparable(next.security)) changed.push('xs-security.json');
  if (comparable(running.clients) !== comparable(next.clients)) changed.push('clients.json');
  return changed;
}

export function destinationChanges(running: readonly Destination[], next: readonly Destination[]): { added: string[]; removed: string[]; changed: string[] } {
  const before = new Map(running.map((d) => [d.name, comparable(d)]));
  const after = new Map(next.map((d) => [d.name, comparable(d)]));
  return {
    added: [...after.keys()].filter((name) => !before.has(name)),
    removed: [...before.keys()].filter((name) => !after.has(name)),
    changed: [...after].filter(([name, value]) => before.has(name) && before.get(name) !== value).map(([name]) => name),
  };
}

/** A value as text that is equal for equal settings: regexes, keys and URLs by content; functions are left out. */
function comparable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RegExp) return `/${v.source}/${v.flags}`;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (v instanceof URL) return v.href;
    if (v instanceof Map) return [...v];
    if (v instanceof Set) return [...v];
    return v;
  }) ?? 'undefined';
}

/** Changes to a file come in bursts (an editor writes, renames, touches): one reload for a burst. */
const DEBOUNCE_MS = 200;

/**
 * `ZONEGATE_WATCH_CONFIG=true`: watches the files a reload reads and calls `reload` once after a
 * burst of changes. The directories are watched, not the files: an editor that saves by writing a
 * new file and renaming it over the old one would leave a watch on the file watching nothing.
 * Returns the function that stops watching.
 */
export function watchConfigurationFiles(files: readonly string[], reload: () => void, logger: Logger): () => void {
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const dir = path.dirname(file);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(path.basename(file));
  }
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(reload, DEBOUNCE_MS);
    timer.unref();
  };
  const watchers: fs.FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        // Some platforms do not say which file changed: then any change in the directory counts.
        if (name === null || names.has(name.toString())) changed();
      });
      watcher.on('error', (err) => logger.warn('configuration watch failed; SIGHUP still reloads', { directory: dir, error: String(err) }));
      watchers.push(watcher);
    } catch (err) {
      logger.warn('cannot watch the configuration; SIGHUP still reloads', { directory: dir, error: String(err) });
    }
  }
  logger.info('watching the configuration files', { files: [...files] });
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
