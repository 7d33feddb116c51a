/**
 * Invitations: one-time set-password links for users a zone has no password for, such as the
 * administrator a SaaS subscription creates (issue 12). Without one that user could never sign in:
 * the registry sends no password, and with the built-in zones there is no identity provider to
 * vouch for them.
 *
 * A link carries an unguessable reference, never a token or password (REFERENCE.md §11, as for
 * one-time logins):
 *  - 32 random bytes, base64url; only its SHA-256 is stored (`zinv:<hash>`), so a store dump yields
 *    no usable link. A plain hash is enough: the reference has 256 bits of entropy, nothing to brute-force;
 *  - single use: redeeming it is one atomic `take` of the record (every instance sees the same store);
 *  - it expires (default 7 days, the record's TTL and an `expiresAt` checked on read);
 *  - it belongs to one zone and works only on that zone's host;
 *  - a user has at most one: issuing a new one (a registry's retry of a subscription whose answer
 *    was lost) withdraws the previous (`zinv:user:<zone id>:<user id>` names the current hash).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Storage } from '../storage/types.js';

export const DEFAULT_INVITATION_TTL_MS = 7 * 24 * 3600_000;
/** The path of the set-password page on a zone's host (./oauth/invitation.ts). */
export const INVITATION_PATH = '/invitation';

export interface Invitation {
  zoneId: string;
  userId: string;
  /** Where the user goes once the password is set (the tenant's application URL), shown as a link. */
  returnUrl?: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** The stored key of a reference; also what a form rendered for it remembers (never the reference). */
export function invitationHash(reference: string): string {
  return createHash('sha256').update(reference, 'utf8').digest('base64url');
}

const key = (hash: string) => `zinv:${hash}`;
const userKey = (zoneId: string, userId: string) => `zinv:user:${zoneId}:${userId}`;
// 32 bytes in base64url: exactly 43 characters; anything else is not a reference (and costs no store read).
const REFERENCE = /^[A-Za-z0-9_-]{43}$/;

function parse(raw: string | undefined, now: number): Invitation | undefined {
  if (raw === undefined) return undefined;
  const invitation = JSON.parse(raw) as Invitation;
  return invitation.expiresAt > now ? invitation : undefined;
}

export interface InvitationStore {
  /** Issues a link reference for the user, withdrawing their previous one. */
  issue(input: { zoneId: string; userId: string; returnUrl?: string }): Promise<{ reference: string; expiresAt: number }>;
  /** The invitation behind a reference, if it is still valid (not used, not expired). */
  find(reference: string): Promise<Invitation | undefined>;
  /** Redeems a reference: at most one caller ever gets the invitation back. */
  take(reference: string): Promise<Invitation | undefined>;
}

export function createInvitationStore(storage: Storage, options: { ttlMs?: number; now?: () => number } = {}): InvitationStore {
  const ttlMs = options.ttlMs ?? DEFAULT_INVITATION_TTL_MS;
  const now = options.now ?? Date.now;
  return {
    async issue(input) {
      const reference = randomBytes(32).toString('base64url');
      const hash = invitationHash(reference);
      const expiresAt = now() + ttlMs;
      const invitation: Invitation = { zoneId: input.zoneId, userId: input.userId, ...(input.returnUrl !== undefined ? { returnUrl: input.returnUrl } : {}), expiresAt };
      await storage.set(key(hash), JSON.stringify(invitation), { ttlMs });
      const previous = await storage.get(userKey(input.zoneId, input.userId));
      await storage.set(userKey(input.zoneId, input.userId), hash, { ttlMs });
      if (previous !== undefined && previous !== hash) await storage.delete(key(previous));
      return { reference, expiresAt };
    },
    async find(reference) {
      if (!REFERENCE.test(reference)) return undefined;
      return parse(await storage.get(key(invitationHash(reference))), now());
    },
    async take(reference) {
      if (!REFERENCE.test(reference)) return undefined;
      const invitation = parse(await storage.take(key(invitationHash(reference))), now());
      if (invitation) await storage.deleteIfEquals(userKey(invitation.zoneId, invitation.userId), invitationHash(reference));
      return invitation;
    },
  };
}
