/**
 * The directory's rules for what it stores: subdomains, zone ids, names, e-mail addresses, origins,
 * branding. The directory enforces them; provisioning, the zones server and the CLI ask the same
 * functions before they reach it (to answer a 400 early, or to skip a lookup), so no caller accepts
 * what the directory would then refuse half-way (issue 11, item 4).
 */
import { DirectoryError } from './errors.js';
import type { Zone } from './types.js';

// RFC 1035 §2.3.1 label, as lower case: letters, digits, hyphens, 1..63, no hyphen at either end.
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// Zone ids are GUIDs (SaaS tenant ids) in practice; anything else must at least be a safe key part.
const ZONE_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
const ORIGIN = /^[A-Za-z0-9._-]{1,64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** RFC 5321 §4.5.3.1.3: a forward path holds at most 256 octets, the angle brackets included. */
const EMAIL_MAX = 254;

export function invalid(message: string): DirectoryError {
  return new DirectoryError('INVALID_INPUT', message);
}

export function checkText(value: unknown, what: string, max = 255): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`);
  if (value.length > max) throw invalid(`${what} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw invalid(`${what} must not contain control characters`);
  return value;
}

export function optionalText(value: unknown, what: string): string | undefined {
  return value === undefined ? undefined : checkText(value, what);
}

/** Whether a lower-case name is a subdomain a zone can have (a lookup for any other finds nothing). */
export function isSubdomain(lower: string): boolean {
  return DNS_LABEL.test(lower);
}

export function normaliseSubdomain(subdomain: unknown): string {
  if (typeof subdomain !== 'string') throw invalid('subdomain must be a string');
  const lower = subdomain.toLowerCase();
  if (!isSubdomain(lower)) {
    throw invalid(
      `subdomain "${subdomain.slice(0, 80)}" is not a DNS label: use 1 to 63 of a-z, 0-9 and "-", not starting or ending with "-"`,
    );
  }
  return lower;
}

/** Whether a value, in any case, is an id a zone can have. */
export function isZoneId(id: string): boolean {
  return ZONE_ID.test(id.toLowerCase());
}

export function normaliseZoneId(id: unknown): string {
  if (typeof id !== 'string' || !isZoneId(id)) {
    throw invalid('zone id must be 1 to 64 of a-z, 0-9 and "-" (a GUID), starting with a letter or digit');
  }
  return id.toLowerCase();
}

export function checkUserName(value: unknown, what: string): string {
  const userName = checkText(value, what);
  if (userName.trim() !== userName) throw invalid(`${what} must not start or end with spaces`);
  return userName;
}

/** Whether a text has the form of an e-mail address the directory accepts. */
export function isEmail(value: string): boolean {
  return value.length <= EMAIL_MAX && EMAIL.test(value) && !CONTROL.test(value);
}

export function checkEmail(value: unknown, what: string): string {
  const email = checkText(value, what, EMAIL_MAX);
  if (!EMAIL.test(email)) throw invalid(`${what} must be an e-mail address`);
  return email;
}

export function checkOrigin(value: unknown, what: string): string {
  if (typeof value !== 'string' || !ORIGIN.test(value)) throw invalid(`${what} must be 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"`);
  return value;
}

export function checkBranding(branding: unknown): Zone['branding'] {

  if (branding === undefined) return undefined;
  if (typeof branding !== 'object' || branding === null || Array.isArray(branding)) throw invalid('branding must be an object');
  const { title, color, logoUrl, ...rest } = branding as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid(`branding has unknown properties: ${Object.keys(rest).join(', ')}`);
  const result: NonNullable<Zone['branding']> = {};
  if (title !== undefined) result.title = checkText(title, 'branding.title', 200);
  if (color !== undefined) {
    // The login page puts the colour into CSS: only a plain hex colour can never break out of it.
    if (typeof color !== 'string' || !/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
      throw invalid('branding.color must be a hex colour like #0a6ed1');
    }
    result.color = color;
  }
  if (logoUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof logoUrl === 'string' ? new URL(logoUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw invalid('branding.logoUrl must be an http(s) URL');
    result.logoUrl = url.href;
  }
  return result;
}

export function checkAttributes(attributes: unknown): Record<string, string[]> {
  if (attributes === undefined) return {};
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw invalid('attributes must be an object');
  const result: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(attributes)) {
    checkText(name, 'attribute name');
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
      throw invalid(`attribute ${name} must be an array of strings`);
    }
    result[name] = [...values];
  }
  return result;
}

export function checkNameList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${what} must be an array of strings`);
  return [...new Set(value.map((v) => checkText(v, `each of ${what}`)))];
}
