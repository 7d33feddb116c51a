import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

describe('the sessions boundary (issue 11, item 5)', () => {
  it('keeps express-session behind src/sessions/: no other module imports it', () => {
    const importers = (readdirSync(SRC, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts') && !file.startsWith(`sessions${path.sep}`))
      .filter((file) => /from ['"]express-session['"]|import\(['"]express-session['"]\)/.test(readFileSync(path.join(SRC, file), 'utf8')));
    expect(importers).toEqual([]);
  });
});
