import { describe, expect, it } from 'vitest';
import type { LoadFigures } from '../../bench/load.js';
import { sessionCycleRatios, sessionLines, speedLine, type BenchReport, type SessionsCycle } from '../../bench/report.js';

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

describe('the many-sessions ratios (issue 18)', () => {
  const figures = (name: string, rps: number): LoadFigures => ({ ...run(name, 30), rps });
  /** Rounds whose public-route bare proxy ran at `bareRps`, and whose sessions cycles had these rates. */
  const sessionsReport = (rounds: { bareRps: number; cycles: SessionsCycle[] }[]) =>
    ({
      direct: run('backend direct', 20),
      rounds: rounds.map((r) => ({
        bare: figures('bare', r.bareRps),
        gateway: figures('zonegate', r.bareRps),
        sessions: {
          embedded: figures('sqlite', r.cycles.reduce((n, c) => n + c.embedded, 0) / r.cycles.length),
          bare: figures('bare cookies', r.cycles.reduce((n, c) => n + c.bare, 0) / r.cycles.length),
          redis: figures('redis', r.cycles.reduce((n, c) => n + c.redis, 0) / r.cycles.length),
          cycles: r.cycles,
        },
      })),
      sessions: { count: 10_000, goals: { embedded: 0.6, redis: 0.5 }, created: { embedded: 50, redis: 80 }, sliceSeconds: 2, memory: { embedded: {}, redis: {} } },
    }) as unknown as BenchReport;

  it('compares each gateway slice with the bare proxy’s slice of the same cycle, not with a run a minute away', () => {
    // The machine ran slow while the public-route bare proxy ran: against it the gateway looks fine.
    const report = sessionsReport([
      { bareRps: 7_000, cycles: [{ embedded: 5_000, bare: 10_000, redis: 6_000 }, { embedded: 2_500, bare: 5_000, redis: 3_000 }] },
      { bareRps: 7_000, cycles: [{ embedded: 5_000, bare: 10_000, redis: 6_000 }] },
    ]);
    expect(sessionCycleRatios(report)).toEqual({ embedded: [0.5, 0.5, 0.5], redis: [0.6, 0.6, 0.6] });
    const [sqlite, redis, , earlier] = sessionLines(report);
    expect(sqlite).toMatch(/SQLite \/ bare proxy: 0\.50 \(goal >= 0\.60: NOT met\); median of 3 cycles/);
    expect(redis).toMatch(/Redis \+ PostgreSQL \/ bare proxy: 0\.60 \(goal >= 0\.50: met\)/);
    // The old way, still shown: medians of the rounds' 0.54 and 0.71 (SQLite), 0.64 and 0.86 (Redis).
    expect(earlier).toMatch(/SQLite 0\.6\d .*Redis \+ PostgreSQL 0\.7\d/);
  });

  it('takes the median over every cycle of every round, so one disturbed slice cannot decide it', () => {
    const steady = { embedded: 6_200, bare: 10_000, redis: 6_000 };
    const report = sessionsReport([
      { bareRps: 10_000, cycles: [steady, { embedded: 6_200, bare: 3_000, redis: 6_000 }] },
      { bareRps: 10_000, cycles: [steady, steady] },
    ]);
    expect(sessionLines(report)[0]).toMatch(/0\.62 \(goal >= 0\.60: met\); median of 4 cycles, middle half 0\.62 to 0\.62, all 0\.62 to 2\.07/);
  });
});
