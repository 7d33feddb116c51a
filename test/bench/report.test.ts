import { describe, expect, it } from 'vitest';
import type { LoadFigures } from '../../bench/load.js';
import { cycleRatios, formatTable, loginRatios, ratio, sessionCycleRatios, sessionLines, speedLine, workersLines, type BenchReport, type RoundCycle, type SessionsCycle } from '../../bench/report.js';

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

describe('the proxy rows measured in turns', () => {
  const figures = (name: string, rps: number): LoadFigures => ({ ...run(name, 30), rps });
  /** Rounds whose figures over all slices say `overall` (bare, gateway, ...), and whose cycles had these rates. */
  const turnsReport = (rounds: { overall: Required<RoundCycle>; cycles?: RoundCycle[] }[]) =>
    ({
      direct: run('backend direct', 20),
      settings: { connections: 50, seconds: 10, warmupSeconds: 2 },
      turns: { cycles: 2, sliceSeconds: 2 },
      cpus: 2,
      node: 'v20',
      goal: 0.7,
      zones: { kind: 'absent' },
      gatewayLogLines: 0,
      memory: undefined,
      rounds: rounds.map((r) => ({
        bare: figures('bare', r.overall.bare),
        gateway: figures('zonegate', r.overall.gateway),
        workers: figures('zonegate, 2 workers', r.overall.workers),
        login: { embedded: figures('sqlite', r.overall.embedded), redis: figures('redis', r.overall.redis), many: figures('many', r.overall.many) },
        ...(r.cycles ? { cycles: r.cycles } : {}),
      })),
      login: {
        settings: { connections: 50, seconds: 10, warmupSeconds: 2 },
        goals: { embedded: 0.6, redis: 0.5 },
        tenants: { few: 2, many: 10_000 },
        seeded: { tenants: 9_800, seconds: 60 },
        subscriptions: { embedded: { subscriptions: 200, perSecond: 20, concurrency: 8, p50: 300, p99: 900 }, redis: { subscriptions: 200, perSecond: 20, concurrency: 8, p50: 300, p99: 900 } },
        memory: { embedded: {}, redis: {}, many: {} },
        redisUrl: 'redis://127.0.0.1:6379/7',
      },
    }) as unknown as BenchReport;
  // A round whose bare-proxy slices ran while the machine was slow: over the whole round the gateway
  // looks close to the floor, slice by slice it is not.
  const slowFloor = { bare: 6_000, gateway: 5_400, workers: 7_000, embedded: 4_500, redis: 4_000, many: 4_400 };
  const cycles: RoundCycle[] = [
    { bare: 10_000, gateway: 7_000, workers: 9_800, embedded: 5_500, redis: 4_900, many: 5_400 },
    { bare: 10_000, gateway: 7_200, workers: 10_080, embedded: 5_700, redis: 4_900, many: 5_700 },
  ];

  it('figures each ratio from the slices of the same cycle, not from the round as a whole', () => {
    const report = turnsReport([{ overall: slowFloor, cycles }, { overall: slowFloor, cycles }]);
    expect(cycleRatios(report, 'gateway', 'bare')).toEqual([0.7, 0.72, 0.7, 0.72]);
    expect(ratio(report)).toBeCloseTo(0.71, 5);
    const login = loginRatios(report)!;
    expect(login.embedded).toBeCloseTo(0.56, 5);
    expect(login.redis).toBeCloseTo(0.49, 5);
    expect(login.manyToFew).toBeCloseTo((5_400 / 5_500 + 5_700 / 5_700) / 2, 5);
    const table = formatTable(report);
    expect(table).toMatch(/zonegate \/ bare proxy: 0\.71 \(goal >= 0\.70: met\); median of 4 cycles, middle half 0\.70 to 0\.72, all 0\.70 to 0\.72/);
    expect(table).toMatch(/embedded store \/ bare proxy: 0\.56 \(goal >= 0\.60: NOT met\); median of 4 cycles/);
    expect(table).toMatch(/Redis \+ PostgreSQL \/ bare proxy: 0\.49 \(goal >= 0\.50: NOT met\)/);
    expect(table).toContain('2 rounds, in each every target in turns: 2 s warm-up each, then 2 cycles of one 2 s slice each');
    expect(workersLines(report)[0]).toMatch(/--workers 2 \/ one worker: 1\.40 \(median of 4 cycles, middle half 1\.40 to 1\.40/);
  });

  it('falls back to the rounds’ ratios for a report whose rounds were run one after the other', () => {
    const report = turnsReport([{ overall: slowFloor }, { overall: { ...slowFloor, bare: 9_000 } }]);
    expect(cycleRatios(report, 'gateway', 'bare')).toEqual([]);
    expect(ratio(report)).toBeCloseTo((0.9 + 0.6) / 2, 5);
    expect(workersLines(report)[0]).toMatch(/one worker: 1\.30 \(rounds 1\.30, 1\.30\)/);
  });
});
