import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled `zonegate` command (npm test builds it first). */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli.js');

export interface RunningCli {
  child: ChildProcess;
  port: number;
  /** Everything it printed so far, stdout and stderr. */
  output: () => string;
}

/**
 * Starts a long-running `zonegate` command (start, zones start, demo) and resolves once it logs
 * `"msg":"listening"` with its port. A process that exits first rejects; one that never reports is
 * killed, never left behind. `options.command` runs another `zonegate` executable than this
 * checkout's build.
 */
export function startCli(
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined>; command?: string; readyTimeoutMs?: number },
): Promise<RunningCli> {
  const [file, argv] = options.command ? [options.command, args] : [process.execPath, [CLI, ...args]];
  const child = spawn(file, argv, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listening line: ${out}`));
    }, options.readyTimeoutMs ?? 15_000);
    const onData = () => {
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve({ child, port: JSON.parse(line).port, output: () => out });
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${out}`));
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Runs a `zonegate` command to its end; `input` is written to its stdin (else stdin is /dev/null, not a terminal). */
export async function runCli(
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined>; input?: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: options.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  // A command that exits before reading all of it closes the pipe: not the test's failure.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(options.input);
  // 'close', not 'exit': the output is all read only once the pipes have closed.
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout, stderr };
}
