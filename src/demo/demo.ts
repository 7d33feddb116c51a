import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Environment } from '../config/environment.js';
import { createLogger } from '../log.js';
import { loadConfiguration } from '../server/configuration.js';
import { untilSignal } from '../server/signals.js';
import { describeStartupError, startGateway, type RunningGateway } from '../server/start.js';
import type { Provisioning } from '../provisioning/service.js';
import type { ZoneDirectory } from '../zones/directory/types.js';
import { createEchoBackend, listenEcho } from './echo-backend.js';
import { startIdpTenant, type IdpTenant } from './idp-tenant.js';
import { subscribeDemoTenant } from './subscribe.js';
import { CORPORATE_USERS } from './corporate-idp.js';

/** The package root: the demo uses the sample routes.json, xs-security.json and public/ shipped with it. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEMO_TENANTS = ['acme', 'globex'] as const;

/**
 * Demo users of every demo zone. Their passwords are printed and published here on purpose: this is
 * a local demo with its own data directory, never a deployment.
 */
export const DEMO_USERS = [
  { userName: 'admin', password: 'demo-admin-pass', roleCollection: 'Demo Administrator', givenName: 'Ada', familyName: 'Admin' },
  { userName: 'viewer', password: 'demo-viewer-pass', roleCollection: 'Demo Viewer', givenName: 'Vic', familyName: 'Viewer' },
] as const;

/**
 * The demo tenants, subscribed to the application (so its shared client and role collections work
 * in their zones), each with the demo users. With `provisioning` the subscription goes through the
 * same service as the SaaS registry's callbacks and `zonegate tenants`; without it (callers that
 * have only a directory) the zones are subscribed directly. Idempotent: a second start finds
 * everything in place (the tenant id is the existing zone's) and only restores missing pieces.
 */
export async function seedDemoZones(directory: ZoneDirectory, clientId: string, provisioning?: Provisioning): Promise<void> {
  if (!(await directory.getApplicationByClientId(clientId))) throw new Error(`The application ${clientId} is not registered`);
  for (const tenant of DEMO_TENANTS) {
    const zoneId = await subscribeDemoTenant(directory, clientId, tenant, provisioning);
    for (const demo of DEMO_USERS) {
      let user = await directory.getUserByName(zoneId, demo.userName);
      user ??= await directory.createUser(zoneId, {
        userName: demo.userName,
        email: `${demo.userName}@${tenant}.example.com`,
        password: demo.password,
        givenName: demo.givenName,
        familyName: demo.familyName,
      });
      if (!user.roleCollections.includes(demo.roleCollection)) await directory.assignRoleCollection(zoneId, user.id, demo.roleCollection);
    }
  }
}

/** The demo's environment: tenants on `*.localhost`, the echo backend as `echo`; what is set still wins. */
function demoEnvironment(env: Environment, echoUrl: string): Environment {
  return {
    TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$',
    ZONEGATE_DATA_DIR: path.join(PACKAGE_ROOT, '.zonegate'),
    ...env,
    destinations: env.destinations ?? JSON.stringify([{ name: 'echo', url: echoUrl, forwardAuthToken: true }]),
  };
}

/**
 * `npm run check-config`: validates the package's routes.json and xs-security.json as `npm start`
 * runs them (the demo's environment, with the echo backend's address still unknown), without
 * starting anything. Returns the configuration or throws what loadConfiguration throws.
 */
export function checkDemoConfiguration(env: Environment): ReturnType<typeof loadConfiguration> {
  return loadConfiguration(demoEnvironment(env, 'http://127.0.0.1:1'), { cwd: PACKAGE_ROOT });
}

/**
 * `npm start`: the whole thing on embedded defaults, nothing installed. An echo backend, the sample
 * routes.json, tenants on `<tenant>.localhost` (RFC 6761: browsers and curl resolve every
 * `*.localhost` name to this machine). Anything set in the environment still wins.
 */
export async function runDemo(options: { env: Environment; cwd: string }): Promise<number> {
  const echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  const env = demoEnvironment(options.env, echoUrl);
  let config;
  try {
    config = loadConfiguration(env, { cwd: PACKAGE_ROOT });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    echo.close();
    return 1;
  }
  const logger = createLogger({ level: config.settings.logLevel, format: config.settings.logFormat });
  let running;
  try {
    running = await startGateway(config, { logger });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    echo.close();
    return 1;
  }
  let idpTenant: IdpTenant | undefined;
  try {
    if (running.directory && running.credentials) {
      await seedDemoZones(running.directory, running.credentials.clientid, running.provisioning);
      idpTenant = await startIdpTenant(running, config.settings, env);
    }
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    await running.stop();
    echo.close();
    return 1;
  }
  // Ctrl+C is handled before the banner says so: a signal right after it must not kill the process mid-way.
  const stopped = untilSignal(async () => {
    await running.stop();
    if (idpTenant?.offered) await idpTenant.stop();
    echo.close();
  }, logger);
  process.stdout.write(banner(running, commandEnvironment(env, running.port), idpTenant));
  return stopped;
}

