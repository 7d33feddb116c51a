/**
 * The one reading of a `Host` (or trusted `X-Forwarded-Host`) value, shared by the gateway's tenant
 * resolution and the identity zones: two readings of one header can disagree about which zone or
 * tenant a request is for (issue 11, item 4).
 */

/**
 * The host name of a `Host` value: lower-cased and without its port; IPv6 literals keep their
 * brackets. A trailing dot stays: `acme.example.com.` is another origin to a browser (its own
 * cookies), so it matches no tenant and no zone rather than being taken for `acme.example.com`.
 * Undefined when malformed: RFC 9110 §7.2 allows `uri-host [":" port]` and nothing else (RFC 9112
 * §3.2: answer 400). Whatever follows the name would otherwise travel on in X-Forwarded-Host and
 * rewritten Locations (`acme:1@evil`).
 */
export function hostnameOf(host: string): string | undefined {
  // RFC 3986 reg-name, conservatively: letters, digits, dots and hyphens.
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]{1,253})(?::\d{0,5})?$/i.exec(host);
  return m ? m[1]!.toLowerCase() : undefined;
}
