/**
 * The HTML5 application repository in the zones' admin API, on the bare uaadomain beside
 * /identity-zones and authorized as it is (the bootstrap credential, or a provider zone
 * administrator's token with `zones.write`; `zones.read` lists):
 *   POST   /html5-applications                     body: the application's zip (Content-Type application/zip)
 *   GET    /html5-applications                     the deployed versions
 *   DELETE /html5-applications/{app}[/{version}]   one version, or the application
 * The zip is read and checked as `zonegate apps deploy` reads it (./package.ts): a refusal is 400
 * naming the entry, file and JSON path, and nothing is deployed.
 */
import type { AdminOperation, DomainAdminRoutes } from '../zones/admin/api.js';
import { DEFAULT_PACKAGE_LIMITS, readAppZip } from './package.js';
import type { Storage } from '../storage/types.js';
import { HTML5_APPS_NOTICE } from './serve.js';
import type { Html5AppStore } from './store.js';

export const HTML5_APPLICATIONS_PATH = 'html5-applications';

export function html5AppsAdminRoutes(store: Html5AppStore, options: { notices?: Pick<Storage, 'announce'> } = {}): DomainAdminRoutes {
  // Every instance's gateway hears of the change at once (./serve.ts), not after its lookup window.
  const changed = async <T>(value: T): Promise<T> => {
    await options.notices?.announce(HTML5_APPS_NOTICE);
    return value;
  };
  return {
    roots: [HTML5_APPLICATIONS_PATH],
    route(method, segments): AdminOperation | 'method' | undefined {
      const [, app, version, ...rest] = segments;
      if (rest.length > 0) return undefined;
      if (app === undefined) {
        if (method === 'GET') return { resource: 'zones', access: 'read', run: async () => ({ status: 200, body: await store.list() }) };
        if (method === 'POST') {
          return {
            resource: 'zones',
            access: 'write',
            // A zip holds at most what a package may hold uncompressed.
            rawBody: { mediaTypes: ['application/zip', 'application/x-zip-compressed'], maxBytes: DEFAULT_PACKAGE_LIMITS.maxTotalBytes },
            run: async (body) => {
              const pkg = await readAppZip('the request body', body as Buffer);
              return changed({ status: 201, body: await store.deploy([pkg]) });
            },
          };
        }
        return 'method';
      }
      if (method === 'DELETE') return { resource: 'zones', access: 'write', run: async () => changed({ status: 200, body: await store.remove(app, version) }) };
      return 'method';
    },
    allowed(segments) {
      return segments.length === 1 ? 'GET, POST' : 'DELETE';
    },
  };
}
