import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { DEAL_REFERENCE_PROPERTY, findDealByReference, mayBeReferenceConflict, missingReferenceProperty } from './deal-reference';
import { ASSOCIATION, associateWith, crmObject, HUBSPOT_API_VERSION, objectsPath, propertyValues } from './schemas';

const input = z.strictObject({
  dealname: z.string().min(1).max(500),
  dealstage: z.string().min(1).describe('Stage internal id, e.g. "appointmentscheduled"'),
  pipeline: z.string().min(1).default('default').describe('Pipeline internal id'),
  amount: z.number().nonnegative().optional(),
  closedate: z.iso.datetime({ offset: true }).optional().describe('Expected close, ISO 8601'),
  contactId: z.string().regex(/^\d+$/).optional().describe('Contact record id to associate the deal with'),
  properties: propertyValues.optional().describe(`Any other deal properties (${DEAL_REFERENCE_PROPERTY} is the broker's)`),
});

/** What a try sends as the deal's properties: the reference last, so an agent's value cannot replace it. */
function dealProperties({ contactId: _contact, properties, ...standard }: z.output<typeof input>, reference: string): Record<string, unknown> {
  return {
    ...properties,
    ...Object.fromEntries(Object.entries(standard).map(([k, v]) => [k, String(v)])),
    [DEAL_REFERENCE_PROPERTY]: reference,
  };
}

/**
 * POST /crm/v3/objects/deals, associated to a contact when one is given.
 * HubSpot has no idempotency keys: every try sets the job id as the deal's
 * unique `broker_reference` (see deal-reference.ts), `verify` reads the deal
 * by it, and HubSpot refuses a second deal with it.
 */
export const createDeal = defineTool({
  name: 'hubspot.createDeal',
  integration: 'hubspot',
  description:
    `Create a HubSpot deal in a pipeline stage, optionally associated with a contact. Returns the deal record. HubSpot has no idempotency keys: the deal carries the job id in its unique property ${DEAL_REFERENCE_PROPERTY} (the portal must have it), and a try that may have reached HubSpot is looked up by it before the deal is sent again, so a retry never creates a second deal.`,
  apiVersion: HUBSPOT_API_VERSION,
  idempotent: false,
  input,
  output: crmObject,
  async run(values, ctx, { apiVersion }) {
    const properties = dealProperties(values, ctx.jobId);
    try {
      const res = await ctx.http.request<z.input<typeof crmObject>>({
        method: 'POST',
        path: objectsPath(apiVersion, 'deals'),
        json: {
          properties,
          ...(values.contactId ? { associations: associateWith(values.contactId, ASSOCIATION.dealToContact) } : {}),
        },
      });
      return res.data;
    } catch (err) {
      const setup = missingReferenceProperty(err);
      if (setup) throw setup;
      if (!mayBeReferenceConflict(err)) throw err;
      // A resend that raced an earlier try HubSpot had not finished: the deal exists once, and it is this job's.
      const earlier = await findDealByReference(ctx.http, apiVersion, ctx.jobId, Object.keys(properties));
      if (earlier.found) return earlier.output;
      throw err;
    }
  },
  verify(values, ctx, { apiVersion }) {
    return findDealByReference(ctx.http, apiVersion, ctx.jobId, Object.keys(dealProperties(values, ctx.jobId)));
  },
});
