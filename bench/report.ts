/** The benchmark's figures as a terminal table and as bench/RESULTS.md. */
import type { LoadFigures, LoadSettings } from './load.js';
import type { SubscriptionFigures } from './tenants.js';

export type ZoneFigures =
  | { kind: 'absent' }
  | { kind: 'failed'; error: string }
  | { kind: 'measured'; rows: { name: string; rps: number; p50: number; p99: number }[] };

type Memory = { rssMiB: number; peakMiB: number } | undefined;

/**
 * One round: every target measured in turns (bench/load.ts measureInterleaved), each figure over all
 * its slices, and each cycle's requests/s of each target.
 */
export interface Round {
  bare: LoadFigures;
  gateway: LoadFigures;
  /** The authenticated GET: embedded store and Redis with 2 tenants, embedded store with many. */
  login?: { embedded: LoadFigures; redis: LoadFigures; many: LoadFigures };
  /**
   * The authenticated GET over many distinct sessions (issue 18): SQLite, Redis + PostgreSQL; and the
   * bare proxy under the same client (cycling the same cookies, each connection its own share),
   * measured in turns (bench/load.ts measureInterleaved): each figure over all its slices, and each
   * cycle's requests/s of the three.
   */
  sessions?: { embedded: LoadFigures; redis: LoadFigures; bare: LoadFigures; cycles: SessionsCycle[] };
  /** The public route of `gateway`, served by `zonegate start --workers 2` (issue 18, all cores). */
  workers?: LoadFigures;
  /** Each cycle's requests/s of the targets above (bare, gateway, workers, login), in slices seconds apart. */
  cycles?: RoundCycle[];
}

/** One cycle of a round: each target's requests/s in its slice. */
export interface RoundCycle {
  bare: number;
  gateway: number;
  workers?: number;
  embedded?: number;
  redis?: number;
  many?: number;
}

/** One cycle of the sessions rows: each target's requests/s in its slice (seconds apart). */
export interface SessionsCycle {
  embedded: number;
  bare: number;
  redis: number;
}

export interface SessionsReport {
  count: number;
  goals: { embedded: number; redis: number };
  /** Seconds to log the sessions in (single sign-on), per gateway. */
  created: { embedded: number; redis: number };
  /** Each slice of the interleaved measurement, in seconds. */
  sliceSeconds: number;
  /**
   * Before the sessions were made; once they were (before the first run), also after a full garbage
   * collection; right after the gateway's load in the last round (every session read and kept),
   * also after a full garbage collection.
   */
  memory: { embedded: SessionsMemory; redis: SessionsMemory };
}

type MemoryPair = { afterSetup: Memory; afterRun: Memory };
/** After a full garbage collection: the RSS and the V8 heap in use. */
export type CollectedMemory = { rssMiB: number; peakMiB: number; heapMiB: number } | undefined;
export type SessionsMemory = {
  beforeLogins: Memory;
  afterSetup: Memory;
  afterSetupCollected: CollectedMemory;
  afterLoad?: Memory;
  collected?: CollectedMemory;
};

/** Issue 4's authenticated GET and issue 5's provisioning figures. */
export interface LoginReport {
  settings: LoadSettings;
  goals: { embedded: number; redis: number };
  tenants: { few: number; many: number };
  /** Tenants subscribed through the provisioning service before the many-tenant gateway started. */
  seeded: { tenants: number; seconds: number };
  /** Through the HTTP callback: into the many-tenant gateway (embedded store), then the Redis one. */
  subscriptions: { embedded: SubscriptionFigures; redis: SubscriptionFigures };
  memory: { embedded: MemoryPair; redis: MemoryPair; many: MemoryPair };
  redisUrl: string;
}

export interface BenchReport {
  date: Date;
  cpus: number;
  cpuModel: string;
  node: string;
  settings: LoadSettings;
  /** How each round's targets were measured in turns: this many cycles of one slice each. */
  turns?: { cycles: number; sliceSeconds: number };
  direct: LoadFigures;
  rounds: Round[];
  goal: number;
  memory: { gateway: Memory; bareProxy: Memory } | undefined;
  gatewayLogLines: number;
  zones: ZoneFigures;
  login?: LoginReport;
  sessions?: SessionsReport;
  /** `/_zonegate/auth` decisions (issue 14) on the SQLite login gateway, with its session, after the rounds. */
  forwardAuth?: LoadFigures;
}

