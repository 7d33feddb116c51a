/**
 * The zone's own pages: the login form (branded with the zone's name and colours), the error page and
 * the logout page. Every interpolated value is HTML-escaped; branding values are checked so a zone
 * administrator cannot inject CSS or scripts into other users' login pages.
 */
import type { Zone } from '../directory/types.js';
import { escapeHtml } from '../../http/render-error.js';

const COLOR = /^#[0-9a-fA-F]{3,8}$/;

function brand(zone: Zone): { title: string; color: string; logo: string } {
  const title = zone.branding?.title || zone.name || zone.subdomain;
  const color = zone.branding?.color && COLOR.test(zone.branding.color) ? zone.branding.color : '#0a6ed1';
  const logoUrl = zone.branding?.logoUrl;
  const logo = logoUrl && /^https?:\/\/[^\s"'<>]+$/.test(logoUrl) ? `<img src="${escapeHtml(logoUrl)}" alt="" height="48">` : '';
  return { title, color, logo };
}

function layout(zone: Zone, heading: string, body: string): string {
  const b = brand(zone);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(heading)} · ${escapeHtml(b.title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f5f6f7;margin:0}
main{max-width:22rem;margin:8vh auto;background:#fff;padding:2rem;border-radius:8px;border-top:6px solid ${b.color}}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;width:100%;padding:.6rem;background:${b.color};color:#fff;border:0;border-radius:4px}
.msg{background:#fdecea;padding:.6rem;border-radius:4px}
</style></head>
<body><main>${b.logo}<h1>${escapeHtml(b.title)}</h1>${body}</main></body></html>`;
}

export function loginPage(
  zone: Zone,
  input: { authRequestId: string; csrf: string; userName?: string; message?: string; clientId: string; providers?: { name: string; href: string }[] },
): string {
  const message = input.message ? `<p class="msg" role="alert">${escapeHtml(input.message)}</p>` : '';
  // The zone's external identity providers (issue 13): plain links, each the same authorization request naming the provider.
  const providers = input.providers?.length
    ? `\n<nav aria-label="Other ways to sign in"><ul>${input.providers.map((p) => `<li><a href="${escapeHtml(p.href)}">Sign in with ${escapeHtml(p.name)}</a></li>`).join('')}</ul></nav>`
    : '';
  return layout(
    zone,
    'Sign in',
    `<p>Sign in to continue to <b>${escapeHtml(input.clientId)}</b>.</p>${message}
<form method="post" action="/login.do">
<input type="hidden" name="auth_request" value="${escapeHtml(input.authRequestId)}">
<input type="hidden" name="X-Uaa-Csrf" value="${escapeHtml(input.csrf)}">
<label for="username">User name or e-mail</label><input id="username" name="username" autocomplete="username" required value="${escapeHtml(input.userName ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>${providers}`,
  );
}

export function errorPage(zone: Zone | undefined, heading: string, message: string): string {
  const fallback: Zone = { id: '', subdomain: '', name: 'zonegate', createdAt: '' };
  return layout(zone ?? fallback, heading, `<p class="msg" role="alert">${escapeHtml(message)}</p>`);
}

export function loggedOutPage(zone: Zone): string {
  return layout(zone, 'Signed out', '<p>You have been signed out.</p>');
}

/** The set-password form of an invitation (./invitation.ts). The reference travels in the form, never in a URL the page links to. */
export function invitationPage(zone: Zone, input: { reference: string; csrf: string; userName: string; message?: string }): string {
  const message = input.message ? `<p class="msg" role="alert">${escapeHtml(input.message)}</p>` : '';
  return layout(
    zone,
    'Set your password',
    `<p>Set a password for <b>${escapeHtml(input.userName)}</b>. This link works once.</p>${message}
<form method="post" action="/invitation">
<input type="hidden" name="code" value="${escapeHtml(input.reference)}">
<input type="hidden" name="X-Uaa-Csrf" value="${escapeHtml(input.csrf)}">
<input type="hidden" name="username" autocomplete="username" value="${escapeHtml(input.userName)}">
<label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required>
<label for="password_confirmation">Repeat the password</label><input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required>
<button type="submit">Set password</button>
</form>`,
  );
}

export function invitationDonePage(zone: Zone, input: { userName: string; returnUrl?: string }): string {
  // Only an http(s) URL becomes a link: it came from provisioning, but a page never links to `javascript:`.
  const link = input.returnUrl && /^https?:\/\/[^\s"'<>]+$/.test(input.returnUrl) ? `<p><a href="${escapeHtml(input.returnUrl)}">Continue to the application</a></p>` : '';
  return layout(zone, 'Password set', `<p>The password of <b>${escapeHtml(input.userName)}</b> is set. Sign in with it.</p>${link}`);
}
