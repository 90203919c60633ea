import { ConfigError } from '@broker/shared/config/load';
import { loadCheckedConfigFile } from '@broker/tools/descriptors';
import { EXIT } from '../errors';
import { print, type Command } from '../command';

export const configCheck: Command = {
  path: 'config check',
  usage: 'broker config check <file>',
  summary: 'validate a config file and print every problem',
  details: 'JSON, or YAML when the file ends in .yaml/.yml. Exit 1 when the file has problems.',
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ positionals }, _settings, io) {
    const file = positionals[0]!;
    try {
      const config = loadCheckedConfigFile(file);
      const integrations = Object.keys(config.integrations);
      print(
        io,
        { ok: true, file, agents: config.agents.length, integrations, webhooks: Object.keys(config.webhooks) },
        () => `${file}: ok (${config.agents.length} agents; integrations: ${integrations.join(', ') || 'none'})`,
      );
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      print(io, { ok: false, file, problems: err.problems }, () => [`${file}: ${err.problems.length} problem(s)`, ...err.problems.map((p) => `  - ${p}`)].join('\n'));
      return EXIT.failure;
    }
  },
};
