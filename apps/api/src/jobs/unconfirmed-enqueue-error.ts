/**
 * What became of a job whose enqueue Redis did not confirm: `kept` (its record
 * stands and the job runs, once), `withdrawn` (it never runs), or `unknown`
 * (Redis did not answer for as long as the api kept asking).
 */
export type EnqueueFate = 'kept' | 'withdrawn' | 'unknown';

/**
 * Redis did not confirm a submission's writes (a command timeout, a dropped
 * connection). Nobody can tell at once whether the job exists: Redis may have
 * run the commands and lost only the answers, and a worker may already hold
 * the job. So nothing is deleted (issue "No write applied twice"); `fate`
 * settles once Redis answers again, and never rejects.
 */
export class UnconfirmedEnqueueError extends Error {
  override readonly name = 'UnconfirmedEnqueueError';
  constructor(
    readonly jobId: string,
    /** Submitted with an Idempotency-Key: a retry with the same key gets this job. */
    readonly keyed: boolean,
    readonly fate: Promise<EnqueueFate>,
    options: { cause: unknown },
  ) {
    super(`Redis did not confirm the enqueue of job ${jobId}`, options);
  }
}