/** The forward-auth figure as one line, next to the proxy figures. */
export function forwardAuthLine(report: BenchReport): string | undefined {
  const f = report.forwardAuth;
  if (!f) return undefined;
  const ratioToBare = f.rps / median(report.rounds.map((r) => r.bare.rps));
  const gatewayCpu = Object.entries(f.cpuPerRequestUs).find(([name]) => name !== 'client')?.[1];
  return `forward auth (/_zonegate/auth on the SQLite login gateway: session, route scope, 200 with the token): ${Math.round(f.rps)} decisions/s (${ratioToBare.toFixed(2)} of the bare proxy's requests/s, which also carry a backend), p50 ${f.p50} ms, p99 ${f.p99} ms${gatewayCpu !== undefined ? `, ${Math.round(gatewayCpu)} µs of gateway CPU per decision` : ''}`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * `of` against `to`, cycle by cycle over every round: each compares two slices run seconds apart, which
 * see the same machine speed (runs a minute apart on this host did not: bench/RESULTS.md of
 * 2026-12-03 had a round at 1.06 of the floor). Empty when the rounds were not measured in turns.
 */
export function cycleRatios(report: BenchReport, of: keyof RoundCycle, to: keyof RoundCycle): number[] {
  return report.rounds.flatMap((r) => r.cycles ?? []).flatMap((c) => (c[of] !== undefined && c[to] !== undefined ? [c[of]! / c[to]!] : []));
}

/** Median over the cycles where the rounds were measured in turns; else of the rounds' ratios. */
function turnsOrRoundsRatio(report: BenchReport, of: keyof RoundCycle, to: keyof RoundCycle, round: (r: Round) => number | undefined): number {
  const cycles = cycleRatios(report, of, to);
  return cycles.length ? median(cycles) : roundRatio(report, round);
}

/** How the cycles' ratios spread: `median of n cycles, middle half a to b, all c to d`. */
export function cycleSpread(ratios: number[]): string {
  if (!ratios.length) return 'no cycles';
  const sorted = [...ratios].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.round(q * (sorted.length - 1))]!.toFixed(2);
  return `median of ${ratios.length} cycles, middle half ${at(0.25)} to ${at(0.75)}, all ${at(0)} to ${at(1)}`;
}

/** The public route's ratio: zonegate against the bare proxy. */
export function ratio(report: BenchReport): number {
  return turnsOrRoundsRatio(report, 'gateway', 'bare', (r) => r.gateway.rps / r.bare.rps);
}

/** The run whose requests/s is the median of its target's runs (the lower middle one for an even count). */
function medianRun(runs: LoadFigures[]): LoadFigures {
  return [...runs].sort((a, b) => a.rps - b.rps)[(runs.length - 1) >> 1]!;
}

const mib = (m: Memory) => (m ? `${m.rssMiB.toFixed(0)} MiB (peak ${m.peakMiB.toFixed(0)} MiB)` : 'n/a');
// autocannon measures latency in whole milliseconds.
const ms = (n: number) => (n < 1 ? '<1 ms' : `${n.toFixed(n < 10 ? 1 : 0)} ms`);

const us = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : `${n.toFixed(0)} µs`);

/** The rounds' authenticated runs; empty when the report has none. */
function loginRounds(report: BenchReport): NonNullable<Round['login']>[] {
  return report.rounds.flatMap((r) => (r.login ? [r.login] : []));
}

/** Median of the rounds' ratios of two targets measured in the same round. */
function roundRatio(report: BenchReport, of: (r: Round) => number | undefined): number {
  return median(report.rounds.map(of).filter((n): n is number => n !== undefined));
}

export function loginRatios(report: BenchReport): { embedded: number; redis: number; manyToFew: number } | undefined {
  if (!loginRounds(report).length) return undefined;
  return {
    embedded: turnsOrRoundsRatio(report, 'embedded', 'bare', (r) => r.login && r.login.embedded.rps / r.bare.rps),
    redis: turnsOrRoundsRatio(report, 'redis', 'bare', (r) => r.login && r.login.redis.rps / r.bare.rps),
    manyToFew: turnsOrRoundsRatio(report, 'many', 'embedded', (r) => r.login && r.login.many.rps / r.login.embedded.rps),
  };
}

function rows(report: BenchReport): string[][] {
  const out = [['target', 'requests/s', 'p50', 'p99', 'requests', 'CPU/req proxy', 'CPU/req backend', 'CPU/req client']];
  const logins = loginRounds(report);
  const figures = [
    report.direct,
    medianRun(report.rounds.map((r) => r.bare)),
    medianRun(report.rounds.map((r) => r.gateway)),
    ...(logins.length ? [medianRun(logins.map((l) => l.embedded)), medianRun(logins.map((l) => l.redis)), medianRun(logins.map((l) => l.many))] : []),
    ...sessionRuns(report),
    ...(report.rounds.some((r) => r.workers) ? [medianRun(report.rounds.flatMap((r) => (r.workers ? [r.workers] : [])))] : []),
  ];
  for (const f of figures) {
    const cpu = f.cpuPerRequestUs;
    const proxy = Object.entries(cpu).find(([name]) => name !== 'client' && name !== 'backend')?.[1];
    out.push([f.name, f.rps.toFixed(0), ms(f.p50), ms(f.p99), String(f.requests), us(proxy), us(cpu.backend), us(cpu.client)]);
  }
  return out;
}

