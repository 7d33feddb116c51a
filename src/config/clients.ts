/**
 * clients.json (issue 14): the application's further OAuth clients, declared beside its
 * xs-security.json and applied at every start (src/zones/start.ts): the file's clients are created or
 * updated, those it no longer lists removed; clients made through the admin API or the CLI stay.
 *
 *   { "clients": [ { "client_id": "portal", "redirect_uri_regex": ["https://portal\\.example\\.com/callback"] }, ... ] }
 *
 * Each entry is read as the admin API reads a client (src/zones/clients/input.ts), against the scopes
 * and authorities the xs-security.json beside it declares; every problem of the file is reported at
 * once with its JSON path. Secrets never live in the file: a confidential client declared here gets
 * one with `zonegate clients rotate-secret <id>`, printed once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { readClient } from '../zones/clients/input.js';
import type { ClientInput } from '../zones/clients/types.js';
import { readJsonFile } from './json-text.js';
import type { XsSecurity } from './types.js';
import { OWN_PREFIX, UAA_RESOURCE, UAA_USER } from './xs-references.js';

export const CLIENTS_FILE = 'clients.json';

export interface DeclaredClients {
  file: string;
  xsappname: string;
  clients: ClientInput[];
}

/** clients.json in the directory of `securityFile`, validated; undefined when there is none. Throws ConfigError listing every problem. */
export function readClientsBeside(securityFile: string, security: XsSecurity): DeclaredClients | undefined {
  const file = path.join(path.dirname(securityFile), CLIENTS_FILE);
  if (!fs.existsSync(file)) return undefined;
  const parsed = readJsonFile(file);
  if (!parsed.ok) throw new ConfigError([parsed.problem]);
  return checkClientsDocument(parsed.value, file, security);
}

export function checkClientsDocument(doc: unknown, file: string, security: XsSecurity): DeclaredClients {
  const problems: ConfigProblem[] = [];
  const problem = (p: string, message: string) => problems.push({ file, path: p, message });
  const list = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>).clients : undefined;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) problem('', 'expected an object: {"clients": [...]}');
  else {
    for (const key of Object.keys(doc)) if (key !== 'clients') problem(`/${key}`, `unknown property "${key}" (expected one of: clients)`);
    if (!Array.isArray(list)) problem('/clients', list === undefined ? 'is required: a list of clients' : 'expected an array of clients');
  }
  const context = {
    xsappname: security.xsappname,
    scopes: security.scopes.map((s) => s.name).filter((n) => n.startsWith(OWN_PREFIX) || n === UAA_USER),
    authorities: [...security.authorities.filter((a) => a.startsWith(OWN_PREFIX)), UAA_RESOURCE],
  };
  const clients: ClientInput[] = [];
  const first = new Map<string, number>();
  (Array.isArray(list) ? list : []).forEach((entry, i) => {
    const { input, problems: found } = readClient(entry, context, { base: `/clients/${i}`, requireId: true });
    for (const p of found) problem(p.path, p.message);
    const id = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).client_id : undefined;
    if (typeof id === 'string') {
      if (first.has(id)) problem(`/clients/${i}/client_id`, `duplicate client "${id}" (first declared at /clients/${first.get(id)})`);
      else first.set(id, i);
    }
    if (input) clients.push(input);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { file, xsappname: security.xsappname, clients };
}
