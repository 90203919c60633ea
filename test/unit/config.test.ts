import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig } from '@broker/shared/config/load';

const dir = mkdtempSync(join(tmpdir(), 'broker-config-'));

describe('config loader', () => {
  it('loads the example config and applies the contract defaults', () => {
    const config = loadConfigFile(join(__dirname, '../../broker.config.example.json'));
    const demo = config.integrations.demo!;
    expect(demo.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['demo.getContact', 'demo.createOrder']));
    const bare = parseConfig({ integrations: { x: { baseUrl: 'http://127.0.0.1:1' } } }).integrations.x!;
    expect(bare).toMatchObject({
      timeoutMs: 10_000,
      concurrency: 10,
      retry: { attempts: 5 },
      circuitBreaker: { failureThreshold: 5, recoveryTimeoutMs: 30_000 },
    });
    expect(bare.rateLimit).toBeUndefined();
  });

  it('reads YAML by extension', () => {
    const file = join(dir, 'broker.yaml');
    writeFileSync(file, 'integrations:\n  y:\n    baseUrl: http://127.0.0.1:2\n');
    expect(loadConfigFile(file).integrations.y?.baseUrl).toBe('http://127.0.0.1:2');
  });

  it('lists every problem by path in one error', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        agents: [{ id: 'a', key: { secret: 'sk_live_inline value' }, scopes: [] }],
        integrations: {
          demo: { baseUrl: 'ftp://nope', retry: { attempts: 0 }, tools: [{ name: 'other.x', method: 'GET', path: '/x' }] },
        },
        typo: true,
      }),
    );
    let error: ConfigError | undefined;
    try {
      loadConfigFile(file);
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.problems.join('\n');
    expect(text).toContain('agents.0.key.secret');
    expect(text).toContain('integrations.demo.baseUrl');
    expect(text).toContain('integrations.demo.retry.attempts');
    expect(text).toMatch(/typo/);
    expect(error!.problems.length).toBeGreaterThanOrEqual(4);
  });

  it('rejects tool names outside their integration', () => {
    expect(() => parseConfig({ integrations: { demo: { baseUrl: 'http://x.test', tools: [{ name: 'other.x', method: 'GET', path: '/x' }] } } })).toThrow(
      /must start with "demo\."/,
    );
  });

  it('explains unreadable files', () => {
    expect(() => loadConfigFile(join(dir, 'missing.json'))).toThrow(/cannot read file/);
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ not json');
    expect(() => loadConfigFile(file)).toThrow(/cannot parse file/);
  });
});
