import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

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
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'mock-oauth-server.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mock OAuth server not ready:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mock OAuth server exited (${code}):\n${out}`));
    });
  });
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
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