function sessionRuns(report: BenchReport): LoadFigures[] {
  const runs = report.rounds.flatMap((r) => (r.sessions ? [r.sessions] : []));
  if (!runs.length) return [];
  return [medianRun(runs.map((s) => s.bare)), medianRun(runs.map((s) => s.embedded)), medianRun(runs.map((s) => s.redis))];
}

/** Issue 18's figures: the ratio to the bare proxy over many sessions, against its goals, and memory per session. */
export function sessionLines(report: BenchReport): string[] {
  const s = report.sessions;
  if (!s || !report.rounds.some((r) => r.sessions)) return [];
  const met = (value: number, goal: number) => `${value.toFixed(2)} (goal >= ${goal.toFixed(2)}: ${value >= goal ? 'met' : 'NOT met'})`;
  const spread = (of: (r: Round) => number | undefined) => report.rounds.map(of).filter((n): n is number => n !== undefined).map((n) => n.toFixed(2)).join(', ');
  const embedded = (r: Round) => r.sessions && r.sessions.embedded.rps / r.bare.rps;
  const redis = (r: Round) => r.sessions && r.sessions.redis.rps / r.bare.rps;
  const cycles = sessionCycleRatios(report);
  const inCycles = (ratios: number[], goal: number) => `${met(median(ratios), goal)}; ${cycleSpread(ratios)}`;
  const kib = (from: Memory, to: Memory) => (from && to ? ((to.rssMiB - from.rssMiB) * 1024) / s.count : Number.NaN);
  const held = (p: SessionsMemory) => kib(p.afterSetupCollected, p.collected);
  const perSession = (p: SessionsMemory) =>
    p.afterSetupCollected && p.collected
      ? `${held(p).toFixed(1)} KiB per session kept (RSS ${p.afterSetupCollected.rssMiB.toFixed(0)} -> ${p.collected.rssMiB.toFixed(0)} MiB; of which V8's heap ${(((p.collected.heapMiB - p.afterSetupCollected.heapMiB) * 1024) / s.count).toFixed(1)} KiB, ${p.afterSetupCollected.heapMiB.toFixed(0)} -> ${p.collected.heapMiB.toFixed(0)} MiB)`
      : 'n/a';
  const uncollected = (p: SessionsMemory) =>
    p.afterSetup && p.afterLoad
      ? `${kib(p.afterSetup, p.afterLoad).toFixed(1)} KiB (RSS ${p.afterSetup.rssMiB.toFixed(0)} -> ${p.afterLoad.rssMiB.toFixed(0)} MiB, peak ${p.afterLoad.peakMiB.toFixed(0)} MiB${p.beforeLogins ? `; ${p.beforeLogins.rssMiB.toFixed(0)} MiB before the logins` : ''})`
      : 'n/a';
  const memoryGoal = 2;
  const memoryMet = [s.memory.embedded, s.memory.redis].every((p) => held(p) <= memoryGoal);
  return [
    `authenticated GET over ${s.count} sessions, SQLite / bare proxy: ${inCycles(cycles.embedded, s.goals.embedded)}`,
    `authenticated GET over ${s.count} sessions, Redis + PostgreSQL / bare proxy: ${inCycles(cycles.redis, s.goals.redis)}`,
    `each cycle's ratio compares slices of ${s.sliceSeconds} s run next to each other: the gateway's, and the bare proxy's under the same client (cycling the same ${s.count} cookies costs the client ${clientExtra(report).toFixed(0)} µs more CPU per request than one cookie)`,
    `against the round's bare-proxy run of the public route instead (one cookie, run up to a minute earlier or later; how results before 2026-12-04 were figured, which a machine whose speed moves within minutes skews either way): SQLite ${roundRatio(report, embedded).toFixed(2)} (rounds ${spread(embedded)}), Redis + PostgreSQL ${roundRatio(report, redis).toFixed(2)} (rounds ${spread(redis)})`,
    ...firstPassLines(report),
    `sessions logged in by single sign-on: ${s.count} in ${s.created.embedded.toFixed(1)} s (SQLite), ${s.created.redis.toFixed(1)} s (Redis + PostgreSQL)`,
    `gateway memory after a full garbage collection, right after the last round's load (all ${s.count} sessions kept), against the same after the logins: SQLite ${perSession(s.memory.embedded)}; Redis + PostgreSQL ${perSession(s.memory.redis)} (goal <= ${memoryGoal} KiB per recently active session: ${memoryMet ? 'met' : 'NOT met'})`,
    `the same right after the load, with what the garbage collector had yet to free: SQLite ${uncollected(s.memory.embedded)}; Redis + PostgreSQL ${uncollected(s.memory.redis)}`,
  ];
}

