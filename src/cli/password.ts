/**
 * Passwords for the commands that set one (`users create`), from where other users cannot read
 * them: piped to stdin with `--password-stdin` (as `docker login --password-stdin`), or typed at a
 * prompt that does not echo. `--password P` keeps working for scripts written against it, with
 * mysql's warning: argv is readable by every user of the machine (`ps`, /proc/PID/cmdline) and lands
 * in shell history.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';

export interface PasswordSource {
  /** `--password P`, when given. */
  argv?: string;
  /** `--password-stdin` */
  stdin: boolean;
}

export interface PasswordIo {
  /** process.stdin: a TTY to prompt on, or the pipe `--password-stdin` reads. */
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  /** process.stderr: the prompt and the warning go here, so stdout stays the command's answer. */
  output: NodeJS.WritableStream;
}

/** No password to be had: none given and no terminal to ask on, or an empty one. Exit 2 (usage). */
export class PasswordUsageError extends Error {}

/** Ctrl-C or Ctrl-D at the prompt. */
export class PromptCancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

export const ARGV_PASSWORD_WARNING =
  'zonegate: warning: a password on the command line can be read by other users (ps) and stays in shell history; use --password-stdin or the prompt';

/**
 * The password to use: `--password` (with the warning), one line of stdin, or the prompt asked
 * twice (a typo in a password nobody can see would lock the user out). `what` names it in the
 * prompt: `Password for bob`.
 */
export async function obtainPassword(source: PasswordSource, io: PasswordIo, what: string): Promise<string> {
  if (source.argv !== undefined && source.stdin) throw new PasswordUsageError('--password and --password-stdin exclude each other');
  if (source.argv !== undefined) {
    io.output.write(`${ARGV_PASSWORD_WARNING}\n`);
    if (source.argv === '') throw new PasswordUsageError('the password is empty');
    return source.argv;
  }
  if (source.stdin) {
    const line = await readLine(io.input);
    if (line === '') throw new PasswordUsageError('no password on stdin (--password-stdin reads one line)');
    return line;
  }
  if (!io.input.isTTY) throw new PasswordUsageError('no password: pipe it with --password-stdin, or run the command in a terminal to be asked');
  const first = await promptHidden(io.input, io.output, `${what}: `);
  if (first === '') throw new PasswordUsageError('the password is empty');
  const again = await promptHidden(io.input, io.output, 'Repeat it: ');
  if (again !== first) throw new PasswordUsageError('the passwords do not match');
  return first;
}

/**
 * The first line of `input` without its line ending (`\n` or `\r\n`); all of it when it ends
 * without one (`printf %s pw | ...`). Reading stops at the newline: the rest is left unread.
 */
export async function readLine(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const end = text.indexOf('\n');
    if (end >= 0) {
      text = text.slice(0, end);
      break;
    }
  }
  return text.replace(/\r$/, '');
}

/**
 * Asks `question` on `output` and reads one line from the terminal `input` without echoing it: the
 * readline interface switches the terminal to raw mode and writes its own echo to a stream that
 * drops it. A newline follows the answer, as
 * after `sudo`'s and `passwd`'s prompts.
 */
export function promptHidden(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  // The interface first: it puts the terminal in raw mode (no echo by the terminal itself), and
  // only then the question invites typing.
  const rl = readline.createInterface({ input, output: muted, terminal: true });
  output.write(question);
  return new Promise((resolve, reject) => {
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      output.write('\n');
      resolve(line);
    });
    // Ctrl-C in raw mode reaches readline, not the process; Ctrl-D (end of input) closes it.
    rl.once('SIGINT', () => rl.close());
    rl.once('close', () => {
      if (answered) return;
      output.write('\n');
      reject(new PromptCancelled());
    });
  });
}
