import request from 'supertest';
import { bearer, KEYS, startApi, type Harness } from './harness';
import { StallingRedisProxy } from './stalling-redis-proxy';
import { waitFor } from '../helpers/wait-for';

/**
 * BullMQ sets a queue's connection up once, and a setup that fails is never
 * tried again. The api's producer queues therefore send nothing at setup that
 * could time out (no INFO version check): an answer held past the producer's
 * 1.5 s command timeout while the api starts must not leave /readyz and every
 * submission failing once Redis answers again.
 */

let proxy: StallingRedisProxy;
let h: Harness | undefined;

afterAll(async () => {
  await h?.close();
  await proxy.close();
});

it('a start whose Redis answers are held for 2 s serves once they come through', async () => {
  proxy = await StallingRedisProxy.start();
  let infos = 0;
  // The first INFO is ioredis' ready check; any after it, on the api's connection, would be a queue's setup.
  void proxy.stallAfter((args) => args[0]?.toLowerCase() === 'info' && ++infos >= 2, 2000);
  h = await startApi('api-queue-setup', { producerUrl: proxy.url });
  const server = h.server;
  await waitFor(async () => ((await request(server).get('/readyz')).status === 200 ? true : undefined), { what: '/readyz to answer 200', timeoutMs: 10_000 });
  const res = await request(server)
    .post('/v1/jobs')
    .set(bearer(KEYS.a))
    .send({ tool: 'demo.getContact', input: { id: 'c_1' } });
  expect(res.status).toBe(202);
  // No queue sent a version check: nothing on the api's connection was held.
  expect(infos).toBeLessThanOrEqual(1);
});
