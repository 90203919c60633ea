export { GraphqlClient, type GraphqlClientOptions } from './client';
export { toolErrorFromGraphql, type GraphqlError } from './errors';
export { readCost, pauseBeforeNextMs, throttledRetryAfterMs, msUntilAvailable, type QueryCost, type ThrottleStatus } from './cost';
export { graphqlTools, defaultSelection, type GraphqlOperation, type GraphqlToolsOptions } from './generate';
export { inputSchema, rootFieldOutput, type ScalarOverrides } from './to-zod';
