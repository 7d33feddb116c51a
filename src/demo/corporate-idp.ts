/**
 * The demo's corporate IdP (issue 13): a real, independent OpenID provider, panva's `oidc-provider`
 * (a certified implementation), started in the demo's process on a port of its own (127.0.0.1, port
 * 0: two demos never collide, whatever PORT is). A tenant's zone brokers its logins to it over HTTP
 * exactly as it would to Entra ID or Okta: discovery, authorization code with PKCE, the ID token
 * checked against the IdP's keys.
 *
 * oidc-provider is a devDependency, loaded only here and only by the demo: a checkout has it after
 * `npm install`, a production install (`--omit=dev`) does not, and the demo then says so and offers
 * the other tenants. It is no runtime dependency of the gateway.
 *
 * What is demo-only about it, and said so in the banner: its login form is oidc-provider's development
 * form (`devInteractions`), which takes any password for a user it knows; its state is in memory; its
 * signing key is made at each start. (The zone, a first-party application, gets no consent form.)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

/** The IdP's own users: the zone has none, it maps their groups to its role collections. */
export const CORPORATE_USERS = [
  { userName: 'carol', givenName: 'Carol', familyName: 'Corp', group: 'admins', roleCollection: 'Demo Administrator' },
  { userName: 'dave', givenName: 'Dave', familyName: 'Staff', group: 'staff', roleCollection: 'Demo Viewer' },
] as const;

export interface CorporateIdp {
  /** The issuer, `http://127.0.0.1:<port>`; its discovery document is under it. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  stop(): Promise<void>;
}

/** Why the IdP was not started: one line for the banner. */
export type CorporateIdpAbsent = { absent: string };

type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => { callback(): http.RequestListener };

/**
 * oidc-provider announces its development-only defaults (in-memory adapter, devInteractions, a Node
 * version it does not test on) on the console while it loads and while it is constructed. The
 * banner says what is demo-only about this IdP in one place instead; other console output passes.
 */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const { warn, info } = console;
  const filter = (original: (...args: unknown[]) => void) => (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].replace(/\x1b\[[\d;]*m/g, '').startsWith('oidc-provider ')) return;
    original.apply(console, args);
  };
  console.warn = filter(warn);
  console.info = filter(info);
  try {
    return await work();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}

/**
 * Starts the IdP with one confidential client, the zone, allowed to come back to `redirectUri`
 * only. Resolves `{ absent }` when oidc-provider is not installed.
 */
export async function startCorporateIdp(options: { redirectUri: string }): Promise<CorporateIdp | CorporateIdpAbsent> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clientId = 'zonegate-demo-zone';
    const clientSecret = randomBytes(24).toString('base64url');
    // A signing key of its own (oidc-provider's built-in development keys are the same everywhere).
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
    const accounts = new Map<string, (typeof CORPORATE_USERS)[number]>(CORPORATE_USERS.map((u) => [u.userName, u]));
    const provider = await quietly(async () => {
      let Provider: ProviderClass;
      try {
        // A variable specifier: the compiler does not look for the package (it has no bundled types).
        const name = 'oidc-provider';
        Provider = ((await import(name)) as { default: ProviderClass }).default;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
        throw err;
      }
      const hour = 3600;
      return new Provider(issuer, {
        jwks: { keys: [jwk] },
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [options.redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
        scopes: ['openid', 'profile', 'email', 'groups'],
        claims: { openid: ['sub'], profile: ['preferred_username', 'given_name', 'family_name'], email: ['email'], groups: ['groups'] },
        // The granted scopes' claims in the ID token itself, as corporate IdPs put `groups` there.
        conformIdTokenClaims: false,
        features: { devInteractions: { enabled: true } },
        cookies: { keys: [randomBytes(32).toString('base64url')] },
        ttl: { AccessToken: hour, IdToken: hour, Interaction: hour, Session: 8 * hour, Grant: 8 * hour },
        // The zone is a first-party application of this IdP: its scopes are granted without a consent
        // form, as a company's IdP does for its own applications (oidc-provider's documented recipe).
        async loadExistingGrant(ctx: GrantContext) {
          const { client, session, provider: p } = ctx.oidc;
          const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
          if (grantId) return p.Grant.find(grantId);
          const grant = new p.Grant({ clientId: client.clientId, accountId: session.accountId });
          grant.addOIDCScope('openid profile email groups');
          await grant.save();
          return grant;
        },
        // Its own error page: what went wrong, and whom it knows (a name it does not know ends here).
        async renderError(ctx: { type: string; body: string }, out: Record<string, unknown>) {
          ctx.type = 'html';
          ctx.body = errorPage(out);
        },
        async findAccount(_ctx: unknown, id: string) {
          const user = accounts.get(id);
          if (!user) return undefined;
          return {
            accountId: id,
            claims: async () => ({
              sub: id,
              preferred_username: id,
              email: `${id}@corp.example.com`,
              given_name: user.givenName,
              family_name: user.familyName,
              groups: [user.group],
            }),
          };
        },
      });
    });
    if (!provider) {
      await stop();
      return { absent: 'oidc-provider (a devDependency) is not installed; npm install in a checkout adds it' };
    }
    server.on('request', provider.callback());
    return { issuer, clientId, clientSecret, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function errorPage(out: Record<string, unknown>): string {
  const rows = Object.entries(out).map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(String(value))}</p>`).join('');
  const users = CORPORATE_USERS.map((u) => `<code>${u.userName}</code>`).join(', ');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in failed - demo corporate IdP</title></head>`
    + `<body><h1>Sign-in failed</h1>${rows}<p>This demo IdP knows the users ${users} (any password).</p></body></html>`;
}

/** The little of oidc-provider's request context `loadExistingGrant` uses. */
interface GrantContext {
  oidc: {
    client: { clientId: string };
    session: { accountId: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    provider: {
      Grant: {
        new (init: { clientId: string; accountId: string }): { addOIDCScope(scope: string): void; save(): Promise<string> };
        find(id: string): Promise<unknown>;
      };
    };
  };
}
