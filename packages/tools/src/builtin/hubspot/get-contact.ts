import type { z } from 'zod';
import { implementTool } from '../../define-tool';
import { hubspotDescriptors } from './descriptors';
import { objectsPath, type crmObject } from './schemas';

const DEFAULT_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage'];

/** GET /crm/v3/objects/contacts/{contactId} (https://developers.hubspot.com/docs/api/crm/contacts). */
export const getContact = implementTool(hubspotDescriptors.getContact, {
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
