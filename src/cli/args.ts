/**
 * How every `zonegate` command reads its arguments: node:util's parseArgs, strict, with `-h/--help`
 * on each command and group. Help is answered from the arguments alone, before the caller reads the
 * configuration or opens a store; a usage problem is one line naming it plus the command's usage
 * (exit 2), never a stack trace. The commands' own modules describe them with `CommandSpec` and
 * `CommandGroup`; the entry point (src/cli.ts) prints and exits.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** Exit code of a usage error, as getopt-based tools and the BSD sysexits' EX_USAGE neighbours use. */
export const USAGE_EXIT_CODE = 2;

/** A leaf command: `zonegate zones create <subdomain> [--id ID] [--name NAME]`. */
export interface CommandSpec {
  /** The words after `zonegate`: `zones create`. */
  name: string;
  /** What follows the name in the usage line: `<subdomain> [--id ID] [--name NAME]`. */
  synopsis?: string;
  /** Lines under the usage line: what it does, its options. */
  details?: string;
  options?: CommandOptions;
  /** Names of the positional arguments, all required. */
  positionals?: readonly string[];
}

/** A command made of subcommands: `zonegate zones`. */
export interface CommandGroup {
  /** `zones` */
  name: string;
  subcommands: readonly string[];
  /** The usage of the whole group, printed for `zonegate zones --help` and after its usage errors. */
  usage: string;
}

/** A problem with the command line itself; `usage` is what to print after the one-line message. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The answer to `-h/--help`: print `usage` on stdout, exit 0. */
export interface HelpRequest {
  help: string;
}

export interface ParsedCommand {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function isHelp(x: unknown): x is HelpRequest {
  return typeof x === 'object' && x !== null && typeof (x as HelpRequest).help === 'string';
}

export function commandUsage(spec: CommandSpec): string {
  const line = `Usage: zonegate ${spec.name}${spec.synopsis ? ` ${spec.synopsis}` : ''}`;
  return spec.details ? `${line}\n\n${spec.details.replace(/\n+$/, '')}` : line;
}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } satisfies CommandOptions;

/**
 * True when `args` ask for help: a `-h`/`--help` token where an option may stand (not after `--`,
 * not as the value of a string option such as `--name -h`), whatever else is wrong with them.
 */
function asksForHelp(args: readonly string[], options: CommandOptions): boolean {
  const { tokens } = parseArgs({ args: [...args], options: { ...options, ...HELP_OPTION }, strict: false, allowPositionals: true, tokens: true });
  return tokens.some((t) => t.kind === 'option' && t.name === 'help');
}

/**
 * One line for what parseArgs found: its messages go on over several sentences and lines about `--`
 * and option values starting with a dash; the first sentence is what went wrong.
 */
function describeParseError(err: unknown): string {
  const e = err as Error & { code?: string };
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  const first = e.message.split(/\.(?:\s|$)/)[0]!.replace(/^Option/, 'option');
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${quoted}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // `--name -x`: a value that looks like an option (parseArgs' advice, on one line).
      return /ambiguous/.test(first) ? `${first}: write ${quoted}=VALUE for a value starting with '-'` : first;
    default:
      return first;
  }
}

/**
 * Parses what follows the command's name. Help, when asked for, wins over any other problem (as
 * git's and docker's do), so `zonegate users create --help` needs nothing else right.
 */
export function parseCommand(spec: CommandSpec, args: readonly string[]): ParsedCommand | HelpRequest {
  const options = spec.options ?? {};
  const usage = commandUsage(spec);
  if (asksForHelp(args, options)) return { help: usage };
  let parsed: ParsedCommand;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as ParsedCommand;
  } catch (err) {
    throw new UsageError(`zonegate ${spec.name}: ${describeParseError(err)}`, usage);
  }
  const expected = spec.positionals ?? [];
  if (parsed.positionals.length < expected.length) {
    const missing = expected.slice(parsed.positionals.length).map((p) => `<${p}>`).join(' ');
    throw new UsageError(`zonegate ${spec.name}: missing ${missing}`, usage);
  }
  if (parsed.positionals.length > expected.length) {
    throw new UsageError(`zonegate ${spec.name}: unexpected argument '${parsed.positionals[expected.length]}'`, usage);
  }
  return parsed;
}

/**
 * The subcommand of `group` that `args` (what follows the group's name) name, with the rest of the
 * arguments; help for `zonegate zones`, `zonegate zones --help` and `zonegate zones help`. A missing
 * or unknown subcommand is a usage error that lists the ones there are.
 */
export function pickSubcommand(group: CommandGroup, args: readonly string[]): { name: string; rest: string[] } | HelpRequest {
  const [first, ...rest] = args;
  const list = `(${group.subcommands.join(', ')})`;
  if (first === undefined) throw new UsageError(`zonegate ${group.name}: missing subcommand ${list}`, group.usage);
  if (first === '-h' || first === '--help' || first === 'help') return { help: group.usage };
  if (first.startsWith('-')) throw new UsageError(`zonegate ${group.name}: missing subcommand before '${first}' ${list}`, group.usage);
  if (!group.subcommands.includes(first)) throw new UsageError(`zonegate ${group.name}: unknown subcommand '${first}' ${list}`, group.usage);
  return { name: first, rest };
}
