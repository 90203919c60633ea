import { vetTarget, type Lookup } from '@broker/shared/net/ip-policy';
import type { FieldError } from '@broker/shared/errors/problem';

const POINTER = '/callbackUrl';
const refuse = (message: string): FieldError[] => [{ pointer: POINTER, message }];

export interface CallbackPolicy {
  /** `callbacks` from the config; absent means callbacks are off. */
  callbacks: { allowHosts: readonly string[] } | undefined;
  lookup?: Lookup;
}

/**
 * Checks a job's `callbackUrl` at submission (docs/callbacks.md) with the shared
 * SSRF policy (`vetTarget`): hosts the operator allows pass as they are; any
 * other host is resolved and refused if any of its addresses is internal.
 *
 * The worker checks again at delivery: DNS can change in between.
 */
export async function checkCallbackUrl(raw: string, policy: CallbackPolicy): Promise<FieldError[]> {
  if (!policy.callbacks) return refuse('callbacks are not enabled on this broker');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('must be an absolute http(s) URL');
  }
  const verdict = await vetTarget(url, {
    allowHosts: policy.callbacks.allowHosts,
    ...(policy.lookup ? { lookup: policy.lookup } : {}),
  });
  return verdict.ok ? [] : refuse(verdict.reason);
}
