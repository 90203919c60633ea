import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createSandboxServer } from '@broker/sandbox';

/** The demo API the example config points at, over real HTTP on an ephemeral port. */

const API_KEY = 'sandbox-test-key';
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createSandboxServer({ apiKey: API_KEY });
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
