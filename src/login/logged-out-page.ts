/**
 * The gateway's "You have been logged out" page, where logout ends when routes.json names no
 * `logout.logoutPage` (SAP's router then shows the welcome page, which on a protected application is
 * a new login at once: the user could not tell that the logout worked).
 */
import { renderPage, wayOnList } from '../http/page.js';

/** Under the callback's prefix, which the gateway answers itself already. */
export const LOGGED_OUT_PATH = '/login/logged-out';

/** `home`: the tenant's home, where the next visit logs in again. */
export function loggedOutPage(home: string): string {
  return renderPage({
    title: 'Logged out',
    heading: 'You have been logged out',
    body: `<p>Your session has ended. On a shared computer, also close the browser.</p>${wayOnList([{ href: home, label: 'Log in again', primary: true }])}`,
  });
}
