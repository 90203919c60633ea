import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, SettingsError } from '../../apps/api/src/config';

/** The API's environment reader (apps/api/src/config.ts): HOST, the listening address. */

const dir = mkdtempSync(join(tmpdir(), 'api-settings-'));
const configPath = join(dir, 'broker.json');
writeFileSync(configPath, JSON.stringify({ mcp: { allowedOrigins: ['https://app.example.com'] } }));

describe('api settings', () => {
  it('listens on 0.0.0.0 unless HOST says otherwise', () => {
    expect(loadSettings({ BROKER_CONFIG: configPath }).host).toBe('0.0.0.0');
    expect(loadSettings({ BROKER_CONFIG: configPath, HOST: '' }).host).toBe('0.0.0.0');
    expect(loadSettings({ BROKER_CONFIG: configPath, HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
    expect(loadSettings({ BROKER_CONFIG: configPath, HOST: '::1' }).host).toBe('::1');
  });

  it('refuses a HOST that is no address', () => {
    expect(() => loadSettings({ BROKER_CONFIG: configPath, HOST: 'two words' })).toThrow(SettingsError);
  });

  it('reads mcp.allowedOrigins from the config file and refuses a non-origin there', () => {
    expect(loadSettings({ BROKER_CONFIG: configPath }).config.mcp?.allowedOrigins).toEqual(['https://app.example.com']);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ mcp: { allowedOrigins: ['https://app.example.com/path'] } }));
    expect(() => loadSettings({ BROKER_CONFIG: bad })).toThrow(/mcp\.allowedOrigins/);
  });
});
