/**
 * GET/POST /invitation on a zone's host: the page where an invited user sets their password
 * (../invitations.ts). Afterwards they sign in through the zone's ordinary login, like any user.
 *
 *  - The reference works only on the host of the zone it was issued for: a link of zone A opened on
 *    zone B's host is "invalid", as an unknown one is (nothing tells which zones exist).
 *  - The form is bound to the browser that opened it (CSRF, as the login form is): GET stores a form
 *    record under the hash of a random ticket set as a host-only cookie, holding the invitation's
 *    hash and a random CSRF token that the form echoes. A double-submit cookie alone would not do:
 *    every zone is a sibling host under the uaadomain, and a sibling can set cookies for the parent
 *    domain ("cookie tossing"); here the cookie only names a server-side record.
 *  - Submissions are throttled like sign-ins (./throttle.ts), per address and per invitation.
 *  - The password policy is the directory's (minimum length); a refused password leaves the link
 *    usable. The reference is redeemed with one atomic take just before the password is set, so two
 *    concurrent submissions cannot both use it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INVITATION_PATH, invitationHash, type Invitation } from '../invitations.js';
import type { ZoneContext } from './context.js';
import { GatewayError } from '../../errors.js';
import { cookie, readCookie, readForm, sendErrorPage, sendHtml, zoneErrorPage } from './http.js';
import { invitationDonePage, invitationPage } from './login-page.js';
import { lockedMessage } from './login.js';
import { admitAttempt } from './throttle.js';
import { sameSecret } from '../../constant-time.js';

const FORM_COOKIE = 'zg_invitation';
/** How long a rendered form stays usable: enough to think of a password. */
const FORM_TTL_MS = 30 * 60_000;
const INVALID = 'This invitation link is invalid, has expired or was already used.';

function invalidInvitation(ctx: ZoneContext, res: ServerResponse): void {
  sendErrorPage(res, new GatewayError('ZG_ERR_INVITATION_INVALID', INVALID), zoneErrorPage(ctx.zone));
}

interface FormRecord {
  invitation: string;
  csrf: string;
}

const formKey = (ticket: string) => `zinv:form:${createHash('sha256').update(ticket).digest('base64url')}`;


/** The invitation behind the reference, if it is valid and belongs to this host's zone. */
async function invitationOfZone(ctx: ZoneContext, reference: string, take: boolean): Promise<Invitation | undefined> {
  const store = ctx.services.invitations;
  // A foreign zone's reference is not taken: its owner can still use it on the right host.
  const found = await store.find(reference);
  if (!found || found.zoneId !== ctx.zone.id) return undefined;
  return take ? store.take(reference) : found;
}

export async function handleInvitationPage(ctx: ZoneContext, res: ServerResponse, url: URL): Promise<void> {
  const reference = url.searchParams.get('code') ?? '';
  const invitation = await invitationOfZone(ctx, reference, false);
  const user = invitation ? await ctx.services.directory.getUser(ctx.zone.id, invitation.userId) : undefined;
  if (!invitation || !user) {
    invalidInvitation(ctx, res);
    return;
  }
  const ticket = randomBytes(32).toString('base64url');
  const csrf = randomBytes(32).toString('base64url');
  const record: FormRecord = { invitation: invitationHash(reference), csrf };
  await ctx.services.storage.set(formKey(ticket), JSON.stringify(record), { ttlMs: FORM_TTL_MS });
  sendHtml(res, 200, invitationPage(ctx.zone, { reference, csrf, userName: user.userName }), {
    'set-cookie': cookie(FORM_COOKIE, ticket, { secure: ctx.secure, maxAgeSeconds: FORM_TTL_MS / 1000, path: INVITATION_PATH }),
  });
}

export async function handleInvitationSubmit(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const reference = form.get('code') ?? '';
  const csrf = form.get('X-Uaa-Csrf') ?? '';
  const password = form.get('password') ?? '';
  const confirmation = form.get('password_confirmation') ?? '';
  const { storage, directory, logger } = ctx.services;

  // Counted per invitation (and address): the reference's hash stands where a sign-in has the user name.
  const admission = await admitAttempt(ctx, `invitation:${invitationHash(reference)}`);
  if (!admission.admitted) {
    logger.warn('invitation refused: throttled', { zoneId: ctx.zone.id, clientIp: ctx.clientIp });
    sendErrorPage(res, new GatewayError('ZG_ERR_TOO_MANY_ATTEMPTS', lockedMessage(admission.retryAfterSeconds)), zoneErrorPage(ctx.zone));
    return;
  }
  const { attempt } = admission;
  if (attempt.delayMs > 0) await new Promise((r) => setTimeout(r, attempt.delayMs));

  const ticket = readCookie(req, FORM_COOKIE);
  const raw = ticket ? await storage.get(formKey(ticket)) : undefined;
  const record = raw === undefined ? undefined : (JSON.parse(raw) as FormRecord);
  if (!record || !sameSecret(record.csrf, csrf) || record.invitation !== invitationHash(reference)) {
    await attempt.failed();
    sendErrorPage(res, new GatewayError('ZG_ERR_FORM_EXPIRED', 'This form has expired or was not opened in this browser.', { advice: 'Open the invitation link again.' }), zoneErrorPage(ctx.zone));
    return;
  }
  const pending = await invitationOfZone(ctx, reference, false);
  const user = pending ? await directory.getUser(ctx.zone.id, pending.userId) : undefined;
  if (!pending || !user) {
    await attempt.failed();
    invalidInvitation(ctx, res);
    return;
  }
  // The holder of a valid link and form: a refused password is a typo, not a guess.
  const problem = password !== confirmation ? 'The passwords do not match.' : directory.passwordProblem(password);
  if (problem !== undefined) {
    await attempt.succeeded();
    sendErrorPage(res, new GatewayError('ZG_ERR_BAD_REQUEST', capitalised(problem)), (message) => invitationPage(ctx.zone, { reference, csrf, userName: user.userName, message }));
    return;
  }
  const invitation = await invitationOfZone(ctx, reference, true);
  if (!invitation) {
    await attempt.failed();
    invalidInvitation(ctx, res);
    return;
  }
  await attempt.succeeded();
  await storage.delete(formKey(ticket!));
  await directory.setPassword(ctx.zone.id, invitation.userId, password);
  logger.info('invitation accepted: password set', { zoneId: ctx.zone.id, userId: invitation.userId });
  sendHtml(res, 200, invitationDonePage(ctx.zone, { userName: user.userName, ...(invitation.returnUrl !== undefined ? { returnUrl: invitation.returnUrl } : {}) }), {
    'set-cookie': cookie(FORM_COOKIE, '', { secure: ctx.secure, maxAgeSeconds: 0, path: INVITATION_PATH }),
  });
}

function capitalised(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${text.endsWith('.') ? '' : '.'}`;
}
