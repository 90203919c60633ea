import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The deployment files are part of the contract (`docker compose up`: Redis with AOF
 * and noeviction + api + worker). Docker is not available in every CI, so the files
 * are checked for the properties that matter rather than by running them.
 */

const root = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string };
  env_file?: unknown;
  entrypoint?: string[];
  profiles?: string[];
}

// Merge keys (`<<: *sentinel`) as compose resolves them.
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function commandLine(s: Service): string {
  return Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');
}

function environment(s: Service): Record<string, string> {
  if (!Array.isArray(s.environment)) return s.environment ?? {};
  return Object.fromEntries(
    s.environment.map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
}

/** Container path -> host path of each bind mount. */
function mounts(s: Service): Map<string, string> {
  return new Map(
    (s.volumes ?? []).map((spec) => {
      const [host = '', container = ''] = spec.split(':');
      return [container, host];
    }),
  );
}

describe('docker-compose.yml', () => {
  it('runs Redis with AOF fsync on every write, noeviction and a healthcheck', () => {
    const redis = service('redis');
    const command = commandLine(redis);

    expect(redis.image).toMatch(/^redis:7/);
    expect(command).toMatch(/--appendonly\s+yes/);
    expect(command).toMatch(/--appendfsync\s+always/);
    expect(command).toMatch(/--maxmemory-policy\s+noeviction/);
    expect([redis.healthcheck?.test].flat().join(' ')).toContain('redis-cli ping');
    expect(mounts(redis).has('/data')).toBe(true);
  });

  it.each(['api', 'worker'])('starts %s only once Redis is healthy, with REDIS_URL and BROKER_CONFIG', (name) => {
    const s = service(name);
    const env = environment(s);

    expect(s.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(env.BROKER_CONFIG).toBeTruthy();
    expect(mounts(s).get(env.BROKER_CONFIG!)).toBe('./docker/broker.config.compose.json');
    expect(s.volumes).toContain(`./docker/broker.config.compose.json:${env.BROKER_CONFIG}:ro`);
    expect(s.env_file).toEqual([{ path: '.env', required: false }]);
  });

  it('publishes the API on 8080 and runs each app from the built image', () => {
    expect(service('api').ports).toContain('8080:8080');
    expect(commandLine(service('api'))).toBe('node apps/api/dist/main.js');
    expect(commandLine(service('worker'))).toBe('node apps/worker/dist/main.js');
    expect(commandLine(service('sandbox'))).toBe('node apps/sandbox/dist/main.js');
  });

  it("mounts a config equal to the example except for the sandbox's address (its API, trigger receiver and callbacks)", () => {
    const example = JSON.parse(read('broker.config.example.json'));
    const composeConfig = JSON.parse(read('docker/broker.config.compose.json'));

    expect(example.integrations.demo.baseUrl).toBe('http://127.0.0.1:4010');
    expect(composeConfig.integrations.demo.baseUrl).toBe('http://sandbox:4010');
    expect(example.triggerDelivery.url).toBe('http://127.0.0.1:4010/hooks/agent');
    expect(composeConfig.triggerDelivery.url).toBe('http://sandbox:4010/hooks/agent');
    expect(example.callbacks.allowHosts).toEqual(['127.0.0.1']);
    expect(composeConfig.callbacks.allowHosts).toEqual(['sandbox']);

    composeConfig.integrations.demo.baseUrl = example.integrations.demo.baseUrl;
    composeConfig.triggerDelivery.url = example.triggerDelivery.url;
    composeConfig.callbacks.allowHosts = example.callbacks.allowHosts;
    expect(composeConfig).toEqual(example);
  });
});

describe('docker-compose.yml, profile "replicated" (Redis failover)', () => {
  const optional = ['redis-replica-1', 'redis-replica-2', 'sentinel-1', 'sentinel-2', 'sentinel-3'];

  it('keeps the replicas and sentinels out of a plain `docker compose up`', () => {
    for (const name of optional) expect(service(name)).toMatchObject({ profiles: ['replicated'] });
    for (const name of ['redis', 'api', 'worker', 'sandbox']) expect(compose.services[name]!.profiles).toBeUndefined();
  });

  it.each(['redis-replica-1', 'redis-replica-2'])('runs %s as a replica of redis, with AOF, noeviction and an address of its own', (name) => {
    const command = commandLine(service(name));
    expect(command).toMatch(/--replicaof\s+redis\s+6379/);
    expect(command).toMatch(new RegExp(`--replica-announce-ip\\s+${name}(\\s|$)`));
    expect(command).toMatch(/--appendfsync\s+always/);
    expect(command).toMatch(/--maxmemory-policy\s+noeviction/);
  });

  it.each(['sentinel-1', 'sentinel-2', 'sentinel-3'])('runs %s watching redis as "mymaster" with a quorum of 2, on 26379', (name) => {
    const script = commandLine(service(name));
    expect(service(name).entrypoint).toEqual(['sh', '-c']);
    expect(script).toMatch(/sentinel monitor mymaster redis 6379 2/);
    expect(script).toMatch(/port 26379/);
    expect(script).toMatch(/resolve-hostnames yes/);
    expect(script).toMatch(/redis-server \/tmp\/sentinel\.conf --sentinel/);
  });

  it.each(['api', 'worker'])('lets %s take REDIS_SENTINELS from the environment, matching the sentinel services', (name) => {
    expect(environment(service(name)).REDIS_SENTINELS).toBe('${REDIS_SENTINELS:-}');
    const header = read('docker-compose.yml');
    expect(header).toContain('REDIS_SENTINELS=sentinel-1:26379,sentinel-2:26379,sentinel-3:26379');
  });
});

describe('Dockerfile', () => {
  /** Instructions of the last stage, continuation lines joined and comments dropped. */
  const finalStage = (() => {
    const instructions = read('Dockerfile')
      .replace(/\\\r?\n/g, ' ')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const lastFrom = instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
    return instructions.slice(lastFrom);
  })();

  const instruction = (name: string) => finalStage.filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());

  it('builds the final stage on Node 20', () => {
    expect(finalStage[0]).toMatch(/^FROM\s+node:20[\w.-]*(\s|$)/i);
  });

  it('runs as a non-root user', () => {
    const user = instruction('USER').at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('starts the API by default', () => {
    const cmd = instruction('CMD').at(-1);
    expect(JSON.parse(cmd ?? 'null')).toEqual(['node', 'apps/api/dist/main.js']);
  });
});
