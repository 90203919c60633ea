import { callApi } from '../api';
import { EXIT } from '../errors';
import { print, type Command } from '../command';

interface ReplayReceipt {
  id: string;
  deliveries: { deliveryId: string; trigger: string }[];
}

export const eventsReplay: Command = {
  path: 'events replay',
  usage: 'broker events replay <id>',
  summary: "deliver a stored event's triggers again, as new deliveries (POST /v1/events/{id}/replay)",
  options: {},
  positionals: { min: 1, max: 1 },
  async run({ positionals }, settings, io) {
    const receipt = await callApi<ReplayReceipt>(settings, 'POST', `/v1/events/${encodeURIComponent(positionals[0]!)}/replay`);
    print(io, receipt, () =>
      [`replaying ${receipt.id}: ${receipt.deliveries.length} delivery(ies)`, ...receipt.deliveries.map((d) => `  ${d.deliveryId}  ${d.trigger}`)].join('\n'),
    );
    return EXIT.ok;
  },
};
