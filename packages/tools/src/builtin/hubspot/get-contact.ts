import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { contactId, crmObject, HUBSPOT_API_VERSION, objectsPath } from './schemas';

const DEFAULT_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage'];

/** GET /crm/v3/objects/contacts/{contactId} (https://developers.hubspot.com/docs/api/crm/contacts). */
export const getContact = defineTool({
  name: 'hubspot.getContact',
  integration: 'hubspot',
  description:
    'Fetch one HubSpot contact by record id, or by email with idProperty "email". Returns {id, properties, createdAt, updatedAt}; properties default to email, firstname, lastname, phone, company, lifecyclestage. Fails NOT_FOUND when there is no such contact.',
  apiVersion: HUBSPOT_API_VERSION,
  idempotent: true,
  write: false,
  input: z.strictObject({
    id: contactId,
    idProperty: z.string().regex(/^[a-z0-9_]+$/).optional().describe('A unique property to look the contact up by, e.g. "email"'),
    properties: z.array(z.string().regex(/^[a-z0-9_]+$/)).min(1).max(100).optional().describe('Property internal names to return'),
  }),
  output: crmObject,
  async run(input, ctx, { apiVersion }) {
    const res = await ctx.http.request<z.input<typeof crmObject>>({
      method: 'GET',
      path: objectsPath(apiVersion, 'contacts', input.id),
      query: {
        properties: (input.properties ?? DEFAULT_PROPERTIES).join(','),
        ...(input.idProperty ? { idProperty: input.idProperty } : {}),
      },
    });
    return res.data;
  },
});
