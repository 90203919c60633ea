import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { freePort } from './free-port';
import { waitFor } from './wait-for';

export interface LocalCluster {
  /** `host:port` of every primary. */
  nodes: { host: string; port: number }[];
  /** An ioredis Cluster client on the nodes. */
  client(): Cluster;
  stop(): Promise<void>;
}

/**
 * A 3-primary Redis Cluster on loopback, made from the local `redis-server`
 * (cluster-enabled, no persistence) and joined with `redis-cli --cluster
 * create`, for tests that prove the broker runs on a cluster.
 */
export async function startLocalCluster(primaries = 3): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < primaries; i++) ports.push(await freePort());
  const servers = ports.map((port) => {
    const nodeDir = mkdtempSync(join(dir, `n${port}-`));
    return spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--dir', nodeDir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
  });
  const ping = (port: number) => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
  await waitFor(() => ports.every(ping), { timeoutMs: 10_000, what: 'cluster nodes to start' });
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
    encoding: 'utf8',
  });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
  await waitFor(() => ports.every((p) => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout)), {
    timeoutMs: 15_000,
    what: 'cluster_state:ok on every node',
  });
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return {
    nodes,
    client: () => new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } }),
    async stop() {
      for (const server of servers) server.kill('SIGKILL');
      await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r(null) : s.once('exit', r)))));
    },
  };
}
