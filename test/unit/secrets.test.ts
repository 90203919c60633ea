import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envSecretsProvider, fileSecretsProvider, FILE_SECRET_TTL_MS, splitSecretValues } from '@broker/tools/secrets/provider';

describe('secrets providers', () => {
  it('reads env at each use', async () => {
    const env: Record<string, string | undefined> = { KEY: 'one' };
    const secrets = envSecretsProvider(env);
    expect(await secrets.get('KEY')).toBe('one');
    env.KEY = 'two';
    expect(await secrets.get('KEY')).toBe('two');
    expect(await secrets.get('NOPE')).toBeUndefined();
  });

  it('reads files, trims them, and picks up a rotated value after the cache expires', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    writeFileSync(join(dir, 'API_KEY'), '  first\n');
    let now = 0;
    const secrets = fileSecretsProvider(dir, () => now);
    expect(await secrets.get('API_KEY')).toBe('first');
    writeFileSync(join(dir, 'API_KEY'), 'second\n');
    expect(await secrets.get('API_KEY')).toBe('first');
    now += FILE_SECRET_TTL_MS;
    expect(await secrets.get('API_KEY')).toBe('second');
    expect(await secrets.get('MISSING')).toBeUndefined();
    expect(await secrets.get('../etc/passwd')).toBeUndefined();
  });

  it('splits comma-separated values for rotation', () => {
    expect(splitSecretValues(' new , old ,')).toEqual(['new', 'old']);
    expect(splitSecretValues(undefined)).toEqual([]);
  });
});
