import { DEFAULT_SENTINEL_NAME, sentinelSettingsFromEnv } from '@broker/redis/sentinel';

/** REDIS_SENTINELS / REDIS_SENTINEL_NAME (docs/operations.md#redis-failover-sentinel-and-replicated-durability): parsed once, every mistake named. */
describe('sentinelSettingsFromEnv', () => {
  it('is off without REDIS_SENTINELS', () => {
    expect(sentinelSettingsFromEnv({})).toEqual({ settings: undefined, problems: [] });
    expect(sentinelSettingsFromEnv({ REDIS_SENTINELS: '  ' })).toEqual({ settings: undefined, problems: [] });
  });

  it("reads host:port pairs, IPv6 in brackets, the master name and the sentinels' password", () => {
    expect(sentinelSettingsFromEnv({ REDIS_SENTINELS: 'sentinel-1:26379, 10.0.0.2:26380,[::1]:26381', REDIS_SENTINEL_NAME: 'orders', REDIS_SENTINEL_PASSWORD: 's3cret' })).toEqual({
      settings: {
        sentinels: [
          { host: 'sentinel-1', port: 26379 },
          { host: '10.0.0.2', port: 26380 },
          { host: '::1', port: 26381 },
        ],
        name: 'orders',
        password: 's3cret',
      },
      problems: [],
    });
    expect(sentinelSettingsFromEnv({ REDIS_SENTINELS: 'a:1' }).settings?.name).toBe(DEFAULT_SENTINEL_NAME);
  });

  it('names each bad entry, a bad master name, and Sentinel together with Cluster', () => {
    const { problems } = sentinelSettingsFromEnv({ REDIS_SENTINELS: 'nohost,a:99999,b:26379', REDIS_SENTINEL_NAME: 'bad name', REDIS_CLUSTER: 'true' });
    expect(problems).toEqual([
      'REDIS_SENTINELS: "nohost" is not host:port',
      'REDIS_SENTINELS: "a:99999" is not host:port',
      'REDIS_SENTINEL_NAME: "bad name" is not a master name (letters, digits, _ . -)',
      'REDIS_SENTINELS and REDIS_CLUSTER=true exclude each other: a Redis Cluster fails over by itself',
    ]);
  });
});
