import { createHash } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { EventStore, webhookBodyKey, type NewEvent } from '@broker/redis/webhooks/event-store';
import { redisKeys } from '@broker/redis/keys';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster';

/*
 * The ingest script with a body claim (GitHub, Shopify: docs/webhooks.md#source-types) on a
 * 3-primary Redis Cluster: its seven keys must share the source's slot, or
 * the script fails with CROSSSLOT.
 */

jest.setTimeout(30_000);

let cluster: LocalCluster;
let client: Cluster;
const keys = redisKeys('clb');

beforeAll(async () => {
  cluster = await startLocalCluster();
  client = cluster.client();
});
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

function event(source: string, eventId: string, body: string): NewEvent {
  const now = new Date();
  return { id: `${source}:${eventId}`, source, eventId, type: 'issues.opened', receivedAt: now, verifiedAt: now, headers: {}, body: Buffer.from(body) };
}

it('claims the body in the source slot: a resend under a new id is a duplicate of the stored event', async () => {
  const store = new EventStore(client, keys);
  const options = { retentionMs: 60_000, outboxAt: Date.now() + 15_000, dedupeBody: true };
  const delivery = { deliveryId: 'dlv_00000000000000000000000000000001', trigger: 'github_activity', replay: false, createdAt: new Date().toISOString() };
  // Several sources, so their slots (and nodes) differ.
  for (const source of ['github', 'shopify', 'gh2', 'gh3']) {
    const body = `{"source":"${source}"}`;
    expect(await store.ingest(event(source, 'd1', body), [delivery], options)).toEqual({ duplicate: false, correlationPaths: [] });
    expect(await store.ingest(event(source, 'd2', body), [delivery], options)).toEqual({ duplicate: true, id: `${source}:d1` });
    expect(await store.ingest(event(source, 'd1', body), [delivery], options)).toEqual({ duplicate: true, id: `${source}:d1` });
    expect(await store.ingest(event(source, 'd3', `${body} `), [], options)).toEqual({ duplicate: false, correlationPaths: [] });

    const bodyKey = webhookBodyKey(keys, source, createHash('sha256').update(body).digest('hex'));
    expect(await client.get(bodyKey)).toBe(`${source}:d1`);
    const slot = async (key: string) => Number(await client.cluster('KEYSLOT', key));
    expect(await slot(bodyKey)).toBe(await slot(keys.webhookDedupe(source, 'd1')));
    expect(await slot(bodyKey)).toBe(await slot(keys.webhookEvent(`${source}:d1`)));
    expect(await client.exists(keys.webhookEvent(`${source}:d2`))).toBe(0);
  }
});
