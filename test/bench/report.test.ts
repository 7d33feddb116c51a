import { describe, expect, it } from 'vitest';
import type { LoadFigures } from '../../bench/load.js';
import { speedLine, type BenchReport } from '../../bench/report.js';

/** A run whose backend spent `backendUs` of CPU per request. */
const run = (name: string, backendUs: number): LoadFigures => ({
  name,
  rps: 10_000,
  p50: 4,
  p99: 10,
  requests: 100_000,
  handled: 120_000,
  seconds: 10,
  cpuPerRequestUs: { proxy: 90, backend: backendUs, client: 30 },
  otherCores: 0,
  stolenCores: 0,
});

const report = (direct: number, rounds: [number, number][]) =>
  ({ direct: run('backend direct', direct), rounds: rounds.map(([bare, gateway]) => ({ bare: run('bare', bare), gateway: run('zonegate', gateway) })) }) as unknown as BenchReport;

describe('the machine-speed line', () => {
  it('gives the spread of the backend cost over the rounds, and no warning while it stays within 30 %', () => {
    const line = speedLine(report(10, [[30, 33], [31, 36]]));
    expect(line).toContain('30 µs to 36 µs, median 32 µs');
    expect(line).not.toContain('WARNING');
  });

  it('warns when the same work cost the backend far more in some runs: the machine slowed down', () => {
    expect(speedLine(report(30, [[30, 31], [60, 58]]))).toMatch(/30 µs to 60 µs.*WARNING: the machine's speed changed during the run \(up to 2\.0x/);
  });

  it('leaves out the backend answering the client directly (a far higher rate, a lower cost per request)', () => {
    expect(speedLine(report(12, [[30, 31], [32, 33]]))).not.toContain('WARNING');
  });
});
