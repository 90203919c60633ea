/**
 * The sandbox's only reader of `process.env` (STYLE.md rule 6): everything else
 * receives the plain object returned here.
 */

export interface SandboxConfig {
  /** @defaultValue 4010 (the port `broker.config.example.json` points at) */
  port: number;
  /** @defaultValue "127.0.0.1" — a demo API with a shared key should not face the network unless asked to (compose sets 0.0.0.0). */
  host: string;
  /** Bearer token the broker sends; the same value the broker resolves for the secret `DEMO_API_KEY`. */
  apiKey: string;
  /**
   * The example config's `TRIGGER_SIGNING_SECRET` and `CALLBACK_SIGNING_SECRET`
   * (`pnpm start` hands every process the same secrets): with them `GET /received`
   * says whether each delivery's signature verified. @defaultValue unset: not checked
   */
  triggerSecret: string | undefined;
  callbackSecret: string | undefined;
}

export class SandboxConfigError extends Error {
  override readonly name = 'SandboxConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`invalid sandbox configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads and validates the environment, reporting every problem at once rather than the first. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const problems: string[] = [];

  const rawPort = env.SANDBOX_PORT?.trim() || '4010';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port > 65535) {
    problems.push(`SANDBOX_PORT must be an integer between 0 and 65535 (got "${rawPort}")`);
  }

  const host = env.SANDBOX_HOST?.trim() || '127.0.0.1';

  const apiKey = env.DEMO_API_KEY?.trim() ?? '';
  if (apiKey === '') {
    problems.push('DEMO_API_KEY is required: the bearer token clients must present');
  }

  if (problems.length > 0) throw new SandboxConfigError(problems);
  return { port, host, apiKey, triggerSecret: env.TRIGGER_SIGNING_SECRET?.trim() || undefined, callbackSecret: env.CALLBACK_SIGNING_SECRET?.trim() || undefined };
}
