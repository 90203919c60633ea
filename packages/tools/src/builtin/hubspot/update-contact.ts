import type { z } from 'zod';
import { implementTool } from '../../define-tool';
import { hubspotDescriptors } from './descriptors';
import { objectsPath, type crmObject } from './schemas';

/** PATCH /crm/v3/objects/contacts/{contactId}. */
export const updateContact = implementTool(hubspotDescriptors.updateContact, {
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
