import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { createSandboxServer, type ReceivedDelivery } from '@broker/sandbox';

/** The demo API the example config points at, over real HTTP on an ephemeral port. */

const API_KEY = 'sandbox-test-key';
/** Hex is valid base64, as `pnpm start` generates them. */
const TRIGGER_SECRET = '5f1e0c9a7b3d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d';
const CALLBACK_SECRET = 'whsec_Y2FsbGJhY2stc2VjcmV0LWZvci10aGUtc2FuZGJveA==';
let server: Server;
let baseUrl: string;
const printed: ReceivedDelivery[] = [];

beforeAll(async () => {
  server = createSandboxServer({
    apiKey: API_KEY,
    receiverSecrets: { trigger: TRIGGER_SECRET, callback: () => CALLBACK_SECRET },
    onReceived: (d) => void printed.push(d),
    receivedLimit: 5,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
  const { key = API_KEY, headers, ...rest } = init;
  return fetch(`${baseUrl}${path}`, {
    ...rest,
    headers: {
      ...(key === null ? {} : { Authorization: `Bearer ${key}` }),
      ...(rest.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(headers as Record<string, string> | undefined),
    },
  });
}

function postOrder(body: unknown, idempotencyKey?: string): Promise<Response> {
  return call('/orders', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey },
  });
}

describe('authentication', () => {
  it('refuses a request without a key, or with a wrong one, with 401 JSON', async () => {
    for (const key of [null, 'wrong', `${API_KEY}x`]) {
      const res = await call('/contacts/c_123', { key });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
  });

  it('leaves /healthz open for liveness probes', async () => {
    const res = await call('/healthz', { key: null });
    expect(res.status).toBe(200);
  });

  it('reads a function key on every request, so the key can rotate', async () => {
    let current: string | undefined = 'first';
    const rotating = createSandboxServer({ apiKey: () => current });
    await new Promise<void>((resolve) => rotating.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(rotating.address() as AddressInfo).port}/contacts/c_1`;
    try {
      expect((await fetch(url, { headers: { Authorization: 'Bearer first' } })).status).toBe(200);
      current = 'second';
      expect((await fetch(url, { headers: { Authorization: 'Bearer first' } })).status).toBe(401);
      expect((await fetch(url, { headers: { Authorization: 'Bearer second' } })).status).toBe(200);
      current = undefined;
      expect((await fetch(url, { headers: { Authorization: 'Bearer second' } })).status).toBe(401);
    } finally {
      rotating.closeAllConnections();
      await new Promise((resolve) => rotating.close(resolve));
    }
  });
});

describe('GET /contacts/{id}', () => {
  it('returns the same contact for the same id and echoes Demo-Version', async () => {
    const first = await call('/contacts/c_123', { headers: { 'Demo-Version': '2025-01-01' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('demo-version')).toBe('2025-01-01');
    const contact = await first.json();
    expect(contact).toEqual({ id: 'c_123', name: expect.any(String), email: expect.stringContaining('@') });

    const again = await (await call('/contacts/c_123')).json();
    expect(again).toEqual(contact);
  });

  it('answers 404 for ids starting with "missing"', async () => {
    const res = await call('/contacts/missing_42');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: expect.any(String) });
  });
});

describe('orders', () => {
  it('creates an order and reads it back', async () => {
    const created = await postOrder({ sku: 'SKU-1', qty: 2 });
    expect(created.status).toBe(201);
    const order = (await created.json()) as { id: string };
    expect(order).toEqual({ id: expect.any(String), sku: 'SKU-1', qty: 2, status: 'created', createdAt: expect.any(String) });
    expect(created.headers.get('idempotent-replayed')).toBeNull();

    const read = await call(`/orders/${order.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(order);
    expect((await call('/orders/ord_unknown')).status).toBe(404);
  });

  it('replays the original order for the same Idempotency-Key and body', async () => {
    const key = `replay-${Date.now()}`;
    const first = await (await postOrder({ sku: 'SKU-2', qty: 1 }, key)).json();

    // Same content, keys in another order: still the same request.
    const replay = await postOrder({ qty: 1, sku: 'SKU-2' }, key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(first);
  });

  it('refuses an Idempotency-Key reused with a different body with 422', async () => {
    const key = `reuse-${Date.now()}`;
    expect((await postOrder({ sku: 'SKU-3', qty: 1 }, key)).status).toBe(201);

    const reused = await postOrder({ sku: 'SKU-3', qty: 5 }, key);
    expect(reused.status).toBe(422);
    expect(await reused.json()).toEqual({ error: expect.any(String) });
  });

  it.each([
    ['a missing sku', { qty: 1 }],
    ['a zero qty', { sku: 'SKU-4', qty: 0 }],
    ['a fractional qty', { sku: 'SKU-4', qty: 1.5 }],
    ['an array', [1, 2]],
  ])('refuses %s with 400', async (_label, body) => {
    const res = await postOrder(body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.any(String) });
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const res = await postOrder({ sku: 'x'.repeat(1024 * 1024), qty: 1 });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: expect.any(String) });
  });
});

it('answers unknown routes with 404 JSON', async () => {
  const res = await call('/nothing/here');
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: expect.any(String) });
});

