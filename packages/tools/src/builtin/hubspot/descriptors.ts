import { z } from 'zod';
import { describeTool } from '../../describe-tool';
import { contactId, crmObject, DEAL_REFERENCE_PROPERTY, HUBSPOT_API_VERSION, propertyValues } from './schemas';

/** How a contact is found when not by record id: a unique property such as `email`. */
const contactIdProperty = z
  .string()
  .regex(/^[a-z0-9_]+$/)
  .optional()
  .describe('A unique property to look the contact up by, e.g. "email"');

/** The HubSpot tools as the api lists and validates them; each file of this folder implements one. */
export const hubspotDescriptors = {
  getContact: describeTool({
    name: 'hubspot.getContact',
    integration: 'hubspot',
    description:
      'Fetch one HubSpot contact by record id, or by email with idProperty "email". Returns {id, properties, createdAt, updatedAt}; properties default to email, firstname, lastname, phone, company, lifecyclestage. Fails NOT_FOUND when there is no such contact.',
    apiVersion: HUBSPOT_API_VERSION,
    idempotent: true,
    write: false,
    input: z.strictObject({
      id: contactId,
      idProperty: contactIdProperty,
      properties: z
        .array(z.string().regex(/^[a-z0-9_]+$/))
        .min(1)
        .max(100)
        .optional()
        .describe('Property internal names to return'),
    }),
    output: crmObject,
  }),

  updateContact: describeTool({
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
      idProperty: contactIdProperty,
      properties: propertyValues.refine((p) => Object.keys(p).length > 0, 'give at least one property'),
    }),
    output: crmObject,
  }),

  createDeal: describeTool({
    name: 'hubspot.createDeal',
    integration: 'hubspot',
    description: `Create a HubSpot deal in a pipeline stage, optionally associated with a contact. Returns the deal record. HubSpot has no idempotency keys: the deal carries the job id in its unique property ${DEAL_REFERENCE_PROPERTY} (the portal must have it), and a try that may have reached HubSpot is looked up by it before the deal is sent again, so a retry never creates a second deal.`,
    apiVersion: HUBSPOT_API_VERSION,
    idempotent: false,
    input: z.strictObject({
      dealname: z.string().min(1).max(500),
      dealstage: z.string().min(1).describe('Stage internal id, e.g. "appointmentscheduled"'),
      pipeline: z.string().min(1).default('default').describe('Pipeline internal id'),
      amount: z.number().nonnegative().optional(),
      closedate: z.iso.datetime({ offset: true }).optional().describe('Expected close, ISO 8601'),
      contactId: z.string().regex(/^\d+$/).optional().describe('Contact record id to associate the deal with'),
      properties: propertyValues.optional().describe(`Any other deal properties (${DEAL_REFERENCE_PROPERTY} is the broker's)`),
    }),
    output: crmObject,
  }),

  logActivity: describeTool({
    name: 'hubspot.logActivity',
    integration: 'hubspot',
    description:
      "Log an activity on a HubSpot contact's timeline as a note (plain text or simple HTML). Returns the note record. HubSpot has no idempotency keys: the note body carries the job id in an invisible HTML comment, and a try that may have reached HubSpot is looked up by it among the contact's notes before the note is sent again, so a retry never logs it twice.",
    apiVersion: HUBSPOT_API_VERSION,
    idempotent: false,
    input: z.strictObject({
      contactId: z.string().regex(/^\d+$/).describe('Contact record id'),
      // Leaves room for the reference marker within HubSpot's 65,536-character note body.
      body: z.string().min(1).max(65_000).describe('The note text'),
      timestamp: z.iso.datetime({ offset: true }).optional().describe('When it happened, ISO 8601; default: when the job was submitted'),
    }),
    output: crmObject,
  }),
};
