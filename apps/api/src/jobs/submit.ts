import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { idempotencySlotTag } from '@broker/redis/keys';
import { newJobId, submitJobBodySchema, type SubmitJobBody, type ToolJobData } from '@broker/shared/jobs/schema';
import { ProblemError, toPointer, type FieldError } from '@broker/shared/errors/problem';
import { toolJobOptions } from '@broker/shared/jobs/options';
import type { JobRecord } from '@broker/redis/jobs/job-store';
import type { Logger } from '@broker/shared/logger';
import { namedConnection } from '@broker/shared/config/schema';
import type { ToolDescriptor } from '@broker/tools/descriptors';
import type { AuthenticatedAgent } from '../auth/agent-auth';
import type { ApiContext } from '../context';
import { REDIS_DEADLINE_MS, withRedisDeadline } from '../redis/deadline';
import { awaitReplica, replicaMark, type ReplicaMark } from '../redis/replicated';
import { reserveCostGuards, type CostReservation } from '../limits/cost-guards';
import { auditHeld, auditSubmitted } from './audit-events';
import { checkCallbackUrl } from './callback-url';
import { enqueueJob, withdrawUnconfirmed, type EnqueueOutcome } from './enqueue';
import type { ToolQueue } from './queues';
import { UnconfirmedEnqueueError } from './unconfirmed-enqueue-error';
import { idempotencyKeyHash, requestFingerprint } from './idempotency';

function bodyErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) =>
    // A strict object reports unknown keys as one issue at the parent; point at each key instead.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ pointer: toPointer([...issue.path, key]), message: 'is not a known field' }))
      : [{ pointer: toPointer(issue.path), message: issue.message }],
  );
}

/**
 * Everything a job needs checked before a byte is written: connection, input
 * and callback, reported together so a client fixes them in one round.
 */
async function jobErrors(ctx: ApiContext, tool: ToolDescriptor, body: SubmitJobBody, connection: string): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const integration = ctx.config.integrations[tool.integration];
  if (connection !== 'default' && !(integration && namedConnection(integration, connection))) {
    errors.push({ pointer: '/connection', message: `"${tool.integration}" has no connection "${connection}"` });
  }
  const input = tool.validateInput(body.input);
  if (!input.ok) errors.push(...input.errors.map((e) => ({ pointer: `/input${e.pointer}`, message: e.message })));
  if (body.callbackUrl !== undefined) {
    errors.push(...(await checkCallbackUrl(body.callbackUrl, { callbacks: ctx.config.callbacks })));
  }
  return errors;
}

/** Gives back what `reservation` counted; never rejects. */
function giveBack(reservation: CostReservation, logger: Logger): (replayed?: boolean) => Promise<void> {
  return (replayed = false) =>
    reservation.release(replayed).catch((err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'could not give back a daily job cap slot or spend cap amount');
    });
}

/**
 * Gives a counted daily-cap slot and spend cap amounts back when no job came of it (a concurrent
 * duplicate replayed, a reused key, a failed write). Chained inside the work,
 * so it happens even when the request stopped waiting (see withRedisDeadline).
 * An unconfirmed enqueue gives it back only once its job is known withdrawn:
 * a kept job runs, and counts.
 */
function settle(reservation: CostReservation, work: Promise<EnqueueOutcome>, logger: Logger): Promise<EnqueueOutcome> {
  const release = giveBack(reservation, logger);
  return work.then(
    async (outcome) => {
      if (outcome.kind !== 'created') await release(outcome.kind === 'replayed');
      return outcome;
    },
    async (err: unknown) => {
      if (err instanceof UnconfirmedEnqueueError) void err.fate.then((fate) => (fate === 'withdrawn' ? release() : undefined));
      else await release();
      throw err;
    },
  );
}

/**
 * 503 with Retry-After, like any Redis outage, but saying what the agent's
 * retry does: with the same Idempotency-Key it gets the kept job (which runs
 * once); without a key it submits a new job.
 */
