import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import type { EventDetail } from '@broker/shared/webhooks/schema';
import type { Harness } from '../api/harness';
import { StubServer } from '../helpers/stub-server';
import { waitFor } from '../helpers/wait-for';
import { ADMIN_TOKEN, post, startWebhookApi, startWorker, webhookConfig } from './harness';
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
      // `main`: the agent a stock OpenClaw gateway has.
      openclaw: { token: 'OPENCLAW_HOOKS_TOKEN', agentId: 'main', sessionKeys: true },
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
    // OpenClaw dedupes on Idempotency-Key: one agent run per delivery, however often it is retried.
    expect(req.headers['idempotency-key']).toBe(req.headers['webhook-id']);
    const body = new Webhook(SECRETS.trigger).verify(req.body, req.headers as Record<string, string>) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['agentId', 'message', 'name', 'sessionKey']);
    expect(body).toMatchObject({ name: 'stripe', agentId: 'main', sessionKey: 'hook:stripe:pi_123' });
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

  it('a 401 is final, and the hooks token OpenClaw quotes back is blanked from lastError', async () => {
    stub.setHandler((req) => (req.body.includes('evt_claw_401') ? { status: 401, body: { error: `bad token: ${String(req.headers.authorization)}` } } : { status: 202 }));
    try {
      await post(h, 'stripe', stripeEvent({ id: 'evt_claw_401' })).expect(200);
      const event = await waitFor(
        async () => {
          const res = await request(h.server).get('/v1/events/stripe:evt_claw_401').set('Authorization', `Bearer ${ADMIN_TOKEN}`).expect(200);
          const detail = res.body as EventDetail;
          return detail.deliveries[0]?.status === 'failed' && detail;
        },
        { what: 'the delivery to fail' },
      );
      expect(event.deliveries[0]).toMatchObject({ attempts: 1, lastStatus: 401, lastError: 'receiver answered 401: {"error":"bad token: Bearer [redacted]"}' });
      expect(JSON.stringify(event)).not.toContain('openclaw-token-1');
      expect(stub.requests.filter((r) => r.body.includes('evt_claw_401'))).toHaveLength(1);
    } finally {
      stub.setHandler(() => ({ status: 202, body: { ok: true } }));
    }
  });
});
