#!/usr/bin/env node
import { ConfigError } from '@broker/shared/config/load';
import { COMMON_OPTIONS, parseCommandArgs, type OptionSpec } from './args';
import type { Command, Io } from './command';
import { audit } from './commands/audit';
import { approvalsApprove } from './commands/approvals-approve';
import { approvalsDeny } from './commands/approvals-deny';
import { approvalsList } from './commands/approvals-list';
import { configCheck } from './commands/config-check';
import { eventsList } from './commands/events-list';
import { eventsReplay } from './commands/events-replay';
import { eventsShow } from './commands/events-show';
import { jobsGet } from './commands/jobs-get';
import { jobsRetry } from './commands/jobs-retry';
import { jobsRetryFailed } from './commands/jobs-retry-failed';
import { keysHash } from './commands/keys-hash';
import { loadCliSettings } from './config';
import { CommandError, EXIT, UsageError } from './errors';

const COMMANDS: Command[] = [
  configCheck,
  jobsGet,
  jobsRetry,
  jobsRetryFailed,
  eventsList,
  eventsShow,
  eventsReplay,
  keysHash,
  audit,
  approvalsList,
  approvalsApprove,
  approvalsDeny,
];

const ENVIRONMENT = `Environment:
  REDIS_URL            Redis (jobs get, jobs retry-failed)    default redis://127.0.0.1:6379
  BROKER_REDIS_PREFIX  key prefix of the api and workers      default broker
  BROKER_CONFIG        config file (jobs retry-failed checks the integration)
  BROKER_URL           the running API (events …, audit, approvals …, jobs retry) default http://127.0.0.1:8080
  BROKER_ADMIN_TOKEN   the operators' token (events …, audit, approvals …)
  BROKER_AGENT_KEY     the key of the agent owning the job (jobs retry)

Exit codes: 0 ok, 1 the command failed, 2 wrong usage.`;

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries({ ...options, ...COMMON_OPTIONS }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ' <value>' : ''}`;
    return `  ${flag.padEnd(28)} ${o.description}`;
  });
}

function commandHelp(c: Command): string {
  return [`Usage: ${c.usage} [--json]`, '', c.summary, ...(c.details ? ['', c.details] : []), '', 'Options:', ...optionLines(c.options)].join('\n');
}

function overview(group?: string): string {
  const list = COMMANDS.filter((c) => !group || c.path.startsWith(`${group} `));
  return [
    `Usage: broker ${group ? `${group} <command>` : '<command>'} [options]`,
    '',
    'Commands:',
    ...list.map((c) => `  ${c.usage.replace(/^broker /, '')}\n      ${c.summary}`),
    '',
    'Run "broker <command> --help" for its options.',
    '',
    ENVIRONMENT,
  ].join('\n');
}

const processIo = (json: boolean): Io => ({
  json,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
});

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  // A one-word command (`broker audit …`) takes everything after its name.
  const single = COMMANDS.find((c) => c.path === argv[0]);
  const [group, name, ...rest] = single ? [single.path, single.path, ...argv.slice(1)] : argv;
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(`${overview()}\n`);
    return group === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = single ?? COMMANDS.find((c) => c.path === `${group} ${name ?? ''}`);
  if (!command) {
    const known = COMMANDS.some((c) => c.path.startsWith(`${group} `));
    if (known && (name === undefined || name === '--help' || name === '-h')) {
      process.stdout.write(`${overview(group)}\n`);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    process.stderr.write(`broker: unknown command "${[group, name].filter(Boolean).join(' ')}"\n\n${overview(known ? group : undefined)}\n`);
    return EXIT.usage;
  }

  const json = rest.includes('--json');
  const io = processIo(json);
  try {
    const args = parseCommandArgs(rest, command.options, command.positionals);
    if (args.values.help) {
      io.out(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run(args, loadCliSettings(), io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`broker ${command.path}: ${err.message}\n\n${commandHelp(command)}`);
      return EXIT.usage;
    }
    const message = err instanceof CommandError ? err.message : err instanceof ConfigError ? err.message : `unexpected error: ${(err as Error).stack ?? String(err)}`;
    if (json) io.out(JSON.stringify({ error: message }));
    io.err(`broker ${command.path}: ${message}`);
    return EXIT.failure;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`broker: ${String(err)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
