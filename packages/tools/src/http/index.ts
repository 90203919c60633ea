/*
 * `@broker/tools/http`: the one outbound HTTP client, for a process that calls
 * out beside the tools (the api reads Vault) and must not load the tool
 * implementations to do it.
 */
export { createHttpClient, MAX_ANSWER_BYTES, type HttpClientOptions } from './http-client';
export { egressProxyFromEnv, type EgressProxy } from './upstream-agents';
export { vaultHttp } from './vault-http';
