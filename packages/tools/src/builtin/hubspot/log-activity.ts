import type { z } from 'zod';
import { implementTool } from '../../define-tool';
import { hubspotDescriptors } from './descriptors';
import { findNoteByReference } from './find-note-by-reference';
import { noteOutput, noteReferenceMarker, withNoteReference } from './note-reference';
import { ASSOCIATION, associateWith, objectsPath, type crmObject } from './schemas';

/**
 * POST /crm/v3/objects/notes: a note engagement on the contact's timeline
 * (https://developers.hubspot.com/docs/api/crm/notes). HubSpot has no
 * idempotency keys: every try ends the note body with the job id in an HTML
 * comment, and `verify` finds an earlier try's note by it among the contact's
 * notes (see note-reference.ts and find-note-by-reference.ts).
 */
export const logActivity = implementTool(hubspotDescriptors.logActivity, {
  async run(input, ctx, { apiVersion }) {
    const res = await ctx.http.request<z.input<typeof crmObject>>({
      method: 'POST',
      path: objectsPath(apiVersion, 'notes'),
      json: {
        // Submission time, not now: every try of the job sends the same note.
        properties: { hs_timestamp: input.timestamp ?? new Date(ctx.submittedAt).toISOString(), hs_note_body: withNoteReference(input.body, ctx.jobId) },
        associations: associateWith(input.contactId, ASSOCIATION.noteToContact),
      },
    });
    if (!res.data.properties?.hs_note_body?.includes(noteReferenceMarker(ctx.jobId))) {
      // Then `verify` cannot find this note by its reference (it refuses to call a same-text note absent, see find-note-by-reference.ts).
      ctx.logger.warn(
        { noteId: res.data.id, reference: ctx.jobId },
        'HubSpot answered a note body without the reference marker: a lost answer of this tool could not be looked up',
      );
    }
    return noteOutput(res.data);
  },
  verify(input, ctx, { apiVersion }) {
    return findNoteByReference(ctx.http, { contactId: input.contactId, reference: ctx.jobId, body: input.body, submittedAt: ctx.submittedAt, apiVersion });
  },
});
