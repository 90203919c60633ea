import type { CliSettings } from './config';
import { CommandError } from './errors';

/** @defaultValue 10000 */
const REQUEST_TIMEOUT_MS = 10_000;

/** Whose credential a call sends: the operators' token, or an agent's key for the agent's own jobs. */
export type Caller = 'admin' | 'agent';

function credentialOf(settings: CliSettings, caller: Caller): string {
  if (caller === 'agent') {
    if (!settings.agentKey) throw new CommandError('BROKER_AGENT_KEY is not set (the key of the agent that owns the job)');
    return settings.agentKey;
  }
  if (!settings.adminToken) throw new CommandError("BROKER_ADMIN_TOKEN is not set (the operators' token of the running API)");
  return settings.adminToken;
}

/**
 * Calls the running API (`BROKER_URL`) as an operator (`BROKER_ADMIN_TOKEN`)
 * or, with `caller: 'agent'`, as an agent (`BROKER_AGENT_KEY`); `payload` is sent as the JSON body.
 * A refusal becomes a {@link CommandError} quoting the problem's code and detail.
 */
export async function callApi<T>(settings: CliSettings, method: string, path: string, caller: Caller = 'admin', payload?: unknown): Promise<T> {
  const credential = credentialOf(settings, caller);
  let res: Response;
  try {
    res = await fetch(`${settings.brokerUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${credential}`, Accept: 'application/json', ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new CommandError(`cannot reach the API at ${settings.brokerUrl} (set BROKER_URL): ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const problem = body as { code?: string; detail?: string } | undefined;
    throw new CommandError(`${res.status} ${problem?.code ?? res.statusText}: ${problem?.detail ?? text.slice(0, 200)}`);
  }
  return body as T;
}
