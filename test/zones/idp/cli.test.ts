/**
 * `zonegate idps` and `zonegate role-mappings` (issue 13), the compiled command spawned on a data
 * directory of its own: the admin API's documents and checks from the command line, secrets sealed
 * in the records database, usage errors and refusals with their exit codes. Build first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteRecords } from '../../../src/records/sqlite.js';
import { ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import { CLI, runCli } from '../../support/cli.js';
import { startTestSamlIdp, type TestSamlIdp } from './saml-idp.js';

const SECRET = 'the-backend-shared-secret-0123456789abcdef';
let cwd: string;
let dataDir: string;
let env: Record<string, string>;
let idp: TestSamlIdp;

const run = (args: string[], input?: string) => runCli(args, { cwd, env, ...(input !== undefined ? { input } : {}) });
const file = (name: string, content: unknown) => {
  fs.writeFileSync(path.join(cwd, name), JSON.stringify(content));
  return name;
};

beforeAll(async () => {
  expect(fs.existsSync(CLI), 'run `npx tsc -p tsconfig.build.json` first (npm test does)').toBe(true);
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-idp-cli-'));
  dataDir = path.join(cwd, 'data');
  env = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: dataDir, ZONEGATE_SECRET_KEY: 'cd'.repeat(32), UAA_DOMAIN: 'auth.example.com', UAA_URL: 'https://auth.example.com' };
  idp = await startTestSamlIdp({ accounts: {} });
  expect((await run(['zones', 'create', 'acme'])).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await idp?.stop();
  fs.rmSync(cwd, { recursive: true, force: true });
});

describe('zonegate idps', () => {
  it('creates a SAML provider from its document and prints the SP metadata URL to give the IdP', async () => {
    const res = await run(['idps', 'create', 'acme', '--file', file('saml.json', { type: 'saml', originKey: 'corp', name: 'Corporate SAML', config: { metaDataLocation: idp.metadataXml } })]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^Created identity provider corp \(saml, id [0-9a-f-]{36}\) in zone acme$/m);
    expect(res.stdout).toContain('Give the IdP the zone\'s SP metadata: https://acme.auth.example.com/saml/metadata/corp');
  }, 60_000);

  it('creates a user backend from stdin, its shared secret sealed and never printed', async () => {
    const doc = { type: 'userbackend', originKey: 'backend', config: { url: 'https://users.acme.example/check', sharedSecret: SECRET } };
    const res = await run(['idps', 'create', 'acme', '--file', '-'], JSON.stringify(doc));
    expect(res.code, res.stderr).toBe(0);
    const listed = await run(['idps', 'list', 'acme', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((p: { originKey: string; type: string }) => [p.originKey, p.type])).toEqual([['backend', 'userbackend'], ['corp', 'saml']]);
    expect(listed.stdout).not.toContain(SECRET);
    expect((await run(['idps', 'list', 'acme'])).stdout).toMatch(/^backend\s+userbackend\s+yes\s+backend\s+/m);
    const records = openSqliteRecords({ file: path.join(dataDir, 'records.db') });
    try {
      const row = await records.one<{ config: string; sealed_secret: string }>(`SELECT config, sealed_secret FROM identity_providers WHERE origin_key = 'backend'`);
      expect(row!.config + row!.sealed_secret).not.toContain(SECRET);
      expect(JSON.parse(row!.sealed_secret).alg).toBe('A256GCM');
    } finally {
      await records.close();
    }
  }, 60_000);

  it('refuses a bad document naming every problem (exit 1), and a missing --file (exit 2)', async () => {
    const bad = await run(['idps', 'create', 'acme', '--file', file('bad.json', { type: 'saml', originKey: 'sap.default', config: { metaDataLocation: 'ftp://x', nameID: 'x' } })]);
    expect(bad.code).toBe(1);
    for (const field of ['originKey', 'config.metaDataLocation', 'config.nameID']) expect(bad.stderr).toContain(field);
    const dup = await run(['idps', 'create', 'acme', '--file', 'saml.json']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    const usage = await run(['idps', 'create', 'acme']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('needs --file');
    expect((await run(['idps', 'list', 'nowhere'])).stderr).toContain('No zone with subdomain "nowhere"');
  }, 60_000);
});

describe('zonegate role-mappings', () => {
  it('sets, lists and clears a provider\'s mappings; refuses a role collection the zone lacks', async () => {
    const unknown = await run(['role-mappings', 'set', 'acme', 'corp', '--map', 'admins=No Such Collection']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No Such Collection');
    const set = await run(['role-mappings', 'set', 'acme', 'corp', '--map', `admins=${ZONE_ADMIN_ROLE_COLLECTION}`]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`admins -> ${ZONE_ADMIN_ROLE_COLLECTION}`);
    const listed = await run(['role-mappings', 'list', 'acme', 'corp', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([{ group: 'admins', roleCollection: ZONE_ADMIN_ROLE_COLLECTION }]);
    expect((await run(['role-mappings', 'set', 'acme', 'corp'])).code).toBe(2);
    expect((await run(['role-mappings', 'set', 'acme', 'corp', '--clear'])).code).toBe(0);
    expect((await run(['role-mappings', 'list', 'acme', 'corp'])).stdout).toContain('no role collection mappings');
  }, 60_000);

  it('idps delete removes the provider', async () => {
    const res = await run(['idps', 'delete', 'acme', 'corp']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse((await run(['idps', 'list', 'acme', '--json'])).stdout).map((p: { originKey: string }) => p.originKey)).toEqual(['backend']);
    expect((await run(['idps', 'delete', 'acme', 'corp'])).code).toBe(1);
    expect((await run(['idps', '--help'])).stdout).toContain('zonegate idps create <subdomain> --file FILE');
  }, 60_000);
});