function unconfirmed(keyed: boolean): ProblemError {
  const detail = keyed
    ? 'The job store did not confirm this job in time. Send the same request with the same Idempotency-Key: it answers with the job if it was recorded (the job runs once), or queues it now.'
    : 'The job could not be queued: the job store did not confirm it in time. Submit it again; an Idempotency-Key makes such a retry safe.';
  return new ProblemError('UNAVAILABLE', detail, undefined, { 'Retry-After': '1' });
}

/**
 * What durability "replicated" leaves of the request's budget for withdrawing
 * an unkeyed job no replica confirmed: a round trip to a primary that answers
 * (it is the replica that is late). @defaultValue 200
 */
const WITHDRAW_RESERVE_MS = 200;

/**
 * durability "replicated", a job without an Idempotency-Key: should no replica
 * confirm it, the agent is answered 503 and submits again, which without a key
 * makes a second job. So the job is first withdrawn, as an unconfirmed enqueue
 * is (its cost guards are given back once it is). A job a worker has already
 * is kept and answered 202: it runs once.
 */
async function replicatedOrWithdrawn(ctx: ApiContext, queue: ToolQueue, record: JobRecord, reservation: CostReservation, mark: ReplicaMark): Promise<void> {
  try {
    await awaitReplica(ctx, mark, { reserveMs: WITHDRAW_RESERVE_MS });
    return;
  } catch (err) {
    ctx.logger.warn({ jobId: record.id, err: (err as Error).message }, 'no replica confirmed a job without an Idempotency-Key; withdrawing it unless a worker has it');
    const left = REDIS_DEADLINE_MS - (performance.now() - mark.startedAt);
    const withdrawal = await withdrawUnconfirmed(ctx.store, queue, record, ctx.logger, left);
    if (withdrawal.kept) {
      ctx.logger.warn({ jobId: record.id }, 'a worker took the job before a replica confirmed it; accepted');
      return;
    }
    void withdrawal.fate.then((fate) => (fate === 'withdrawn' ? giveBack(reservation, ctx.logger)() : undefined));
    throw unconfirmed(false);
  }
}

export interface SubmitRequest {
  /** The untrusted body of `POST /v1/jobs` (or an MCP call's equivalent). */
  body: unknown;
  /** Already validated (see idempotencyKeyOf). */
  idempotencyKey?: string | undefined;
  /** Logged with every line of the job by the worker and sent upstream as X-Request-Id. */
  requestId?: string | undefined;
  /** Recorded on the job (JobRecord.via): `mcp-task` for a task-augmented MCP `tools/call`. */
  via?: JobRecord['via'];
}

export type SubmitOutcome = { kind: 'created' | 'replayed'; record: JobRecord };

/**
 * The one way a job is submitted, whatever the transport (`POST /v1/jobs`,
 * MCP `tools/call`): validates everything, then records and queues the job.
 * With an idempotency key, a repeat of the same request (even a concurrent
 * one) gets the first request's job back as `replayed` instead of a second
 * job. Every refusal is a {@link ProblemError} with a stable code.
 */
