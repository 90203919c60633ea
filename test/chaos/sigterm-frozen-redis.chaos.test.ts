import { Deployment } from './broker';
import { PrivateRedis } from './private-redis';
import { OrderUpstream } from './upstream';

/**
 * Guarantee: SIGTERM drains and exits 0 even when Redis stopped answering.
 * A frozen Redis (SIGSTOP: connections stay open, nothing is answered) still
 * looks `ready` to the API, so its UNSUBSCRIBE and queue closes would wait
 * forever; the API gives up on them and exits within its grace period.
 */
let redis: PrivateRedis;
let upstream: OrderUpstream;
let deployment: Deployment;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  upstream = await OrderUpstream.start();
  deployment = new Deployment(redis.url, { upstreamUrl: upstream.url });
}, 30_000);

afterAll(async () => {
  redis?.thaw();
  await deployment?.stopAll();
  await upstream?.close();
  await redis?.stop();
});

it('exits 0 on SIGTERM while its Redis is frozen', async () => {
  const { proc } = await deployment.api('api');
  redis.freeze();
  proc.child.kill('SIGTERM');
  // The 10 s grace period, the bounded QUIT and some slack; without the bounds the process never exits.
  const outcome = await Promise.race([proc.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000).unref())]);
  expect({ outcome, log: proc.output().split('\n').slice(-5) }).toMatchObject({ outcome: 0 });
}, 30_000);
