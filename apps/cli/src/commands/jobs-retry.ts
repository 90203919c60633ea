import type { PublicJob } from '@broker/shared/jobs/schema';
import { callApi } from '../api';
import { EXIT } from '../errors';
import { print, type Command } from '../command';

export const jobsRetry: Command = {
  path: 'jobs retry',
  usage: 'broker jobs retry <id>',
  summary: "run one of an agent's failed jobs again, as the same job (POST /v1/jobs/{id}/retry, with BROKER_AGENT_KEY)",
  details: [
    'Only a failed job whose error is retryable, or OUTCOME_UNKNOWN, runs again (409 CONFLICT otherwise),',
    'and only for the agent that owns it (404 NOT_FOUND for any other key). The job keeps its id, so every',
    'try sends the same upstream Idempotency-Key; its attempts keep counting. Follow it with `broker jobs get <id>`.',
  ].join('\n'),
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ positionals }, settings, io) {
    const job = await callApi<PublicJob>(settings, 'POST', `/v1/jobs/${encodeURIComponent(positionals[0]!)}/retry`, 'agent');
    print(io, job, () => `retrying ${job.id} (${job.tool}): ${job.status}, ${job.attempts} attempt(s) so far`);
    return EXIT.ok;
  },
};
