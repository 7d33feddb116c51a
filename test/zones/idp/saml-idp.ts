/**
 * A small but real SAML 2.0 IdP for tests: its own key pair and X.509 certificate (openssl), its
 * metadata over HTTP on port 0, the HTTP-Redirect binding for AuthnRequests (inflated and read with
 * xmldom), a login page, and Responses whose assertion is signed by xml-crypto (enveloped,
 * exclusive c14n, RSA-SHA256) and posted to the SP by an auto-submitting form (HTTP-POST binding).
 * Like a real IdP it answers only SPs it was told to trust (their metadata: entity id and ACS), at
 * the ACS their metadata names.
 *
 * With `sessions`, it keeps a session per browser (a cookie) and signs a returning user in without the
 * form, as real IdPs do; its SingleLogoutService (HTTP-Redirect) ends the session a LogoutRequest
 * names (NameID and SessionIndex) and posts a LogoutResponse signed as a whole to the SP's single
 * logout service (HTTP-POST binding, from the SP's metadata).
 *
 * `response()` also makes the answers an attacker would try (unsigned, signed by another key, for
 * another audience, recipient or request, expired), each signed exactly as a real one is.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';

export interface SamlAccount {
  email?: string;
  givenName?: string;
  familyName?: string;
  groups: string[];
}

export interface AuthnRequestSeen {
  id: string;
  issuer: string;
  acs: string;
  relayState: string | null;
}

export interface ResponseOptions {
  user: string;
  /** How it is signed: the assertion (default, as real IdPs do), only the Response envelope, not at all, or by another key. */
  sign?: 'assertion' | 'response-only' | 'none' | 'other-key';
  audience?: string;
  recipient?: string;
  /** InResponseTo on the Response and the SubjectConfirmationData; null: none (an unsolicited, IdP-initiated response). */
  inResponseTo?: string | null;
  notOnOrAfter?: Date;
  destination?: string;
  status?: string;
  sessionIndex?: string;
}

export interface LogoutRequestSeen {
  id: string;
  issuer: string;
  nameID: string;
  sessionIndex: string | null;
  relayState: string | null;
}

export interface LogoutResponseOptions {
  /** Default: the request's ID; null: none. */
  inResponseTo?: string | null;
  /** The whole LogoutResponse signed (default), not at all, or by another key. */
  sign?: 'response' | 'none' | 'other-key';
  issuer?: string;
  destination?: string;
  status?: string;
}

export interface TestSamlIdp {
  entityId: string;
  metadataUrl: string;
  metadataXml: string;
  accounts: Map<string, SamlAccount>;
  /** Trusts an SP: its metadata XML (entity id and ACS). */
  trustSp(metadataXml: string): void;
  /** The AuthnRequest a zone's redirect to this IdP carries. */
  readRequest(redirectUrl: string): AuthnRequestSeen;
  /** A SAMLResponse (base64) for a request, to the SP's ACS. */
  response(request: AuthnRequestSeen, options: ResponseOptions): string;
  /** The LogoutRequest a zone's redirect to this IdP's SingleLogoutService carries. */
  readLogoutRequest(redirectUrl: string): LogoutRequestSeen;
  /** A LogoutResponse (base64) to a LogoutRequest, for the SP's single logout service. */
  logoutResponse(request: LogoutRequestSeen, options?: LogoutResponseOptions): string;
  /** The SP's single logout service (from its metadata). */
  sloOf(spEntityId: string): string | undefined;
  /** The LogoutRequests the IdP received at its SingleLogoutService. */
  readonly logoutRequests: LogoutRequestSeen[];
  /** Live sessions (with `sessions`): id to user and SessionIndex. */
  readonly sessions: Map<string, { user: string; sessionIndex: string }>;
  stop(): Promise<void>;
}

interface KeyPair {
  key: string;
  cert: string;
}