/** Median over rounds of the client CPU per request the bare proxy's cycling row costs beyond its plain row. */
function clientExtra(report: BenchReport): number {
  const extra = report.rounds.flatMap((r) => (r.sessions ? [(r.sessions.bare.cpuPerRequestUs['client'] ?? 0) - (r.bare.cpuPerRequestUs['client'] ?? 0)] : []));
  return extra.length ? median(extra) : Number.NaN;
}

/**
 * Issue 18's ratios, cycle by cycle over every round: each sessions gateway's requests/s in its
 * slice against the bare proxy's (same client, same cookies) in the slice next to it. Slices seconds
 * apart see the same machine speed; runs a minute apart did not (bench/RESULTS.md before
 * 2026-12-04 had a round at 1.06).
 */
export function sessionCycleRatios(report: BenchReport): { embedded: number[]; redis: number[] } {
  const cycles = report.rounds.flatMap((r) => r.sessions?.cycles ?? []);
  return { embedded: cycles.map((c) => c.embedded / c.bare), redis: cycles.map((c) => c.redis / c.bare) };
}

/**
 * The first request of every session in a round (before the warm-up): read from the store, opened,
 * touched (each round comes more than a minute after the last, so every touch is due), then kept.
 */
function firstPassLines(report: BenchReport): string[] {
  const of = (pick: (r: Round) => LoadFigures | undefined, label: string) => {
    const passes = report.rounds.flatMap((r) => (pick(r)?.firstPass ? [pick(r)!.firstPass!] : []));
    if (!passes.length) return undefined;
    const rps = median(passes.map((p) => p.rps));
    // The gateway is the target's first process.
    const cpu = median(passes.map((p) => Object.values(p.cpuPerRequestUs)[0] ?? Number.NaN));
    return `${label} ${rps.toFixed(0)}/s, ${cpu.toFixed(0)} µs gateway CPU per request`;
  };
  const embedded = of((r) => r.sessions?.embedded, 'SQLite');
  const redis = of((r) => r.sessions?.redis, 'Redis + PostgreSQL');
  if (!embedded && !redis) return [];
  return [
    `first request of each session in a round (before the warm-up and the figures above: read from the store, opened, touched, kept; median of rounds): ${[embedded, redis].filter(Boolean).join('; ')}`,
  ];
}

/**
 * Issue 18, all cores: the public route with two workers against one, each round's runs compared.
 * On 2 cores the load generator and the backend share the cores with the workers, so two workers
 * cannot be twice one: the figure says what a second process buys on such a machine.
 */
export function workersLines(report: BenchReport): string[] {
  const rounds = report.rounds.filter((r) => r.workers);
  if (!rounds.length) return [];
  const ratio = (r: Round) => r.workers && r.workers.rps / r.gateway.rps;
  const cycles = cycleRatios(report, 'workers', 'gateway');
  const spread = cycles.length ? cycleSpread(cycles) : `rounds ${rounds.map((r) => ratio(r)!.toFixed(2)).join(', ')}`;
  const one = medianRun(rounds.map((r) => r.gateway));
  const two = medianRun(rounds.map((r) => r.workers!));
  const proxyCpu = (f: LoadFigures) => Object.entries(f.cpuPerRequestUs).find(([name]) => name !== 'client' && name !== 'backend')?.[1];
  return [
    `public route, zonegate start --workers 2 / one worker: ${turnsOrRoundsRatio(report, 'workers', 'gateway', ratio).toFixed(2)} (${spread}); ${two.rps.toFixed(0)} against ${one.rps.toFixed(0)} requests/s`,
    `CPU per request, all workers: ${us(proxyCpu(two))} against ${us(proxyCpu(one))} for one (${report.cpus} cores, shared with the load generator and the backend: a second worker helps only as far as cores are idle)`,
  ];
}

const disturbance = (f: LoadFigures) => Math.max(f.otherCores, 0) + Math.max(f.stolenCores, 0);

function roundsLine(report: BenchReport): string {
  const each = report.rounds.map(
    (r) => `${r.bare.rps.toFixed(0)} / ${r.gateway.rps.toFixed(0)} = ${(r.gateway.rps / r.bare.rps).toFixed(2)}`,
  );
  return `rounds (bare / zonegate requests/s = ratio): ${each.join('; ')}`;
}

function loginRoundsLine(report: BenchReport): string | undefined {
  if (!loginRounds(report).length) return undefined;
  const each = report.rounds.flatMap((r) =>
    r.login
      ? [`${r.bare.rps.toFixed(0)} / ${r.login.embedded.rps.toFixed(0)} / ${r.login.redis.rps.toFixed(0)} / ${r.login.many.rps.toFixed(0)}`]
      : [],
  );
  return `rounds (bare / login SQLite / login Redis + PostgreSQL / login SQLite ${report.login?.tenants.many ?? '?'} tenants, requests/s): ${each.join('; ')}`;
}

