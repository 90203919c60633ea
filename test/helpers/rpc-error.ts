import { McpError } from '@modelcontextprotocol/sdk/types.js';

/** The JSON-RPC error a promise rejects with (fails the test if it resolves or rejects otherwise). */
export async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}
