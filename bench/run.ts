/**
 * `npm run bench`: a backend, a bare http-proxy pass-through to it, and zonegate on an
 * unauthenticated route, each in its own process (own event loop), loaded one after the other by the
 * same client at the same concurrency. Prints requests/s and p50/p99 for each, zonegate's ratio to
 * the bare proxy (issue 2's goal: at least 0.70) and the gateway's memory; then the identity zones'
 * figures when bench/zones.ts exists.
 *
 *   npm run bench                  print the figures
 *   npm run bench -- --write       also write bench/RESULTS.md
 *   npm run bench -- --profile     run the gateway under --cpu-prof and print where its time went
 *                                  (figures are then slower than real and are not written)
 * Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (50).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKEND_BODY } from './backend-body.js';
import { LoadFailure, measure, type LoadFigures, type LoadSettings } from './load.js';
import { ChildProcesses } from './processes.js';
import { formatSummary, summariseProfile, type CpuProfile } from './profile.js';
import { formatTable, resultsMarkdown, type BenchReport, type ZoneFigures } from './report.js';

const GOAL = 0.7;
const TENANT_HOST_PATTERN = '^(.*)\\.app\\.example\\.com$';
const TENANT_HOST = 'acme.app.example.com';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/bench/run.js -> the repository root. */
const root = path.resolve(here, '..', '..');

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number of seconds/connections, got "${raw}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { write: { type: 'boolean' }, profile: { type: 'boolean' } }, strict: true });
  const settings: LoadSettings = {
    seconds: positiveNumber('BENCH_SECONDS', 10) || 10,
    warmupSeconds: positiveNumber('BENCH_WARMUP_SECONDS', 2),
    connections: Math.max(1, Math.round(positiveNumber('BENCH_CONNECTIONS', 50))),
  };
  if (values.write && values.profile) throw new Error('--profile slows the gateway down; its figures are not written (drop --write)');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-bench-'));
  const gatewayLog = path.join(work, 'gateway.log');
  const profileDir = path.join(work, 'profile');
  const children = new ChildProcesses();
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
    void children.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const figures: LoadFigures[] = [];
  let memory: BenchReport['memory'];
  let logLines = 0;
  try {
    const backend = await children.start({ name: 'backend', args: [path.join(here, 'backend.js')] });
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    const bare = await children.start({ name: 'bare proxy', args: [path.join(here, 'bare-proxy.js'), backendUrl] });
    const gateway = await children.start({
      name: 'zonegate',
      args: [
        ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
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

    const targets = [
      { name: 'backend direct', port: backend.port, path: '/items' },
      { name: 'bare http-proxy', port: bare.port, path: '/items' },
      { name: 'zonegate', port: gateway.port, path: '/public/items' },
    ];
    for (const t of targets) {
      process.stderr.write(`${t.name}: ${settings.warmupSeconds} s warm-up, ${settings.seconds} s at ${settings.connections} connections...\n`);
      figures.push(
        await measure({ name: t.name, url: `http://127.0.0.1:${t.port}${t.path}`, host: TENANT_HOST, expectBody: BACKEND_BODY }, settings),
      );
    }
    memory = { gateway: gateway.memory(), bareProxy: bare.memory() };
    logLines = countRequestLines(gatewayLog);
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
    figures,
    goal: GOAL,
    memory,
    gatewayLogLines: logLines,
    zones,
  };
  process.stdout.write(formatTable(report) + '\n');

  if (values.profile) printProfile(profileDir);
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
 * bench/zones.ts belongs to the identity-zones work; it may not exist yet, and a failure there
 * must not cost the gateway's figures, so it runs last, after every child has been stopped.
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

function printProfile(dir: string): void {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (!files.length) {
    process.stdout.write(`no CPU profile was written to ${dir}\n`);
    return;
  }
  const file = path.join(dir, files[0]!);
  const kept = path.join(os.tmpdir(), `zonegate-gateway-${Date.now()}.cpuprofile`);
  fs.copyFileSync(file, kept);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`\nzonegate CPU profile (whole run: start-up, three load phases, idle; kept at ${kept}):\n`);
  process.stdout.write(formatSummary(summariseProfile(profile, root)) + '\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof LoadFailure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