function loginVerdictLines(report: BenchReport): string[] {
  const r = loginRatios(report);
  const login = report.login;
  if (!r || !login) return [];
  const met = (value: number, goal: number) => `${value.toFixed(2)} (goal >= ${goal.toFixed(2)}: ${value >= goal ? 'met' : 'NOT met'})`;
  return [
    `authenticated GET, embedded store / bare proxy: ${met(r.embedded, login.goals.embedded)}${spreadOf(report, 'embedded', 'bare')}`,
    `authenticated GET, Redis + PostgreSQL / bare proxy: ${met(r.redis, login.goals.redis)}${spreadOf(report, 'redis', 'bare')}`,
    `authenticated GET, ${login.tenants.many} tenants / ${login.tenants.few} tenants: ${r.manyToFew.toFixed(2)} (should be about 1)${spreadOf(report, 'many', 'embedded')}`,
  ];
}

function subscriptionLine(name: string, s: SubscriptionFigures): string {
  return `${name}: ${s.perSecond.toFixed(0)} subscriptions/s (${s.subscriptions} distinct tenants through PUT /callback/v1.0/tenants/{id}, ${s.concurrency} at a time; p50 ${ms(s.p50)}, p99 ${ms(s.p99)})`;
}

function provisioningLines(login: LoginReport): string[] {
  const m = login.memory;
  const pair = (p: MemoryPair) => `${mib(p.afterSetup)} after setup, ${mib(p.afterRun)} after the run`;
  return [
    subscriptionLine('subscriptions, embedded store', login.subscriptions.embedded),
    subscriptionLine('subscriptions, PostgreSQL + Redis', login.subscriptions.redis),
    `seeding: ${login.seeded.tenants} tenants through the provisioning service in ${login.seeded.seconds.toFixed(1)} s (${(login.seeded.tenants / login.seeded.seconds).toFixed(0)}/s, before the gateway starts)`,
    `gateway RSS, ${login.tenants.few} tenants: ${pair(m.embedded)}`,
    `gateway RSS, ${login.tenants.many} tenants: ${pair(m.many)}`,
    `gateway RSS, Redis + PostgreSQL, ${login.tenants.few} tenants: ${pair(m.redis)}`,
  ];
}

/** Every measured run, in the order they ran within each round. */
function allRuns(report: BenchReport): LoadFigures[] {
  return [
    report.direct,
    ...report.rounds.flatMap((r) => [
      r.bare,
      r.gateway,
      ...(r.login ? [r.login.embedded, r.login.redis, r.login.many] : []),
      ...(r.sessions ? [r.sessions.embedded, r.sessions.bare, r.sessions.redis] : []),
      ...(r.workers ? [r.workers] : []),
    ]),
  ];
}

/** Other processes and the hypervisor's steal, which the figures cannot tell apart from our own cost. */
function disturbanceLine(report: BenchReport): string {
  const all = allRuns(report);
  const worst = Math.max(...all.map(disturbance));
  const each = all.map((f) => `${f.otherCores.toFixed(2)}+${f.stolenCores.toFixed(2)}`).join(' ');
  const warning = worst > 0.1 ? ' -- WARNING: the machine was busy with other work, figures are disturbed; rerun when it is idle' : '';
  return `cores used by other processes + stolen, per run: ${each}${warning}`;
}

/** A spread of the backend's CPU per request beyond this means the machine's speed changed during the run. */
const SPEED_SPREAD = 1.3;

/**
 * The machine's speed, run by run, as the backend shows it in the rounds (behind a proxy, at 4,000 to
 * 12,000 requests/s): it does the same work for every request (a small fixed JSON answer), so its
 * CPU time per request moves with the machine's speed, and only a little with the request rate. A
 * host whose other guests take turns on the same cores slows every process alike, and does not
 * always report it as steal (this one reports none): the ratios of runs made at different speeds are
 * off by as much, so compare the rounds, or run again.
 */
export function speedLine(report: BenchReport): string {
  const backend = allRuns(report)
    .slice(1)
    .flatMap((f) => (f.cpuPerRequestUs['backend'] === undefined ? [] : [f.cpuPerRequestUs['backend']]));
  if (!backend.length) return 'machine speed: no backend CPU figures';
  const low = Math.min(...backend);
  const high = Math.max(...backend);
  const warning = high > low * SPEED_SPREAD ? ` -- WARNING: the machine's speed changed during the run (up to ${(high / low).toFixed(1)}x the backend's cost for the same work); ratios of runs made at different speeds are off by as much` : '';
  return `machine speed, as the backend's CPU per request (the same work in every run): ${us(low)} to ${us(high)}, median ${us(median(backend))}${warning}`;
}

