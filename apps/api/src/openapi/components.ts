import { z } from 'zod';
import { approvalDecisionBodySchema, approvalListSchema } from '@broker/shared/jobs/approvals';
import { auditPageSchema } from '@broker/shared/audit/schema';
import { eventDetailSchema, eventListSchema, replayReceiptSchema, webhookReceiptSchema } from '@broker/shared/webhooks/schema';
import { problemSchema } from '@broker/shared/errors/problem';
import { publicJobSchema, submitJobBodySchema } from '@broker/shared/jobs/schema';
import { putConnectionTokenBodySchema } from '@broker/shared/oauth/token-import-schema';
import { toolListSchema } from '@broker/shared/tools/tool-list';
import { integrationListSchema } from './integration-list';

type JsonSchema = Record<string, unknown>;

/**
 * A zod schema as an OpenAPI 3.1 Schema Object (JSON Schema 2020-12, the
 * dialect 3.1 uses). Request bodies are described as sent (`io: 'input'`:
 * defaults make fields optional), answers as produced (`io: 'output'`).
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Component schemas, each generated from the zod schema the API validates or builds with. */
export function componentSchemas(): Record<string, JsonSchema> {
  return {
    SubmitJobRequest: jsonSchemaOf(submitJobBodySchema, 'input'),
    Job: jsonSchemaOf(publicJobSchema, 'output'),
    Problem: jsonSchemaOf(problemSchema, 'output'),
    ToolList: jsonSchemaOf(toolListSchema, 'output'),
    EventList: jsonSchemaOf(eventListSchema, 'output'),
    ApprovalDecisionRequest: jsonSchemaOf(approvalDecisionBodySchema, 'input'),
    ApprovalList: jsonSchemaOf(approvalListSchema, 'output'),
    AuditPage: jsonSchemaOf(auditPageSchema, 'output'),
    EventDetail: jsonSchemaOf(eventDetailSchema, 'output'),
    ReplayReceipt: jsonSchemaOf(replayReceiptSchema, 'output'),
    WebhookReceipt: jsonSchemaOf(webhookReceiptSchema, 'output'),
    IntegrationList: jsonSchemaOf(integrationListSchema, 'output'),
    PutConnectionTokenRequest: jsonSchemaOf(putConnectionTokenBodySchema, 'input'),
  };
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
