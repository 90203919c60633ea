import type { PublicJob } from '@broker/shared/jobs/schema';
import { callApi } from '../api';
import { EXIT, UsageError } from '../errors';
import { print, type Command } from '../command';

/** `approve` or `deny`: the same shape, the same credentials, one route each. */
export function approvalDecision(verb: 'approve' | 'deny', summary: string, details: string): Command {
  return {
    path: `approvals ${verb}`,
    usage: `broker approvals ${verb} <id> [--reason <text>]`,
    summary,
    details,
    options: {
      reason: { type: 'string', description: 'why (at most 500 characters); kept on the job record' },
    },
    positionals: { min: 1, max: 1 },
    async run({ positionals, values }, settings, io) {
      const reason = values.reason;
      if (typeof reason === 'string' && reason.length > 500) throw new UsageError('--reason takes at most 500 characters');
      const body = typeof reason === 'string' ? { reason } : {};
      const job = await callApi<PublicJob>(settings, 'POST', `/v1/jobs/${encodeURIComponent(positionals[0]!)}/${verb}`, 'admin', body);
      print(io, job, () => `${verb === 'approve' ? 'approved' : 'denied'} ${job.id} (${job.tool}): ${job.status}`);
      return EXIT.ok;
    },
  };
}
