#!/usr/bin/env node
/**
 * The `zonegate` command. This file (with the demo) is the only reader of process.env: it hands
 * plain objects to everything else (STYLE.md, "one reader of the environment").
 */
import { parseArgs } from 'node:util';
import { loadConfiguration, type ConfigurationFiles } from './server/configuration.js';
import { describeStartupError, startGateway } from './server/start.js';
import { formatProblem } from './errors.js';
import { createLogger } from './log.js';
import { runDemo } from './demo/demo.js';
import { untilSignal } from './server/signals.js';

const USAGE = `Usage: zonegate <command> [options]

Commands:
  start           Start the gateway: reads routes.json (and xs-security.json when present)
                  from the working directory and the environment (PORT, TENANT_HOST_PATTERN,
                  destinations, TRUSTED_PROXIES, REDIS_URL, VCAP_SERVICES, default-env.json).
  check-config    Validate the configuration without starting; exit 1 on any problem.
  demo            Start the gateway with an echo backend and two demo tenants (npm start).

Options:
  --routes FILE     routes.json to read (default ./routes.json)
  --security FILE   xs-security.json to read (default ./xs-security.json when present)
  -h, --help        This help.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'start':
      return start(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'demo':
      return runDemo({ env: process.env, cwd: process.cwd() });
    default:
      process.stderr.write(`zonegate: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function fileOptions(args: string[]): ConfigurationFiles {
  const { values } = parseArgs({ args, options: { routes: { type: 'string' }, security: { type: 'string' } }, strict: true });
  return { routes: values.routes, security: values.security };
}

function checkConfig(args: string[]): number {
  try {
    const config = loadConfiguration(process.env, { cwd: process.cwd(), files: fileOptions(args) });
    for (const w of config.warnings) process.stdout.write(`warning: ${formatProblem(w).trim()}\n`);
    process.stdout.write(
      `${config.routesPath}: OK (${config.routes.routes.length} routes, ${config.settings.destinations.length} destinations` +
        `${config.security ? `, xs-security.json for ${config.security.xsappname}` : ''})\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  let config;
  try {
    config = loadConfiguration(process.env, { cwd: process.cwd(), files: fileOptions(args) });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  const logger = createLogger({ level: config.settings.logLevel });
  for (const w of config.warnings) logger.warn('configuration', { file: w.file, path: w.path, problem: w.message });
  try {
    const running = await startGateway(config, { logger });
    logger.info('listening', { port: running.port, tenantHostPattern: config.settings.tenantHostPattern?.source, storage: running.storage.kind });
    return await untilSignal(running.stop, logger);
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${describeStartupError(err)}\n`);
    process.exit(1);
  },
);
