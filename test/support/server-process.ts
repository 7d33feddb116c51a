import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set<ChildProcess>();
const dirs = new Set<string>();
// A crashed test run must not leave servers behind holding ports, nor their directories.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A server process a test starts (redis-server, postgres): killed when the test process exits. */
export function spawnServer(command: string, args: readonly string[]): { proc: ChildProcess; output: () => string } {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  return { proc, output: () => output };
}

/** A new temp directory for a server, removed by removeServerDir or when the test process exits. */
export function makeServerDir(prefix: string): string {
  return adoptServerDir(mkdtempSync(join(tmpdir(), prefix)));
}

/** Removes `dir` when the test process exits, unless removeServerDir does first. */
export function adoptServerDir(dir: string): string {
  dirs.add(dir);
  return dir;
}

export function removeServerDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}
