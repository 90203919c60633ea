import { randomUUID } from 'node:crypto';
import { redisKeys } from '@broker/redis/keys';
import { waitFor } from '../helpers/wait-for';
import { BrokerClient, Deployment, TriggerReceiver, type BrokerProcess } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * `durability: "replicated"`: a job's 202 and a webhook's 200 wait until a
 * replica has the write (`WAIT 1`). With the only replica frozen, the API
 * answers 503 with Retry-After within 2 s — the write is on the primary, so
 * the client's retry with the same Idempotency-Key (or event id) answers the
 * same job (event) once the replica is back, and it runs once.
 */
let primary: PrivateRedis;
let replica: PrivateRedis;
let upstream: OrderUpstream;
let receiver: TriggerReceiver;
let deployment: Deployment;
let client: BrokerClient;
let api: BrokerProcess;

beforeAll(async () => {
  primary = await PrivateRedis.start();
  replica = await PrivateRedis.start({ replicaOf: primary.port });
  // Online, not just connected: the first full sync starts after repl-diskless-sync-delay (5 s by default).
  await waitFor(async () => /slave0:.*state=online/.test(await primary.client().info('replication')), { timeoutMs: 15_000, what: 'the replica in sync' });
  upstream = await OrderUpstream.start();
  receiver = await TriggerReceiver.start();
  deployment = new Deployment(primary.url, { upstreamUrl: upstream.url, receiverUrl: receiver.url, durability: 'replicated' });
  const [started] = await Promise.all([deployment.api(), deployment.worker('W')]);
  api = started.proc;
  client = new BrokerClient(started.base);
}, 30_000);

afterAll(async () => {
  replica?.thaw();
  await deployment?.stopAll();
  await Promise.all([upstream?.close(), receiver?.close()]);
  await Promise.all([replica?.stop(), primary?.stop()]);
});

it('answers 202 once a replica has the job; 503 within 2 s while none confirms; the retry with the same key gets the same job, run once', async () => {
  const first = await client.submitOrder(`dur-${randomUUID()}`);
  expect(first.status).toBe(202);
  // Acknowledged means on the replica already.
  expect(await replica.client().exists(redisKeys('chaos').job(first.body.id as string))).toBe(1);

  replica.freeze();
  const key = `dur-${randomUUID()}`;
  const refused = await client.submitOrder(key);
  const event = await client.postStripeEvent();
  expect(refused).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE' } });
  expect(refused.headers?.get('retry-after')).toBe('1');
  expect(refused.ms).toBeLessThan(2000);
  expect(event.status).toBe(503);
  expect(event.ms).toBeLessThan(2000);
  // The write is on the primary all the same: two job records now.
  expect(await primary.client().keys('chaos:job:*')).toHaveLength(2);

  replica.thaw();
  const retried = await waitFor(
    async () => {
      const x = await client.submitOrder(key);
      return x.status === 200 ? x : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'the retry to be acknowledged once the replica is back' },
  );
  expect(retried.headers?.get('idempotent-replayed')).toBe('true');
  const eventAgain = await waitFor(
    async () => {
      const x = await client.postStripeEvent(event.eventId);
      return x.status === 200 ? x : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'the event again' },
  );
  expect(eventAgain.body).toMatchObject({ duplicate: true });
  const job = await waitFor(
    async () => {
      const x = await client.getJob(retried.body.id as string, 5000);
      return x.body?.status === 'succeeded' ? x.body : undefined;
    },
    { timeoutMs: 15_000, what: 'the job to run' },
  );
  expect(upstream.effects.get(retried.body.id as string)).toBe(1);
  expect(job.id).toBe(retried.body.id);
  expect(api.child.exitCode).toBeNull();
}, 60_000);
