/**
 * The value of one cookie in a Cookie header (RFC 6265 §5.4: `name=value` pairs separated by `;`),
 * as the browser sent it; undefined when absent. The gateway and the zones read their cookies with
 * this one function, so they cannot disagree on what a header holds.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
