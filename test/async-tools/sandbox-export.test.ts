import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseConfig } from '@broker/shared/config/load';
import { createSandboxServer } from '@broker/sandbox';
import { startBroker, type Broker } from './harness';

/**
 * The example config's demo.exportContacts (a file-declared async tool)
 * against the sandbox's slow export: what `pnpm start` users try first.
 */
let sandbox: Server;
let broker: Broker;

beforeAll(async () => {
  sandbox = createSandboxServer({ apiKey: 'demo-key' });
  await new Promise<void>((resolve) => sandbox.listen(0, '127.0.0.1', resolve));
  const example = JSON.parse(readFileSync(join(__dirname, '../../broker.config.example.json'), 'utf8'));
  example.integrations.demo.baseUrl = `http://127.0.0.1:${(sandbox.address() as AddressInfo).port}`;
  example.agents.push({ id: 'agent-async', key: { secret: 'AGENT_ASYNC_KEY' }, scopes: ['tools:*'] });
  example.integrations.demo.asyncPoll = { intervalMs: 100, maxIntervalMs: 200 };
  broker = await startBroker('sandbox-export', parseConfig(example), { DEMO_API_KEY: 'demo-key' });
});

afterAll(async () => {
  await broker.close();
  sandbox.closeAllConnections();
  await new Promise<void>((resolve) => sandbox.close(() => resolve()));
});

it('demo.exportContacts runs until the sandbox export is done, showing its progress', async () => {
  const { id } = await broker.submit('demo.exportContacts', { durationMs: 600 });
  const waiting = await broker.waiting(id);
  expect((waiting.progress as { reference: string }).reference).toMatch(/^exp_/);
  const job = await broker.settled(id, 5000);
  expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { url: expect.stringMatching(/^\/exports\/exp_.+\/download$/), rows: 42 } });
});

it('ends at the first check when the export is done by then', async () => {
  const { id } = await broker.submit('demo.exportContacts', { durationMs: 0 });
  const job = await broker.settled(id, 5000);
  expect(job).toMatchObject({ status: 'succeeded', result: { rows: 42 } });
  expect(job.progress).toMatchObject({ state: 'done', checks: 1 });
});
