import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { openTestRecords } from '../../support/records.js';
import { createIdentityServer } from '../../../src/zones/server.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-zone-options-'));
const storage = openSqliteStorage({ file: join(tmp, 'o.db') });
const records = await openTestRecords();
const directory = createZoneDirectory(records);
afterAll(async () => {
  await storage.close();
  await records.close();
  rmSync(tmp, { recursive: true, force: true });
});

const base = { storage, records, directory, logger: createMemoryLogger(), publicUrlFor: (s?: string) => `https://${s ? `${s}.` : ''}auth.example.com` };

describe('identity server options', () => {
  it('reports every invalid option at once', async () => {
    const err = await createIdentityServer({ ...base, uaaDomain: 'auth.example.com', codeTtlSeconds: 301, maxTokenValiditySeconds: 0, refreshTokenReuseSeconds: 61, throttle: { lockAfter: 0, delayStepMs: -1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    const message = (err as Error).message;
    expect(message).toContain('codeTtlSeconds');
    expect(message).toContain('maxTokenValiditySeconds');
    expect(message).toContain('refreshTokenReuseSeconds');
    expect(message).toContain('throttle.lockAfter');
    expect(message).toContain('throttle.delayStepMs');
  });

  it('refuses a uaadomain with a scheme or a port (REFERENCE.md §1)', async () => {
    await expect(createIdentityServer({ ...base, uaaDomain: 'auth.example.com:8080' })).rejects.toThrow(/host name/);
    await expect(createIdentityServer({ ...base, uaaDomain: 'https://auth.example.com' })).rejects.toThrow(/host name/);
  });

  it('warns by name when a real domain is served over plain http, not for localhost', async () => {
    const logger = createMemoryLogger();
    await createIdentityServer({ ...base, logger, uaaDomain: 'auth.example.com', publicUrlFor: (s) => `http://${s ? `${s}.` : ''}auth.example.com` });
    expect(logger.lines.join('\n')).toContain('plain http');
    const quiet = createMemoryLogger();
    await createIdentityServer({ ...base, logger: quiet, uaaDomain: 'localhost', publicUrlFor: (s) => `http://${s ? `${s}.` : ''}localhost:8080` });
    expect(quiet.lines.join('\n')).not.toContain('plain http');
  });
});
