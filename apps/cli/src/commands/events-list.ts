import { intOption } from '../args';
import { callApi } from '../api';
import { EXIT } from '../errors';
import { print, type Command } from '../command';

interface EventSummary {
  id: string;
  type: string;
  receivedAt: string;
}

export const eventsList: Command = {
  path: 'events list',
  usage: 'broker events list [--source <s>] [--type <t>] [--limit <n>] [--cursor <c>]',
  summary: 'list stored webhook events, newest first (GET /v1/events)',
  details: 'Calls the API at BROKER_URL with BROKER_ADMIN_TOKEN. A further page: pass the printed cursor as --cursor.',
  options: {
    source: { type: 'string', description: 'only this source (e.g. stripe)' },
    type: { type: 'string', description: 'only this event type' },
    limit: { type: 'string', description: 'events per page (1-100, default 20)' },
    cursor: { type: 'string', description: 'the next-page cursor a previous list printed' },
  },
  positionals: { min: 0, max: 0 },
  async run({ values }, settings, io) {
    const query = new URLSearchParams();
    for (const name of ['source', 'type', 'cursor'] as const) {
      const value = values[name];
      if (typeof value === 'string') query.set(name, value);
    }
    const limit = intOption(values, 'limit', 100);
    if (limit !== undefined) query.set('limit', String(limit));
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const page = await callApi<{ events: EventSummary[]; nextCursor: string | null }>(settings, 'GET', `/v1/events${qs}`);
    print(io, page, () =>
      [
        ...(page.events.length === 0 ? ['no events'] : page.events.map((e) => `${e.receivedAt}  ${e.id}  ${e.type}`)),
        ...(page.nextCursor ? [`more: --cursor ${page.nextCursor}`] : []),
      ].join('\n'),
    );
    return EXIT.ok;
  },
};
