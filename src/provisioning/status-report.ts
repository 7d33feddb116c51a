/**
 * The asynchronous half of a subscription callback (REFERENCE.md §7): after answering 202, the result
 * is PUT to `<registry url><STATUS_CALLBACK path>` as `{status, message, subscriptionUrl}` with a
 * client-credentials token. A result must never be lost (the subscriber would see "in process" for
 * ever), so a failed PUT is retried with exponential backoff, each attempt with a fresh token, and
 * a report that could not be delivered is logged as an error with everything needed to repeat it.
 */
import type { Logger } from '../log.js';

export interface StatusReport {
  status: 'SUCCEEDED' | 'FAILED';
  message: string;
  subscriptionUrl?: string;
}

export interface StatusReporterOptions {
  /** The SaaS registry's base URL (`saas-registry` binding, `saas_registry_url`). */
  registryUrl: string;
  getClientToken(): Promise<string>;
  logger: Logger;
  /** Attempts in all (default 5). */
  attempts?: number;
  /** Delay before the second attempt, doubled after each (default 500 ms). */
  baseDelayMs?: number;
  /** Timeout of one PUT (default 10 s). */
  timeoutMs?: number;
}

export interface StatusReporter {
  /** The absolute URL for a STATUS_CALLBACK path, or undefined if the path is not one (never another host). */
  targetFor(callbackPath: string): URL | undefined;
  /** Resolves true once delivered, false after the last failed attempt (never rejects). */
  report(target: URL, report: StatusReport): Promise<boolean>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createStatusReporter(options: StatusReporterOptions): StatusReporter {
  const registry = new URL(options.registryUrl);
  if (registry.protocol !== 'https:' && registry.protocol !== 'http:') throw new RangeError('registryUrl must be an http(s) URL');
  const attempts = options.attempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = registry.href.replace(/\/+$/, '');

  function targetFor(callbackPath: string): URL | undefined {
    // A path on the registry only: the header comes from the caller, and a full URL or `//host`
    // would make the gateway send its client token wherever the header points.
    if (!/^\/(?!\/)[\x21-\x7e]*$/.test(callbackPath) || callbackPath.includes('\\') || callbackPath.length > 2048) return undefined;
    let url: URL;
    try {
      url = new URL(base + callbackPath);
    } catch {
      return undefined;
    }
    return url.origin === registry.origin ? url : undefined;
  }

  async function attempt(target: URL, body: string): Promise<string | undefined> {
    try {
      const token = await options.getClientToken();
      const res = await fetch(target, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? undefined : `the registry answered ${res.status}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  async function report(target: URL, statusReport: StatusReport): Promise<boolean> {
    const body = JSON.stringify(statusReport);
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(baseDelayMs * 2 ** (i - 1));
      const problem = await attempt(target, body);
      if (problem === undefined) {
        options.logger.info('subscription status reported', { target: target.pathname, status: statusReport.status, attempt: i + 1 });
        return true;
      }
      options.logger.warn('subscription status report failed', { target: target.pathname, attempt: i + 1, problem });
    }
    options.logger.error('subscription status could not be reported; repeat it by hand', {
      target: target.href,
      status: statusReport.status,
      message: statusReport.message,
      subscriptionUrl: statusReport.subscriptionUrl,
    });
    return false;
  }

  return { targetFor, report };
}
