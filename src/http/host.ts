/**
 * The one reading of a `Host` (or trusted `X-Forwarded-Host`) value, shared by the gateway's tenant
 * resolution and the identity zones: two readings of one header can disagree about which zone or
 * tenant a request is for (issue 11, item 4).
 */

/**
 * The host name of a `Host` value: lower-cased, without its port and without the root label's dot
 * (`acme.example.com.` is `acme.example.com`, RFC 1034 §3.1); IPv6 literals keep their brackets.
 * Undefined when malformed: RFC 9110 §7.2 allows `uri-host [":" port]` and nothing else (RFC 9112
 * §3.2: answer 400). Whatever follows the name would otherwise travel on in X-Forwarded-Host and
 * rewritten Locations (`acme:1@evil`).
 */
export function hostnameOf(host: string): string | undefined {
  // RFC 3986 reg-name, conservatively: letters, digits, dots and hyphens.
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]{1,253}?)\.?(?::\d{0,5})?$/i.exec(host);
  return m ? m[1]!.toLowerCase() : undefined;
}
