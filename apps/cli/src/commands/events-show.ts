import { callApi } from '../api';
import { EXIT } from '../errors';
import { print, type Command } from '../command';

export const eventsShow: Command = {
  path: 'events show',
  usage: 'broker events show <id>',
  summary: 'print a stored event: raw body, headers, each trigger delivery (GET /v1/events/{id})',
  details: 'The id is <source>:<eventId>, e.g. stripe:evt_123.',
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ positionals }, settings, io) {
    const event = await callApi<unknown>(settings, 'GET', `/v1/events/${encodeURIComponent(positionals[0]!)}`);
    print(io, event, () => JSON.stringify(event, null, 2));
    return EXIT.ok;
  },
};
