import { Worker, type Job } from 'bullmq';
import { ALERT_REQUESTS_QUEUE, bullPrefix } from '@broker/shared/queues';
import { alertRequestSchema, describeHeldByRule, type AlertRequest } from '@broker/shared/jobs/approvals';
import type { BrokerConfig } from '@broker/shared/config/schema';
import type { JobStore } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import type { RedisClient } from '@broker/redis/connection';
import type { Alerter } from './alerter';

export interface AlertRequestDeps {
  config: BrokerConfig;
  redis: RedisClient;
  prefix: string;
  /** A plain store: reading a record reports nothing. */
  store: JobStore;
  alerter: Alerter;
  logger: Logger;
}

/**
 * `approval_requested` for one held job, from its record: the job, its agent,
 * tool and connection, the rule that held it and until when — never an input
 * value (the rule's own threshold is configuration, not input). One alert per
 * job (the cause's key is the job id): each held job is a decision someone
 * must make. A job decided or cancelled before the request is read raises
 * nothing.
 */
export async function raiseApprovalRequested(deps: Pick<AlertRequestDeps, 'store' | 'alerter' | 'logger'>, jobId: string): Promise<void> {
  const record = await deps.store.get(jobId);
  if (!record || record.status !== 'awaiting_approval' || !record.hold) {
    deps.logger.debug({ jobId, status: record?.status }, 'approval_requested not raised: the job is no longer held');
    return;
  }
  const { rule, expiresAt } = record.hold;
  const ruleText = describeHeldByRule(rule);
  await deps.alerter.raise({
    kind: 'approval_requested',
    key: record.id,
    severity: 'warning',
    summary:
      `job ${record.id} of agent "${record.agentId}" waits for approval to call "${record.tool}" (rule ${ruleText}); ` +
      `approve or deny it before ${expiresAt} (POST /v1/jobs/${record.id}/approve or /deny, or \`broker approvals approve ${record.id}\`)`,
    details: {
      jobId: record.id,
      agent: record.agentId,
      tool: record.tool,
      integration: record.integration,
      connection: record.connection,
      rule,
      expiresAt,
      createdAt: record.createdAt,
    },
  });
}

/**
 * Drains ALERT_REQUESTS_QUEUE: alerts the api asks for (it never calls out
 * itself). Only with `approvals` rules, the one cause the api raises.
 */
export function createAlertRequestWorker(deps: AlertRequestDeps): Worker<AlertRequest> | undefined {
  const { config, redis, prefix, logger } = deps;
  if (config.approvals.length === 0) return undefined;
  const worker = new Worker<AlertRequest>(
    ALERT_REQUESTS_QUEUE,
    async (job: Job<AlertRequest>) => {
      const request = alertRequestSchema.parse(job.data);
      await raiseApprovalRequested(deps, request.jobId);
    },
    { connection: redis, prefix: bullPrefix(prefix, ALERT_REQUESTS_QUEUE), concurrency: 5 },
  );
  worker.on('error', (err) => logger.error({ err, queue: ALERT_REQUESTS_QUEUE }, 'worker error'));
  return worker;
}
