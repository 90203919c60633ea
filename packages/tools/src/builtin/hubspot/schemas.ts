import { z } from 'zod';

/** CRM v3 is the path segment of every object endpoint (`/crm/v3/objects/…`). */
export const HUBSPOT_API_VERSION = 'v3';

export const objectsPath = (apiVersion: string | null, objectType: string, id?: string) =>
  `/crm/${encodeURIComponent(apiVersion ?? HUBSPOT_API_VERSION)}/objects/${objectType}${id === undefined ? '' : `/${encodeURIComponent(id)}`}`;

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

export const contactId = z.string().min(1).max(255).describe('The contact record id (digits), or the value of `idProperty` (e.g. an email)');

/**
 * HubSpot-defined association type ids (https://developers.hubspot.com/docs/api/crm/associations):
 * deal → contact is 3, note → contact is 202.
 */
export const ASSOCIATION = { dealToContact: 3, noteToContact: 202 } as const;

export const associateWith = (contact: string, typeId: number) => [
  { to: { id: contact }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }] },
];
