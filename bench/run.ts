/**
 * `npm run bench`: a backend, a bare http-proxy pass-through to it, and zonegate on an
 * unauthenticated route, each in its own process (own event loop), loaded one after the other by the
 * same client at the same concurrency. Prints requests/s, p50/p99 and CPU per request for each,
 * zonegate's ratio to the bare proxy (issue 2's goal: at least 0.70) and the gateway's memory; then
 * the identity zones' figures (bench/zones.ts).
 *
 *   npm run bench                  print the figures
 *   npm run bench -- --write       also write bench/RESULTS.md
 *   npm run bench -- --profile     run both proxies under --cpu-prof and print where their time
 *                                  goes (figures are then slower than real and are not written)
 * Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (50), BENCH_ROUNDS (3).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKEND_BODY } from './backend-body.js';
import { LoadFailure, measure, type LoadFigures, type LoadSettings } from './load.js';
import { ChildProcesses, type RunningChild } from './processes.js';
import { formatSummary, summariseProfile, type CpuProfile } from './profile.js';
import { formatTable, resultsMarkdown, type BenchReport, type Round, type ZoneFigures } from './report.js';

const GOAL = 0.7;
const TENANT_HOST_PATTERN = '^(.*)\\.app\\.example\\.com$';
const TENANT_HOST = 'acme.app.example.com';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/bench/run.js -> the repository root. */
const root = path.resolve(here, '..', '..');

