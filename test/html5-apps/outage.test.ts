/**
 * A records database that goes away under a running gateway: applications it has served keep being
 * served (their current version as last looked up, their files from the cache); one never looked up
 * answers 503 ZG_ERR_DATABASE_UNAVAILABLE, not 404.
 */
import { expect, it } from 'vitest';
import { readAppZip } from '../../src/html5-apps/package.js';
import { createHtml5Apps } from '../../src/html5-apps/serve.js';
import { createHtml5AppStore } from '../../src/html5-apps/store.js';
import { compileRouteTable, type RouteMatch } from '../../src/routing/route-table.js';
import { openTestRecords } from '../support/records.js';
import { makeZip } from '../support/zip.js';

it('keeps serving what it knows while the records database is down', async () => {
  const records = await openTestRecords();
  const store = createHtml5AppStore(records);
  const manifest = (id: string) => JSON.stringify({ 'sap.app': { id, applicationVersion: { version: '1.0.0' } } });
  await store.deploy([
    await readAppZip('a.zip', makeZip([{ name: 'manifest.json', content: manifest('known') }, { name: 'index.html', content: 'k' }])),
    await readAppZip('b.zip', makeZip([{ name: 'manifest.json', content: manifest('unseen') }])),
  ]);
  // Every request looks the version up again (no reuse window): only the fallback can answer.
  const apps = createHtml5Apps({ store, versionTtlMs: 0 });
  const table = compileRouteTable({ routes: [{ source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'none' }] }, { destinations: new Map(), baseDir: '/' });
  const match = (path: string) => table.match(path, 'GET') as RouteMatch & { kind: 'route' };
  const before = await apps.resolve(match('/known/index.html'), 'GET', [], '/known/index.html');
  expect(before).toMatchObject({ kind: 'route', file: { path: '/index.html', app: { name: 'known', version: '1.0.0' } } });

  await records.close();
  const during = await apps.resolve(match('/known/index.html'), 'GET', [], '/known/index.html');
  expect(during).toMatchObject({ kind: 'route', file: { app: { name: 'known', version: '1.0.0' } } });
  const err = await apps.resolve(match('/unseen/index.html'), 'GET', [], '/unseen/index.html').catch((e: unknown) => e);
  expect((err as { code?: string }).code).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
});
