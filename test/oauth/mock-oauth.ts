import { join } from 'node:path';
import { startReadyChild } from '../helpers/ready-child';

export interface TokenRequestRecord {
  grantType: string;
  clientAuth: 'basic' | 'post' | 'none';
  basic?: string;
  clientId?: string;
  clientSecret?: string;
  hasVerifier: boolean;
  redirectUri?: string;
  presentedRefreshToken?: string;
  scope?: string;
  status: number;
  error?: string;
  accessToken?: string;
  refreshToken?: string;
}

export interface MockOAuth {
  url: string;
  tokenUrl: string;
  authorizeUrl: string;
  control(instructions: { expiresIn?: number | null; failRefresh?: string | null; delayMs?: number; validRefreshTokens?: string[] }): Promise<void>;
  requests(): Promise<TokenRequestRecord[]>;
  close(): Promise<void>;
}

/** Starts test/oauth/mock-oauth-server.mjs (a real OAuth 2.0 server library) as a child process. */
export async function startMockOAuth(timeoutMs = 10_000): Promise<MockOAuth> {
  const { port, stop } = await startReadyChild(join(__dirname, 'mock-oauth-server.mjs'), 'mock OAuth server', timeoutMs);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tokenUrl: `${url}/token`,
    authorizeUrl: `${url}/authorize`,
    async control(instructions) {
      const res = await fetch(`${url}/__control`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(instructions),
      });
      if (!res.ok) throw new Error(`control failed: ${res.status}`);
    },
    async requests() {
      const res = await fetch(`${url}/__stats`);
      return ((await res.json()) as { requests: TokenRequestRecord[] }).requests;
    },
    close: stop,
  };
}