function number(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}: expected a number >= ${min}, got "${raw}"`);
  return n;
}

interface Target {
  name: string;
  child: RunningChild;
  path: string;
  /** What its CPU per request is reported for. */
  processes: RunningChild[];
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { write: { type: 'boolean' }, profile: { type: 'boolean' } }, strict: true });
  const settings: LoadSettings = {
    seconds: number('BENCH_SECONDS', 10, 1),
    warmupSeconds: number('BENCH_WARMUP_SECONDS', 2, 0),
    connections: Math.round(number('BENCH_CONNECTIONS', 50, 1)),
  };
  const rounds = Math.round(number('BENCH_ROUNDS', 3, 1));
  if (values.write && values.profile) throw new Error('--profile slows the proxies down; its figures are not written (drop --write)');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-bench-'));
  const gatewayLog = path.join(work, 'gateway.log');
  const profileDir = (name: string) => path.join(work, `profile-${name}`);
  // --trace-gc writes to stdout, so under --profile the bare proxy's stdout goes to a file too.
  const profiled = (name: string) => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir(name)}`, '--trace-gc'] : []);
  const bareLog = path.join(work, 'bare-proxy.log');
  const children = new ChildProcesses();
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
    void children.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  let direct: LoadFigures;
  const measured: Round[] = [];
  let memory: BenchReport['memory'];
  let logLines = 0;
  const handled = { bare: 0, gateway: 0 };
  try {
    const backend = await children.start({ name: 'backend', args: [path.join(here, 'backend.js')] });
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    const bare = await children.start({
      name: 'bare proxy',
      args: [...profiled('bare'), path.join(here, 'bare-proxy.js'), backendUrl],
      ...(values.profile ? { stdoutFile: bareLog } : {}),
    });
    const gateway = await children.start({
      name: 'zonegate',
      args: [
        ...profiled('gateway'),
        path.join(root, 'dist', 'src', 'cli.js'),
        'start',
        '--routes',
        path.join(root, 'bench', 'gateway', 'routes.json'),
      ],
      // Its storage (.zonegate/) goes to the scratch directory, not into the repository.
      cwd: work,
      // Only what a deployment would set: no REDIS_URL, VCAP_SERVICES or default-env.json leaking in.
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        PORT: '0',
        HOST: '127.0.0.1',
        TENANT_HOST_PATTERN,
        LOG_LEVEL: 'info',
        destinations: JSON.stringify([{ name: 'backend', url: backendUrl }]),
      },
      stdoutFile: gatewayLog,
    });

    const load = (t: Target) => {
      process.stderr.write(`${t.name}: ${settings.warmupSeconds} s warm-up, ${settings.seconds} s at ${settings.connections} connections...\n`);
      const url = `http://127.0.0.1:${t.child.port}${t.path}`;
      return measure({ name: t.name, url, host: TENANT_HOST, expectBody: BACKEND_BODY, processes: t.processes }, settings);
    };
    direct = await load({ name: 'backend direct', child: backend, path: '/items', processes: [backend] });
    const bareTarget: Target = { name: 'bare http-proxy', child: bare, path: '/items', processes: [bare, backend] };
    const gatewayTarget: Target = { name: 'zonegate', child: gateway, path: '/public/items', processes: [gateway, backend] };
    // Alternating which goes first cancels a slow drift of the machine (other tenants, thermals)
    // out of the ratio; each round's ratio compares two runs made seconds apart.
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? [bareTarget, gatewayTarget] : [gatewayTarget, bareTarget];
      const [first, second] = [await load(order[0]!), await load(order[1]!)];
      const [b, g] = order[0] === bareTarget ? [first, second] : [second, first];
      handled.bare += b.handled;
      handled.gateway += g.handled;
      measured.push({ bare: b, gateway: g });
    }
    memory = { gateway: gateway.memory(), bareProxy: bare.memory() };
    logLines = countRequestLines(gatewayLog);
  } catch (err) {
    if (err instanceof Error) err.message += `\n(the gateway's log is kept: ${gatewayLog})`;
    throw err;
  } finally {
    await children.stopAll();
  }

  const zones = await zoneFigures(settings.seconds);
  const report: BenchReport = {
    date: new Date(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    settings,
    direct,
    rounds: measured,
    goal: GOAL,
    memory,
    gatewayLogLines: logLines,
    zones,
  };
  process.stdout.write(formatTable(report) + '\n');

  if (values.profile) {
    printProfile('bare http-proxy', profileDir('bare'), handled.bare);
    printProfile('zonegate', profileDir('gateway'), handled.gateway);
    process.stdout.write(`\ngarbage collection (--trace-gc, whole life):\n${gcLine('bare http-proxy', bareLog, handled.bare)}\n${gcLine('zonegate', gatewayLog, handled.gateway)}\n`);
  }
  if (values.write) {
    const file = path.join(root, 'bench', 'RESULTS.md');
    fs.writeFileSync(file, resultsMarkdown(report));
    process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
  fs.rmSync(work, { recursive: true, force: true });
  return zones.kind === 'failed' ? 1 : 0;
}

/** The gateway must really have logged every request (info level), or the figure flatters it. */
function countRequestLines(file: string): number {
  let n = 0;
  const text = fs.readFileSync(file, 'utf8');
  for (let i = text.indexOf('"msg":"request"'); i !== -1; i = text.indexOf('"msg":"request"', i + 1)) n++;
  return n;
}

/**
 * bench/zones.ts belongs to the identity-zones work; a failure there must not cost the gateway's
 * figures, so it runs last, after every child has been stopped.
 */
async function zoneFigures(seconds: number): Promise<ZoneFigures> {
  const file = path.join(here, 'zones.js');
  if (!fs.existsSync(file)) return { kind: 'absent' };
  try {
    // A computed specifier: the module is optional, so the compiler must not insist on it.
    const specifier = new URL('./zones.js', import.meta.url).href;
    const mod = (await import(specifier)) as { benchZones?: (o: { seconds: number }) => Promise<{ name: string; rps: number; p50: number; p99: number }[]> };
    if (typeof mod.benchZones !== 'function') return { kind: 'failed', error: 'bench/zones.ts does not export benchZones' };
    process.stderr.write(`identity zones: ${seconds} s per figure...\n`);
    return { kind: 'measured', rows: await mod.benchZones({ seconds }) };
  } catch (err) {
    return { kind: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

/**
 * Scavenges that promote per-request objects (something keeps them past two young collections)
 * make every scavenge slower and add mark-compacts; the pause totals show it at once.
 */
function gcLine(name: string, file: string, requests: number): string {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const pauses = (kind: string) => {
    let count = 0;
    let ms = 0;
    for (const m of text.matchAll(new RegExp(`${kind} [\\d.]+ \\([\\d.]+\\) -> [\\d.]+ \\([\\d.]+\\) MB, ([\\d.]+)`, 'g'))) {
      count++;
      ms += Number(m[1]);
    }
    return { count, ms };
  };
  const s = pauses('Scavenge');
  const mc = pauses('Mark-Compact');
  const us = (ms: number) => ((ms * 1000) / Math.max(1, requests)).toFixed(1);
  return `  ${name}: ${s.count} scavenges, ${s.ms.toFixed(0)} ms (${us(s.ms)} µs/req); ${mc.count} mark-compacts, ${mc.ms.toFixed(0)} ms (${us(mc.ms)} µs/req)`;
}

function printProfile(name: string, dir: string, requests: number): void {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (!files.length) {
    process.stdout.write(`\n${name}: no CPU profile was written to ${dir}\n`);
    return;
  }
  const kept = path.join(os.tmpdir(), `zonegate-bench-${name.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`);
  fs.copyFileSync(path.join(dir, files[0]!), kept);
  const profile = JSON.parse(fs.readFileSync(kept, 'utf8')) as CpuProfile;
  process.stdout.write(`\n${name} CPU profile (whole life: start-up, every load phase; ${requests} requests; kept at ${kept}):\n`);
  process.stdout.write(formatSummary(summariseProfile(profile, root), { requests }) + '\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof LoadFailure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
