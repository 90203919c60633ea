import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { ASSOCIATION, associateWith, crmObject, HUBSPOT_API_VERSION, objectsPath } from './schemas';

/**
 * POST /crm/v3/objects/notes: a note engagement on the contact's timeline
 * (https://developers.hubspot.com/docs/api/crm/notes).
 */
export const logActivity = defineTool({
  name: 'hubspot.logActivity',
  integration: 'hubspot',
  description:
    "Log an activity on a HubSpot contact's timeline as a note (plain text or simple HTML). Returns the note record. Not retried after a timeout (HubSpot has no idempotency keys).",
  apiVersion: HUBSPOT_API_VERSION,
  idempotent: false,
  input: z.strictObject({
    contactId: z.string().regex(/^\d+$/).describe('Contact record id'),
    body: z.string().min(1).max(65_536).describe('The note text'),
    timestamp: z.iso.datetime({ offset: true }).optional().describe('When it happened, ISO 8601; default: now'),
  }),
  output: crmObject,
  async run(input, ctx, { apiVersion }) {
    const res = await ctx.http.request<z.input<typeof crmObject>>({
      method: 'POST',
      path: objectsPath(apiVersion, 'notes'),
      json: {
        properties: { hs_timestamp: input.timestamp ?? new Date().toISOString(), hs_note_body: input.body },
        associations: associateWith(input.contactId, ASSOCIATION.noteToContact),
      },
    });
    return res.data;
  },
});
