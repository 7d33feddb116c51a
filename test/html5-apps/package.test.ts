/**
 * Reading an application package (src/html5-apps/package.ts): a directory or a zip, named by its
 * manifest.json, with its own xs-app.json validated; refusals name the package, the file and the JSON
 * path. The zips are written by test/support/zip.ts, which can lie as attackers do.
 */
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppInvalid, readAppPackage, readAppZip, type PackageLimits } from '../../src/html5-apps/package.js';
import { makeZip, type ZipEntry } from '../support/zip.js';
import { ORDERS_APP } from './fixtures.js';


const manifest = (id = 'com.example.orders', version = '1.0.0', cloud: object = { public: true, service: 'com.example.shop' }) =>
  JSON.stringify({ 'sap.app': { id, applicationVersion: { version } }, 'sap.cloud': cloud });

async function refusal(read: Promise<unknown>): Promise<AppInvalid> {
  const err = await read.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppInvalid);
  expect((err as AppInvalid).code).toBe('ZG_ERR_APP_INVALID');
  expect((err as AppInvalid).status).toBe(400);
  return err as AppInvalid;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'zg-apps-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a valid application', () => {
  it('is read from its directory: id, name without dots, version, service, its xs-app.json and files', async () => {
    const pkg = await readAppPackage(ORDERS_APP);
    expect(pkg).toMatchObject({ appId: 'com.example.orders', name: 'comexampleorders', version: '1.0.0', service: 'com.example.shop', public: true });
    expect(pkg.files.map((f) => f.path)).toEqual(['/Component.js', '/index.html', '/manifest.json', '/xs-app.json']);
    expect(pkg.xsApp?.welcomeFile).toBe('/index.html');
    expect(pkg.xsApp?.routes?.at(-1)).toMatchObject({ service: 'html5-apps-repo-rt' });
    const index = pkg.files.find((f) => f.path === '/index.html')!;
    expect(index.content.equals(await readFile(path.join(ORDERS_APP, 'index.html')))).toBe(true);
    expect(index.sha256).toMatch(/^[\w-]{43}$/);
  });

  it('is read from a zip alike (deflated and stored entries, folders, "./" prefixes), with the same digest', async () => {
    const fromDir = await readAppPackage(ORDERS_APP);
    const entries: ZipEntry[] = [{ name: 'i18n/', content: '' }];
    for (const f of fromDir.files) entries.push({ name: `.${f.path}`, content: f.content, stored: f.path.endsWith('.json') });
    const zip = path.join(dir, 'orders.zip');
    await writeFile(zip, makeZip(entries));
    const fromZip = await readAppPackage(zip);
    expect(fromZip.files.map((f) => f.path)).toEqual(fromDir.files.map((f) => f.path));
    expect(fromZip.digest).toBe(fromDir.digest);
  });

  it('needs no xs-app.json, and no sap.cloud', async () => {
    const pkg = await readAppZip('plain.zip', makeZip([{ name: 'manifest.json', content: JSON.stringify({ 'sap.app': { id: 'plain', applicationVersion: { version: '2.1.0' } } }) }]));
    expect(pkg).toMatchObject({ name: 'plain', version: '2.1.0', service: undefined, public: false, xsApp: undefined });
  });
});

