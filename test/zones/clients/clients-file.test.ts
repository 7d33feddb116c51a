/**
 * clients.json beside xs-security.json (issue 14): validated with the rest of the configuration,
 * every problem at once with file and JSON path, before anything listens; applied at every start
 * (created, updated keeping secrets, removed when the file drops them), also by `zonegate check-config`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { createMemoryLogger } from '../../../src/log.js';
import { loadConfiguration } from '../../../src/server/configuration.js';
import { settingsNeedingRestart } from '../../../src/server/reload.js';
import { startGateway } from '../../../src/server/start.js';
import { runCli } from '../../support/cli.js';
import { request } from '../../support/http.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function project(clients: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-clients-file-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [{ source: '^/(.*)$', localDir: 'public', authenticationType: 'none' }] }));
  fs.mkdirSync(path.join(dir, 'public'));
  fs.copyFileSync(path.join(ROOT, 'xs-security.json'), path.join(dir, 'xs-security.json'));
  fs.writeFileSync(path.join(dir, 'clients.json'), typeof clients === 'string' ? clients : JSON.stringify(clients, null, 2));
  return dir;
}

const env = (dir: string) => ({ ZONEGATE_DATA_DIR: path.join(dir, 'data'), UAA_DOMAIN: 'auth.localhost', ZONEGATE_SECRET_KEY: 'ef'.repeat(32), SESSION_KEYS: `k1:${'a'.repeat(40)}` });

describe('clients.json is validated with the configuration', () => {
  it('reports every problem of the file at once, with its path', () => {
    const dir = project({
      clients: [
        { client_id: 'portal', redirect_uri: ['https://portal.example.com/callback'], scope: ['$XSAPPNAME.Nope'] },
        { client_id: 'portal', public: true, redirect_uri_regex: ['https://(x+)+\\.example\\.com/'] },
        { name: 'no id', xsappname: 'other', client_secret: 'in a file!' },
      ],
      extra: true,
    });
    let error: unknown;
    try {
      loadConfiguration(env(dir), { cwd: dir });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const file = path.join(dir, 'clients.json');
    const problems = (error as ConfigError).problems.map((p) => `${p.file === file ? 'clients.json' : p.file} ${p.path}: ${p.message}`);
    expect(problems).toEqual([
      'clients.json /extra: unknown property "extra" (expected one of: clients)',
      `clients.json /clients/0/scope/0: "$XSAPPNAME.Nope" is not a scope of zonegate-demo; expected one of: openid, $XSAPPNAME.Viewer, $XSAPPNAME.Admin, $XSAPPNAME.Callback`,
      expect.stringMatching(/^clients\.json \/clients\/1\/redirect_uri_regex\/0: regular expression .* may backtrack catastrophically/),
      'clients.json /clients/1/client_id: duplicate client "portal" (first declared at /clients/0)',
      'clients.json /clients/2/xsappname: is not set here: the clients of clients.json belong to the application of the xs-security.json beside it',
      expect.stringMatching(/^clients\.json \/clients\/2\/client_secret: is never given/),
      'clients.json /clients/2/client_id: is required',
      'clients.json /clients/2/redirect_uri: the authorization_code grant needs at least one redirect pattern (redirect_uri or redirect_uri_regex)',
    ]);
  });

  it('zonegate check-config says so and exits 1; a good file is counted in its OK line', async () => {
    const bad = project('{"clients": [ {"client_id": "x",} ]}');
    const failed = await runCli(['check-config'], { cwd: bad, env: { PATH: process.env.PATH ?? '', ...env(bad) } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${path.join(bad, 'clients.json')}: is not valid JSON`);
    const good = project({ clients: [{ client_id: 'mobile', public: true, redirect_uri: ['https://app.example.com/callback'] }] });
    const ok = await runCli(['check-config'], { cwd: good, env: { PATH: process.env.PATH ?? '', ...env(good) } });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('xs-security.json for zonegate-demo, clients.json with 1 client)');
  }, 60_000);
});

describe('clients.json and a reload', () => {
  it('a changed file is reported as needing a restart, not applied half-way', () => {
    const dir = project({ clients: [{ client_id: 'mobile', public: true, redirect_uri: ['https://app.example.com/callback'] }] });
    const before = loadConfiguration(env(dir), { cwd: dir });
    expect(settingsNeedingRestart(before, loadConfiguration(env(dir), { cwd: dir }))).toEqual([]);
    fs.writeFileSync(path.join(dir, 'clients.json'), JSON.stringify({ clients: [] }));
    expect(settingsNeedingRestart(before, loadConfiguration(env(dir), { cwd: dir }))).toEqual(['clients.json']);
  });
});

describe('clients.json is applied at start', () => {
  it('creates the file\'s clients, keeps their secrets across restarts, updates and removes what the file changes, and leaves the API\'s clients alone', async () => {
    const dir = project({
      clients: [
        { client_id: 'mobile', name: 'Mobile app', public: true, redirect_uri: ['https://app.example.com/callback'], scope: ['$XSAPPNAME.Viewer'] },
        { client_id: 'partner', authorized_grant_types: ['client_credentials'], authorities: ['$XSAPPNAME.Callback'] },
      ],
    });
    const start = async () => {
      const logger = createMemoryLogger('info');
      const running = await startGateway(loadConfiguration(env(dir), { cwd: dir }), { logger, port: 0 });
      return { running, logs: logger.lines };
    };

    let { running, logs } = await start();
    try {
      const clients = running.identity!.clients;
      expect((await clients.list()).map((c) => [c.clientId, c.source, c.public, c.hasSecret])).toEqual([
        ['mobile', 'file', true, false],
        ['partner', 'file', false, false],
      ]);
      // The confidential one is named with the command that gives it a secret; no secret is logged.
      expect(logs.join('\n')).toContain('"clientId":"partner","command":"zonegate clients rotate-secret partner"');
      const { clientSecret } = await clients.rotateSecret('partner');
      await clients.create({ ...(await clients.get('mobile'))!, clientId: 'by-api', name: 'made at runtime' });
      // It works: a client-credentials token for it from the provider zone, over HTTP.
      const token = await request(running.port, {
        method: 'POST',
        path: '/oauth/token',
        host: `provider.auth.localhost:${running.port}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`partner:${clientSecret}`).toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      expect(token.status).toBe(200);
      expect(decodeJwt(token.json().access_token)).toMatchObject({ cid: 'partner', scope: [`${running.credentials!.xsappname}.Callback`] });
      expect(logs.join('\n')).not.toContain(clientSecret!);
      await running.stop();

      fs.writeFileSync(path.join(dir, 'clients.json'), JSON.stringify({ clients: [{ client_id: 'partner', name: 'Partner', authorized_grant_types: ['client_credentials'], authorities: ['$XSAPPNAME.Callback'] }] }));
      ({ running, logs } = await start());
      expect(logs.join('\n')).toContain('"created":[],"updated":["partner"],"removed":["mobile"]');
      expect((await running.identity!.clients.list()).map((c) => c.clientId)).toEqual(['by-api', 'partner']);
      expect(await running.identity!.clients.verifySecret('partner', clientSecret!)).toBe(true);
    } finally {
      await running.stop();
    }
  }, 60_000);
});
