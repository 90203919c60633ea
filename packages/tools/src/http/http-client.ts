import type { Agent } from 'node:http';
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import { upstreamAgents, upstreamProxy, type EgressProxy } from './upstream-agents';

/** Answers larger than this (decompressed) are refused. @defaultValue 10 MiB */
export const MAX_ANSWER_BYTES = 10 * 1024 * 1024;

export interface HttpClientOptions {
  /**
   * The egress proxy (HTTP(S)_PROXY, NO_PROXY). With `baseURL` the agents are
   * chosen once; without, each request's host is matched against NO_PROXY.
   */
  proxy?: EgressProxy | undefined;
  /** The one upstream this instance calls, when it calls only one. */
  baseURL?: string;
  /** An https agent of the caller's (a client certificate); it carries the proxy itself. */
  httpsAgent?: Agent;
  /** @defaultValue 0: a redirect comes back as the answer; nothing is replayed elsewhere */
  maxRedirects?: number;
  /** @defaultValue {@link MAX_ANSWER_BYTES} */
  maxBytes?: number;
  /** @defaultValue every status resolves: callers classify answers themselves */
  validateStatus?: CreateAxiosDefaults['validateStatus'];
  /**
   * Every request on a new connection of its own, made direct (no proxy, no
   * pool): for a caller that pins the address it checked with a per-request
   * `lookup` (the SSRF guard of completion callbacks). A pooled socket would
   * skip that lookup, and a proxy would resolve the name again itself.
   * @defaultValue false
   */
  freshConnections?: boolean;
}

/** One pair of keep-alive agents per proxy (and one for direct calls), shared by every instance. */
const agentsByProxy = new Map<string, { http: Agent; https: Agent }>();

function agentsFor(proxy: string | undefined): { http: Agent; https: Agent } {
  const key = proxy ?? '';
  let agents = agentsByProxy.get(key);
  if (!agents) {
    agents = upstreamAgents(proxy);
    agentsByProxy.set(key, agents);
  }
  return agents;
}

/**
 * The one way the product makes an outbound HTTP request: an axios instance
 * with keep-alive agents (through the egress proxy where the environment names
 * one), gzip/deflate/br decompression, a cap on the answer's size, no
 * redirects, and the body as text (callers parse, so an answer that quotes a
 * credential back can be blanked before anything reads it).
 *
 * `proxy: false` because the agents carry the proxy: axios would otherwise
 * read HTTP_PROXY itself and bypass NO_PROXY matching and mTLS tunnelling.
 * Deadlines are the caller's `signal` (axios' `timeout` is an idle timer).
 */
export function createHttpClient(options: HttpClientOptions = {}): AxiosInstance {
  const maxBytes = options.maxBytes ?? MAX_ANSWER_BYTES;
  if (options.freshConnections && (options.proxy || options.httpsAgent)) {
    throw new TypeError('freshConnections calls direct, on connections of its own: it takes no proxy and no agent');
  }
  const fixed = options.freshConnections
    ? // `agent: false` to Node: a new connection for this request alone.
      { http: false as const, https: false as const }
    : options.baseURL !== undefined
      ? agentsFor(upstreamProxy(options.baseURL, options.proxy))
      : undefined;
  const instance = axios.create({
    ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
    maxRedirects: options.maxRedirects ?? 0,
    maxContentLength: maxBytes,
    maxBodyLength: maxBytes,
    proxy: false,
    decompress: true,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: options.validateStatus === undefined ? () => true : options.validateStatus,
    ...(fixed ? { httpAgent: fixed.http, httpsAgent: options.httpsAgent ?? fixed.https } : {}),
  });
  if (!fixed) {
    instance.interceptors.request.use((config) => {
      const url = new URL(instance.getUri(config));
      const agents = agentsFor(upstreamProxy(url.href, options.proxy));
      config.httpAgent ??= agents.http;
      config.httpsAgent ??= options.httpsAgent ?? agents.https;
      return config;
    });
  }
  return instance;
}
