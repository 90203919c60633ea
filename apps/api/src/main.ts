import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { createLogger, type Logger } from '@broker/shared/logger';
import { createRedis } from '@broker/redis/connection';
import { createSecretsProvider } from '@broker/tools/secrets/provider';
import { describeUnreadableSecrets, unreadableSecrets } from '@broker/tools/secrets/required-secrets';
import type { RedisClient } from '@broker/redis/connection';
import { vaultHttp } from '@broker/tools/http';
import { createApi } from './app';
import { answerProtocolErrors } from './http/protocol-errors';
import { loadSettings, SettingsError, type ApiSettings } from './config';

function settingsOrExit(): ApiSettings {
  try {
    return loadSettings();
  } catch (err) {
    if (err instanceof SettingsError) {
      // Every problem at once, so an operator fixes the file in one pass.
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** ioredis prints unhandled 'error' events itself; route them through the logger, once per outage. */
function logRedisErrors(redis: RedisClient, role: string, logger: Logger): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.error({ role, err: err.message }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ role }, 'redis connection restored');
    down = false;
  });
}

async function main(): Promise<void> {
  const settings = settingsOrExit();
  const logger = createLogger({ name: 'api', level: settings.logLevel });
  const secrets = createSecretsProvider(settings.secrets, { vaultHttp: vaultHttp({ proxy: settings.egressProxy }) });
  // Without them every agent gets 401 (or every job fails) while /healthz says ok: refuse to start instead.
  const missing = await unreadableSecrets(settings.config, secrets, ['api']);
  if (missing.length > 0) {
    console.error(`api: ${describeUnreadableSecrets(missing, secrets.kind)}`);
    process.exit(1);
  }

  const topology = { cluster: settings.redisCluster, sentinel: settings.redisSentinel };
  const redis = createRedis(settings.redisUrl, 'producer', 'broker-api', topology);
  const subscriber = createRedis(settings.redisUrl, 'subscriber', 'broker-api-events', topology);
  logRedisErrors(redis, 'producer', logger);
  logRedisErrors(subscriber, 'subscriber', logger);

  const api = await createApi({
    config: settings.config,
    redis,
    subscriber,
    secrets,
    logger,
    prefix: settings.redisPrefix,
    ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
    egressProxy: settings.egressProxy,
  });

  const server: Server = api.app.listen(settings.port, settings.host, () => {
    // The bound port, not the asked one: PORT=0 picks a free port (tests do).
    const port = (server.address() as AddressInfo).port;
    logger.info({ host: settings.host, port, prefix: settings.redisPrefix }, 'api listening');
  });
  answerProtocolErrors(server);
  server.on('error', (err) => {
    logger.fatal({ err }, 'http server failed');
    process.exit(1);
  });

  /** @defaultValue 10 s: in-flight requests (long-polls are woken) get this long before their sockets are cut. */
  const GRACE_MS = 10_000;

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // A client that keeps a connection alive would go on sending requests over it after
    // server.close(), and the drain would never end (the chaos test saw 80 such requests
    // in a burst): each request from now on is answered, then its connection closed.
    server.prependListener('request', (_req, res) => res.setHeader('Connection', 'close'));
    // Stop accepting first; waking the long-polls (api.close) lets server.close finish.
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), GRACE_MS);
    // api.close() talks to Redis (UNSUBSCRIBE, the queues); a Redis that stopped answering must not hold the exit.
    const closed = await Promise.race([api.close().then(() => true), delay(GRACE_MS, false)]);
    if (!closed) logger.warn({ graceMs: GRACE_MS }, 'api close did not finish within the grace period; exiting anyway');
    await drained;
    clearTimeout(grace);
    // QUIT lets Redis finish what we sent; while Redis is away it would wait forever, so it is bounded.
    await Promise.race([Promise.allSettled([redis.quit(), subscriber.quit()]), delay(1000)]);
    redis.disconnect();
    subscriber.disconnect();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
