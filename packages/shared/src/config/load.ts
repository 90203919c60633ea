import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type BrokerConfig } from './schema';

/** Thrown when the config file cannot be read or is invalid; `problems` lists each one by path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function pointer(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${pointer(issue.path)}: ${issue.message}`);
}

/** Validates an already-parsed config object (used by tests and by {@link loadConfigFile}). */
export function parseConfig(raw: unknown, source = '<inline>'): BrokerConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, formatIssues(result.error.issues));
  return result.data;
}

/** Reads a JSON config, or YAML when the file ends in `.yaml`/`.yml`, and validates it. */
export function loadConfigFile(file: string): BrokerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    const ext = extname(file).toLowerCase();
    raw = ext === '.yaml' || ext === '.yml' ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`cannot parse file: ${(err as Error).message}`]);
  }
  return parseConfig(raw, file);
}
