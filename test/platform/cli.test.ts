/**
 * Registration from the operator's terminal: `zonegate platforms add` and `zonegate relay add`
 * (the built CLI, dist/) write what a gateway started afterwards on the same records database honours.
 * Build first: npx tsc -p tsconfig.build.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, ROUTES } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { createTestPlatform, organizationToken, postOrganization, type TestPlatform } from './support.js';

const SECRET_KEY = Buffer.alloc(32, 9).toString('base64');
const ROOT = path.resolve(import.meta.dirname, '../..');
let dir: string;
let platform: TestPlatform;
let gw: TestGateway | undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-platform-cli-'));
  platform = await createTestPlatform('tix', { pem: true });
  fs.writeFileSync(path.join(dir, 'tix.pem'), platform.publicKeyPem!);
});
afterAll(async () => {
  await gw?.stop();
  await platform?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ PATH: process.env.PATH, HOME: dir, ZONEGATE_DATA_DIR: path.join(dir, 'data'), ZONEGATE_SECRET_KEY: SECRET_KEY });
const cli = (...args: string[]) => runCli(args, { cwd: dir, env: env() });

describe('zonegate platforms / relay', { timeout: 120_000 }, () => {
  let relaySecret: string;

  it('registers, lists and refuses bad input with every problem', async () => {
    const added = await cli('platforms', 'add', 'tix', '--public-key', path.join(dir, 'tix.pem'), '--subdomains', 'tix-*', '--role-collection', 'Demo Viewer');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe('Registered trusted platform tix: may create tenants "tix-*", grant "Demo Viewer"\n');
    const bad = await cli('platforms', 'add', 'Bad', '--jwks-url', 'ftp://x', '--subdomains', '*');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('id must be');
    expect(bad.stderr).toContain('jwksUri must be an https URL');
    expect(bad.stderr).toContain('subdomainPattern must be');
    const list = await cli('platforms', 'list', '--json');
    expect(JSON.parse(list.stdout)).toMatchObject([{ id: 'tix', algorithm: 'RS256', subdomainPattern: 'tix-*', roleCollections: ['Demo Viewer'] }]);

    const relay = await cli('relay', 'add', 'shop', '--callback', 'https://shop.example.com/cb', '--callback', 'http://localhost:3000/cb');
    expect(relay.code, relay.stderr).toBe(0);
    relaySecret = /Secret \(HTTP Basic password for POST \/platform\/v1\/relay\/states\): ([A-Za-z0-9_-]{43})/.exec(relay.stdout)![1]!;
    expect((await cli('relay', 'list')).stdout).toContain('shop  https://shop.example.com/cb http://localhost:3000/cb');
    const usage = await cli('relay', 'add', 'x');
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('callbackUrls must be a non-empty array');
  });

  it('a gateway on the same records honours the registrations', async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8'), 'public/index.html': '<!doctype html>' },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: { ...BASE_ENV, ZONEGATE_DATA_DIR: path.join(dir, 'data'), ZONEGATE_SECRET_KEY: SECRET_KEY },
    });
    const org = await postOrganization(gw, await organizationToken(gw, platform), { organizationId: 'o', subdomain: 'tix-cli' });
    expect(org.status, org.text).toBe(201);
    const state = await new ScriptedBrowser().request(`http://localhost:${gw.port}/platform/v1/relay/states`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`shop:${relaySecret}`).toString('base64')}` },
      body: JSON.stringify({ redirect_uri: 'http://localhost:3000/cb', state: 'x' }),
    });
    expect(state.status, state.text).toBe(201);
    await gw.stop();
    gw = undefined;
    const removed = await cli('platforms', 'remove', 'tix');
    expect(removed.stdout).toBe('Removed trusted platform tix\n');
    expect((await cli('platforms', 'remove', 'tix')).stdout).toBe('No trusted platform "tix"; nothing to do\n');
  });
});
