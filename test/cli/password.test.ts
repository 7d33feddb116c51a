import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ARGV_PASSWORD_WARNING, obtainPassword, PasswordUsageError, promptHidden, PromptCancelled, readLine } from '../../src/cli/password.js';

/** A writable that keeps what was written: the terminal's screen. */
function screen(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

/** A stream standing in for a terminal's input: readline reads its keys; it has no raw mode to switch. */
function keyboard(): PassThrough & { isTTY: boolean } {
  return Object.assign(new PassThrough(), { isTTY: true });
}

describe('readLine', () => {
  it('is the first line without its ending, or all of the input when it has none', async () => {
    const piped = new PassThrough();
    piped.end('first\r\nsecond\n');
    expect(await readLine(piped)).toBe('first');
    const bare = new PassThrough();
    bare.end('no newline');
    expect(await readLine(bare)).toBe('no newline');
    const split = new PassThrough();
    split.write('pa');
    setTimeout(() => split.end('rt\nrest'), 10);
    expect(await readLine(split)).toBe('part');
  });
});

describe('promptHidden', () => {
  it('shows the question, reads the line, and echoes nothing of it', async () => {
    const input = keyboard();
    const out = screen();
    const answer = promptHidden(input, out.stream, 'Password: ');
    input.write('hunter2');
    input.write('\r');
    expect(await answer).toBe('hunter2');
    expect(out.text()).toBe('Password: \n');
  });

  it('Ctrl-C and Ctrl-D cancel it', async () => {
    // Ctrl-D ends the input only on an empty line, as in a shell.
    for (const keys of ['abc\x03', '\x04']) {
      const input = keyboard();
      const out = screen();
      const answer = promptHidden(input, out.stream, 'Password: ');
      input.write(keys);
      await expect(answer).rejects.toBeInstanceOf(PromptCancelled);
      expect(out.text()).not.toContain('abc');
    }
  });
});

describe('obtainPassword', () => {
  it('argv with a warning; stdin; the prompt twice on a terminal', async () => {
    const out = screen();
    expect(await obtainPassword({ argv: 'from-argv', stdin: false }, { input: new PassThrough(), output: out.stream }, 'Password')).toBe('from-argv');
    expect(out.text()).toBe(`${ARGV_PASSWORD_WARNING}\n`);

    const piped = new PassThrough();
    piped.end('from-stdin\n');
    expect(await obtainPassword({ stdin: true }, { input: piped, output: screen().stream }, 'Password')).toBe('from-stdin');

    const input = keyboard();
    const typed = screen();
    const asked = obtainPassword({ stdin: false }, { input, output: typed.stream }, 'Password for bob');
    input.write('typed-1\r');
    await new Promise((r) => setTimeout(r, 10));
    input.write('typed-1\r');
    expect(await asked).toBe('typed-1');
    expect(typed.text()).toBe('Password for bob: \nRepeat it: \n');
  });

  it('refuses without a terminal, with both sources, with an empty one, and with two different answers', async () => {
    const notTty = Object.assign(new PassThrough(), { isTTY: false });
    await expect(obtainPassword({ stdin: false }, { input: notTty, output: screen().stream }, 'Password')).rejects.toThrow(PasswordUsageError);
    await expect(obtainPassword({ argv: 'a', stdin: true }, { input: notTty, output: screen().stream }, 'Password')).rejects.toThrow('exclude each other');
    const empty = new PassThrough();
    empty.end('\n');
    await expect(obtainPassword({ stdin: true }, { input: empty, output: screen().stream }, 'Password')).rejects.toThrow('no password on stdin');

    const input = keyboard();
    const asked = obtainPassword({ stdin: false }, { input, output: screen().stream }, 'Password');
    input.write('one\r');
    await new Promise((r) => setTimeout(r, 10));
    input.write('two\r');
    await expect(asked).rejects.toThrow('the passwords do not match');
  });
});
