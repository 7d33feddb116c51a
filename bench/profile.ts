/**
 * Where a process's CPU time went, from a V8 `.cpuprofile` (`node --cpu-prof`): self time by
 * function and by area (our source file, npm package, Node.js internals, GC), and inclusive time of
 * the functions on the request path. `npm run bench -- --profile` profiles the gateway and prints
 * this; `node dist/bench/profile.js <file.cpuprofile>` reads any profile.
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Milliseconds of samples that were not idle. */
  busyMs: number;
  selfByFunction: [string, number][];
  selfByArea: [string, number][];
  inclusiveByFunction: [string, number][];
}

const IDLE = '(idle)';

export function summariseProfile(profile: CpuProfile, root: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const area = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

  for (let i = 0; i < profile.samples.length; i++) {
    // V8 records the interval before each sample; the next delta is the time spent in this one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const frame = node.callFrame;
    if (frame.functionName === IDLE) continue;
    busy += us;
    add(self, label(frame, root), us);
    add(area, areaOf(frame, root), us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (f.functionName === '(root)') continue;
      const key = label(f, root);
      if (seen.has(key)) continue;
      seen.add(key);
      add(inclusive, key, us);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].map(([k, v]) => [k, v / 1000] as [string, number]).sort((a, b) => b[1] - a[1]);
  return { busyMs: busy / 1000, selfByFunction: sorted(self), selfByArea: sorted(area), inclusiveByFunction: sorted(inclusive) };
}

/** With `requests`, each line also says how many microseconds that is per request handled. */
export function formatSummary(summary: ProfileSummary, options: { top?: number; requests?: number } = {}): string {
  const top = options.top ?? 25;
  const pct = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)}%`;
  const perRequest = (ms: number) => (options.requests ? `${((ms * 1000) / options.requests).toFixed(1).padStart(6)} µs/req` : '');
  const rows = (list: [string, number][], n: number) =>
    list.slice(0, n).map(([k, ms]) => `  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms ${perRequest(ms)}  ${k}`);
  const ours = summary.inclusiveByFunction.filter(([k]) => / (src|bench)\//.test(k));
  return [
    `busy (non-idle) CPU: ${summary.busyMs.toFixed(0)} ms${options.requests ? ` = ${((summary.busyMs * 1000) / options.requests).toFixed(0)} µs per request` : ''}`,
    'self time by area:',
    ...rows(summary.selfByArea, 20),
    'self time by function:',
    ...rows(summary.selfByFunction, top),
    'inclusive time, our functions (src/, bench/):',
    ...rows(ours, top),
  ].join('\n');
}

function shortUrl(url: string, root: string): string {
  let u = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (u.startsWith(root)) u = u.slice(root.length).replace(/^\//, '');
  // The gateway runs compiled; name the source file a reader would open.
  return u.replace(/^dist\/(src|bench)\/(.*)\.js$/, '$1/$2.ts');
}

const maps = new Map<string, SourceMap | undefined>();

/** The TypeScript line of a compiled frame (tsconfig.build.json emits source maps), 1-based. */
function sourceLine(frame: CallFrame): number {
  if (!frame.url.startsWith('file://') || !frame.url.endsWith('.js')) return frame.lineNumber + 1;
  let map = maps.get(frame.url);
  if (!maps.has(frame.url)) {
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${fileURLToPath(frame.url)}.map`, 'utf8')));
    } catch {
      map = undefined;
    }
    maps.set(frame.url, map);
  }
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as { originalLine?: number } | undefined;
  return entry?.originalLine !== undefined ? entry.originalLine + 1 : frame.lineNumber + 1;
}

function label(frame: CallFrame, root: string): string {
  if (!frame.url) return frame.functionName || '(anonymous)';
  return `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url, root)}:${sourceLine(frame)}`;
}

function areaOf(frame: CallFrame, root: string): string {
  if (!frame.url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const u = shortUrl(frame.url, root);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (pkg) return `npm ${pkg[1]}`;
  if (u.startsWith('node:')) return u.split('/').slice(0, 3).join('/');
  return u;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(formatSummary(summariseProfile(profile, process.cwd()), { top: Number(process.argv[3]) || 25 }) + '\n');
}
