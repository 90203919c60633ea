import { ProblemError } from '@broker/shared/errors/problem';
import type { JobRecord, JobStore } from '@broker/redis/jobs/job-store';
import { withRedisDeadline } from '../redis/deadline';

/** Job ids come from newJobId(); anything else cannot name a job and never reaches Redis. */
const JOB_ID = /^job_[0-9a-f]{32}$/;

export const jobNotFound = () => new ProblemError('NOT_FOUND', 'No such job.');

/** Refuses, before any Redis work, an id that newJobId() cannot have made. */
export function assertJobId(id: string): void {
  if (!JOB_ID.test(id)) throw jobNotFound();
}

/**
 * Reads a job the agent owns. Another agent's job is answered exactly like an
 * unknown id, so job ids cannot be probed across agents.
 */
export async function readOwnJob(store: JobStore, id: string, agentId: string): Promise<JobRecord> {
  assertJobId(id);
  const record = await withRedisDeadline(store.get(id));
  if (!record || record.agentId !== agentId) throw jobNotFound();
  return record;
}
