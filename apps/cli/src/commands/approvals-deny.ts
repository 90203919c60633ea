import { approvalDecision } from './approvals-decide';

export const approvalsDeny = approvalDecision(
  'deny',
  'deny a job awaiting approval: it fails APPROVAL_DENIED and never runs (POST /v1/jobs/{id}/deny)',
  [
    'Calls the API at BROKER_URL with BROKER_ADMIN_TOKEN. Only a job in awaiting_approval (409 CONFLICT otherwise).',
    'The reason is part of the error message the agent reads.',
  ].join('\n'),
);
