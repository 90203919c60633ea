import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { contactId, crmObject, HUBSPOT_API_VERSION, objectsPath, propertyValues } from './schemas';

/** PATCH /crm/v3/objects/contacts/{contactId}. */
export const updateContact = defineTool({
  name: 'hubspot.updateContact',
  integration: 'hubspot',
  description:
    'Set properties of one HubSpot contact (by record id, or by email with idProperty "email"). Only the given properties change; send "" to clear one. Returns the updated contact.',
  apiVersion: HUBSPOT_API_VERSION,
  // HubSpot has no idempotency keys, but setting properties to given values
  // twice leaves the same record: a retry after a timeout cannot do harm.
  idempotent: true,
  input: z.strictObject({
    id: contactId,
    idProperty: z.string().regex(/^[a-z0-9_]+$/).optional().describe('A unique property to look the contact up by, e.g. "email"'),
    properties: propertyValues.refine((p) => Object.keys(p).length > 0, 'give at least one property'),
  }),
  output: crmObject,
  async run(input, ctx, { apiVersion }) {
    const res = await ctx.http.request<z.input<typeof crmObject>>({
      method: 'PATCH',
      path: objectsPath(apiVersion, 'contacts', input.id),
      ...(input.idProperty ? { query: { idProperty: input.idProperty } } : {}),
      json: { properties: input.properties },
    });
    return res.data;
  },
});
