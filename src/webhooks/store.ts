/**
 * Tenants' inbound webhooks, in the records database (migration 7). A webhook is addressed by its
 * tenant and name; its secret (the HMAC key, or the basic password) is generated here, returned once
 * to whoever created it, and kept sealed with ZONEGATE_SECRET_KEY, like client secrets and signing
 * keys (src/zones/directory/client-secret.ts): a dump of the database yields no usable secret.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { RecordsDatabase } from '../records/types.js';
import { openSecret, sealSecret, type StoredSecret } from '../zones/directory/client-secret.js';

export type WebhookAction =
  /** Forwarded to a destination (`destinations`), at `path` (default `/`), with the tenant in headers. */
  | { forward: { destination: string; path: string } }
  /** Published as the tenant's event `<event>` (the body as its data), delivered by the event relay. */
  | { event: string };

export interface WebhookDefinition {
  tenant: string;
  name: string;
  auth: 'hmac' | 'basic';
  /** basic only. */
  username?: string;
  action: WebhookAction;
  /** Largest body accepted, bytes; a larger one is 413. */
  maxBytes: number;
  createdAt: number;
}

/** A definition with its secret opened, for checking one call. */
export interface Webhook extends WebhookDefinition {
  secret: string;
}

export const DEFAULT_WEBHOOK_MAX_BYTES = 1024 * 1024;
export const MAX_WEBHOOK_MAX_BYTES = 16 * 1024 * 1024;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isWebhookName(name: string): boolean {
  return NAME.test(name);
}

const context = (tenant: string, name: string) => `webhook:${tenant}:${name}`;

interface WebhookRow {
  tenant: string;
  name: string;
  auth: string;
  username: string | null;
  sealed_secret: string;
  action: string;
  max_bytes: number;
  created_at: number;
}

function definitionOf(row: WebhookRow): WebhookDefinition {
  return {
    tenant: row.tenant,
    name: row.name,
    auth: row.auth as 'hmac' | 'basic',
    ...(row.username !== null ? { username: row.username } : {}),
    action: JSON.parse(row.action) as WebhookAction,
    maxBytes: Number(row.max_bytes),
    createdAt: Number(row.created_at),
  };
}

export interface WebhookStore {
  /** Creates or replaces the webhook; resolves with its new secret (shown once). */
  put(definition: Omit<WebhookDefinition, 'createdAt'>): Promise<{ webhook: WebhookDefinition; secret: string }>;
  get(tenant: string, name: string): Promise<Webhook | undefined>;
  list(tenant?: string): Promise<WebhookDefinition[]>;
  remove(tenant: string, name: string): Promise<boolean>;
}

export function createWebhookStore(records: RecordsDatabase, secretKey: Uint8Array | undefined, now: () => number = Date.now): WebhookStore {
  return {
    async put(definition) {
      const secret = randomBytes(32).toString('base64url');
      const webhook: WebhookDefinition = { ...definition, createdAt: now() };
      const sealed = JSON.stringify(sealSecret(secret, secretKey, context(webhook.tenant, webhook.name)));
      await records.run(
        `INSERT INTO webhooks (tenant, name, auth, username, sealed_secret, action, max_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant, name) DO UPDATE SET auth = excluded.auth, username = excluded.username, sealed_secret = excluded.sealed_secret,
           action = excluded.action, max_bytes = excluded.max_bytes, created_at = excluded.created_at`,
        [webhook.tenant, webhook.name, webhook.auth, webhook.username ?? null, sealed, JSON.stringify(webhook.action), webhook.maxBytes, webhook.createdAt],
      );
      return { webhook, secret };
    },
    async get(tenant, name) {
      const row = await records.one<WebhookRow & Record<string, unknown>>('SELECT * FROM webhooks WHERE tenant = $1 AND name = $2', [tenant, name]);
      if (!row) return undefined;
      let secret: string;
      try {
        secret = openSecret(JSON.parse(row.sealed_secret) as StoredSecret, secretKey, context(tenant, name));
      } catch (err) {
        throw new GatewayError('ZG_ERR_INTERNAL', `The secret of webhook ${tenant}/${name} cannot be opened with the configured ZONEGATE_SECRET_KEY`, { cause: err });
      }
      return { ...definitionOf(row), secret };
    },
    async list(tenant) {
      const rows = tenant === undefined
        ? await records.all<WebhookRow & Record<string, unknown>>('SELECT * FROM webhooks ORDER BY tenant, name')
        : await records.all<WebhookRow & Record<string, unknown>>('SELECT * FROM webhooks WHERE tenant = $1 ORDER BY name', [tenant]);
      return rows.map(definitionOf);
    },
    async remove(tenant, name) {
      return (await records.run('DELETE FROM webhooks WHERE tenant = $1 AND name = $2', [tenant, name])) > 0;
    },
  };
}
