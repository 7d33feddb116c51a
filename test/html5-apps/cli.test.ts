/**
 * `zonegate apps deploy|list|remove` as built (dist/src/cli.js), against the embedded records
 * database, and a `zonegate start` that serves what it deployed, including a deployment made while
 * it runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type RunningCli } from '../support/cli.js';
import { request } from '../support/http.js';
import { makeZip } from '../support/zip.js';
import { ORDERS_APP } from './fixtures.js';

let dir: string;
let env: Record<string, string>;
const manifest = (id: string, version: string) => JSON.stringify({ 'sap.app': { id, applicationVersion: { version } } });

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zg-apps-cli-'));
  env = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: path.join(dir, 'data') };
  fs.writeFileSync(path.join(dir, 'plain-1.zip'), makeZip([{ name: 'manifest.json', content: manifest('plain', '1.0.0') }, { name: 'index.html', content: '<p>one</p>' }]));
  fs.writeFileSync(path.join(dir, 'plain-2.zip'), makeZip([{ name: 'manifest.json', content: manifest('plain', '2.0.0') }, { name: 'index.html', content: '<p>two</p>' }]));
  fs.writeFileSync(path.join(dir, 'slip.zip'), makeZip([{ name: 'manifest.json', content: manifest('slip', '1.0.0') }, { name: '../../outside.js', content: 'x' }]));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(['apps', ...args], { cwd: dir, env });

describe('zonegate apps', () => {
  it('deploys a directory and a zip in one call, lists them, and says where they are served', async () => {
    const deployed = await cli('deploy', ORDERS_APP, 'plain-1.zip');
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toBe(
      'Deployed: com.example.orders 1.0.0, served at /comexampleorders/ and /comexampleorders-1.0.0/\n' + 'Deployed: plain 1.0.0, served at /plain/ and /plain-1.0.0/\n',
    );
    const list = await cli('list');
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^APP\s+VERSION\s+CURRENT\s+SAP\.APP\.ID\s+SERVICE\s+PUBLIC\s+FILES\s+BYTES\s+DEPLOYED$/);
    expect(lines[1]).toMatch(/^comexampleorders\s+1\.0\.0\s+yes\s+com\.example\.orders\s+com\.example\.shop\s+yes\s+4\s+\d+\s+\d{4}-/);
    const json = JSON.parse((await cli('list', '--json')).stdout) as { name: string }[];
    expect(json.map((a) => a.name)).toEqual(['comexampleorders', 'plain']);
  });

  it('refuses a zip that leaves its root, naming it and the entry, and deploys nothing of the call', async () => {
    const refused = await cli('deploy', 'plain-2.zip', 'slip.zip');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('slip.zip: entry "../../outside.js" leaves the application\'s root');
    expect(refused.stderr).toContain('Nothing was deployed.');
    expect(fs.existsSync(path.join(dir, '..', 'outside.js'))).toBe(false);
    const json = JSON.parse((await cli('list', '--json')).stdout) as { name: string; version: string }[];
    expect(json.map((a) => `${a.name} ${a.version}`)).toEqual(['comexampleorders 1.0.0', 'plain 1.0.0']);
  });

  it('refuses a changed package under a version that is taken (versions are immutable)', async () => {
    const changed = path.join(dir, 'plain-1-changed.zip');
    fs.writeFileSync(changed, makeZip([{ name: 'manifest.json', content: manifest('plain', '1.0.0') }, { name: 'index.html', content: '<p>changed</p>' }]));
    const refused = await cli('deploy', changed);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('plain 1.0.0 is deployed already with other content; versions are immutable');
  });

  it('usage errors exit 2 with the usage', async () => {
    const missing = await cli('remove');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('zonegate apps remove: missing <app>');
    expect((await cli('frobnicate')).stderr).toContain("unknown subcommand 'frobnicate' (deploy, list, remove)");
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('zonegate apps deploy <dir|zip>...');
  });
});

describe('zonegate check-config', () => {
  it('accepts a real xs-app.json that serves its UI from html5-apps-repo-rt (corpus xs-app/001.json), once its destinations exist', async () => {
    const corpusFile = new URL('../../../shared/corpus/xs-app/001.json', import.meta.url).pathname;
    const destinations = JSON.stringify(['abap-cloud-default_abap-trial-3a911ab4trial-dev', 'ui5'].map((name) => ({ name, url: 'http://127.0.0.1:9' })));
    const checked = await runCli(['check-config', '--routes', corpusFile], { cwd: dir, env: { ...env, destinations } });
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain('OK (4 routes, 2 destinations');
  });
});

describe('a running gateway serves what was deployed', () => {
  let gw: RunningCli | undefined;
  afterAll(() => {
    gw?.child.kill('SIGTERM');
  });

  it('at once at start, and a deployment made while it runs within seconds; remove takes it away', async () => {
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [{ source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'none' }] }));
    gw = await startCli(['start'], { cwd: dir, env: { ...env, PORT: '0' } });
    const get = (p: string) => request(gw!.port, { path: p, headers: { accept: 'text/html' } });
    expect((await get('/plain/index.html')).text).toBe('<p>one</p>');
    expect((await cli('deploy', 'plain-2.zip')).code).toBe(0);
    // Another process deployed: this instance looks the current version up again within 5 s.
    const deadline = Date.now() + 20_000;
    let text = '';
    while (Date.now() < deadline && (text = (await get('/plain/index.html')).text) !== '<p>two</p>') await new Promise((r) => setTimeout(r, 200));
    expect(text).toBe('<p>two</p>');
    expect((await get('/plain-1.0.0/index.html')).text).toBe('<p>one</p>');
    expect((await cli('remove', 'plain')).stdout).toBe('Removed: plain 1.0.0\nRemoved: plain 2.0.0\n');
    const end = Date.now() + 20_000;
    let status = 200;
    while (Date.now() < end && (status = (await get('/plain-1.0.0/index.html')).status) !== 404) await new Promise((r) => setTimeout(r, 200));
    expect(status).toBe(404);
  }, 60_000);
});
