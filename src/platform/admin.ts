/**
 * Registration of trusted platforms and relay installations through the zones' admin API on the
 * bare uaadomain (../zones/admin/api.ts checks the caller: the bootstrap admin, or a zones
 * administrator's token with `zones.write`; `zones.read` reads):
 *   GET/POST       /trusted-platforms          GET/PUT/DELETE /trusted-platforms/{id}
 *   GET/POST       /relay-installations        GET/DELETE     /relay-installations/{id}
 * A relay installation's secret is in the answer to its POST, once.
 */
import type { AdminOperation, DomainAdminRoutes } from '../zones/admin/api.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Audit } from './audit.js';
import { PlatformError } from './errors.js';
import { createRelayInstallations, readInstallationInput } from './relay.js';
import { createTrustedPlatforms, readPlatformInput } from './trusted-platforms.js';

export const TRUSTED_PLATFORMS_PATH = 'trusted-platforms';
export const RELAY_INSTALLATIONS_PATH = 'relay-installations';

export function platformAdminRoutes(records: RecordsDatabase, audit: Audit): DomainAdminRoutes {
  const platforms = createTrustedPlatforms(records);
  const installations = createRelayInstallations(records);
  const notFound = (what: string, id: string) => new PlatformError('ZG_ERR_ADMIN_NOT_FOUND', 'not_found', `No ${what} "${id}"`);
  const read = (run: AdminOperation['run']): AdminOperation => ({ resource: 'zones', access: 'read', run });
  const write = (run: AdminOperation['run'], readsBody = false): AdminOperation => ({ resource: 'zones', access: 'write', readsBody, run });

  function platformRoutes(method: string, id: string | undefined): AdminOperation | 'method' {
    if (id === undefined) {
      if (method === 'GET') return read(async () => ({ status: 200, body: await platforms.list() }));
      if (method === 'POST') {
        return write(async (body) => {
          const created = await platforms.create(await readPlatformInput(body));
          audit.success('platform.registration', { platform: created.id, change: 'created' });
          return { status: 201, body: created };
        });
      }
      return 'method';
    }
    if (method === 'GET') {
      return read(async () => {
        const found = await platforms.get(id);
        if (!found) throw notFound('trusted platform', id);
        return { status: 200, body: found };
      });
    }
    if (method === 'PUT') {
      return write(async (body) => {
        const input = await readPlatformInput({ ...(body as object), id });
        const updated = await platforms.update(input);
        audit.success('platform.registration', { platform: id, change: 'updated' });
        return { status: 200, body: updated };
      }, true);
    }
    if (method === 'DELETE') {
      return write(async () => {
        const removed = await platforms.remove(id);
        if (!removed) throw notFound('trusted platform', id);
        audit.success('platform.registration', { platform: id, change: 'removed' });
        return { status: 200, body: removed };
      });
    }
    return 'method';
  }

  function installationRoutes(method: string, id: string | undefined): AdminOperation | 'method' {
    if (id === undefined) {
      if (method === 'GET') return read(async () => ({ status: 200, body: await installations.list() }));
      if (method === 'POST') {
        return write(async (body) => {
          const created = await installations.create(readInstallationInput(body));
          audit.success('relay.registration', { installation: created.id, change: 'created' });
          return { status: 201, body: created };
        });
      }
      return 'method';
    }
    if (method === 'GET') {
      return read(async () => {
        const found = await installations.get(id);
        if (!found) throw notFound('relay installation', id);
        return { status: 200, body: found };
      });
    }
    if (method === 'DELETE') {
      return write(async () => {
        const removed = await installations.remove(id);
        if (!removed) throw notFound('relay installation', id);
        audit.success('relay.registration', { installation: id, change: 'removed' });
        return { status: 200, body: removed };
      });
    }
    return 'method';
  }

  return {
    roots: [TRUSTED_PLATFORMS_PATH, RELAY_INSTALLATIONS_PATH],
    route(method, segments) {
      const [root, id, ...rest] = segments;
      if (rest.length > 0) return undefined;
      return root === TRUSTED_PLATFORMS_PATH ? platformRoutes(method, id) : installationRoutes(method, id);
    },
    allowed(segments) {
      const [root, id] = segments;
      if (id === undefined) return 'GET, POST';
      return root === TRUSTED_PLATFORMS_PATH ? 'GET, PUT, DELETE' : 'GET, DELETE';
    },
  };
}
