import http from 'node:http';
import type { TestResponse } from './http.js';

/**
 * A scripted browser for flows that cross hosts (gateway <-> identity zone): host-only cookie jars,
 * `Accept: text/html`, and every request sent to 127.0.0.1 with the URL's host in `Host`, so
 * `*.localhost` names need no resolver.
 */
export class ScriptedBrowser {
  private readonly jars = new Map<string, Map<string, string>>();

  cookies(host: string): Map<string, string> {
    let jar = this.jars.get(host);
    if (!jar) this.jars.set(host, (jar = new Map()));
    return jar;
  }

  async request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<TestResponse & { url: URL }> {
    const target = new URL(url);
    const jar = this.cookies(target.host);
    const cookie = [...jar.entries()].map(([k, v]) => `${k}=${v}`).join('; ');
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml', host: target.host, ...options.headers };
    if (cookie && headers.cookie === undefined) headers.cookie = cookie;
    const res = await new Promise<TestResponse>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: Number(target.port || 80), method: options.method ?? 'GET', path: target.pathname + target.search, headers, agent: false }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: r.statusCode ?? 0, headers: r.headers, body, text: body.toString(), json: () => JSON.parse(body.toString()) });
        });
      });
      req.on('error', reject);
      req.end(options.body);
    });
    for (const line of (res.headers['set-cookie'] ?? []) as string[]) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return Object.assign(res, { url: target });
  }

  get(url: string, headers: Record<string, string> = {}) {
    return this.request(url, { headers });
  }

  post(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  }

  /** Follows redirects (302/303) from a response, at most `max` hops. */
  async follow(res: TestResponse & { url: URL }, max = 10): Promise<TestResponse & { url: URL }> {
    let current = res;
    for (let i = 0; i < max && (current.status === 302 || current.status === 303 || current.status === 301); i++) {
      current = await this.get(new URL(String(current.headers.location), current.url).href);
    }
    return current;
  }
}

/** The hidden fields of the first form in a page. */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1]!] = m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
  }
  return fields;
}