/** A word as a POSIX shell reads it back unchanged. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * What a `zonegate` command run from the package directory needs to act on this demo, as the
 * assignments to put before it: the demo's data directory unless it is the command's default
 * (./.zonegate there), and for tenants the host pattern and port that make their URLs.
 */
function commandEnvironment(env: Environment, port: number): { data: string; tenants: string } {
  const data = env.ZONEGATE_DATA_DIR !== undefined && path.resolve(PACKAGE_ROOT, env.ZONEGATE_DATA_DIR) !== path.join(PACKAGE_ROOT, '.zonegate')
    ? `ZONEGATE_DATA_DIR=${shellWord(path.resolve(PACKAGE_ROOT, env.ZONEGATE_DATA_DIR))} `
    : '';
  const tenants = `${data}TENANT_HOST_PATTERN=${shellWord(env.TENANT_HOST_PATTERN ?? '')} ${port === 5000 ? '' : `PORT=${port} `}`;
  return { data, tenants };
}

function banner(running: RunningGateway, commandEnv: { data: string; tenants: string }, idpTenant: IdpTenant | undefined): string {
  const base = (tenant: string) => `http://${tenant}.localhost:${running.port}`;
  const zones = running.identity && running.credentials ? running.credentials : undefined;
  const zoneUrl = (tenant: string) => zones!.url.replace(`//${zones!.identityzone}.`, `//${tenant}.`);
  return [
    '',
    'zonegate demo is running. Open:',
    ...DEMO_TENANTS.map((t) => `  tenant ${t.padEnd(8)} ${base(t)}/`),
    ...(idpTenant?.offered ? [`  tenant ${idpTenant.tenant.padEnd(8)} ${base(idpTenant.tenant)}/   (signs in at its own corporate IdP, see below)`] : []),
    `  public route    ${base('acme')}/echo/hello   (the echo backend shows what the gateway forwards)`,
    `  health          http://localhost:${running.port}/healthz  and  /readyz`,
    ...(zones
      ? [
          '',
          `Identity zones (built in, application ${zones.xsappname}):`,
          ...DEMO_TENANTS.map((t) => `  zone ${t.padEnd(10)} ${zoneUrl(t)}/.well-known/openid-configuration`),
          `  users in the zones of ${DEMO_TENANTS.join(' and ')} (demo passwords, for this demo only):`,
          ...DEMO_USERS.map((u) => `    ${u.userName.padEnd(8)} password ${u.password.padEnd(18)} role collection "${u.roleCollection}"`),
          `  manage them (from the package directory): ${commandEnv.data}npx zonegate users list acme`,
          ...idpTenantLines(idpTenant, zoneUrl),
          ...(running.provisioning
            ? [
                `  another tenant: ${commandEnv.tenants}npx zonegate tenants subscribe initech --admin-user you@initech.example`,
                `  subscription callbacks (SaaS registry protocol): http://localhost:${running.port}/callback/v1.0/tenants/{tenantId}`,
              ]
            : []),
        ]
      : []),
    '  (*.localhost names resolve to this machine in browsers and curl, RFC 6761.)',
    'Stop with Ctrl+C.',
    '',
    '',
  ].join('\n');
}

/**
 * The tenant that signs in at its own IdP: its zone, the IdP, and who to sign in as there; or, when
 * the IdP was not started, one line saying so and why.
 */
function idpTenantLines(idpTenant: IdpTenant | undefined, zoneUrl: (tenant: string) => string): string[] {
  if (!idpTenant) return [];
  if (!idpTenant.offered) return [`  (no tenant that signs in at its own IdP in this demo: ${idpTenant.reason})`];
  const t = idpTenant.tenant;
  return [
    `  zone ${t.padEnd(10)} ${zoneUrl(t)}/.well-known/openid-configuration`,
    `    no users of its own: every login goes to its corporate IdP (origin "${idpTenant.originKey}"),`,
    `    ${idpTenant.issuer}/.well-known/openid-configuration, a demo OpenID provider in this process`,
    `    (panva's oidc-provider) with users of its own. Its login form is oidc-provider's development form:`,
    `    type a user below, any password. Their groups map to role collections of ${t}'s zone:`,
    ...CORPORATE_USERS.map((u) => `    ${u.userName.padEnd(8)} group ${u.group.padEnd(8)} role collection "${u.roleCollection}"`),
  ];
}
