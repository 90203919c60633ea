import { approvalDecision } from './approvals-decide';

export const approvalsApprove = approvalDecision(
  'approve',
  'approve a job awaiting approval: it is queued and runs now (POST /v1/jobs/{id}/approve)',
  [
    'Calls the API at BROKER_URL with BROKER_ADMIN_TOKEN. Only a job in awaiting_approval (409 CONFLICT otherwise,',
    'or once its hold expired). Follow it with `broker jobs get <id>`.',
  ].join('\n'),
);
