/** Which URLs a zone may fetch for its identity providers (discovery documents, SAML metadata, user backends). */

/** Whether an http(s) URL may be used for an IdP: https, or http on a loopback host (RFC 8252 §8.3's exception, for tests and local IdPs). */
export function isAllowedIdpUrl(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopback(url.hostname);
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
