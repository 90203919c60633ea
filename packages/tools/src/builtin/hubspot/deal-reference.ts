import type { z } from 'zod';
import { ToolError } from '../../tool-error';
import type { EarlierEffect, IntegrationHttp } from '../../types';
import { objectsPath, type crmObject } from './schemas';

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

type CrmObject = z.input<typeof crmObject>;

/** The deal an earlier try created with this reference, with the properties a create answers with. */
export async function findDealByReference(http: IntegrationHttp, apiVersion: string | null, reference: string, properties: string[]): Promise<EarlierEffect<CrmObject>> {
  try {
    const res = await http.request<CrmObject>({
      method: 'GET',
      path: objectsPath(apiVersion, 'deals', reference),
      query: { idProperty: DEAL_REFERENCE_PROPERTY, properties: properties.join(',') },
    });
    return { found: true, output: res.data };
  } catch (err) {
    // By a unique property the answer is exact: no deal holds this value.
    if (err instanceof ToolError && err.code === 'NOT_FOUND') return { found: false };
    throw err;
  }
}

/** The create was refused because the portal lacks the property: say how to fix it, not just HubSpot's message. */
export function missingReferenceProperty(err: unknown): ToolError | undefined {
  if (!(err instanceof ToolError) || err.code !== 'VALIDATION_ERROR') return undefined;
  if (!err.message.includes('PROPERTY_DOESNT_EXIST') || !err.message.includes(DEAL_REFERENCE_PROPERTY)) return undefined;
  return new ToolError('VALIDATION_ERROR', {
    message: `the HubSpot portal has no deal property "${DEAL_REFERENCE_PROPERTY}", which carries the job's reference so a retry never creates a second deal: create it once as a unique single-line text property (see docs/integrations.md, "Built-in integrations"). HubSpot said: ${err.message}`,
    upstreamStatus: err.upstreamStatus ?? 400,
    cause: err,
  });
}

/**
 * HubSpot refused the create over the reference's uniqueness: a deal with
 * this job's reference exists, so an earlier try created it. HubSpot does not
 * document this answer's shape (integrations report a 400 whose message says
 * the value "already has that value", naming the property), so it is only
 * taken as a hint: the lookup by the reference decides.
 */
export function mayBeReferenceConflict(err: unknown): boolean {
  if (!(err instanceof ToolError)) return false;
  return err.code === 'CONFLICT' || (err.code === 'VALIDATION_ERROR' && err.message.includes(DEAL_REFERENCE_PROPERTY));
}
