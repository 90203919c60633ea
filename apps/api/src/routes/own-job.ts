import { ProblemError } from '@broker/shared/errors/problem';
import type { JobRecord, JobStore } from '@broker/redis/jobs/job-store';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import { withRedisDeadline } from '../redis/deadline';

/** Job ids come from newJobId(); anything else cannot name a job and never reaches Redis. */
const JOB_ID = /^job_[0-9a-f]{32}$/;

export const jobNotFound = () => new ProblemError('NOT_FOUND', 'No such job.');

/** Refuses, before any Redis work, an id that newJobId() cannot have made. */
export function assertJobId(id: string): void {
  if (!JOB_ID.test(id)) throw jobNotFound();
}

/** The credential a job is read for: its agent, and the `tools:` scopes this key or token holds. */
export type JobReader = Pick<AuthenticatedAgent, 'id' | 'mayUseTool'>;

/**
 * May this credential see the job: its agent's, and of a tool its scopes
 * allow? Scopes can be narrower than when the job was submitted (an MCP
 * access token's `scope` claim intersected with the agent's, or an agent's
 * scopes cut since), and a token narrowed to `tools:demo.*` must not read or
 * cancel the same agent's `stripe.*` jobs; retry_job refuses them too.
 */
export const mayReadJob = (record: JobRecord, reader: JobReader): boolean => record.agentId === reader.id && reader.mayUseTool(record.tool);

/**
 * Reads a job the agent owns. Another agent's job is answered exactly like an
 * unknown id, so job ids cannot be probed across agents; so is, given the
 * credential (`reader`), a job of a tool its scopes do not allow
 * ({@link mayReadJob}). Given only an agent id, the owner alone is checked.
 */
export async function readOwnJob(store: JobStore, id: string, reader: JobReader | string): Promise<JobRecord> {
  assertJobId(id);
  const record = await withRedisDeadline(store.get(id));
  const visible = record !== undefined && (typeof reader === 'string' ? record.agentId === reader : mayReadJob(record, reader));
  if (!visible) throw jobNotFound();
  return record;
}
