import { Queue, type Job } from 'bullmq';
import { auditEntry } from '@broker/shared/audit/schema';
import { AuditTrail } from '@broker/redis/audit/audit-trail';
import { bullPrefix, integrationQueueName } from '@broker/shared/queues';
import { JobStore } from '@broker/redis/jobs/job-store';
import { loadConfigFile } from '@broker/shared/config/load';
import { redisKeys } from '@broker/redis/keys';
import { CommandError, EXIT, UsageError } from '../errors';
import { print, type Command } from '../command';
import { withRedis } from '../redis';

/** @defaultValue 100 */
const PAGE = 100;

interface Skipped {
  id: string;
  reason: string;
}

/** Every failed BullMQ job of the queue, read page by page before anything moves. */
async function failedJobs(queue: Queue): Promise<Job[]> {
  const all: Job[] = [];
  for (let start = 0; ; start += PAGE) {
    const page = await queue.getFailed(start, start + PAGE - 1);
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}

function checkIntegration(configPath: string | undefined, integration: string): void {
  if (!configPath) return;
  const config = loadConfigFile(configPath);
  if (!config.integrations[integration]) {
    throw new UsageError(`no integration "${integration}" in ${configPath} (known: ${Object.keys(config.integrations).join(', ') || 'none'})`);
  }
}

export const jobsRetryFailed: Command = {
  path: 'jobs retry-failed',
  usage: 'broker jobs retry-failed --integration <name> [--dry-run]',
  summary: "retry every failed job of one integration's queue",
  details: [
    'Each job record goes back to `queued` and its BullMQ job to the wait list with a full retry budget;',
    'agents polling the job see it run again. Jobs whose record expired are skipped.',
  ].join('\n'),
  options: {
    integration: { type: 'string', description: 'the integration whose queue to retry (required)' },
    'dry-run': { type: 'boolean', description: 'list the jobs without retrying them' },
  },
  positionals: { min: 0, max: 0 },
  async run({ values }, settings, io) {
    const integration = values.integration;
    if (typeof integration !== 'string' || integration === '') throw new UsageError('--integration is required');
    checkIntegration(settings.configPath, integration);
    const dryRun = values['dry-run'] === true;

    const outcome = await withRedis(settings, async (redis) => {
      const queue = new Queue(integrationQueueName(integration), { connection: redis, prefix: bullPrefix(settings.redisPrefix, integrationQueueName(integration)) });
      const store = new JobStore(redis, redisKeys(settings.redisPrefix), { retentionSeconds: 1 });
      // No retention: the CLI may not know the deployment's `retention.auditDays`, and must not trim what it keeps.
      const trail = new AuditTrail(redis, redisKeys(settings.redisPrefix));
      const retried: string[] = [];
      const skipped: Skipped[] = [];
      try {
        for (const job of await failedJobs(queue)) {
          const id = job.id!;
          const record = await store.get(id);
          if (!record) {
            skipped.push({ id, reason: 'job record expired' });
            continue;
          }
          if (record.status !== 'failed') {
            skipped.push({ id, reason: `job record is ${record.status}` });
            continue;
          }
          if (dryRun) {
            retried.push(id);
            continue;
          }
          // The record first: a worker that takes the retried job must find it open, or it skips it as finished.
          const reopened = await store.reopen(id);
          if (reopened !== 'reopened') {
            skipped.push({ id, reason: `job record is ${reopened}` });
            continue;
          }
          try {
            // As an agent's retry: a look-only verdict is dropped, and an OUTCOME_UNKNOWN write is looked up before it is sent.
            const { lookOnly: _look, ...data } = job.data;
            if (_look !== undefined || (record.error?.code === 'OUTCOME_UNKNOWN' && !data.mayHaveApplied)) {
              await job.updateData({ ...data, ...(record.error?.code === 'OUTCOME_UNKNOWN' ? { mayHaveApplied: true as const } : {}) });
            }
            await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
            retried.push(id);
            // `by: operator`: not the agent's own retry. Awaited: the process exits right after.
            await trail.append(
              auditEntry(
                'retried',
                { jobId: id, agent: record.agentId, tool: record.tool, connection: record.connection },
                { by: 'operator', ...(record.error ? { code: record.error.code } : {}) },
              ),
            );
          } catch (err) {
            // Nothing half-done: the record goes back to failed with its error.
            await store.fail(id, record.error ?? { code: 'UNKNOWN', message: 'failed', retryable: false });
            skipped.push({ id, reason: `retry refused: ${(err as Error).message}` });
          }
        }
      } finally {
        await queue.close();
      }
      return { retried, skipped };
    });

    print(io, { integration, dryRun, retried: outcome.retried.length, jobs: outcome.retried, skipped: outcome.skipped }, () =>
      [
        `${dryRun ? 'would retry' : 'retried'} ${outcome.retried.length} failed job(s) of ${integration}`,
        ...outcome.retried.map((id) => `  ${id}`),
        ...outcome.skipped.map((s) => `  skipped ${s.id}: ${s.reason}`),
      ].join('\n'),
    );
    if (outcome.skipped.some((s) => s.reason.startsWith('retry refused'))) throw new CommandError('some jobs could not be retried');
    return EXIT.ok;
  },
};
