/**
 * The admin API's client resources, on the bare uaadomain beside /identity-zones, in UAA's shape
 * (issue 14):
 *   GET    /oauth/clients[?xsappname=]           the further clients (of one application)
 *   POST   /oauth/clients                        creates one: {xsappname, client_id?, ...}; 201 with
 *                                                `client_secret`, the only time it is shown
 *   GET    /oauth/clients/{id}, DELETE /oauth/clients/{id}
 *   PUT    /oauth/clients/{id}                   replaces the client's settings (the whole client, as
 *                                                UAA's update); its secret stays, never in the body
 *   PUT    /oauth/clients/{id}/secret            UAA's secret change: `{"changeMode": "ADD"}` (default)
 *                                                makes a new secret and keeps the old one valid for
 *                                                `graceSeconds` (default a day); `"DELETE"` ends the old one
 * Clients belong to applications, which are the installation's: the zones administrators of the
 * zones-admin zone (`zones.write`; `zones.read` reads) and the bootstrap credential manage them
 * (../admin/api.ts authorizes, as for /identity-zones).
 */
import { randomUUID } from 'node:crypto';
import type { AdminOperation, DomainAdminRoutes } from '../admin/api.js';
import { DirectoryError } from '../directory/errors.js';
import type { ZoneDirectory } from '../directory/types.js';
import { analyseRegexesInBackground } from '../../config/regex-safety.js';
import { clientContextOf, clientRegexes, readClient } from './input.js';
import type { ClientStore } from './store.js';
import { clientView } from './wire.js';

export function clientAdminRoutes(store: ClientStore, directory: ZoneDirectory): DomainAdminRoutes {
  const notFound = (id: string) => new DirectoryError('CLIENT_NOT_FOUND', `Client ${id} does not exist`);
  const read = (run: AdminOperation['run']): AdminOperation => ({ resource: 'zones', access: 'read', run });
  const write = (run: AdminOperation['run'], readsBody = false): AdminOperation => ({ resource: 'zones', access: 'write', readsBody, run });

  /** The body as a client of its application (`xsappname`), every problem in one INVALID_INPUT. */
  async function clientFrom(body: unknown, fixed?: { clientId: string; xsappname: string }) {
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    const xsappname = fixed?.xsappname ?? b.xsappname;
    if (typeof xsappname !== 'string' || xsappname === '') throw new DirectoryError('INVALID_INPUT', 'xsappname: the application the client belongs to is required');
    if (fixed && b.xsappname !== undefined && b.xsappname !== fixed.xsappname) throw new DirectoryError('INVALID_INPUT', `xsappname: the client belongs to ${fixed.xsappname}`);
    if (fixed && b.client_id !== undefined && b.client_id !== fixed.clientId) throw new DirectoryError('INVALID_INPUT', `client_id: the path names ${fixed.clientId}`);
    const application = await directory.getApplication(xsappname);
    if (!application || application.clientId === 'zonegate-admin') throw new DirectoryError('APPLICATION_NOT_FOUND', `Application ${xsappname} is not registered`);
    // The backtracking analysis runs in a child process; the server keeps serving meanwhile.
    await analyseRegexesInBackground(clientRegexes(b));
    const { input, problems } = readClient(fixed ? { ...b, client_id: fixed.clientId } : b, clientContextOf(application), { newId: randomUUID });
    if (!input) throw new DirectoryError('INVALID_INPUT', problems.map((p) => `${p.path.slice(1) || 'client'}: ${p.message}`).join('; '));
    return input;
  }

  async function create(body: unknown) {
    const { client, clientSecret } = await store.create(await clientFrom(body));
    return { status: 201, body: { ...clientView(client), ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}) } };
  }

  return {
    roots: ['oauth'],
    route(method, segments, query) {
      const [, collection, id, sub, ...rest] = segments;
      if (collection !== 'clients' || rest.length > 0) return undefined;
      if (id === undefined) {
        if (method === 'GET') return read(async () => ({ status: 200, body: (await store.list(query.get('xsappname') ?? undefined)).map(clientView) }));
        if (method === 'POST') return write(create, true);
        return 'method';
      }
      if (sub === undefined) {
        if (method === 'GET') {
          return read(async () => {
            const client = await store.get(id);
            if (!client) throw notFound(id);
            return { status: 200, body: clientView(client) };
          });
        }
        if (method === 'PUT') {
          return write(async (body) => {
            const existing = await store.get(id);
            if (!existing) throw notFound(id);
            return { status: 200, body: clientView(await store.update(await clientFrom(body, existing))) };
          }, true);
        }
        if (method === 'DELETE') {
          return write(async () => {
            const removed = await store.remove(id);
            if (!removed) throw notFound(id);
            return { status: 200, body: clientView(removed) };
          });
        }
        return 'method';
      }
      if (sub !== 'secret') return undefined;
      if (method !== 'PUT') return 'method';
      return write(async (body) => {
        const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
        const changeMode = b.changeMode ?? 'ADD';
        if (changeMode !== 'ADD' && changeMode !== 'DELETE') throw new DirectoryError('INVALID_INPUT', 'changeMode: expected "ADD" (a new secret; the old one stays valid for graceSeconds) or "DELETE" (the old one stops now)');
        if (b.graceSeconds !== undefined && typeof b.graceSeconds !== 'number') throw new DirectoryError('INVALID_INPUT', 'graceSeconds: expected a number of seconds');
        const { client, clientSecret } = await store.rotateSecret(id, { changeMode, ...(b.graceSeconds !== undefined ? { graceSeconds: b.graceSeconds as number } : {}) });
        return { status: 200, body: { ...clientView(client), ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}) } };
      }, true);
    },
    allowed(segments) {
      const [, , id, sub] = segments;
      if (id === undefined) return 'GET, POST';
      return sub === undefined ? 'GET, PUT, DELETE' : 'PUT';
    },
  };
}
