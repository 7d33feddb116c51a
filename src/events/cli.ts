/**
 * `zonegate events dead-letters` and `zonegate events redrive`: the event relay's dead letters on the
 * configured queue (Redis Streams with REDIS_URL, else <data dir>/events.db), as the admin API's
 * `/_zonegate/events/dead-letters` shows and redrives them, for an operator at the shell.
 * Exit codes: 0 done, 1 the queue cannot be opened or a delivery id is not among the dead letters, 2 usage.
 */
import { isHelp, parseCommand, pickSubcommand, type CommandGroup, type CommandSpec, type HelpRequest } from '../cli/args.js';
import type { Settings } from '../config/environment.js';
import { openEventQueue } from './feature.js';
import type { EventQueue } from './queue.js';

const SPECS = {
  'dead-letters': {
    name: 'events dead-letters',
    synopsis: '[--json]',
    details: 'Lists the deliveries the event relay gave up on, oldest first, with the reason (--json: as the admin API answers).',
    options: { json: { type: 'boolean' } },
  },
  redrive: {
    name: 'events redrive',
    synopsis: '<delivery-id> | --all',
    details: 'Queues a dead letter again, its attempts reset; a running gateway delivers it. --all: every dead letter.',
    options: { all: { type: 'boolean' } },
  },
} satisfies Record<string, CommandSpec>;

export const EVENTS_USAGE = `Usage:
${Object.values(SPECS).map((spec) => `  zonegate ${spec.name} ${spec.synopsis}`).join('\n')}`;

export const EVENTS_GROUP: CommandGroup = { name: 'events', subcommands: Object.keys(SPECS), usage: EVENTS_USAGE };

export type EventsCommand = { name: 'dead-letters'; json: boolean } | { name: 'redrive'; ids: string[]; all: boolean };

export function parseEventsCommand(args: readonly string[]): EventsCommand | HelpRequest {
  const picked = pickSubcommand(EVENTS_GROUP, args);
  if (isHelp(picked)) return picked;
  const name = picked.name as keyof typeof SPECS;
  const spec: CommandSpec = SPECS[name];
  // One delivery id, or --all (then no id).
  const wantsAll = name === 'redrive' && picked.rest.includes('--all');
  const parsed = parseCommand(name === 'redrive' && !wantsAll ? { ...spec, positionals: ['delivery-id'] } : spec, picked.rest);
  if (isHelp(parsed)) return parsed;
  if (name === 'dead-letters') {
    return { name, json: parsed.values.json === true };
  }
  return { name, ids: parsed.positionals, all: parsed.values.all === true };
}

export interface EventsCliIo {
  settings: Pick<Settings, 'storage' | 'dataDir'>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Opens the queue (tests pass another key prefix). */
  open?: () => Promise<EventQueue>;
}

export async function runEventsCommand(command: EventsCommand, io: EventsCliIo): Promise<number> {
  let queue: EventQueue;
  try {
    queue = io.open ? await io.open() : await openEventQueue({ settings: io.settings });
  } catch (err) {
    io.err(`zonegate: cannot open the event queue: ${(err as Error).message}`);
    return 1;
  }
  try {
    const letters = await queue.deadLetters();
    if (command.name === 'dead-letters') {
      if (command.json) {
        io.out(JSON.stringify(letters.map((l) => ({ deliveryId: l.message.deliveryId, tenant: l.message.tenant, subscriptionId: l.message.subscriptionId, event: { id: l.message.event.id, name: l.message.event.name }, attempts: l.message.attempt, reason: l.reason, deadAt: new Date(l.deadAt).toISOString() })), null, 2));
        return 0;
      }
      if (letters.length === 0) {
        io.out('No dead letters.');
        return 0;
      }
      for (const l of letters) {
        io.out(`${l.message.deliveryId}  ${new Date(l.deadAt).toISOString()}  ${l.message.tenant}  ${l.message.event.name} (${l.message.event.id})  subscription ${l.message.subscriptionId}: ${l.reason}`);
      }
      io.out(`${letters.length} dead letter${letters.length === 1 ? '' : 's'}; zonegate events redrive <delivery-id> (or --all) queues them again.`);
      return 0;
    }
    const ids = command.all ? letters.map((l) => l.message.deliveryId) : command.ids;
    let missing = 0;
    for (const id of ids) {
      if (await queue.redrive(id)) io.out(`Redriven ${id}`);
      else {
        missing++;
        io.err(`zonegate: ${id} is not a dead letter`);
      }
    }
    if (ids.length === 0) io.out('No dead letters.');
    return missing ? 1 : 0;
  } finally {
    await queue.close();
  }
}
