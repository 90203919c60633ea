import type { ToolDescriptor } from '@broker/tools';

/**
 * A write that goes without an idempotency key: the upstream cannot tell a
 * resend from a new request, so a try that may have reached it is never sent
 * again blindly (docs/api.md#guarantees).
 */
export function isUnkeyedWrite(tool: Pick<ToolDescriptor, 'write' | 'idempotent'>): boolean {
  return tool.write && !tool.idempotent;
}