describe('refused, naming the file and the path', () => {
  it('a zip entry that leaves the root (zip slip: "../", absolute, backslashes)', async () => {
    for (const name of ['../evil.js', 'a/../../evil.js', '/etc/cron.d/evil', '..\\evil.js', 'C:/evil.js']) {
      const err = await refusal(readAppZip('slip.zip', makeZip([{ name: 'manifest.json', content: manifest() }, { name, content: 'x' }])));
      expect(err.problems).toEqual([{ file: 'slip.zip', path: '', message: expect.stringMatching(/^entry ".*" leaves the application's root/) }]);
    }
  });

  it('a zip bomb: a file or a package beyond the limits, whatever the headers declare', async () => {
    const limits: PackageLimits = { maxFiles: 5, maxFileBytes: 1000, maxTotalBytes: 2500 };
    const big = Buffer.alloc(100_000, 0x61); // deflates to ~100 bytes
    // Honest headers: refused before a byte is inflated.
    let err = await refusal(readAppZip('bomb.zip', makeZip([{ name: 'manifest.json', content: manifest() }, { name: 'big.js', content: big }]), limits));
    expect(err.problems).toEqual([{ file: 'bomb.zip/big.js', path: '', message: 'is larger than 1000 bytes' }]);
    // Lying headers (10 bytes declared): refused while inflating, at the limit.
    err = await refusal(readAppZip('liar.zip', makeZip([{ name: 'manifest.json', content: manifest() }, { name: 'big.js', content: big, declaredSize: 10 }]), limits));
    expect(err.problems[0]!.message).toMatch(/is larger than 1000 bytes|is not a readable zip/);
    // Many files each within the limit: the total.
    const many = Array.from({ length: 4 }, (_, i) => ({ name: `f${i}.js`, content: Buffer.alloc(900, 0x62) }));
    err = await refusal(readAppZip('total.zip', makeZip([{ name: 'manifest.json', content: manifest() }, ...many]), limits));
    expect(err.problems).toEqual([{ file: 'total.zip', path: '', message: 'holds more than 2500 bytes uncompressed' }]);
    err = await refusal(readAppZip('count.zip', makeZip([{ name: 'manifest.json', content: manifest() }, ...Array.from({ length: 5 }, (_, i) => ({ name: `${i}`, content: '' }))]), limits));
    expect(err.problems).toEqual([{ file: 'count.zip', path: '', message: 'has more than 5 files' }]);
  });

  it('something that is not a zip', async () => {
    const file = path.join(dir, 'not.zip');
    await writeFile(file, 'hello');
    const err = await refusal(readAppPackage(file));
    expect(err.problems).toEqual([{ file, path: '', message: expect.stringMatching(/^is not a readable zip: /) }]);
  });

  it('a missing manifest.json', async () => {
    const err = await refusal(readAppZip('empty.zip', makeZip([{ name: 'index.html', content: '<p>' }])));
    expect(err.problems).toEqual([{ file: 'empty.zip', path: '', message: expect.stringContaining('has no manifest.json at its root') }]);
    const nested = await refusal(readAppZip('dist.zip', makeZip([{ name: 'dist/manifest.json', content: manifest() }, { name: 'dist/i18n/manifest.json', content: '{}' }])));
    expect(nested.problems[0]!.message).toMatch(/; found dist\/manifest\.json: deploy that folder, or zip its content$/);
  });

  it('a manifest.json that is not JSON, or lacks or misspells id and version (every problem at once)', async () => {
    let err = await refusal(readAppZip('a.zip', makeZip([{ name: 'manifest.json', content: '{"sap.app": ' }])));
    expect(err.problems).toEqual([{ file: 'a.zip/manifest.json', path: '', message: expect.stringMatching(/^is not valid JSON: /) }]);
    err = await refusal(readAppZip('b.zip', makeZip([{ name: 'manifest.json', content: JSON.stringify({ 'sap.app': {}, 'sap.cloud': { public: 'yes' } }) }])));
    expect(err.problems).toEqual([
      { file: 'b.zip/manifest.json', path: '/sap.app/id', message: expect.stringContaining('is required') },
      { file: 'b.zip/manifest.json', path: '/sap.app/applicationVersion/version', message: expect.stringContaining('is required') },
      { file: 'b.zip/manifest.json', path: '/sap.cloud/public', message: 'expected boolean, got string' },
    ]);
    err = await refusal(readAppZip('c.zip', makeZip([{ name: 'manifest.json', content: manifest('com.example/../x', '1.0') }])));
    expect(err.problems.map((p) => p.path)).toEqual(['/sap.app/id', '/sap.app/applicationVersion/version']);
    expect(err.problems[1]!.message).toContain('expected major.minor.patch');
    err = await refusal(readAppZip('d.zip', makeZip([{ name: 'manifest.json', content: manifest('login') }])));
    expect(err.problems[0]).toMatchObject({ path: '/sap.app/id', message: expect.stringContaining("would hide the gateway's own path /login") });
  });

  it('an invalid xs-app.json, with its JSON paths, and what only routes.json may do', async () => {
    const xsApp = {
      routes: [
        { source: '^/api/(.*)$', target: '/$2', destination: 'backend', csrfProtection: 'no' },
        { source: '^(.*)$', localDir: '../../etc' },
        { source: '^/wf/(.*)$', service: 'com.sap.bpm.workflow' },
      ],
      errorPage: [{ status: 404, file: '/etc/passwd' }],
    };
    const err = await refusal(readAppZip('e.zip', makeZip([{ name: 'manifest.json', content: manifest() }, { name: 'xs-app.json', content: JSON.stringify(xsApp) }])));
    expect(err.problems).toEqual(
      expect.arrayContaining([
        { file: 'e.zip/xs-app.json', path: '/routes/0/csrfProtection', message: 'expected boolean, got string' },
        { file: 'e.zip/xs-app.json', path: '/routes/0/target', message: expect.stringContaining('capture group $2') },
        { file: 'e.zip/xs-app.json', path: '/routes/2', message: expect.stringContaining('is not supported by zonegate') },
      ]),
    );
    // The schema problems stop the rest; a schema-valid file gets the application's own checks.
    const err2 = await refusal(
      readAppZip('f.zip', makeZip([{ name: 'manifest.json', content: manifest() }, { name: 'xs-app.json', content: JSON.stringify({ routes: [xsApp.routes[1]], errorPage: xsApp.errorPage }) }])),
    );
    expect(err2.problems).toEqual([
      { file: 'f.zip/xs-app.json', path: '/errorPage', message: expect.stringContaining("is not supported in an application's xs-app.json") },
      { file: 'f.zip/xs-app.json', path: '/routes/0/localDir', message: 'expected a folder inside the application, got "../../etc"' },
    ]);
  });

  it('a directory holding a symbolic link (never followed), or a path that does not exist', async () => {
    const app = path.join(dir, 'linked');
    await mkdir(app);
    await writeFile(path.join(app, 'manifest.json'), manifest());
    await symlink('/etc/passwd', path.join(app, 'passwd'));
    let err = await refusal(readAppPackage(app));
    expect(err.problems).toEqual([{ file: `${app}/passwd`, path: '', message: 'is not a regular file (symbolic links are not followed)' }]);
    err = await refusal(readAppPackage(path.join(dir, 'nothing-here')));
    expect(err.problems[0]!.message).toBe('cannot be read: ENOENT');
  });
});
