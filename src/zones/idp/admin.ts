/**
 * The admin API's identity provider resources on a zone host (issue 13), in UAA's shape:
 *   GET/POST   /identity-providers
 *   GET/PUT/DELETE /identity-providers/{id}
 *   GET/PUT    /identity-providers/{id}/role-collection-mappings   (XSUAA's role collection mappings:
 *              `[{"group": "<value of a mapped groups claim>", "roleCollection": "<name>"}]`, replaced whole)
 * Everything is read and written in the zone of the request's host, with that zone's admin token
 * (../admin/api.ts checks it: zone administrators, `scim.write`; `scim.read` reads), so a zone's
 * administrators never see or change another zone's providers.
 */
import type { AdminOperation, AdminRoutes } from '../admin/api.js';
import { DirectoryError } from '../directory/errors.js';
import type { Zone } from '../directory/types.js';
import { identityProviderView, readIdentityProvider, readMappings, type IdentityProviderInput } from './config.js';
import { discover, IdpUnavailable } from './relying-party.js';
import { loadIdpMetadata, SamlMetadataError } from './saml-metadata.js';
import type { IdentityProviderStore } from './store.js';

export const IDENTITY_PROVIDERS_PATH = 'identity-providers';
const MAPPINGS = 'role-collection-mappings';

/**
 * The discovery document (OIDC) or the metadata (SAML) must answer and be usable before a provider
 * is stored: a typo is found now, not at the first login. Also `zonegate idps create` (./cli.ts).
 */
export async function checkIdentityProviderReachable(input: IdentityProviderInput): Promise<void> {
  try {
    if (input.type === 'saml') await loadIdpMetadata(input.config);
    else if (input.type === 'oidc1.0') await discover(input.config, undefined);
    // A user backend cannot be asked anything without a user's password: its first login tells.
  } catch (err) {
    if (err instanceof IdpUnavailable || err instanceof SamlMetadataError) throw new DirectoryError('INVALID_INPUT', err.message);
    throw err;
  }
}

export function identityProviderAdminRoutes(store: IdentityProviderStore): AdminRoutes {
  const notFound = () => new DirectoryError('IDENTITY_PROVIDER_NOT_FOUND', 'Identity provider not found');

  async function existing(zone: Zone, id: string) {
    const idp = await store.get(zone.id, id);
    if (!idp) throw notFound();
    return idp;
  }

  const read = (run: AdminOperation['run']): AdminOperation => ({ resource: 'scim', access: 'read', run });
  const write = (run: AdminOperation['run']): AdminOperation => ({ resource: 'scim', access: 'write', readsBody: true, run });

  return {
    roots: [IDENTITY_PROVIDERS_PATH],
    route(method, segments, zone) {
      const [, id, sub, ...rest] = segments;
      if (rest.length > 0) return undefined;
      if (id === undefined) {
        if (method === 'GET') return read(async () => ({ status: 200, body: (await store.list(zone.id)).map(identityProviderView) }));
        if (method === 'POST') {
          return write(async (body) => {
            const input = readIdentityProvider(body);
            await checkIdentityProviderReachable(input);
            return { status: 201, body: identityProviderView(await store.create(zone.id, input)) };
          });
        }
        return 'method';
      }
      if (sub === undefined) {
        if (method === 'GET') return read(async () => ({ status: 200, body: identityProviderView(await existing(zone, id)) }));
        if (method === 'PUT') {
          return write(async (body) => {
            const input = readIdentityProvider(body, await existing(zone, id));
            await checkIdentityProviderReachable(input);
            return { status: 200, body: identityProviderView(await store.update(zone.id, id, input)) };
          });
        }
        if (method === 'DELETE') {
          return {
            resource: 'scim',
            access: 'write',
            run: async () => {
              const removed = await store.remove(zone.id, id);
              if (!removed) throw notFound();
              return { status: 200, body: identityProviderView(removed) };
            },
          };
        }
        return 'method';
      }
      if (sub !== MAPPINGS) return undefined;
      if (method === 'GET') return read(async () => ({ status: 200, body: await store.mappings(zone.id, (await existing(zone, id)).originKey) }));
      if (method === 'PUT') {
        return write(async (body) => {
          const mappings = readMappings(body);
          return { status: 200, body: await store.replaceMappings(zone.id, (await existing(zone, id)).originKey, mappings) };
        });
      }
      return 'method';
    },
    allowed(segments) {
      const [, id, sub] = segments;
      if (id === undefined) return 'GET, POST';
      return sub === undefined ? 'GET, PUT, DELETE' : 'GET, PUT';
    },
  };
}
