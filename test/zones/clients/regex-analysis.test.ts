/**
 * The admin API analyses a client's redirect expressions without blocking the event loop
 * (src/config/regex-safety.ts, analyseRegexesInBackground), with the same verdicts as at start-up.
 */
import { describe, expect, it } from 'vitest';
import { analyseRegexesInBackground, checkRegexSafety } from '../../../src/config/regex-safety.js';
import { clientRegexes } from '../../../src/zones/clients/input.js';

describe('analysing redirect expressions in the background', () => {
  it('lets the event loop turn while the analyser runs, and remembers its verdicts', async () => {
    const nonce = Date.now().toString(36);
    const raw = { redirect_uri_regex: [`https://(a+)+\\.example\\.com/${nonce}`, `https://portal\\.example\\.com/${nonce}`, '.*'] };
    const patterns = clientRegexes(raw);
    // `.*` never reaches the analyser: readClient refuses it for its missing scheme.
    expect(patterns.map((p) => p.source)).toEqual([`^(?:https://(a+)+\\.example\\.com/${nonce})$`, `^(?:https://portal\\.example\\.com/${nonce})$`]);
    let turned = false;
    setImmediate(() => (turned = true));
    await analyseRegexesInBackground(patterns);
    // A synchronous analysis would have resolved before the event loop's next turn.
    expect(turned).toBe(true);
    expect(checkRegexSafety(patterns[0]!.source).verdict).toBe('unsafe');
    expect(checkRegexSafety(patterns[1]!.source).verdict).toBe('safe');
  }, 60_000);
});
