import type { Response } from 'express';
import { approvalDecisionBodySchema } from '@broker/shared/jobs/approvals';
import { ProblemError, toPointer } from '@broker/shared/errors/problem';
import type { Decider } from '../jobs/approval-decisions';

/**
 * The body of approve/deny (`{"reason"?: string}`, at most 500 characters;
 * no body at all is no reason) and who decides, from operatorAuth: the admin
 * token, or an agent holding `jobs:approve`. Anything else is 422 with a
 * pointer per problem.
 */
export function decisionOf(body: unknown, res: Response): { decider: Decider; reason: string | undefined } {
  // No body at all is no reason; a JSON `null` is a body, and not an object.
  const parsed = approvalDecisionBodySchema.safeParse(body === undefined ? {} : body);
  if (!parsed.success) {
    throw new ProblemError(
      'VALIDATION_ERROR',
      'The body must be {"reason"?: string} (at most 500 characters).',
      parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ pointer: toPointer([...issue.path, key]), message: 'is not a known field' }))
          : [{ pointer: toPointer(issue.path), message: issue.message }],
      ),
    );
  }
  const by = res.locals.operator;
  if (!by) throw new Error('route is missing operatorAuth()');
  return { decider: { by, agentId: res.locals.agent?.id }, reason: parsed.data.reason };
}
