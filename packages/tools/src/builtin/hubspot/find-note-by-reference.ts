import type { z } from 'zod';
import { pathSegment } from '../../declared/fill-path';
import { ToolError } from '../../tool-error';
import type { EarlierEffect, IntegrationHttp } from '../../types';
import { noteOutput, noteReferenceMarker } from './note-reference';
import { objectsPath, type crmObject } from './schemas';

type CrmObject = z.input<typeof crmObject>;

/** The v4 associations list's largest page. */
const ASSOCIATIONS_PER_PAGE = 500;
/** 5,000 notes on one contact: past that a lookup says "cannot tell" rather than scan on. */
export const MAX_ASSOCIATION_PAGES = 10;
/** The most ids one batch read takes. */
const BATCH_READ_SIZE = 100;
/** `createdAt` is HubSpot's clock and `submittedAt` ours. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** What a create of a note answers with (and what `run` sends). */
export const NOTE_PROPERTIES = ['hs_timestamp', 'hs_note_body'];

export interface NoteLookup {
  contactId: string;
  reference: string;
  /** The note text as the agent gave it. */
  body: string;
  /** When the job was submitted (epoch ms). */
  submittedAt: number;
  apiVersion: string | null;
}

interface AssociationPage {
  results?: { toObjectId: number | string }[];
  paging?: { next?: { after?: string } };
}

/**
 * GET /crm/v4/objects/contacts/{id}/associations/notes, every page
 * (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide).
 * A 404 (no such contact) is not "absent": the note may outlive its contact.
 */
async function associatedNoteIds(http: IntegrationHttp, contactId: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (let page = 1; page <= MAX_ASSOCIATION_PAGES; page++) {
    const res = await http.request<AssociationPage>({
      method: 'GET',
      path: `/crm/v4/objects/contacts/${pathSegment(contactId, 'contactId')}/associations/notes`,
      query: { limit: String(ASSOCIATIONS_PER_PAGE), ...(after ? { after } : {}) },
    });
    const results = res.data?.results;
    if (!Array.isArray(results)) throw new ToolError('UNKNOWN', { message: 'HubSpot answered a page of associations without results' });
    ids.push(...results.map((r) => String(r.toObjectId)));
    after = res.data.paging?.next?.after;
    if (!after) return ids;
  }
  throw new ToolError('OUTCOME_UNKNOWN', {
    message: `contact ${contactId} has more than ${MAX_ASSOCIATION_PAGES * ASSOCIATIONS_PER_PAGE} notes: stopped before finding whether an earlier try logged one`,
  });
}

/** POST /crm/v3/objects/notes/batch/read: ids HubSpot no longer has are left out of `results` (a 207). */
async function readNotes(http: IntegrationHttp, apiVersion: string | null, ids: string[]): Promise<CrmObject[]> {
  const res = await http.request<{ results?: CrmObject[] }>({
    method: 'POST',
    path: `${objectsPath(apiVersion, 'notes')}/batch/read`,
    json: { properties: NOTE_PROPERTIES, inputs: ids.map((id) => ({ id })) },
  });
  const results = res.data?.results;
  if (!Array.isArray(results)) throw new ToolError('UNKNOWN', { message: 'HubSpot answered a batch read of notes without results' });
  return results;
}

/**
 * Newest first (ids are decimal strings: a longer one is larger): HubSpot
 * numbers records as it creates them, so a recent try's note is usually in
 * the first batch. Only an order of reading: every note is read before "absent".
 */
const newestFirst = (a: string, b: string) => b.length - a.length || (b > a ? 1 : b < a ? -1 : 0);

const ANY_MARKER = /<!-- broker-reference: \S+ -->/;
const plainText = (html: string) =>
  html
    .replace(/<!--[\s\S]*?-->|<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * Finds the note an earlier try logged, by the reference marker in its body:
 * the contact's note associations, then the notes themselves by id. Both are
 * reads of the CRM's records, not of the search endpoints, whose index lags
 * writes by seconds (https://blog.sequin.io/building-a-sync-on-hubspots-api/,
 * "The Search API is eventually consistent"), so a note the list does not
 * hold was not created.
 *
 * Should HubSpot ever store a body without our HTML comment, the marker could
 * not be found and a resend would log the note twice. So a note with the
 * same text and no marker, logged since the job was submitted, is not taken
 * as absence: the lookup cannot tell, and says so (OUTCOME_UNKNOWN).
 */
export async function findNoteByReference(http: IntegrationHttp, lookup: NoteLookup): Promise<EarlierEffect<CrmObject>> {
  const marker = noteReferenceMarker(lookup.reference);
  const oldestPossible = lookup.submittedAt - CLOCK_SKEW_MS;
  const ids = (await associatedNoteIds(http, lookup.contactId)).sort(newestFirst);
  let unmarkedTwin: string | undefined;
  for (let i = 0; i < ids.length; i += BATCH_READ_SIZE) {
    for (const note of await readNotes(http, lookup.apiVersion, ids.slice(i, i + BATCH_READ_SIZE))) {
      const body = note.properties.hs_note_body;
      if (typeof body !== 'string') continue;
      if (body.includes(marker)) return { found: true, output: noteOutput(note) };
      // A time that does not parse counts as recent: doubt leads to "cannot tell", never to a resend.
      const recent = !(Date.parse(note.createdAt) < oldestPossible);
      if (recent && !ANY_MARKER.test(body) && plainText(body) === plainText(lookup.body)) unmarkedTwin = note.id;
    }
  }
  if (unmarkedTwin !== undefined) {
    throw new ToolError('OUTCOME_UNKNOWN', {
      message: `note ${unmarkedTwin} on contact ${lookup.contactId} has the same text and was logged since the job was submitted, but carries no reference: cannot tell whether it is an earlier try of ${lookup.reference}`,
    });
  }
  return { found: false };
}
