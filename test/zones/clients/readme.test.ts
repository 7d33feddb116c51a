/**
 * The README's "More clients per application" examples, run as written: its clients.json against the
 * demo's xs-security.json, its `zonegate clients` lines through the compiled command, and the bodies
 * of its admin API calls against a real identity server with the demo application registered.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClientsDocument } from '../../../src/config/clients.js';
import { loadXsSecurity } from '../../../src/config/security.js';
import { migrate } from '../../../src/records/migrate.js';
import { openSqliteRecords } from '../../../src/records/sqlite.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { runCli } from '../../support/cli.js';
import { startZones, type Harness } from '../oauth/harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### More clients per application'), readme.indexOf('### xs-security.json'));
const blocks = (lang: string) => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
const demo = loadXsSecurity(path.join(ROOT, 'xs-security.json'));

/** Words of a shell line as sh splits them (single and double quotes; no expansions used in these lines). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

describe('README: more clients per application', () => {
  it('its clients.json is valid for the demo application', () => {
    const declared = checkClientsDocument(JSON.parse(blocks('json')[0]!), 'clients.json', demo);
    expect(declared.clients.map((c) => [c.clientId, c.public])).toEqual([
      ['portal', false],
      ['mobile', true],
      ['acme-erp', true],
      ['partner', false],
    ]);
  });

  describe('its command lines', () => {
    let dir: string;
    let env: Record<string, string>;
    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'zonegate-readme-clients-'));
      env = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: path.join(dir, 'data'), ZONEGATE_SECRET_KEY: '12'.repeat(32) };
      mkdirSync(env.ZONEGATE_DATA_DIR!, { recursive: true, mode: 0o700 });
      const records = openSqliteRecords({ file: path.join(env.ZONEGATE_DATA_DIR!, 'records.db') });
      await migrate(records);
      const directory = createZoneDirectory(records, { secretKey: Buffer.from(env.ZONEGATE_SECRET_KEY!, 'hex') });
      await directory.registerApplication(demo, (await directory.createZone({ subdomain: 'provider' })).id);
      await records.close();
    }, 60_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('run as written, in order', async () => {
      const lines = blocks('sh')[0]!.split('\n').filter((l) => l.startsWith('zonegate clients'));
      expect(lines.length).toBe(6);
      for (const line of lines) {
        const args = words(line.replace(/\s+#.*$/, '')).slice(1);
        const result = await runCli(args, { cwd: dir, env });
        expect(result.code, `${line}\n${result.stderr}`).toBe(0);
      }
    }, 120_000);
  });

  describe('its admin API calls', () => {
    let h: Harness;
    const BOOTSTRAP = 'readme-bootstrap-secret';
    beforeAll(async () => {
      h = await startZones({ bootstrapSecret: BOOTSTRAP });
      await h.directory.registerApplication(demo, h.provider.id);
    });
    afterAll(async () => {
      await h?.close();
    });

    it('answer as the README says', async () => {
      const calls = blocks('sh')[1]!.split(/\n(?=curl )/).filter((c) => c.startsWith('curl '));
      const statuses: number[] = [];
      for (const call of calls) {
        const method = /-X (\w+)/.exec(call)?.[1] ?? 'GET';
        const url = new URL(/"\$UAA([^"]*)"/.exec(call)![1]!, 'http://x');
        const body = /-d '(\{[^']*\})'/.exec(call)?.[1];
        const res = await h.call(undefined, {
          method,
          path: url.pathname + url.search,
          headers: { authorization: `Basic ${Buffer.from(`admin:${BOOTSTRAP}`).toString('base64')}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body } : {}),
        });
        statuses.push(res.status);
        if (method === 'POST') expect(res.json().client_secret).toMatch(/^\S{43}$/);
      }
      expect(statuses).toEqual([201, 200, 200, 200, 200, 200]);
    });
  });
});
