/**
 * What an error page says to the person in front of it: what happened, in their words, and what to do
 * next. The registry's titles (src/errors.ts) are written for API clients and logs; these are for
 * people, and they never depend on the error's message (which may be internal, see `expose`).
 * One entry per class of error, so a new code falls into its status class until it gets its own.
 */
import type { ErrorCode } from '../errors.js';

export interface Advice {
  /** What happened. */
  heading: string;
  /** What to do about it. */
  advice: string;
  /** Whether trying the same request again may help (the page then offers "Try again"). */
  retry?: boolean;
}

const TRY_LATER = 'Try again in a minute. If it keeps happening, contact support with the details below.';
const START_AGAIN = 'Go back to the application and start again.';

const BY_CODE: Partial<Record<ErrorCode, Advice>> = {
  ZG_ERR_HOST_UNMATCHED: { heading: 'Nothing is served at this address', advice: 'Check the address for typing mistakes. If you followed a link, tell whoever gave it to you.' },
  ZG_ERR_TENANT_UNKNOWN: {
    heading: 'This organisation is not known here',
    advice: 'Check the address: its first part names your organisation. If it is right, your organisation may not be subscribed to this application yet; ask your administrator.',
  },
  ZG_ERR_ROUTE_NOT_FOUND: { heading: 'This page does not exist', advice: 'Check the address, or start again from the home page.' },
  ZG_ERR_FILE_NOT_FOUND: { heading: 'This page does not exist', advice: 'Check the address, or start again from the home page.' },
  ZG_ERR_METHOD_NOT_ALLOWED: { heading: 'This page cannot be used this way', advice: 'Start again from the home page.' },
  ZG_ERR_UNAUTHENTICATED: { heading: 'Please log in', advice: 'Your session may have expired. Log in again to continue.' },
  ZG_ERR_LOGIN_FAILED: {
    heading: 'The login did not complete',
    advice: 'It may have taken too long, or been started in another window. Log in again from the home page.',
  },
  ZG_ERR_FORBIDDEN: {
    heading: 'You do not have access to this page',
    advice: 'Your account lacks the role for this page. Ask your administrator for it, or log in as another user.',
  },
  ZG_ERR_CSRF_REQUIRED: { heading: 'This page needs to be reloaded', advice: 'Your session may have changed since the page was opened. Reload it and try again.' },
  ZG_ERR_IDP_UNAVAILABLE: { heading: 'Login is temporarily unavailable', advice: TRY_LATER, retry: true },
  ZG_ERR_NOT_SUPPORTED: { heading: 'This feature is not available here', advice: 'Start again from the home page. If you need this feature, tell your administrator.' },
  ZG_ERR_BACKEND_UNREACHABLE: { heading: 'The application is not responding', advice: TRY_LATER, retry: true },
  ZG_ERR_BACKEND_TIMEOUT: { heading: 'The application took too long to answer', advice: TRY_LATER, retry: true },
  ZG_ERR_HEADERS_TOO_LARGE: {
    heading: 'Your browser sent too much data',
    advice: 'This usually means too many cookies for this site. Delete the cookies of this site in your browser, then try again.',
  },
  ZG_ERR_REQUEST_TIMEOUT: { heading: 'The request took too long to arrive', advice: 'Check your connection, then try again.', retry: true },
  ZG_ERR_TOO_MANY_ATTEMPTS: { heading: 'Too many attempts', advice: 'Wait a few minutes, then try again.' },
  ZG_ERR_FORM_EXPIRED: { heading: 'This form has expired', advice: START_AGAIN },
  ZG_ERR_INVITATION_INVALID: { heading: 'This invitation cannot be used', advice: 'Ask your administrator for a new invitation.' },
  ZG_ERR_OAUTH_ACCESS_DENIED: { heading: 'Access was denied', advice: START_AGAIN },
  ZG_ERR_OAUTH_LOGIN_REQUIRED: { heading: 'Please sign in', advice: START_AGAIN },
};

/**
 * The advice for an error's code, else for its status class. `signIn`: the error is the identity
 * zone's, on a page the user reached from an application's login, where starting again from that
 * application is the way on.
 */
export function adviceFor(code: ErrorCode, status: number, signIn = false): Advice {
  const own = BY_CODE[code];
  if (own) return own;
  if (signIn && status < 500) return { heading: 'The sign-in request is not valid', advice: START_AGAIN };
  if (status === 503) return { heading: 'The service is temporarily unavailable', advice: TRY_LATER, retry: true };
  if (status >= 500) return { heading: 'Something went wrong on our side', advice: TRY_LATER, retry: true };
  if (status === 401) return BY_CODE.ZG_ERR_UNAUTHENTICATED!;
  if (status === 403) return BY_CODE.ZG_ERR_FORBIDDEN!;
  if (status === 404) return BY_CODE.ZG_ERR_ROUTE_NOT_FOUND!;
  return { heading: 'The request could not be handled', advice: 'Go back and try again, or start again from the home page.' };
}
