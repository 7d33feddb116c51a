/** The benchmark's figures as a terminal table and as bench/RESULTS.md. */
import type { LoadFigures, LoadSettings } from './load.js';

export type ZoneFigures =
  | { kind: 'absent' }
  | { kind: 'failed'; error: string }
  | { kind: 'measured'; rows: { name: string; rps: number; p50: number; p99: number }[] };

type Memory = { rssMiB: number; peakMiB: number } | undefined;

/** One bare-proxy run and one zonegate run made back to back. */
export interface Round {
  bare: LoadFigures;
  gateway: LoadFigures;
}

export interface BenchReport {
  date: Date;
  cpus: number;
  cpuModel: string;
  node: string;
  settings: LoadSettings;
  direct: LoadFigures;
  rounds: Round[];
  goal: number;
  memory: { gateway: Memory; bareProxy: Memory } | undefined;
  gatewayLogLines: number;
  zones: ZoneFigures;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of the rounds' ratios: each compares two runs made seconds apart on the same machine. */
export function ratio(report: BenchReport): number {
  return median(report.rounds.map((r) => r.gateway.rps / r.bare.rps));
}

/** The run whose requests/s is the median of its target's runs (the lower middle one for an even count). */
function medianRun(runs: LoadFigures[]): LoadFigures {
  return [...runs].sort((a, b) => a.rps - b.rps)[(runs.length - 1) >> 1]!;
}

const mib = (m: Memory) => (m ? `${m.rssMiB.toFixed(0)} MiB (peak ${m.peakMiB.toFixed(0)} MiB)` : 'n/a');
// autocannon measures latency in whole milliseconds.
const ms = (n: number) => (n < 1 ? '<1 ms' : `${n.toFixed(n < 10 ? 1 : 0)} ms`);

const us = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : `${n.toFixed(0)} µs`);

function rows(report: BenchReport): string[][] {
  const out = [['target', 'requests/s', 'p50', 'p99', 'requests', 'CPU/req proxy', 'CPU/req backend', 'CPU/req client']];
  const figures = [report.direct, medianRun(report.rounds.map((r) => r.bare)), medianRun(report.rounds.map((r) => r.gateway))];
  for (const f of figures) {
    const cpu = f.cpuPerRequestUs;
    const proxy = Object.entries(cpu).find(([name]) => name !== 'client' && name !== 'backend')?.[1];
    out.push([f.name, f.rps.toFixed(0), ms(f.p50), ms(f.p99), String(f.requests), us(proxy), us(cpu.backend), us(cpu.client)]);
  }
  return out;
}

const disturbance = (f: LoadFigures) => Math.max(f.otherCores, 0) + Math.max(f.stolenCores, 0);

function roundsLine(report: BenchReport): string {
  const each = report.rounds.map(
    (r) => `${r.bare.rps.toFixed(0)} / ${r.gateway.rps.toFixed(0)} = ${(r.gateway.rps / r.bare.rps).toFixed(2)}`,
  );
  return `rounds (bare / zonegate requests/s = ratio): ${each.join('; ')}`;
}

/** Other processes and the hypervisor's steal, which the figures cannot tell apart from our own cost. */
function disturbanceLine(report: BenchReport): string {
  const all = [report.direct, ...report.rounds.flatMap((r) => [r.bare, r.gateway])];
  const worst = Math.max(...all.map(disturbance));
  const each = all.map((f) => `${f.otherCores.toFixed(2)}+${f.stolenCores.toFixed(2)}`).join(' ');
  const warning = worst > 0.1 ? ' -- WARNING: the machine was busy with other work, figures are disturbed; rerun when it is idle' : '';
  return `cores used by other processes + stolen, per run: ${each}${warning}`;
}

function verdictLine(report: BenchReport): string {
  const r = ratio(report);
  return `zonegate / bare proxy: ${r.toFixed(2)} (goal >= ${report.goal.toFixed(2)}: ${r >= report.goal ? 'met' : 'NOT met'})`;
}

function zoneRows(zones: ZoneFigures): string[][] | undefined {
  if (zones.kind !== 'measured') return undefined;
  return [['identity zones', 'per second', 'p50', 'p99'], ...zones.rows.map((z) => [z.name, z.rps.toFixed(0), ms(z.p50), ms(z.p99)])];
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
    `${report.cpus} CPUs, Node.js ${report.node}; ${s.connections} connections, ${s.seconds} s per run after ${s.warmupSeconds} s warm-up; proxies: median of ${report.rounds.length} rounds`,
    textTable(rows(report)),
    roundsLine(report),
    disturbanceLine(report),
    verdictLine(report),
    `zonegate RSS after the run: ${mib(report.memory?.gateway)}; bare proxy: ${mib(report.memory?.bareProxy)}`,
    `zonegate request log lines written (LOG_LEVEL=info): ${report.gatewayLogLines}`,
  ];
  const z = zoneRows(report.zones);
  if (z) lines.push('', textTable(z));
  const note = zoneNote(report.zones);
  if (note) lines.push('', note);
  return lines.join('\n');
}

function markdownTable(table: string[][]): string {
  const [head, ...body] = table;
  return [`| ${head!.join(' | ')} |`, `| ${head!.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function resultsMarkdown(report: BenchReport): string {
  const s = report.settings;
  const z = zoneRows(report.zones);
  const note = zoneNote(report.zones);
  return `# Benchmark results

Written by \`npm run bench -- --write\` on ${report.date.toISOString()}.

Machine: ${report.cpus} CPUs (\`nproc\`), ${report.cpuModel}; Node.js ${report.node}.
Load: autocannon in the benchmark's own process, ${s.connections} connections, ${s.seconds} s per run
after a ${s.warmupSeconds} s warm-up, one target at a time. The bare proxy and zonegate are run in
${report.rounds.length} rounds, alternating which goes first; their rows show the median run and the ratio is the
median of the rounds' ratios. Every response is checked: any non-2xx, connection error, timeout or
body other than the backend's fails the run.

${markdownTable(rows(report))}

${roundsLine(report)}

${disturbanceLine(report)}

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
${z ? `\n## Identity zones\n\n${markdownTable(z)}\n` : ''}${note ? `\n${note}\n` : ''}
## Reproduce

\`\`\`sh
npm run bench                       # print the figures
npm run bench -- --write            # and rewrite this file
npm run bench -- --profile          # and print where the gateway's CPU time goes (slower figures)
BENCH_SECONDS=30 BENCH_WARMUP_SECONDS=5 BENCH_CONNECTIONS=100 npm run bench
\`\`\`
`;
}