function verdictLine(report: BenchReport): string {
  const r = ratio(report);
  return `zonegate / bare proxy: ${r.toFixed(2)} (goal >= ${report.goal.toFixed(2)}: ${r >= report.goal ? 'met' : 'NOT met'})${spreadOf(report, 'gateway', 'bare')}`;
}

/** `; median of n cycles, ...` where the rounds were measured in turns; nothing otherwise. */
function spreadOf(report: BenchReport, of: keyof RoundCycle, to: keyof RoundCycle): string {
  const cycles = cycleRatios(report, of, to);
  return cycles.length ? `; ${cycleSpread(cycles)}` : '';
}

function zoneRows(zones: ZoneFigures): string[][] | undefined {
  if (zones.kind !== 'measured') return undefined;
  return [['identity zones', 'per second', 'p50', 'p99'], ...zones.rows.map((z) => [z.name, z.rps.toFixed(0), ms(z.p50), ms(z.p99)])];
}

/** Issue 18: full password logins per core of the machine (the client shares the cores), against the goal. */
const PASSWORD_LOGINS_PER_CORE_GOAL = 30;

function passwordLoginLines(report: BenchReport): string[] {
  if (report.zones.kind !== 'measured') return [];
  return report.zones.rows
    .filter((r) => r.name.includes('code login (authorize + login form + token)'))
    .map((r) => {
      const perCore = r.rps / report.cpus;
      const met = perCore >= PASSWORD_LOGINS_PER_CORE_GOAL ? 'met' : 'NOT met';
      return `${r.name}: ${perCore.toFixed(1)} per core (goal >= ${PASSWORD_LOGINS_PER_CORE_GOAL}: ${met})`;
    });
}

function zoneNote(zones: ZoneFigures): string | undefined {
  if (zones.kind === 'absent') return 'identity zones: bench/zones.ts not present, not measured';
  if (zones.kind === 'failed') return `identity zones: FAILED: ${zones.error}`;
  return undefined;
}

