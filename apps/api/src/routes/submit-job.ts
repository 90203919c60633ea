import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import {
  newJobId,
  ProblemError,
  submitJobBodySchema,
  toolJobOptions,
  toPointer,
  toPublicJob,
  type FieldError,
  type JobRecord,
  type SubmitJobBody,
  type ToolJobData,
} from '@broker/shared';
import type { ToolDescriptor } from '@broker/tools/catalogue';
import type { ApiContext } from '../context';
import { agentOf } from '../http/locals';
import { checkCallbackUrl } from '../jobs/callback-url';
import { enqueueJob } from '../jobs/enqueue';
import { idempotencyKeyHash, idempotencyKeyOf, requestFingerprint } from '../jobs/idempotency';
import { withRedisDeadline } from '../redis/deadline';

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
  if (connection !== 'default' && !integration?.connections?.[connection]) {
    errors.push({ pointer: '/connection', message: `"${tool.integration}" has no connection "${connection}"` });
  }
  const input = tool.validateInput(body.input);
  if (!input.ok) errors.push(...input.errors.map((e) => ({ pointer: `/input${e.pointer}`, message: e.message })));
  if (body.callbackUrl !== undefined) {
    errors.push(...(await checkCallbackUrl(body.callbackUrl, { callbacks: ctx.config.callbacks })));
  }
  return errors;
}

/**
 * `POST /v1/jobs`: validates everything, then records and queues the job and
 * answers 202 at once; the agent polls `Location` for the result. With an
 * `Idempotency-Key`, a repeat of the same request (even a concurrent one) gets
 * the first request's job back with 200 instead of a second job.
 */
export function submitJob(ctx: ApiContext): RequestHandler {
  const { catalogue, config, queues, store, logger } = ctx;
  return async (req, res) => {
    const agent = agentOf(res);
    const idempotencyKey = idempotencyKeyOf(req.headersDistinct['idempotency-key']);

    const parsed = submitJobBodySchema.safeParse(req.body);
    if (!parsed.success) {
      throw new ProblemError('VALIDATION_ERROR', 'The request body is not a valid job.', bodyErrors(parsed.error));
    }
    const body = parsed.data;

    const tool = catalogue.get(body.tool);
    if (!tool) throw new ProblemError('TOOL_NOT_FOUND', `No tool named "${body.tool}".`);
    if (!agent.mayUseTool(tool.name)) throw new ProblemError('FORBIDDEN', `This key may not call "${tool.name}".`);

    const connection = body.connection ?? 'default';
    const errors = await jobErrors(ctx, tool, body, connection);
    if (errors.length > 0) throw new ProblemError('VALIDATION_ERROR', 'The job was not queued.', errors);

    const integration = config.integrations[tool.integration];
    const queue = queues.get(tool.integration);
    // The catalogue is built from the same config, so this is a bug, not bad input.
    if (!integration || !queue) throw new Error(`no queue for integration "${tool.integration}"`);

    const record: JobRecord = {
      id: newJobId(randomUUID()),
      tool: tool.name,
      status: 'queued',
      attempts: 0,
      createdAt: new Date().toISOString(),
      agentId: agent.id,
      integration: tool.integration,
      connection,
    };
    if (body.callbackUrl !== undefined) record.callbackUrl = body.callbackUrl;
    const data: ToolJobData = { tool: tool.name, integration: tool.integration, input: body.input, connection, agentId: agent.id };
    const claim = idempotencyKey && {
      key: idempotencyKeyHash(idempotencyKey),
      fingerprint: requestFingerprint({ tool: tool.name, input: body.input, connection }),
      ttlSeconds: config.retention.idempotencySeconds,
    };

    const outcome = await withRedisDeadline(
      enqueueJob(
        store,
        queue,
        {
          record,
          data,
          options: (jobId) => toolJobOptions(jobId, integration, config.retention.jobSeconds),
          ...(claim ? { claim } : {}),
        },
        logger,
      ),
    );

    switch (outcome.kind) {
      case 'created':
        res.status(202).location(`/v1/jobs/${outcome.record.id}`).json(toPublicJob(outcome.record));
        return;
      case 'replayed':
        res
          .status(200)
          .set('Idempotent-Replayed', 'true')
          .location(`/v1/jobs/${outcome.record.id}`)
          .json(toPublicJob(outcome.record));
        return;
      case 'reused':
        throw new ProblemError(
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used for a different request; use a new key for a new job.',
        );
      case 'vanished':
        throw new ProblemError('CONFLICT', 'The job of this Idempotency-Key no longer exists; use a new key.');
    }
  };
}
