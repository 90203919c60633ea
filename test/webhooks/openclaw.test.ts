import { Webhook } from 'standardwebhooks';
import type { Harness } from '../api/harness';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { post, startWebhookApi, startWorker, webhookConfig } from './harness';
import { githubEvent, SECRETS, stripeEvent } from './signers';

describe('trigger delivery in OpenClaw format', () => {
  let stub: StubServer;
  let h: Harness;
  let worker: Awaited<ReturnType<typeof startWorker>>;

  beforeAll(async () => {
    stub = await StubServer.start(() => ({ status: 202, body: { ok: true } }));
    const config = webhookConfig(`${stub.url}/hooks/agent`);
    config.triggerDelivery = {
      ...config.triggerDelivery!,
      format: 'openclaw',
      openclaw: { token: 'OPENCLAW_HOOKS_TOKEN', agentId: 'hooks', sessionKeys: true },
    };
    h = await startWebhookApi('wh-openclaw', { config });
    h.env.OPENCLAW_HOOKS_TOKEN = 'openclaw-token-1,openclaw-token-0';
    worker = await startWorker(config, h.prefix, h.env);
  });
  afterAll(async () => {
    await worker.close();
    await h.close();
    await stub.close();
  });

  const deliveryOf = (marker: string) => waitFor(() => stub.requests.find((r) => r.body.includes(marker)), { what: `delivery of ${marker}` });

  it("sends /hooks/agent's body with the hooks token, signed, with a session key per Stripe object", async () => {
    await post(h, 'stripe', stripeEvent({ id: 'evt_claw_1' })).expect(200);
    const req = await deliveryOf('evt_claw_1');
    expect(req.headers.authorization).toBe('Bearer openclaw-token-1');
    const body = new Webhook(SECRETS.trigger).verify(req.body, req.headers as Record<string, string>) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['agentId', 'message', 'name', 'sessionKey']);
    expect(body).toMatchObject({ name: 'stripe', agentId: 'hooks', sessionKey: 'hook:stripe:pi_123' });
    expect(body.message).toContain('trigger "process_successful_payment"');
    expect(body.message).toContain('payment_intent.succeeded');
    expect(body.message).toContain('evt_claw_1');
    expect(body.message).toContain('"amount": 2000');
  });

  it('keys GitHub sessions by repository and issue number', async () => {
    await post(h, 'github', githubEvent({ delivery: 'gh-claw', action: 'opened' })).expect(200);
    const req = await deliveryOf('gh-claw');
    expect(JSON.parse(req.body)).toMatchObject({ name: 'github', sessionKey: 'hook:github:octo/demo#7' });
  });
});