export async function submitToolJob(ctx: ApiContext, agent: AuthenticatedAgent, request: SubmitRequest): Promise<SubmitOutcome> {
  const mark = replicaMark(ctx.redis);
  const { catalogue, config, queues, store, logger } = ctx;
  const parsed = submitJobBodySchema.safeParse(request.body);
  if (!parsed.success) {
    throw new ProblemError('VALIDATION_ERROR', 'The request body is not a valid job.', bodyErrors(parsed.error));
  }
  const body = parsed.data;

  const tool = catalogue.get(body.tool);
  if (!tool) throw new ProblemError('TOOL_NOT_FOUND', `No tool named "${body.tool}".`);
  if (!agent.mayUseTool(tool.name)) throw new ProblemError('FORBIDDEN', `This key may not call "${tool.name}".`);

  const connection = body.connection ?? 'default';
  // Another tenant's credentials are refused before anything else is looked at (agents[].connections).
  if (!agent.mayUseConnection(tool.integration, connection)) {
    throw new ProblemError('FORBIDDEN', `This key may not use connection "${connection}" of "${tool.integration}".`, [
      { pointer: '/connection', message: `not among this agent's connections` },
    ]);
  }
  // A capped tool's amount is part of the job's validity (spend caps, docs/guardrails.md "Spend caps").
  const spend = ctx.spendCaps.measure(agent.id, tool.name, body);
  const errors = [...(await jobErrors(ctx, tool, body, connection)), ...spend.errors];
  if (errors.length > 0) throw new ProblemError('VALIDATION_ERROR', 'The job was not queued.', errors);

  const integration = config.integrations[tool.integration];
  const queue = queues.get(tool.integration);
  // The catalogue is built from the same config, so this is a bug, not bad input.
  if (!integration || !queue) throw new Error(`no queue for integration "${tool.integration}"`);

  const key = request.idempotencyKey;
  const keyHash = key ? idempotencyKeyHash(key) : undefined;
  const createdAt = new Date();
  const record: JobRecord = {
    // With a key, the id carries the key's slot tag: CREATE writes both in one script (Redis Cluster).
    id: newJobId(randomUUID(), keyHash === undefined ? undefined : idempotencySlotTag(agent.id, keyHash)),
    tool: tool.name,
    status: 'queued',
    attempts: 0,
    createdAt: createdAt.toISOString(),
    agentId: agent.id,
    integration: tool.integration,
    connection,
  };
  if (body.callbackUrl !== undefined) record.callbackUrl = body.callbackUrl;
  if (request.via) record.via = request.via;
  // Approval holds (config `approvals`): a job the first matching rule holds waits in
  // awaiting_approval, its BullMQ job delayed to the hold's end, until an operator decides.
  const hold = ctx.approvals.holdFor(body, tool.name, agent.id, createdAt);
  if (hold) Object.assign(record, { status: 'awaiting_approval', hold });
  const data: ToolJobData = { tool: tool.name, integration: tool.integration, input: body.input, connection, agentId: agent.id };
  const claim = key &&
    keyHash !== undefined && {
      key: keyHash,
      fingerprint: requestFingerprint({ tool: tool.name, input: body.input, connection }),
      ttlSeconds: config.retention.idempotencySeconds,
    };

  // Cost guards first: a job over its agent's daily job cap or spend cap is refused before anything is written.
  const reservation = await reserveCostGuards(
    ctx,
    { agentId: agent.id, tool: tool.name, jobId: record.id, at: createdAt, charges: spend.charges, claim: claim || undefined },
    logger,
  );
  // The day its amounts were counted on: the worker commits them before its first call, a give-back finds them.
  if (reservation.spendDay) record.spendDay = data.spendDay = reservation.spendDay;
  const outcome = await withRedisDeadline(
    settle(
      reservation,
      enqueueJob(
        store,
        queue,
        {
          record,
          data,
          options: (jobId) => toolJobOptions(jobId, integration, config.retention.jobSeconds),
          ...(claim ? { claim } : {}),
          ...(request.requestId ? { requestId: request.requestId } : {}),
        },
        logger,
      ),
      logger,
    ),
  ).catch((err: unknown) => {
    throw err instanceof UnconfirmedEnqueueError ? unconfirmed(err.keyed) : err;
  });

  switch (outcome.kind) {
    case 'created':
      // durability "replicated": acknowledged once a replica has it. Without a key a job no replica confirmed is withdrawn first.
      if (!claim) await replicatedOrWithdrawn(ctx, queue, outcome.record, reservation, mark);
      ctx.metrics.jobsSubmitted.inc({ integration: tool.integration, tool: tool.name });
      auditSubmitted(ctx.audit, outcome.record, body.input);
      if (hold) {
        auditHeld(ctx.audit, outcome.record);
        await ctx.approvals.held(outcome.record, request.requestId);
      }
      // With a key the job stands either way: the agent's retry with it answers this job.
      if (claim) await awaitReplica(ctx, mark);
      return outcome;
    case 'replayed':
      await awaitReplica(ctx, mark);
      return outcome;
    case 'reused':
      throw new ProblemError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different request; use a new key for a new job.');
    case 'vanished':
      throw new ProblemError('CONFLICT', 'The job of this Idempotency-Key no longer exists; use a new key.');
  }
}
