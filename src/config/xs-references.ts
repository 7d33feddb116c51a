/**
 * How xs-security.json names other applications and their scopes (SAP BTP, "Application Security
 * Descriptor Configuration Syntax"):
 *  - `$XSAPPNAME.<scope>`: a scope of this application;
 *  - `$XSAPPNAME(<service plan>,<xsappname>).<scope>` (also with a further argument before the
 *    xsappname, as in `$XSAPPNAME(application,sap-provisioning,tenant-onboarding)`): a scope of
 *    another application, which reaches this one only if that application grants it
 *    (`granted-apps` for user scopes, `grant-as-authority-to-apps` for authorities);
 *  - in `granted-apps` / `grant-as-authority-to-apps`: `$XSAPPNAME(<plan>,<xsappname>)`, a plain
 *    xsappname, or `$XSSERVICENAME(<service instance>)`;
 *  - `$XSSERVICENAME(<service instance>).<name>`: a scope or role template of the application behind
 *    a service instance "in the same subaccount and space" (the same page, "Referencing the
 *    Application"). Only the platform knows which application a service instance name stands for,
 *    so zonegate accepts these references and resolves none of them.
 * The xsappname is always the last argument. Read by the loader (src/config/security.ts) to refuse
 * what an application may not claim, and by the zone directory to decide grants.
 */

export const OWN_PREFIX = '$XSAPPNAME.';
export const ACCEPT_GRANTED_AUTHORITIES = '$ACCEPT_GRANTED_AUTHORITIES';
export const ACCEPT_GRANTED_SCOPES = '$ACCEPT_GRANTED_SCOPES';
/** UAA's authority for resource servers (/introspect, /check_token); XSUAA's default for a client without authorities. */
export const UAA_RESOURCE = 'uaa.resource';
/** UAA's user scope; XSUAA lets applications declare it for the token exchange (jwt-bearer). */
export const UAA_USER = 'uaa.user';

const FOREIGN_SCOPE = /^\$XSAPPNAME\(([^()]*)\)\.(.+)$/;
const SERVICE_INSTANCE_NAME = /^\$XSSERVICENAME\(([^()]+)\)\.(.+)$/;
const APP_REFERENCE = /^\$XSAPPNAME\(([^()]*)\)$/;

function lastArgument(args: string): string | undefined {
  const name = args.split(',').at(-1)?.trim();
  return name ? name : undefined;
}

/** `$XSAPPNAME(<plan>,<xsappname>).<scope>` as `{xsappname, scope}`; undefined for anything else. */
export function parseForeignScope(reference: string): { xsappname: string; scope: string } | undefined {
  const m = FOREIGN_SCOPE.exec(reference);
  const xsappname = m ? lastArgument(m[1]!) : undefined;
  return xsappname ? { xsappname, scope: m![2]! } : undefined;
}

/**
 * The xsappname an entry of `granted-apps` / `grant-as-authority-to-apps` names; undefined for
 * `$XSSERVICENAME(...)` (a service instance name, which only the platform can resolve).
 */
export function grantedAppName(entry: string): string | undefined {
  const trimmed = entry.trim();
  const m = APP_REFERENCE.exec(trimmed);
  if (m) return lastArgument(m[1]!);
  if (trimmed.startsWith('$')) return undefined;
  return trimmed || undefined;
}

/**
 * A literal instance name such as `otherapp!t7.Admin` or `service!b3.read`: it pins another
 * application's registered instance and so bypasses that application's grants.
 */
export function namesForeignInstance(reference: string): boolean {
  return !reference.startsWith('$') && /![tb]\d+\./.test(reference);
}

/**
 * `$XSSERVICENAME(<service instance>).<name>` as `{serviceInstance, name}`; undefined for anything
 * else. The service instance cannot be resolved here (see the head of this file).
 */
export function parseServiceInstanceReference(reference: string): { serviceInstance: string; name: string } | undefined {
  const m = SERVICE_INSTANCE_NAME.exec(reference);
  const serviceInstance = m?.[1]!.trim();
  return serviceInstance ? { serviceInstance, name: m![2]! } : undefined;
}
