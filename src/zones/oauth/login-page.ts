/**
 * The zone's own pages: the sign-in form (with the application's display name and the zone's
 * branding), the set-password form of an invitation, the error page and the signed-out page, in the
 * look every zonegate page shares (src/http/page.ts). Every interpolated value is HTML-escaped;
 * branding values are checked so a zone administrator cannot inject CSS or scripts into other
 * users' sign-in pages.
 */
import type { ErrorFacts } from '../../http/render-error.js';
import { adviceFor } from '../../http/error-advice.js';
import { escapeHtml, renderPage, supportLine, wayOnList, type PageLink } from '../../http/page.js';
import type { Application, Zone } from '../directory/types.js';

const COLOR = /^#[0-9a-fA-F]{3,8}$/;
const HTTP_URL = /^https?:\/\/[^\s"'<>]+$/;

/** The zone's end of its SSO session (./logout.ts): signing out is also how a user switches. */
const SIGN_OUT: PageLink = { href: '/logout.do', label: 'Sign out / switch user' };

/**
 * What the sign-in page calls the application: xs-security.json's `description` (XSUAA shows it on
 * its consent and sign-in pages), else the xsappname; never the client id, which means nothing to
 * the person signing in.
 */
export function displayName(application: Pick<Application, 'xsappname' | 'description'>): string {
  return application.description?.trim() || application.xsappname;
}

function zoneTitle(zone: Zone): string {
  return zone.branding?.title || zone.name || zone.subdomain;
}

function layout(zone: Zone | undefined, input: { title: string; heading: string; body: string }): string {
  if (!zone) return renderPage({ ...input, title: `${input.title} · zonegate` });
  const name = zoneTitle(zone);
  const logoUrl = zone.branding?.logoUrl;
  const logo = logoUrl && HTTP_URL.test(logoUrl) ? `<img src="${escapeHtml(logoUrl)}" alt="" height="40">` : '';
  const color = zone.branding?.color && COLOR.test(zone.branding.color) ? zone.branding.color : undefined;
  return renderPage({
    ...input,
    title: `${input.title} · ${name}`,
    banner: `<p class="brand">${logo}<span>${escapeHtml(name)}</span></p>`,
    ...(color !== undefined ? { accent: color } : {}),
  });
}

function messageBox(message: string | undefined): string {
  return message ? `<p class="msg" role="alert">${escapeHtml(message)}</p>` : '';
}

export function loginPage(
  zone: Zone,
  input: { authRequestId: string; csrf: string; appName: string; userName?: string; message?: string; providers?: { name: string; href: string }[]; accountName?: string },
): string {
  // The first field to fill gets the focus: the password when the user name is known (login_hint, a retry).
  const knownUser = (input.userName ?? '') !== '';
  // The zone's external identity providers (issue 13): plain links, each the same authorization request naming the provider.
  const providers = input.providers?.length
    ? `\n<nav aria-label="Other ways to sign in"><ul>${input.providers.map((p) => `<li><a href="${escapeHtml(p.href)}">Sign in with ${escapeHtml(p.name)}</a></li>`).join('')}</ul></nav>`
    : '';
  return layout(zone, {
    title: `Sign in to ${input.appName}`,
    heading: input.appName,
    body: `<p>Sign in with your ${escapeHtml(input.accountName ?? zoneTitle(zone))} account to continue.</p>${messageBox(input.message)}
<form method="post" action="/login.do">
<input type="hidden" name="auth_request" value="${escapeHtml(input.authRequestId)}">
<input type="hidden" name="X-Uaa-Csrf" value="${escapeHtml(input.csrf)}">
<label for="username">User name or e-mail</label><input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required${knownUser ? '' : ' autofocus'} value="${escapeHtml(input.userName ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required${knownUser ? ' autofocus' : ''}>
<button type="submit">Sign in</button>
</form>${providers}`,
  });
}

/**
 * The zone's error page: what happened (the public message), what to do (the code's advice), the
 * code and request id for support, and a way on. A zone does not know the application's address,
 * so the way on is signing out (which also switches user), or back where the user came from.
 */
export function errorPage(zone: Zone | undefined, heading: string, message: string, facts: ErrorFacts): string {
  const advice = facts.advice ?? adviceFor(facts.code, facts.status, true).advice;
  const links = zone ? [{ ...SIGN_OUT, primary: true }] : [];
  return layout(zone, {
    title: heading,
    heading,
    body: `<p class="msg" role="alert">${escapeHtml(message)}</p><p>${escapeHtml(advice)}</p>${wayOnList(links)}${supportLine(facts.code, facts.requestId)}`,
  });
}

export function loggedOutPage(zone: Zone): string {
  return layout(zone, {
    title: 'Signed out',
    heading: 'You have been signed out',
    body: `<p>You have been signed out of ${escapeHtml(zoneTitle(zone))}. To sign in again, go back to the application and open it anew; on a shared computer, close the browser.</p>`,
  });
}

/** The set-password form of an invitation (./invitation.ts). The reference travels in the form, never in a URL the page links to. */
export function invitationPage(zone: Zone, input: { reference: string; csrf: string; userName: string; message?: string }): string {
  return layout(zone, {
    title: 'Set your password',
    heading: 'Set your password',
    body: `<p>Choose a password for <b>${escapeHtml(input.userName)}</b>. This link works once.</p>${messageBox(input.message)}
<form method="post" action="/invitation">
<input type="hidden" name="code" value="${escapeHtml(input.reference)}">
<input type="hidden" name="X-Uaa-Csrf" value="${escapeHtml(input.csrf)}">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(input.userName)}">
<label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required autofocus>
<label for="password_confirmation">Repeat the password</label><input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required>
<button type="submit">Set password</button>
</form>`,
  });
}

export function invitationDonePage(zone: Zone, input: { userName: string; returnUrl?: string }): string {
  // Only an http(s) URL becomes a link: it came from provisioning, but a page never links to `javascript:`.
  const links: PageLink[] = input.returnUrl && HTTP_URL.test(input.returnUrl) ? [{ href: input.returnUrl, label: 'Continue to the application', primary: true }] : [];
  return layout(zone, {
    title: 'Password set',
    heading: 'Your password is set',
    body: `<p>The password of <b>${escapeHtml(input.userName)}</b> is set. Sign in with it.</p>${wayOnList(links)}`,
  });
}