describe("receiving the broker's triggers and callbacks", () => {
  /** A delivery as the broker's worker sends it: Standard Webhooks headers, and the id again as Idempotency-Key. */
  function deliver(path: string, body: unknown, secret: string | undefined, id = `msg_${Math.random().toString(36).slice(2)}`): Promise<Response> {
    const raw = JSON.stringify(body);
    const at = new Date();
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Idempotency-Key': id,
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    };
    headers['webhook-signature'] = secret ? new Webhook(secret).sign(id, at, raw) : 'v1,bm90IGEgc2lnbmF0dXJl';
    return fetch(`${baseUrl}${path}`, { method: 'POST', headers, body: raw });
  }
  const received = async (query = '') => ((await (await fetch(`${baseUrl}/received${query}`)).json()) as { received: ReceivedDelivery[] }).received;
  const trigger = {
    trigger: 'process_successful_payment',
    source: 'stripe',
    eventId: 'evt_1',
    type: 'payment_intent.succeeded',
    payload: { id: 'evt_1' },
    receivedAt: '2026-01-01T00:00:00.000Z',
  };

  it('records a trigger at POST /hooks/agent without the API key, verifies its signature, and shows it at GET /received', async () => {
    const res = await deliver('/hooks/agent', trigger, TRIGGER_SECRET, 'msg_trigger_1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, seq: expect.any(Number) });
    const [newest] = await received();
    expect(newest).toEqual({
      seq: expect.any(Number),
      kind: 'trigger',
      receivedAt: expect.any(String),
      path: '/hooks/agent',
      webhookId: 'msg_trigger_1',
      idempotencyKey: 'msg_trigger_1',
      verified: true,
      summary: 'trigger process_successful_payment from stripe (payment_intent.succeeded, event evt_1), signature verified',
      body: trigger,
    });
    expect(printed.at(-1)).toEqual(newest);
  });

  it('records a callback at POST /callbacks, and says when a signature does not verify', async () => {
    const job = { id: 'job_1', tool: 'demo.getContact', status: 'succeeded', attempts: 1, createdAt: '2026-01-01T00:00:00.000Z', result: { id: 'c_1' } };
    expect((await deliver('/callbacks', job, CALLBACK_SECRET)).status).toBe(200);
    expect((await deliver('/callbacks', { ...job, status: 'failed', error: { code: 'NOT_FOUND' } }, TRIGGER_SECRET)).status).toBe(200);
    const [forged, signed] = await received('?kind=callback');
    expect(signed).toMatchObject({ kind: 'callback', verified: true, summary: 'callback for job job_1 (demo.getContact): succeeded, signature verified', body: job });
    expect(forged).toMatchObject({ kind: 'callback', verified: false, summary: 'callback for job job_1 (demo.getContact): failed NOT_FOUND, signature INVALID' });
    expect((await received('?kind=trigger')).every((d) => d.kind === 'trigger')).toBe(true);
  });

  it('keeps the newest deliveries only, newest first', async () => {
    for (let i = 0; i < 7; i++) expect((await deliver('/hooks/agent', { ...trigger, eventId: `evt_bound_${i}` }, TRIGGER_SECRET)).status).toBe(200);
    const list = await received();
    expect(list.map((d) => (d.body as { eventId: string }).eventId)).toEqual(['evt_bound_6', 'evt_bound_5', 'evt_bound_4', 'evt_bound_3', 'evt_bound_2']);
    expect(list.map((d) => d.seq)).toEqual([...list.map((d) => d.seq)].sort((a, b) => b - a));
  });

  it('records a body that is not JSON as text, and does not check signatures it has no secret for', async () => {
    const open = createSandboxServer({ apiKey: API_KEY });
    await new Promise<void>((resolve) => open.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(open.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/hooks/agent`, { method: 'POST', body: 'plain text' })).status).toBe(200);
      const [only] = ((await (await fetch(`${url}/received`)).json()) as { received: ReceivedDelivery[] }).received;
      expect(only).toMatchObject({ body: 'plain text', verified: null, webhookId: null, summary: expect.stringContaining('signature not checked') });
    } finally {
      open.closeAllConnections();
      await new Promise((resolve) => open.close(resolve));
    }
  });

  it('still wants the key everywhere else, and the right method on the receiver paths', async () => {
    expect((await call('/contacts/c_1', { key: null })).status).toBe(401);
    expect((await call('/hooks/other', { key: null, method: 'POST', body: '{}' })).status).toBe(401);
    expect((await call('/received', { key: null, method: 'POST', body: '{}' })).status).toBe(405);
    expect((await call('/hooks/agent', { key: null })).status).toBe(405);
  });
});
