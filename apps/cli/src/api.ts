import type { CliSettings } from './config';
import { CommandError } from './errors';

/** @defaultValue 10000 */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Calls the running API as an operator (`BROKER_URL`, `BROKER_ADMIN_TOKEN`).
 * A refusal becomes a {@link CommandError} quoting the problem's code and detail.
 */
export async function callApi<T>(settings: CliSettings, method: string, path: string): Promise<T> {
  if (!settings.adminToken) throw new CommandError('BROKER_ADMIN_TOKEN is not set (the operators\' token of the running API)');
  let res: Response;
  try {
    res = await fetch(`${settings.brokerUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${settings.adminToken}`, Accept: 'application/json' },
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
