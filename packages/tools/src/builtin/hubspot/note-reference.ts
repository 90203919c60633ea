import type { z } from 'zod';
import type { crmObject } from './schemas';

/**
 * How a note carries the job's reference. Notes cannot have unique
 * properties (HubSpot offers them for contacts, companies, deals, tickets and
 * custom objects: https://developers.hubspot.com/changelog/unique-properties-for-contacts),
 * and a custom note property would be one more thing every portal must set
 * up, for nothing `hs_note_body` cannot hold: the note body is HTML
 * (https://developers.hubspot.com/docs/api/crm/notes), so an HTML comment
 * carries the reference without showing on the timeline.
 */
export const noteReferenceMarker = (reference: string) => `<!-- broker-reference: ${reference} -->`;

export const withNoteReference = (body: string, reference: string) => `${body}${noteReferenceMarker(reference)}`;

const TRAILING_MARKER = /<!-- broker-reference: \S+ -->$/;

/** The note body as the agent wrote it. */
export const withoutNoteReference = (body: string) => body.replace(TRAILING_MARKER, '');

type CrmObject = z.input<typeof crmObject>;

/** A note record as agents get it: `hs_note_body` without the broker's marker. */
export function noteOutput(note: CrmObject): CrmObject {
  const body = note.properties.hs_note_body;
  if (typeof body !== 'string') return note;
  return { ...note, properties: { ...note.properties, hs_note_body: withoutNoteReference(body) } };
}
