import { ConfigError, loadConfigFile } from '@broker/shared/config/load';
import type { BrokerConfig } from '@broker/shared/config/schema';
import { compileJsonSchema } from './json-schema';

/**
 * Every declared tool's `input` and `output` JSON Schema that does not
 * compile, by config path. The config schema (in @broker/shared, which knows
 * no JSON Schema validator) only sees that they are objects; without this an
 * invalid schema passed `broker config check` and stopped the api at start
 * with Ajv's stack trace.
 */
export function declaredSchemaProblems(config: BrokerConfig): string[] {
  const problems: string[] = [];
  for (const [integration, { tools }] of Object.entries(config.integrations)) {
    tools.forEach((tool, i) => {
      for (const field of ['input', 'output'] as const) {
        const schema = tool[field];
        if (!schema) continue;
        try {
          compileJsonSchema(schema);
        } catch (err) {
          problems.push(`integrations.${integration}.tools.${i}.${field}: ${(err as Error).message}`);
        }
      }
    });
  }
  return problems;
}

/** {@link loadConfigFile}, with {@link declaredSchemaProblems} among the problems its ConfigError lists. */
export function loadCheckedConfigFile(file: string): BrokerConfig {
  const config = loadConfigFile(file);
  const problems = declaredSchemaProblems(config);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return config;
}
