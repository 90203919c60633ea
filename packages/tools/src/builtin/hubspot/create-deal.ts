import type { z } from 'zod';
import { implementTool } from '../../define-tool';
import { findDealByReference, mayBeReferenceConflict, missingReferenceProperty } from './deal-reference';
import { hubspotDescriptors } from './descriptors';
import { ASSOCIATION, associateWith, DEAL_REFERENCE_PROPERTY, objectsPath, type crmObject } from './schemas';

/** What a try sends as the deal's properties: the reference last, so an agent's value cannot replace it. */
function dealProperties({ contactId: _contact, properties, ...standard }: z.output<typeof hubspotDescriptors.createDeal.input>, reference: string): Record<string, unknown> {
  return {
    ...properties,
    ...Object.fromEntries(Object.entries(standard).map(([k, v]) => [k, String(v)])),
    [DEAL_REFERENCE_PROPERTY]: reference,
  };
}

/**
 * POST /crm/v3/objects/deals, associated to a contact when one is given.
 * HubSpot has no idempotency keys: every try sets the job id as the deal's
 * unique `broker_reference` (see DEAL_REFERENCE_PROPERTY), `verify` reads the deal
 * by it, and HubSpot refuses a second deal with it.
 */
export const createDeal = implementTool(hubspotDescriptors.createDeal, {
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
