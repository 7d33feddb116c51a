/**
 * The optional `scope` parameter of a token request (RFC 6749 §3.3, §6): it can only narrow what the
 * grant would give, never widen it. Asking for a scope outside that set is `invalid_scope`.
 */
import { InvalidScope } from '../errors.js';
import { single } from '../http.js';

export function narrowScopes(available: readonly string[], form: URLSearchParams): string[] {
  const raw = single(form, 'scope');
  if (raw === undefined || raw.trim() === '') return [...available];
  const requested = [...new Set(raw.trim().split(/\s+/))];
  const missing = requested.filter((s) => !available.includes(s));
  if (missing.length > 0) throw new InvalidScope(`Not granted: ${missing.join(' ')}`);
  return available.filter((s) => requested.includes(s));
}
