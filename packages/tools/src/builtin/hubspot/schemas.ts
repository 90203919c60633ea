import { z } from 'zod';
import { pathSegment } from '../../declared/fill-path';

/** CRM v3 is the path segment of every object endpoint (`/crm/v3/objects/…`). */
export const HUBSPOT_API_VERSION = 'v3';

export const objectsPath = (apiVersion: string | null, objectType: string, id?: string) =>
  `/crm/${pathSegment(apiVersion ?? HUBSPOT_API_VERSION, 'apiVersion')}/objects/${objectType}${id === undefined ? '' : `/${pathSegment(id, 'id')}`}`;

/** A CRM record as HubSpot returns it: every property value is a string or null. */
export const crmObject = z.looseObject({
  id: z.string(),
  properties: z.record(z.string(), z.string().nullable()),
  createdAt: z.string(),
  updatedAt: z.string(),
  archived: z.boolean().optional(),
});

export const propertyValues = z
  .record(z.string().regex(/^[a-z0-9_]+$/, 'HubSpot property names are lower-case internal names, e.g. "firstname"'), z.union([z.string(), z.number(), z.boolean()]))
  .describe('Property internal names to values, e.g. {"firstname":"Ada","lifecyclestage":"customer"}');

export const contactId = z
  .string()
  .min(1)
  .max(255)
  // It is a path segment, where "." or ".." would be resolved away (`/objects/contacts/..` is `/objects/`).
  .regex(/^(?!\.\.?$)/, 'a contact id or idProperty value, not "." or ".."')
  .describe('The contact record id (digits), or the value of `idProperty` (e.g. an email)');

/**
 * HubSpot-defined association type ids (https://developers.hubspot.com/docs/api/crm/associations):
 * deal → contact is 3, note → contact is 202.
 */
export const ASSOCIATION = { dealToContact: 3, noteToContact: 202 } as const;

export const associateWith = (contact: string, typeId: number) => [{ to: { id: contact }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }] }];

/**
 * The custom deal property that carries the job's reference. HubSpot has no
 * idempotency keys, but a property created with `hasUniqueValue: true` is an
 * identifier of the portal's own (at most 10 per object):
 * - a deal can be read by it, `GET /crm/v3/objects/deals/{value}?idProperty=…`
 *   (https://developers.hubspot.com/docs/api/crm/properties, "Create unique
 *   identifier properties"; https://developers.hubspot.com/changelog/updating-objects-by-custom-field-and-adding-owner-properties-via-the-api).
 *   That is a read of the record store, not of the search index, which lags
 *   writes by seconds (https://blog.sequin.io/building-a-sync-on-hubspots-api/,
 *   "The Search API is eventually consistent"): a 404 there means absent now;
 * - HubSpot itself refuses a second deal with the same value, so even a resend
 *   racing a slow first try cannot make two deals.
 * Unique properties exist for contacts, companies, deals, tickets and custom
 * objects (https://developers.hubspot.com/changelog/unique-properties-for-contacts),
 * not for notes: see note-reference.ts. The portal must have this property
 * (docs/integrations.md, "Built-in integrations").
 */
export const DEAL_REFERENCE_PROPERTY = 'broker_reference';
