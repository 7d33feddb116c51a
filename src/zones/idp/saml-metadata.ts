/**
 * A SAML IdP's metadata (SAML 2.0 Metadata, OASIS saml-metadata-2.0-os), as UAA's
 * `metaDataLocation` gives it: the XML itself, or an https URL it is fetched from. Only what the
 * zone as a service provider needs is read: the IdP's entity id (the assertions' Issuer), its
 * HTTP-Redirect single sign-on endpoint and its signing certificates. The signatures themselves are
 * checked by node-saml (./saml.ts), never here.
 *
 * The fetched metadata is public and cached per provider version in this process, as the OpenID
 * discovery documents are (./relying-party.ts); nothing per login is kept here.
 */
import { X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';

/** xmldom 0.8's node lists are array-like, not iterable. */
const list = <T>(nodes: { length: number; item(i: number): T | null }): T[] => Array.from({ length: nodes.length }, (_, i) => nodes.item(i)!);
import { isAllowedIdpUrl } from './config-urls.js';
import type { SamlConfig, SamlIdentityProvider } from './types.js';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const MAX_METADATA_BYTES = 512 * 1024;
const FETCH_TIMEOUT_MS = 10_000;
const METADATA_TTL_MS = 10 * 60 * 1000;

export interface IdpMetadata {
  entityId: string;
  /** Where the AuthnRequest goes (HTTP-Redirect binding). */
  ssoUrl: string;
  /** The IdP's signing certificates, PEM. */
  signingCerts: string[];
  /** Where a LogoutRequest goes (SingleLogoutService, HTTP-Redirect binding); absent: the IdP offers no single logout. */
  sloUrl?: string;
}

/** The metadata is unusable or could not be fetched; the message names `config.metaDataLocation`. */
export class SamlMetadataError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'SamlMetadataError';
  }
}

export function isMetadataXml(location: string): boolean {
  return location.trimStart().startsWith('<');
}

/** Reads EntityDescriptor XML; every problem found, in one SamlMetadataError. */
export function parseIdpMetadata(xml: string): IdpMetadata {
  const where = 'config.metaDataLocation';
  // No DTDs at all: no entity expansion of any kind (XXE, billion laughs) reaches the parser.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlMetadataError(`${where}: metadata with a DOCTYPE is not accepted`);
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => undefined, error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) },
  }).parseFromString(xml, 'text/xml');
  if (errors.length > 0 || !doc?.documentElement) throw new SamlMetadataError(`${where}: not well-formed XML (${(errors[0] ?? 'empty').split('\n')[0]!.slice(0, 200)})`);
  const entities = list(doc.getElementsByTagNameNS(MD, 'EntityDescriptor')).filter((e) => e.getElementsByTagNameNS(MD, 'IDPSSODescriptor').length > 0);
  if (entities.length !== 1) {
    throw new SamlMetadataError(`${where}: expected one md:EntityDescriptor with an md:IDPSSODescriptor, found ${entities.length}`);
  }
  const entity = entities[0]!;
  const problems: string[] = [];
  const entityId = entity.getAttribute('entityID') ?? '';
  if (!entityId) problems.push(`${where}: the EntityDescriptor has no entityID`);
  const idp = entity.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0]!;
  const sso = list(idp.getElementsByTagNameNS(MD, 'SingleSignOnService')).find((s) => s.getAttribute('Binding') === HTTP_REDIRECT);
  let ssoUrl = '';
  if (!sso) {
    problems.push(`${where}: the IdP has no SingleSignOnService with the HTTP-Redirect binding`);
  } else {
    try {
      const url = new URL(sso.getAttribute('Location') ?? '');
      if (!isAllowedIdpUrl(url)) problems.push(`${where}: the SingleSignOnService must be https (http only on a loopback host), got ${url.href}`);
      ssoUrl = url.href;
    } catch {
      problems.push(`${where}: the SingleSignOnService Location is not a URL`);
    }
  }
  const signingCerts: string[] = [];
  for (const key of list(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))) {
    const use = key.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const cert of list(key.getElementsByTagNameNS(DS, 'X509Certificate'))) {
      const base64 = (cert.textContent ?? '').replace(/\s+/g, '');
      try {
        new X509Certificate(Buffer.from(base64, 'base64'));
        signingCerts.push(`-----BEGIN CERTIFICATE-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----`);
      } catch {
        problems.push(`${where}: a signing X509Certificate is not a certificate`);
      }
    }
  }
  if (signingCerts.length === 0 && problems.length === 0) problems.push(`${where}: the IdP names no signing certificate (assertions must be signed)`);
  if (problems.length > 0) throw new SamlMetadataError(problems.join('\n  '));
  // Optional: an IdP without a usable one (or with only other bindings) keeps the zone's logout as before.
  const slo = list(idp.getElementsByTagNameNS(MD, 'SingleLogoutService')).find((s) => s.getAttribute('Binding') === HTTP_REDIRECT);
  let sloUrl: string | undefined;
  try {
    const url = slo ? new URL(slo.getAttribute('Location') ?? '') : undefined;
    if (url && isAllowedIdpUrl(url)) sloUrl = url.href;
  } catch {
    sloUrl = undefined;
  }
  return { entityId, ssoUrl, signingCerts, ...(sloUrl ? { sloUrl } : {}) };
}

/** Fetches and reads the metadata at a URL (https, or http on a loopback host: config.ts checked). */
export async function fetchIdpMetadata(url: string): Promise<IdpMetadata> {
  let text: string;
  try {
    const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > MAX_METADATA_BYTES) throw new Error(`larger than ${MAX_METADATA_BYTES} bytes`);
    text = body.toString('utf8');
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const detail = `${err instanceof Error ? err.message : String(err)}${cause instanceof Error ? `: ${cause.message}` : ''}`;
    throw new SamlMetadataError(`config.metaDataLocation: no metadata could be read at ${url} (${detail.slice(0, 200)})`, { cause: err });
  }
  return parseIdpMetadata(text);
}

export function loadIdpMetadata(config: SamlConfig): Promise<IdpMetadata> {
  return isMetadataXml(config.metaDataLocation) ? Promise.resolve().then(() => parseIdpMetadata(config.metaDataLocation)) : fetchIdpMetadata(config.metaDataLocation);
}

export interface SamlMetadataCache {
  metadata(idp: SamlIdentityProvider): Promise<IdpMetadata>;
}

export function createSamlMetadataCache(now: () => number = Date.now): SamlMetadataCache {
  const cache = new Map<string, { at: number; metadata: Promise<IdpMetadata> }>();
  return {
    metadata(idp) {
      // The provider's version is in the key: changed metadata (a new signing key) applies at once.
      const key = `${idp.zoneId}\u0000${idp.id}\u0000${idp.updatedAt}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < METADATA_TTL_MS) return hit.metadata;
      for (const k of cache.keys()) if (k.startsWith(`${idp.zoneId}\u0000${idp.id}\u0000`)) cache.delete(k);
      const metadata = loadIdpMetadata(idp.config);
      cache.set(key, { at: now(), metadata });
      metadata.catch(() => cache.delete(key));
      return metadata;
    },
  };
}
