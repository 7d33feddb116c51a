/**
 * `zonegate --version`: the version of the package this file was installed with. package.json is
 * found by walking up from this module, so the answer is the same from the checkout (src/ under
 * vitest, dist/src/ built) and from an installed package (`npm pack` always ships package.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'zonegate' && typeof pkg.version === 'string') return pkg.version;
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json of zonegate above ${from}`);
  }
}
