import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { ASSOCIATION, associateWith, crmObject, HUBSPOT_API_VERSION, objectsPath, propertyValues } from './schemas';

/** POST /crm/v3/objects/deals, associated to a contact when one is given. */
export const createDeal = defineTool({
  name: 'hubspot.createDeal',
  integration: 'hubspot',
  description:
    'Create a HubSpot deal in a pipeline stage, optionally associated with a contact. Returns the deal record. Not retried after a timeout (HubSpot has no idempotency keys): check before creating it again.',
  apiVersion: HUBSPOT_API_VERSION,
  idempotent: false,
  input: z.strictObject({
    dealname: z.string().min(1).max(500),
    dealstage: z.string().min(1).describe('Stage internal id, e.g. "appointmentscheduled"'),
    pipeline: z.string().min(1).default('default').describe('Pipeline internal id'),
    amount: z.number().nonnegative().optional(),
    closedate: z.iso.datetime({ offset: true }).optional().describe('Expected close, ISO 8601'),
    contactId: z.string().regex(/^\d+$/).optional().describe('Contact record id to associate the deal with'),
    properties: propertyValues.optional().describe('Any other deal properties'),
  }),
  output: crmObject,
  async run(input, ctx, { apiVersion }) {
    const { contactId, properties, ...standard } = input;
    const res = await ctx.http.request<z.input<typeof crmObject>>({
      method: 'POST',
      path: objectsPath(apiVersion, 'deals'),
      json: {
        properties: { ...properties, ...Object.fromEntries(Object.entries(standard).map(([k, v]) => [k, String(v)])) },
        ...(contactId ? { associations: associateWith(contactId, ASSOCIATION.dealToContact) } : {}),
      },
    });
    return res.data;
  },
});
