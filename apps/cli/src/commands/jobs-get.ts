import { JobStore } from '@broker/redis/jobs/job-store';
import { redisKeys } from '@broker/redis/keys';
import { CommandError, EXIT } from '../errors';
import { print, type Command } from '../command';
import { withRedis } from '../redis';

export const jobsGet: Command = {
  path: 'jobs get',
  usage: 'broker jobs get <id>',
  summary: "print a job record from Redis (any agent's, with its agent, integration and connection)",
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ positionals }, settings, io) {
    const id = positionals[0]!;
    const record = await withRedis(settings, (redis) => new JobStore(redis, redisKeys(settings.redisPrefix), { retentionSeconds: 1 }).get(id));
    if (!record) throw new CommandError(`no job ${id} under prefix "${settings.redisPrefix}" (unknown, or past its retention)`);
    print(io, record, () => JSON.stringify(record, null, 2));
    return EXIT.ok;
  },
};
