import type { ApprovalList } from '@broker/shared/jobs/approvals';
import { intOption } from '../args';
import { callApi } from '../api';
import { EXIT } from '../errors';
import { print, type Command } from '../command';

export const approvalsList: Command = {
  path: 'approvals list',
  usage: 'broker approvals list [--limit <n>]',
  summary: 'list the jobs awaiting approval, oldest first (GET /v1/approvals)',
  details: [
    'Calls the API at BROKER_URL with BROKER_ADMIN_TOKEN. Each job with its agent, tool, the rule that held it',
    'and when the hold expires; --json adds its input. Decide with `broker approvals approve|deny <id>`.',
  ].join('\n'),
  options: {
    limit: { type: 'string', description: 'at most this many jobs (1-500, default 100)' },
  },
  positionals: { min: 0, max: 0 },
  async run({ values }, settings, io) {
    const limit = intOption(values, 'limit', 500);
    const list = await callApi<ApprovalList>(settings, 'GET', `/v1/approvals${limit !== undefined ? `?limit=${limit}` : ''}`);
    print(io, list, () =>
      list.jobs.length === 0
        ? 'no jobs awaiting approval'
        : list.jobs.map((j) => `${j.createdAt}  ${j.id}  ${j.agent}  ${j.tool}  rule #${j.rule.index} (${j.rule.tools})  expires ${j.expiresAt}`).join('\n'),
    );
    return EXIT.ok;
  },
};
