import type { Job } from 'bullmq';
import type { JobStore } from '@broker/redis/jobs/job-store';
import type { ToolJobData } from '@broker/shared/jobs/schema';
import type { Logger } from '@broker/shared/logger';
import { ToolError, type ToolRegistry } from '@broker/tools';
import { isUnkeyedWrite } from './unkeyed-write';

export interface EscapedFailureDeps {
  store: Pick<JobStore, 'get' | 'fail'>;
  registry: ToolRegistry;
  logger: Logger;
}

/**
 * The processor records its own failures; this records a job's final failure
 * that escaped it (a Redis error, a try that stalled too often because its
 * worker kept dying), so no record stays open forever.
 *
 * A write without an idempotency key whose record is still `running` had a
 * try under way that may have reached the upstream: it ends OUTCOME_UNKNOWN,
 * not UNKNOWN, and its job is marked `mayHaveApplied`, so that a retry (the
 * agent's, or an operator's `broker jobs retry-failed`) looks before it sends.
 */
export function recordEscapedFailure(deps: EscapedFailureDeps) {
  return async (job: Job<ToolJobData>, err: Error): Promise<void> => {
    const id = job.id!;
    const tool = deps.registry.get(job.data.tool);
    const unkeyedWrite = tool !== undefined && isUnkeyedWrite(tool);
    const underWay = unkeyedWrite && (await deps.store.get(id))?.status === 'running';
    if (underWay && !job.data.mayHaveApplied) await job.updateData({ ...job.data, mayHaveApplied: true });
    const error = underWay
      ? new ToolError('OUTCOME_UNKNOWN', {
          message: `a try was under way when the job failed (${err.message}); it may have taken effect upstream and is not resent without an idempotency key`,
          retryable: false,
        })
      : new ToolError('UNKNOWN', { message: `job failed: ${err.message}` });
    await deps.store.fail(id, error.toJobError());
  };
}
