import type { ReferenceConfig } from '@broker/shared/config/verify-schema';
import type { HttpRequest } from '../types';

/**
 * Puts the job's reference (its id) where the tool's `reference` says, so the
 * upstream stores it with the effect and `verify` can find that effect later.
 * Every try of the job carries the same value.
 */
export function withReference(req: HttpRequest, reference: ReferenceConfig | undefined, jobId: string): HttpRequest {
  if (!reference) return req;
  switch (reference.in) {
    case 'body':
      return { ...req, json: { ...(req.json as Record<string, unknown> | undefined), [reference.name]: jobId } };
    case 'query':
      return { ...req, query: { ...req.query, [reference.name]: jobId } };
    case 'header':
      return { ...req, headers: { ...req.headers, [reference.name]: jobId } };
  }
}