function makeKeyPair(cn: string): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'zonegate-saml-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', `/CN=${cn}`], { cwd: dir, stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const certBody = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const newId = () => `_${randomBytes(16).toString('hex')}`;

function sign(xml: string, keys: KeyPair, elementId: string, location: { reference: string; action: 'after' | 'prepend' }): string {
  const sig = new SignedXml({
    privateKey: keys.key,
    publicCert: keys.cert,
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  sig.addReference({
    xpath: `//*[@ID='${elementId}']`,
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  sig.computeSignature(xml, { location });
  return sig.getSignedXml();
}

export async function startTestSamlIdp(options: { accounts: Record<string, SamlAccount>; name?: string; sessions?: boolean; singleLogout?: boolean }): Promise<TestSamlIdp> {
  const keys = makeKeyPair(`${options.name ?? 'test'} SAML IdP`);
  const otherKeys = makeKeyPair('an attacker');
  const accounts = new Map(Object.entries(options.accounts));
  const sps = new Map<string, string>();
  const slos = new Map<string, string>();
  const sessions = new Map<string, { user: string; sessionIndex: string }>();
  const logoutRequests: LogoutRequestSeen[] = [];
  let base = '';

  const idp: TestSamlIdp = {
    entityId: '',
    metadataUrl: '',
    metadataXml: '',
    accounts,
    trustSp(metadataXml) {
      const doc = new DOMParser().parseFromString(metadataXml, 'text/xml');
      const entity = doc.getElementsByTagNameNS(MD, 'EntityDescriptor')[0]!;
      const acs = doc.getElementsByTagNameNS(MD, 'AssertionConsumerService')[0]!;
      sps.set(entity.getAttribute('entityID')!, acs.getAttribute('Location')!);
      const slo = doc.getElementsByTagNameNS(MD, 'SingleLogoutService')[0];
      if (slo) slos.set(entity.getAttribute('entityID')!, slo.getAttribute('Location')!);
    },
    logoutRequests,
    sessions,
    sloOf(spEntityId) {
      return slos.get(spEntityId);
    },
    readLogoutRequest(redirectUrl) {
      const url = new URL(redirectUrl);
      const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
      const request = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
      if (request.localName !== 'LogoutRequest') throw new Error(`not a LogoutRequest: ${xml.slice(0, 200)}`);
      const text = (ns: string, name: string) => request.getElementsByTagNameNS(ns, name)[0]?.textContent ?? null;
      return {
        id: request.getAttribute('ID')!,
        issuer: text('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer') ?? '',
        nameID: text('urn:oasis:names:tc:SAML:2.0:assertion', 'NameID') ?? '',
        sessionIndex: text('urn:oasis:names:tc:SAML:2.0:protocol', 'SessionIndex'),
        relayState: url.searchParams.get('RelayState'),
      };
    },
    logoutResponse(request, o = {}) {
      const id = newId();
      const inResponseTo = o.inResponseTo === undefined ? request.id : o.inResponseTo;
      const status = o.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success';
      const destination = o.destination ?? slos.get(request.issuer) ?? '';
      let xml =
        `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${esc(destination)}"${inResponseTo === null ? '' : ` InResponseTo="${esc(inResponseTo)}"`}>` +
        `<saml:Issuer>${esc(o.issuer ?? idp.entityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${esc(status)}"/></samlp:Status></samlp:LogoutResponse>`;
      const mode = o.sign ?? 'response';
      if (mode !== 'none') xml = sign(xml, mode === 'other-key' ? otherKeys : keys, id, { reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`, action: 'after' });
      return Buffer.from(xml, 'utf8').toString('base64');
    },
    readRequest(redirectUrl) {
      const url = new URL(redirectUrl);
      const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
      const doc = new DOMParser().parseFromString(xml, 'text/xml');
      const request = doc.documentElement!;
      if (request.localName !== 'AuthnRequest') throw new Error(`not an AuthnRequest: ${xml.slice(0, 200)}`);
      const issuer = request.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0]?.textContent ?? '';
      return { id: request.getAttribute('ID')!, issuer, acs: request.getAttribute('AssertionConsumerServiceURL') ?? '', relayState: url.searchParams.get('RelayState') };
    },
    response(request, o) {
      const account = accounts.get(o.user);
      const acs = sps.get(request.issuer) ?? request.acs;
      const now = new Date();
      const notOnOrAfter = (o.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000)).toISOString();
      const notBefore = new Date(now.getTime() - 60_000).toISOString();
      const inResponseTo = o.inResponseTo === undefined ? request.id : o.inResponseTo;
      const answering = (attr: string) => (inResponseTo === null ? '' : ` ${attr}="${esc(inResponseTo)}"`);
      const responseId = newId();
      const assertionId = newId();
      const attribute = (name: string, values: (string | undefined)[]) => {
        const present = values.filter((v): v is string => v !== undefined);
        return present.length === 0
          ? ''
          : `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${present
              .map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`)
              .join('')}</saml:Attribute>`;
      };
      const status = o.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success';
      const assertion = account && status.endsWith(':Success')
        ? `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${assertionId}" Version="2.0" IssueInstant="${now.toISOString()}">` +
          `<saml:Issuer>${esc(idp.entityId)}</saml:Issuer>` +
          `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${esc(o.user)}</saml:NameID>` +
          `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${answering('InResponseTo')} NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(o.recipient ?? acs)}"/></saml:SubjectConfirmation></saml:Subject>` +
          `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience ?? request.issuer)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
          `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${esc(o.sessionIndex ?? newId())}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
          `<saml:AttributeStatement>${attribute('email', [account.email])}${attribute('given_name', [account.givenName])}${attribute('family_name', [account.familyName])}${attribute('groups', account.groups)}</saml:AttributeStatement>` +
          `</saml:Assertion>`
        : '';
      let xml =
        `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${now.toISOString()}" Destination="${esc(o.destination ?? acs)}"${answering('InResponseTo')}>` +
        `<saml:Issuer>${esc(idp.entityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${esc(status)}"/></samlp:Status>${assertion}</samlp:Response>`;
      const mode = o.sign ?? 'assertion';
      if (assertion && (mode === 'assertion' || mode === 'other-key')) {
        xml = sign(xml, mode === 'other-key' ? otherKeys : keys, assertionId, { reference: `//*[@ID='${assertionId}']/*[local-name(.)='Issuer']`, action: 'after' });
      } else if (mode === 'response-only') {
        xml = sign(xml, keys, responseId, { reference: `//*[@ID='${responseId}']/*[local-name(.)='Issuer']`, action: 'after' });
      }
      return Buffer.from(xml, 'utf8').toString('base64');
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const page = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>Test SAML IdP</title></head><body>${body}</body></html>`);
  };

  /** The auto-submitting form that posts a Response to the SP's ACS (HTTP-POST binding). */
  const postBack = (res: http.ServerResponse, request: AuthnRequestSeen, samlResponse: string) =>
    page(
      res,
      200,
      `<form method="post" action="${esc(sps.get(request.issuer)!)}"><input type="hidden" name="SAMLResponse" value="${samlResponse}">` +
        `${request.relayState ? `<input type="hidden" name="RelayState" value="${esc(request.relayState)}">` : ''}<noscript><button type="submit">Continue</button></noscript></form>` +
        `<script>document.forms[0].submit()</script>`,
    );

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      res.end(idp.metadataXml);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/sso') {
      // The login page: the request travels on in hidden fields, as it would in a real IdP's session.
      let request: AuthnRequestSeen;
      try {
        request = idp.readRequest(url.href);
      } catch (err) {
        page(res, 400, `bad request: ${esc(String(err))}`);
        return;
      }
      if (!sps.has(request.issuer)) {
        page(res, 403, `unknown service provider ${esc(request.issuer)}`);
        return;
      }
      const session = options.sessions ? sessions.get(/tidp_session=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '') : undefined;
      if (session) {
        postBack(res, request, idp.response(request, { user: session.user, sessionIndex: session.sessionIndex }));
        return;
      }
      page(
        res,
        200,
        `<h1>Test IdP sign-in</h1><form method="post" action="/sso/login"><input type="hidden" name="request" value="${esc(JSON.stringify(request))}">` +
          `<label>User <input name="username"></label><button type="submit">Sign in</button></form>`,
      );
      return;
    }
    if (req.method === 'POST' && url.pathname === '/sso/login') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const request = JSON.parse(form.get('request') ?? '{}') as AuthnRequestSeen;
        const user = form.get('username') ?? '';
        const acs = sps.get(request.issuer);
        if (!acs || !accounts.has(user)) {
          page(res, 403, 'unknown user');
          return;
        }
        const sessionIndex = newId();
        if (options.sessions) {
          const sid = randomBytes(16).toString('hex');
          sessions.set(sid, { user, sessionIndex });
          res.setHeader('set-cookie', `tidp_session=${sid}; Path=/; HttpOnly`);
        }
        postBack(res, request, idp.response(request, { user, sessionIndex }));
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/slo') {
      let request: LogoutRequestSeen;
      try {
        request = idp.readLogoutRequest(url.href);
      } catch (err) {
        page(res, 400, `bad request: ${esc(String(err))}`);
        return;
      }
      logoutRequests.push(request);
      const slo = slos.get(request.issuer);
      if (!slo) {
        page(res, 403, `unknown service provider ${esc(request.issuer)}`);
        return;
      }
      // The session the request names (NameID and SessionIndex) ends.
      for (const [sid, s] of sessions) if (s.user === request.nameID && s.sessionIndex === request.sessionIndex) sessions.delete(sid);
      page(
        res,
        200,
        `<form method="post" action="${esc(slo)}"><input type="hidden" name="SAMLResponse" value="${idp.logoutResponse(request)}">` +
          `${request.relayState ? `<input type="hidden" name="RelayState" value="${esc(request.relayState)}">` : ''}<noscript><button type="submit">Continue</button></noscript></form>` +
          `<script>document.forms[0].submit()</script>`,
      );
      return;
    }
    page(res, 404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  idp.entityId = `${base}/metadata`;
  idp.metadataUrl = `${base}/metadata`;
  idp.metadataXml =
    `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="${MD}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${idp.entityId}">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody(keys.cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>` +
    (options.singleLogout === false ? '' : `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${base}/slo"/>`) +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${base}/sso"/>` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`;
  return idp;
}
