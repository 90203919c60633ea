import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** Options every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print machine-readable JSON' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/**
 * Parses one command's arguments with node:util's strict parser (unknown
 * options and missing values are usage errors, never silently ignored), then
 * checks the number of positionals.
 */
export function parseCommandArgs(argv: string[], options: Record<string, OptionSpec>, positionals: { min: number; max: number }): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries({ ...COMMON_OPTIONS, ...options }).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}) }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { positionals: parsed.positionals, values };
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError('missing argument');
  if (n > positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"`);
  return { positionals: parsed.positionals, values };
}

/** A positive integer option, or undefined when absent. */
export function intOption(values: ParsedArgs['values'], name: string, max: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new UsageError(`--${name} must be an integer from 1 to ${max}`);
  }
  return Number(raw);
}
