import type { Queue } from 'bullmq';
import { ALERT_REQUEST_JOB_NAME, alertRequestOptions, describeHeldByRule, type AlertRequest, type JobHold } from '@broker/shared/jobs/approvals';
import { ALERT_REQUESTS_QUEUE } from '@broker/shared/queues';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { RedisClient } from '@broker/redis/connection';
import type { RedisKeys } from '@broker/redis/keys';
import { withRedisDeadline } from '../redis/deadline';
import { compileApprovalRules, holdOf, type ApprovalRuleMatcher } from './approval-rules';
import { producerQueue } from './producer-queue';

export type AlertRequestQueue = Queue<AlertRequest>;

/**
 * How long a submission waits for its `approval_requested` alert request to
 * be queued; past it the job stands (it is held either way) and the failure
 * is logged. @defaultValue 500
 */
const ALERT_REQUEST_DEADLINE_MS = 500;

/**
 * Approval holds at submission (config `approvals`): which rule holds a job,
 * and the `approval_requested` alert for it. The api never calls out, so the
 * alert is a request on ALERT_REQUESTS_QUEUE that the worker's alerter
 * raises (with the webhook, dedupe, log line and metrics of every alert).
 */
export class ApprovalHolds {
  private readonly match: ApprovalRuleMatcher;
  /** Only with rules: without them nothing is held, and no queue is opened. */
  private readonly alerts: AlertRequestQueue | undefined;

  constructor(
    config: BrokerConfig,
    redis: RedisClient,
    keys: RedisKeys,
    private readonly logger: Logger,
  ) {
    const prefix = keys.prefix;
    this.match = compileApprovalRules(config.approvals);
    if (config.approvals.length > 0) {
      this.alerts = producerQueue<AlertRequest>(ALERT_REQUESTS_QUEUE, redis, prefix, logger);
    }
  }

  /** The hold of a submission (the first rule that matches), or undefined when it runs at once. */
  holdFor(body: unknown, tool: string, agentId: string, now: Date): JobHold | undefined {
    const matched = this.match({ body, tool, agentId });
    return matched && holdOf(matched.index, matched.rule, now);
  }

  /**
   * A held job was created: one log line (the audit's `held`) and the
   * `approval_requested` alert request. Never throws: the job is held whether
   * or not a person hears of it now, and `GET /v1/approvals` lists it.
   */
  async held(record: JobRecord, requestId?: string): Promise<void> {
    if (!record.hold) return;
    this.logger.info(
      {
        audit: 'held',
        at: record.createdAt,
        jobId: record.id,
        agent: record.agentId,
        tool: record.tool,
        connection: record.connection,
        rule: describeHeldByRule(record.hold.rule),
        expiresAt: record.hold.expiresAt,
        requestId,
      },
      'job held for approval',
    );
    const request: AlertRequest = { kind: 'approval_requested', jobId: record.id };
    if (!this.alerts) return;
    await withRedisDeadline(this.alerts.add(ALERT_REQUEST_JOB_NAME, request, alertRequestOptions(request)), ALERT_REQUEST_DEADLINE_MS).catch((err: unknown) => {
      this.logger.error({ jobId: record.id, err: (err as Error).message }, 'could not ask for the approval_requested alert; the job is held and listed by GET /v1/approvals');
    });
  }

  async close(): Promise<void> {
    await this.alerts?.close();
  }
}
