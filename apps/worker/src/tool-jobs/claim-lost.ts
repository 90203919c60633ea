import { ToolError } from '@broker/tools';

/**
 * Another try claimed this job since this one did: this try's worker lost the
 * job's BullMQ lock (it stalled past the lock's duration) and another worker
 * runs the job now. Thrown before a request is written, so two tries of one
 * job never both send an unkeyed write; the try then stops without touching
 * the job's record, which belongs to the try that claimed it last.
 */
export class ClaimLost extends ToolError {
  constructor(jobId: string) {
    super('CONFLICT', {
      message: `another try claimed job ${jobId} (this worker lost its lock); this try sends nothing more`,
      retryable: false,
      stage: 'prepare',
    });
  }
}