function textTable(table: string[][]): string {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  return table.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export function formatTable(report: BenchReport): string {
  const s = report.settings;
  const lines = [
    '',
    `${report.cpus} CPUs, Node.js ${report.node}; ${s.connections} connections; ${turnsText(report)}`,
    textTable(rows(report)),
    roundsLine(report),
    disturbanceLine(report),
    speedLine(report),
    verdictLine(report),
    `zonegate RSS after the run: ${mib(report.memory?.gateway)}; bare proxy: ${mib(report.memory?.bareProxy)}`,
    `zonegate request log lines written (LOG_LEVEL=info): ${report.gatewayLogLines}`,
  ];
  const loginLine = loginRoundsLine(report);
  if (loginLine && report.login) lines.push('', loginLine, ...loginVerdictLines(report), '', ...provisioningLines(report.login));
  const many = sessionLines(report);
  if (many.length) lines.push('', ...many);
  const workers = workersLines(report);
  if (workers.length) lines.push('', ...workers);
  const z = zoneRows(report.zones);
  if (z) lines.push('', textTable(z), ...passwordLoginLines(report));
  const note = zoneNote(report.zones);
  if (note) lines.push('', note);
  return lines.join('\n');
}

/** How the rounds' targets were loaded, for the table's heading. */
function turnsText(report: BenchReport): string {
  const s = report.settings;
  const t = report.turns;
  if (!t) return `${s.seconds} s per run after ${s.warmupSeconds} s warm-up; proxies: median of ${report.rounds.length} rounds`;
  return `${report.rounds.length} rounds, in each every target in turns: ${s.warmupSeconds} s warm-up each, then ${t.cycles} cycles of one ${t.sliceSeconds} s slice each; ratios: median over all cycles`;
}

function markdownTable(table: string[][]): string {
  const [head, ...body] = table;
  return [`| ${head!.join(' | ')} |`, `| ${head!.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function loginMarkdown(report: BenchReport): string {
  const login = report.login;
  const roundsText = loginRoundsLine(report);
  if (!login || !roundsText) return '';
  const s = login.settings;
  const bullets = (lines: string[]) => lines.map((l) => `- ${l}`).join('\n');
  const [embedded, redis, many] = loginVerdictLines(report);
  return `
## Authenticated GET (issue 4)

The same run, the same client (${s.connections} connections), in the same rounds and the same turns as the rows
above; each ratio is the median over every cycle of the gateway's slice against the bare proxy's slice of
that cycle. Rows "zonegate login, ..." in the table above.

- **${embedded}**
- **${redis}**
- ${roundsText}

Each gateway is \`node dist/src/cli.js start\` with bench/gateway/routes.json and
bench/gateway/xs-security.json in its working directory and no xsuaa binding, so the built-in identity
zones run in the gateway on \`<sub>.${'auth.localhost'}\` and the login goes over HTTP to them
(openid-client). Before loading, the tenant's administrator logs in once as a browser does (protected
URL, 302 to the zone's authorize, login page, POST /login.do, callback): the load then sends that
session's \`zonegate.sid\` cookie to \`GET /api/bearer/items\` on \`acme.app.example.com\`, a route with
\`authenticationType: xsuaa\` and \`scope: $XSAPPNAME.Admin\` (which the user has) to a destination with
\`forwardAuthToken: true\`. The backend answers paths under \`/bearer/\` only when an
\`Authorization: Bearer <JWT>\` arrives (401 otherwise), and every answer must be its 200 and body, so
every counted request passed the session, the scope check and had the token attached; a 302 to a login
page or a 401 fails the run. All connections share that one session, as a page's burst of API calls
does: after a second read of it, each gateway answers from that read for up to a second
(\`src/sessions/store.ts\` \`peek\`, dropped at once on any change announced by any instance), so the
store is read about once a second, not on every request. Redis +
PostgreSQL is the production layout: sessions and login state in \`REDIS_URL=${login.redisUrl}\` (a
database the benchmark owns; its \`zonegate:\` keys are deleted before and after the run, never
FLUSHDB), zones, users, keys and tenants in a PostgreSQL database made for the run
(\`DATABASE_URL\`, on BENCH_POSTGRES_URL's server, dropped after). Request logs on (info) for every gateway.

## Provisioning (issue 5)

${bullets(provisioningLines(login))}
- ${many} (the "${login.tenants.many} tenants" row above against the "SQLite" row, each round's ratio).

The ${login.tenants.many}-tenant gateway: ${login.seeded.tenants} tenants subscribed through the provisioning service
(\`src/provisioning/service.ts\` \`subscribe\`, what the callbacks and \`zonegate tenants subscribe\` call)
by a setup step on the gateway's storage before it starts (bench/tenants.ts \`seedTenants\`); then the
normal \`zonegate start\` on that storage, and ${login.subscriptions.embedded.subscriptions} more subscriptions through the SaaS
registry's \`PUT /callback/v1.0/tenants/{id}\` (client-credentials token of the provider zone carrying
\`<instance>.Callback\`, a registry body with \`userInfo\`: each creates the zone, subscribes the application
and creates the subscriber as administrator), which are the subscriptions-per-second figure. The
PostgreSQL + Redis figure: ${login.subscriptions.redis.subscriptions} subscriptions into that gateway after its load runs. Every answer must be 200 with the
tenant's URL. The 2-tenant gateways were seeded the same way (acme with the administrator, and one more).
`;
}

export function resultsMarkdown(report: BenchReport): string {
  const s = report.settings;
  const z = zoneRows(report.zones);
  const note = zoneNote(report.zones);
  return `# Benchmark results

Written by \`npm run bench -- --write\` on ${report.date.toISOString()}.

Machine: ${report.cpus} CPUs (\`nproc\`), ${report.cpuModel}; Node.js ${report.node}.
Load: autocannon in the benchmark's own process, ${s.connections} connections, one target at a time. ${report.turns ? `The bare proxy and the zonegate targets are measured in
turns, in ${report.rounds.length} rounds: in each, every target gets a ${s.warmupSeconds} s warm-up, then come ${report.turns.cycles} cycles
in which each target is loaded for one slice of ${report.turns.sliceSeconds} s, the order reversed every other cycle and
every other round (\`BENCH_CYCLES\`, \`BENCH_SLICE_SECONDS\`). Each ratio is the median over every cycle of
every round of the two targets' slices in that cycle: seconds apart, they see the same machine speed,
which on this host moves within minutes (runs of their own, a minute apart, once put the gateway at 1.06
of the floor). The rows show the median round's figures over its slices (p50 and p99: the slices'
medians); backend direct is one run of ${s.seconds} s after a ${s.warmupSeconds} s warm-up.` : `${s.seconds} s per run after a ${s.warmupSeconds} s warm-up. The bare proxy and the zonegate targets are run in
${report.rounds.length} rounds, alternating the order; their rows show the median run and each ratio is the
median of the rounds' ratios.`} Every response is checked: any non-2xx, connection error, timeout or
body other than the backend's fails the run.

${markdownTable(rows(report))}

${roundsLine(report)}

${disturbanceLine(report)}

${speedLine(report)}

**${verdictLine(report)}** (issue 2; SAP's approuter 21.2 reaches about 0.12 on this machine kind,
REFERENCE.md §8).

- backend direct: a small fixed JSON answer (keep-alive), the ceiling.
- bare http-proxy: \`http-proxy\` with a keep-alive agent and nothing else, the floor any Node.js proxy pays.
- zonegate: \`node dist/src/cli.js start\` with bench/gateway/routes.json, \`TENANT_HOST_PATTERN\`
  ${'`'}${'^(.*)\\.app\\.example\\.com$'}${'`'}, requests for \`Host: acme.app.example.com\` on the unauthenticated
  route \`^/public/(.*)$\` (the second of three routes), request logs ON at info level written to a file
  (${report.gatewayLogLines} request lines), SQLite storage.
- zonegate RSS after the run: ${mib(report.memory?.gateway)}; bare proxy: ${mib(report.memory?.bareProxy)}.
- Each server is its own process; on ${report.cpus} cores the client, the proxy and the backend share them,
  the same way for the bare proxy and for zonegate. CPU/req is each process's user+system CPU time
  (from /proc, 10 ms resolution) during the measured window divided by the requests completed: with
  the cores saturated, requests/s follows the sum of the three.
${loginMarkdown(report)}${sessionLines(report).length ? `\n## Many sessions (issue 18)\n\nThe same user on ${report.sessions!.count} browsers: one password login at the zone, then each gateway login answered by the zone's single sign-on; the load uses the sessions in turn. A session's first request in a gateway reads it from the store and opens its sealed part (no express-session); the gateway then keeps what requests use of it (about 1.6 KiB of heap with a 1.5 KB access token, src/sessions/session-copy.ts) until its once-a-minute touch is due or nobody has used it for a minute, and answers later requests from memory while the store vouches for its change notices. The three rows are measured in turns, last in every round: each gateway's first pass, one request per session (reads, opens and touches: the group comes more than a minute after the last round's, so every touch is due), measured on its own (line "first request of each session"); the warm-ups; then cycles in which the SQLite gateway, the bare proxy under the same client (row "bare http-proxy, ${report.sessions!.count} cookies") and the Redis gateway are each loaded for one slice of ${report.sessions!.sliceSeconds} s, the order reversed every other cycle, so that the floor always runs next to both. Each ratio is the median over every cycle of every round of a gateway's slice against the floor's slice next to it: seconds apart, where a run of its own a minute apart from the floor's saw another machine speed on this host (the last line of the list shows that figure too). The figures show the steady state: within the cycles (about 40 s after the first pass) no touch falls due; under a steady load each session is touched once a minute (one storage read and write), which the first-pass line prices. Each of the client's connections goes round its own share of the cookies (of n connections, connection k sends cookies k, k + n, k + 2n, ...), each slice going on from about where the last one stopped, every request built once before the slice, so cycling costs the shared cores about what one cookie does: compare the client column. In the table, these rows are the median round's figures over its slices (p50 and p99: the slices' medians). Gateways of their own (the sessions would otherwise weigh on the one-session rows); rows "..., ${report.sessions!.count} sessions" in the table above. Memory per session is the gateway's RSS after a full garbage collection (through its inspector, opened by SIGUSR1 for that) right after its load in the last round, while it keeps every session, less the same after the logins; the RSS right after the load, before any collection, is shown too: V8 lets the old generation grow to several times what is live before it collects, so that figure is mostly garbage not yet freed.\n\n${sessionLines(report).map((l) => `- ${l}`).join('\n')}\n` : ''}${workersLines(report).length ? `\n## All cores (issue 18)\n\nThe public route of the "zonegate" row, served by \`zonegate start --workers 2\` (the same environment and routes; row "zonegate, 2 workers", CPU summed over the primary and its workers), in the same rounds and turns; the ratio is the median over every cycle of its slice against the one-worker gateway's.\n\n${workersLines(report).map((l) => `- ${l}`).join('\n')}\n` : ''}${forwardAuthLine(report) ? `\n## Forward auth (issue 14)\n\n${forwardAuthLine(report)}.\n` : ''}${z ? `\n## Identity zones\n\n${markdownTable(z)}\n\nPassword hashes: argon2id (m = 19 MiB, t = 2, p = 1). ${passwordLoginLines(report).map((l) => `${l}.`).join(' ')}\n` : ''}${note ? `\n${note}\n` : ''}
## Reproduce

\`\`\`sh
npm run bench                       # print the figures
npm run bench -- --write            # and rewrite this file
npm run bench -- --profile          # and print where the gateway's CPU time goes (slower figures)
BENCH_SECONDS=30 BENCH_WARMUP_SECONDS=5 BENCH_CONNECTIONS=100 npm run bench
BENCH_CYCLES=8 BENCH_SLICE_SECONDS=3 BENCH_REDIS_URL=redis://127.0.0.1:6379/7 BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench
\`\`\`

\`--profile\` profiles the bare proxy, zonegate and the "zonegate login, SQLite" and "Redis + PostgreSQL" gateways. BENCH_REDIS_URL must
name a Redis database nobody else uses: the gateway's key prefix is fixed (\`zonegate:\`), and the
benchmark deletes every \`zonegate:*\` key there before and after the run.
`;
}
