/**
 * The HTML5 application store's contract (src/html5-apps/store.ts), run against every records
 * backend: SQLite (store-sqlite.test.ts) and PostgreSQL (store-postgres.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { readAppZip } from '../../src/html5-apps/package.js';
import { createHtml5AppStore, type Html5AppStore } from '../../src/html5-apps/store.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { makeZip } from '../support/zip.js';

export function appZip(id: string, version: string, files: Record<string, string> = {}, cloud?: object) {
  const manifest = JSON.stringify({ 'sap.app': { id, applicationVersion: { version } }, ...(cloud ? { 'sap.cloud': cloud } : {}) });
  return readAppZip(`${id}-${version}.zip`, makeZip([{ name: 'manifest.json', content: manifest }, ...Object.entries(files).map(([name, content]) => ({ name, content }))]));
}

async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  return (err as { code?: string } | undefined)?.code;
}

export function describeHtml5AppStore(kind: string, openRecords: () => Promise<RecordsDatabase>) {
  describe(`HTML5 application store (${kind})`, () => {
    const fresh = async (): Promise<Html5AppStore> => createHtml5AppStore(await openRecords());

    it('deploys, lists and serves files; the newest deployment is current; old versions stay addressable', async () => {
      const store = await fresh();
      expect(await store.deploy([await appZip('com.example.orders', '1.0.0', { 'index.html': 'one' }, { service: 'com.example.shop', public: true })])).toEqual([
        { name: 'comexampleorders', version: '1.0.0', appId: 'com.example.orders', outcome: 'deployed' },
      ]);
      await store.deploy([await appZip('com.example.orders', '1.1.0', { 'index.html': 'two', 'i18n/i18n.properties': 'a=b' })]);
      const listed = await store.list();
      expect(listed.map((a) => [a.name, a.version, a.current])).toEqual([
        ['comexampleorders', '1.0.0', false],
        ['comexampleorders', '1.1.0', true],
      ]);
      expect(listed[0]).toMatchObject({ appId: 'com.example.orders', service: 'com.example.shop', public: true, fileCount: 2 });
      expect((await store.version('comexampleorders'))?.version).toBe('1.1.0');
      expect((await store.version('comexampleorders', '1.0.0'))?.version).toBe('1.0.0');
      expect((await store.file('comexampleorders', '1.0.0', '/index.html'))?.content.toString()).toBe('one');
      expect((await store.file('comexampleorders', '1.1.0', '/i18n/i18n.properties'))?.content.toString()).toBe('a=b');
      expect(await store.file('comexampleorders', '1.1.0', '/missing.js')).toBeUndefined();
      expect(await store.version('nothing')).toBeUndefined();
    });

    it('binary content survives byte for byte', async () => {
      const store = await fresh();
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const pkg = await readAppZip('bin.zip', makeZip([{ name: 'manifest.json', content: JSON.stringify({ 'sap.app': { id: 'bin', applicationVersion: { version: '1.0.0' } } }) }, { name: 'logo.png', content: bytes }]));
      await store.deploy([pkg]);
      expect((await store.file('bin', '1.0.0', '/logo.png'))?.content.equals(bytes)).toBe(true);
    });

    it('versions are immutable: the same content again is "unchanged" (and current again), other content is refused', async () => {
      const store = await fresh();
      await store.deploy([await appZip('app', '1.0.0', { 'a.js': '1' })]);
      await store.deploy([await appZip('app', '2.0.0', { 'a.js': '2' })]);
      expect((await store.deploy([await appZip('app', '1.0.0', { 'a.js': '1' })]))[0]!.outcome).toBe('unchanged');
      expect((await store.version('app'))?.version).toBe('1.0.0');
      expect(await codeOf(store.deploy([await appZip('app', '1.0.0', { 'a.js': 'changed' })]))).toBe('ZG_ERR_APP_VERSION_EXISTS');
      expect((await store.file('app', '1.0.0', '/a.js'))?.content.toString()).toBe('1');
    });

    it('one transaction: a refused package leaves nothing of the call deployed', async () => {
      const store = await fresh();
      await store.deploy([await appZip('taken', '1.0.0', { 'a.js': 'x' })]);
      const call = store.deploy([await appZip('first', '1.0.0', { 'a.js': 'x' }), await appZip('taken', '1.0.0', { 'a.js': 'other' })]);
      expect(await codeOf(call)).toBe('ZG_ERR_APP_VERSION_EXISTS');
      expect((await store.list()).map((a) => a.name)).toEqual(['taken']);
      expect(await store.file('first', '1.0.0', '/a.js')).toBeUndefined();
      // The same version twice in one call is refused before anything is written.
      expect(await codeOf(store.deploy([await appZip('twice', '1.0.0'), await appZip('twice', '1.0.0')]))).toBe('ZG_ERR_APP_INVALID');
    });

    it('two ids that lose their dots to one name cannot both be deployed', async () => {
      const store = await fresh();
      await store.deploy([await appZip('com.example.app', '1.0.0')]);
      expect(await codeOf(store.deploy([await appZip('comexample.app', '1.0.0')]))).toBe('ZG_ERR_APP_VERSION_EXISTS');
    });

    it('removes a version (the newest remaining one becomes current) or the whole application', async () => {
      const store = await fresh();
      for (const v of ['1.0.0', '1.10.0', '1.9.0']) await store.deploy([await appZip('app', v, { 'a.js': v })]);
      expect((await store.version('app'))?.version).toBe('1.9.0');
      expect((await store.remove('app', '1.9.0')).map((a) => a.version)).toEqual(['1.9.0']);
      // 1.10.0 is newer than 1.9.0 and 1.0.0: versions compare as numbers.
      expect((await store.version('app'))?.version).toBe('1.10.0');
      expect(await store.file('app', '1.9.0', '/a.js')).toBeUndefined();
      expect(await codeOf(store.remove('app', '9.9.9'))).toBe('ZG_ERR_APP_NOT_FOUND');
      expect((await store.remove('app')).map((a) => a.version).sort()).toEqual(['1.0.0', '1.10.0']);
      expect(await store.list()).toEqual([]);
      expect(await codeOf(store.remove('app'))).toBe('ZG_ERR_APP_NOT_FOUND');
    });

    it('concurrent deployments of one application: every one lands, exactly one version is current', async () => {
      const store = await fresh();
      const pkgs = await Promise.all(['1.0.0', '1.0.1', '1.0.2', '1.0.3'].map((v) => appZip('race', v)));
      const results = await Promise.allSettled(pkgs.map((p) => store.deploy([p])));
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
      const rows = await store.list();
      expect(rows.filter((r) => r.current)).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('ZG_ERR_APP_VERSION_EXISTS');
    });
  });
}
