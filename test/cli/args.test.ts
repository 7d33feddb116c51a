import { describe, expect, it } from 'vitest';
import { parseCommand, pickSubcommand, UsageError, type CommandGroup, type CommandSpec } from '../../src/cli/args.js';

const CREATE: CommandSpec = {
  name: 'zones create',
  synopsis: '<subdomain> [--name NAME] [--json]',
  details: 'Creates a zone.',
  options: { name: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['subdomain'],
};

const ZONES: CommandGroup = { name: 'zones', subcommands: ['create', 'list'], usage: 'Usage:\n  zonegate zones create\n  zonegate zones list' };

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('no usage error');
}

describe('parseCommand', () => {
  it('parses options and positionals strictly', () => {
    expect(parseCommand(CREATE, ['acme', '--name', 'Acme', '--json'])).toEqual({ values: { name: 'Acme', json: true }, positionals: ['acme'] });
    expect(parseCommand(CREATE, ['acme', '--name=-dash'])).toEqual({ values: { name: '-dash' }, positionals: ['acme'] });
  });

  it('answers -h/--help with the usage wherever it stands as an option, whatever else is wrong', () => {
    const help = { help: 'Usage: zonegate zones create <subdomain> [--name NAME] [--json]\n\nCreates a zone.' };
    for (const args of [['--help'], ['-h'], ['acme', '--bogus', '-h'], ['a', 'b', 'c', '--help'], ['--json=1', '--help']]) {
      expect(parseCommand(CREATE, args), args.join(' ')).toEqual(help);
    }
    // Not where it is a value or comes after `--`.
    expect(parseCommand(CREATE, ['acme', '--name=-h'])).toEqual({ values: { name: '-h' }, positionals: ['acme'] });
    expect(parseCommand(CREATE, ['--', '-h'])).toEqual({ values: {}, positionals: ['-h'] });
  });

  it('says what is wrong in one line naming the command, with its usage', () => {
    for (const [args, message] of [
      [['acme', '--colour', 'red'], "zonegate zones create: unknown option '--colour'"],
      [['acme', '-q'], "zonegate zones create: unknown option '-q'"],
      [[], 'zonegate zones create: missing <subdomain>'],
      [['acme', 'extra'], "zonegate zones create: unexpected argument 'extra'"],
      [['acme', '--name'], "zonegate zones create: option '--name <value>' argument missing"],
      [['acme', '--json=yes'], "zonegate zones create: option '--json' does not take an argument"],
      [['acme', '--name', '-x'], "zonegate zones create: option '--name' argument is ambiguous: write --name=VALUE for a value starting with '-'"],
    ] as const) {
      const err = usageError(() => parseCommand(CREATE, args));
      expect(err.message, args.join(' ')).toBe(message);
      expect(err.usage).toMatch(/^Usage: zonegate zones create /);
    }
  });
});

describe('pickSubcommand', () => {
  it('names the subcommand and passes the rest on; help for --help, -h and help', () => {
    expect(pickSubcommand(ZONES, ['create', 'acme', '--json'])).toEqual({ name: 'create', rest: ['acme', '--json'] });
    for (const args of [['--help'], ['-h'], ['help']]) expect(pickSubcommand(ZONES, args)).toEqual({ help: ZONES.usage });
  });

  it('says a subcommand is missing or unknown, listing the ones there are', () => {
    expect(usageError(() => pickSubcommand(ZONES, [])).message).toBe('zonegate zones: missing subcommand (create, list)');
    expect(usageError(() => pickSubcommand(ZONES, ['--json'])).message).toBe("zonegate zones: missing subcommand before '--json' (create, list)");
    const unknown = usageError(() => pickSubcommand(ZONES, ['rename']));
    expect(unknown.message).toBe("zonegate zones: unknown subcommand 'rename' (create, list)");
    expect(unknown.usage).toBe(ZONES.usage);
  });
});
