import { intOption, type ParsedArgs } from '../args';
import { callApi } from '../api';
import { EXIT, UsageError } from '../errors';
import { print, type Command } from '../command';

interface AuditEntry {
  at: string;
  event: string;
  jobId: string;
  agent: string;
  tool: string;
  connection: string;
  by?: string;
  status?: number | string;
  code?: string;
  inputSha256?: string;
  durationMs?: number;
  attempt?: number;
}

/** What an entry says beyond who and which job, as `name=value` pairs. */
function details(e: AuditEntry): string {
  const parts: string[] = [];
  if (e.status !== undefined) parts.push(`status=${e.status}`);
  if (e.durationMs !== undefined) parts.push(`${e.durationMs}ms`);
  if (e.attempt !== undefined) parts.push(`attempt=${e.attempt}`);
  if (e.code !== undefined) parts.push(`code=${e.code}`);
  if (e.by !== undefined) parts.push(`by=${e.by}`);
  if (e.inputSha256 !== undefined) parts.push(`input=sha256:${e.inputSha256.slice(0, 12)}…`);
  return parts.join(' ');
}

function line(e: AuditEntry): string {
  const connection = e.connection === 'default' ? '' : `/${e.connection}`;
  return [e.at, e.event.padEnd(9), e.jobId, e.agent, `${e.tool}${connection}`, details(e)].filter(Boolean).join('  ');
}

function sinceOption(values: ParsedArgs['values']): string | undefined {
  const raw = values.since;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw new UsageError('--since must be an ISO 8601 date-time, e.g. 2025-01-31T00:00:00Z');
  }
  return raw;
}

export const audit: Command = {
  path: 'audit',
  usage: 'broker audit [--agent <id>] [--tool <name or glob>] [--since <ISO 8601>] [--limit <n>] [--cursor <c>]',
  summary: 'the audit trail of jobs, newest first (GET /v1/audit)',
  details: [
    'Calls the API at BROKER_URL with BROKER_ADMIN_TOKEN. One line per event of a job: submitted, held, approved,',
    'denied, call, verified, succeeded, failed, cancelled, retried. A further page: pass the printed cursor as --cursor',
    '(with the same filters). A filtered page may be short, even empty, while there is more: the API scans a bounded',
    'number of entries per request.',
  ].join('\n'),
  options: {
    agent: { type: 'string', description: "only this agent's jobs" },
    tool: { type: 'string', description: 'only this tool, or a glob such as "stripe.*"' },
    since: { type: 'string', description: 'only events at or after this time (ISO 8601)' },
    limit: { type: 'string', description: 'entries per page (1-500, default 100)' },
    cursor: { type: 'string', description: 'the next-page cursor a previous page printed' },
  },
  positionals: { min: 0, max: 0 },
  async run({ values }, settings, io) {
    const query = new URLSearchParams();
    for (const name of ['agent', 'tool', 'cursor'] as const) {
      const value = values[name];
      if (typeof value === 'string') query.set(name, value);
    }
    const since = sinceOption(values);
    if (since !== undefined) query.set('since', since);
    const limit = intOption(values, 'limit', 500);
    if (limit !== undefined) query.set('limit', String(limit));
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const page = await callApi<{ entries: AuditEntry[]; nextCursor: string | null }>(settings, 'GET', `/v1/audit${qs}`);
    print(io, page, () =>
      [
        ...(page.entries.length === 0 ? [page.nextCursor ? 'no entries in this stretch' : 'no entries'] : page.entries.map(line)),
        ...(page.nextCursor ? [`more: --cursor ${page.nextCursor}`] : []),
      ].join('\n'),
    );
    return EXIT.ok;
  },
};
