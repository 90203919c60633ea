import type { EventDetail } from '@broker/shared/webhooks/schema';
import Stripe from 'stripe';
import { startApp, stopApp, writeConfigFile, type RunningProcess } from '../helpers/processes';
import { dropPrefix, uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/wait-for';
import { integrationExample, startGateway, type Gateway } from './gateway';
import { ensureOpenClaw, OPENCLAW_VERSION } from './install';
import { LossyProxy, startModelStub } from './stubs';

/*
 * The broker against a real OpenClaw gateway (`pnpm build && pnpm test:openclaw`;
 * not in `pnpm test`: it installs OpenClaw and Node 24, about 800 MB, into a
 * cache directory on first use). Both sides are configured from this
 * repository's examples in integrations/openclaw/: the broker from
 * broker.config.openclaw.example.json, the gateway from
 * openclaw.hooks.example.json and openclaw.mcp.example.json. Only addresses,
 * retry delays and the model differ: the gateway's default agent talks to a
 * local OpenAI-compatible stub, so a run needs no network and no API key.
 */

const SECRETS = {
  BROKER_AGENT_KEY: 'openclaw-agent-key-0123456789abcdef',
  BROKER_ADMIN_TOKEN: 'openclaw-admin-token-0123456789abcdef',
  DEMO_API_KEY: 'demo-api-key-0123456789',
  STRIPE_WEBHOOK_SECRET: 'whsec_openclaw_stripe_secret_0123456789',
  GITHUB_WEBHOOK_SECRET: 'openclaw-github-secret-0123456789',
  TRIGGER_SIGNING_SECRET: `whsec_${Buffer.from('openclaw-trigger-signing-key-01').toString('base64')}`,
  OPENCLAW_HOOKS_TOKEN: 'openclaw-hooks-token-0123456789abcdef',
};
const GATEWAY_TOKEN = 'openclaw-gateway-token-0123456789abcdef';

const figures: Record<string, string | number> = {};

describe(`the broker and a real OpenClaw ${OPENCLAW_VERSION} gateway`, () => {
  const prefix = uniquePrefix('openclaw');
  let model: Awaited<ReturnType<typeof startModelStub>>;
  let proxy: LossyProxy;
  let gateway: Gateway;
  let api: RunningProcess;
  let worker: RunningProcess;
  let broker = '';

  beforeAll(async () => {
    const install = await ensureOpenClaw();
    figures['install (s, 0 = reused)'] = Math.round(install.installMs / 1000);
    model = await startModelStub();
    // The broker's config needs the proxy's URL before the gateway (which needs the broker's) is up: the proxy learns its target below.
    proxy = await LossyProxy.start();

    const config = integrationExample<Record<string, unknown> & { triggerDelivery: Record<string, unknown> }>('broker.config.openclaw.example.json');
    // Through the proxy that loses the first answer, and quicker retries; the example's timeoutMs stays.
    config.triggerDelivery = {
      ...config.triggerDelivery,
      url: `${proxy.url}/hooks/agent`,
      retry: { attempts: 5, baseDelayMs: 200, maxDelayMs: 2000 },
    };
    const env = {
      ...SECRETS,
      BROKER_CONFIG: writeConfigFile(config),
      BROKER_REDIS_PREFIX: prefix,
    };
    api = await startApp('api', { ...env, PORT: '0' }, 'api listening');
    broker = `http://127.0.0.1:${/"port":(\d+)/.exec(api.output())![1]}`;
    worker = await startApp('worker', env, 'worker ready');

    const started = Date.now();
    gateway = await startGateway(install, {
      modelUrl: model.url,
      brokerUrl: broker,
      env: {
        OPENCLAW_HOOKS_TOKEN: SECRETS.OPENCLAW_HOOKS_TOKEN,
        BROKER_AGENT_KEY: SECRETS.BROKER_AGENT_KEY,
        OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
      },
    });
    proxy.target = gateway.url;
    figures['gateway start (s)'] = Math.round((Date.now() - started) / 100) / 10;
  }, 20 * 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([worker, api].filter(Boolean).map((p) => stopApp(p)));
    await proxy?.close();
    await model?.close();
    await dropPrefix(prefix);
    // One line a person can read in CI output, whatever passed.
    console.log(`OpenClaw figures: ${JSON.stringify(figures)}`);
  }, 60_000);

  const eventDetail = async (id: string): Promise<EventDetail> => {
    const res = await fetch(`${broker}/v1/events/stripe:${id}`, {
      headers: { Authorization: `Bearer ${SECRETS.BROKER_ADMIN_TOKEN}` },
    });
    if (res.status !== 200) throw new Error(`GET /v1/events/stripe:${id}: ${res.status}`);
    return (await res.json()) as EventDetail;
  };

  it('a Stripe event becomes one agent run of the stock agent `main`, however often its delivery is retried', async () => {
    const eventId = `evt_openclaw_${Date.now()}`;
    const body = JSON.stringify({
      id: eventId,
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: 'pi_openclaw_1', amount: 4200 } },
    });
    const posted = Date.now();
    const res = await fetch(`${broker}/hooks/stripe`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Stripe-Signature': Stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: SECRETS.STRIPE_WEBHOOK_SECRET,
        }),
      },
      body,
    });
    expect(res.status).toBe(200);

    // (a) The run started: the agent's model was asked about this event.
    const [prompt] = await waitFor(() => model.prompts(eventId).length > 0 && model.prompts(eventId), {
      timeoutMs: 120_000,
      what: 'a model request quoting the event',
    });
    figures['webhook to first model request (s)'] = Math.round((prompt!.at - posted) / 100) / 10;
    expect(prompt!.body).toContain('process_successful_payment');

    // (b) The first answer was lost, so the broker tried again: same delivery, same key, two requests, both admitted by OpenClaw.
    const detail = await waitFor(
      async () => {
        const d = await eventDetail(eventId);
        return d.deliveries[0]?.status === 'delivered' && d;
      },
      { timeoutMs: 120_000, what: 'the delivery to be delivered' },
    );
    const tries = proxy.passed.filter((p) => p.body.includes(eventId));
    expect(tries.map((t) => [t.status, t.lost])).toEqual([
      [200, true],
      [200, false],
    ]);
    expect(detail.deliveries).toHaveLength(1);
    expect(detail.deliveries[0]).toMatchObject({
      attempts: 2,
      lastStatus: 200,
    });
    const [first, retry] = tries as [(typeof tries)[0], (typeof tries)[0]];
    figures['webhook to run admitted (s)'] = Math.round((first.answeredAt - posted) / 100) / 10;
    expect(retry.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect(retry.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(JSON.parse(first.body)).toMatchObject({
      agentId: 'main',
      name: 'stripe',
      sessionKey: 'hook:stripe:pi_openclaw_1',
    });
    // OpenClaw's answer to the retry names the run the first try started: a replay, not a second dispatch.
    const runId = (JSON.parse(first.answer) as { ok: boolean; runId: string }).runId;
    expect(JSON.parse(retry.answer)).toEqual({ ok: true, runId });

    // The run ends, and it is the only hook run the gateway ever finished; the model saw the event once.
    const runs = await waitFor(() => gateway.completedRuns().length > 0 && gateway.completedRuns(), {
      timeoutMs: 120_000,
      what: 'the hook run to complete',
    });
    expect(runs).toEqual([{ runId, status: 'ok' }]);
    expect(model.prompts(eventId)).toHaveLength(1);
    figures['deliveries (tries)'] = tries.length;
    figures['agent runs'] = runs.length;
    figures['model requests quoting the event'] = model.prompts(eventId).length;
  }, 300_000);

  it('the agent id the example config used to send, `hooks`, is refused by a stock gateway with 400', async () => {
    const res = await fetch(`${gateway.url}/hooks/agent`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${SECRETS.OPENCLAW_HOOKS_TOKEN}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        message: 'not run',
        name: 'stripe',
        agentId: 'hooks',
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      ok: false,
      error: 'unknown agentId "hooks"',
    });
  });

  it('`openclaw mcp probe broker` lists every tool the agent key may use, over the broker /mcp', async () => {
    const toolsRes = await fetch(`${broker}/v1/tools`, {
      headers: { Authorization: `Bearer ${SECRETS.BROKER_AGENT_KEY}` },
    });
    const own = ((await toolsRes.json()) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(own).toContain('demo.getContact');
    const started = Date.now();
    const probe = await gateway.mcpProbe('broker');
    figures['openclaw mcp probe (s)'] = Math.round((Date.now() - started) / 100) / 10;
    expect(probe.diagnostics).toEqual([]);
    // OpenClaw names an MCP tool <server>__<tool>; the broker names its tools with `.` replaced by `_`.
    const expected = [...own.map((name) => name.replace(/\./g, '_')), 'get_job', 'retry_job', 'list_tools'].map((name) => `broker__${name}`);
    expect(probe.tools).toEqual(expect.arrayContaining(expected));
    figures['tools listed by openclaw mcp probe'] = probe.tools.length;
    figures['probe tools'] = probe.tools.join(' ');
  }, 180_000);

  // Last, so that a second run dispatched late by the retry would have had the whole file's time to show up.
  it('the retried trigger still made exactly one run once everything else has run', () => {
    expect(gateway.completedRuns()).toHaveLength(1);
    expect(model.requests.filter((r) => r.body.includes('evt_openclaw_'))).toHaveLength(1);
  });
});
