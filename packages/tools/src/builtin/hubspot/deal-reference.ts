import type { z } from 'zod';
import { ToolError } from '../../tool-error';
import type { EarlierEffect, IntegrationHttp } from '../../types';
import { DEAL_REFERENCE_PROPERTY, objectsPath, type crmObject } from './schemas';

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
