import { join } from 'node:path';
import { builtinIntegrationConfig, KIT_SECRETS, loadFixture, RecordingProxy, runTool, type RecordedFixture } from '../kit';
import { SCENARIOS, STUBS, type Scenario } from './recorded-scenarios';

/**
 * Recorded-response tests: each built-in tool's traffic is recorded once
 * (RECORD=1, or when its fixture is missing) into
 * test/fixtures/recorded/<tool>.json, and replayed in CI through the
 * integration's stub in strict mode — a tool whose requests drift (path,
 * query, body, version header, idempotency key) finds no recording and fails.
 *
 * Recording goes through RecordingProxy to the kit's stub, or to a real
 * sandbox when RECORD_<INTEGRATION>_URL is set (its secret in the usual env
 * name, e.g. STRIPE_SECRET_KEY); seeds then have to exist in that sandbox.
 */
const DIR = join(__dirname, '../fixtures/recorded');
const file = (tool: string) => join(DIR, `${tool}.json`);

function integrationConfig(s: Scenario, baseUrl: string) {
  return { integrations: { [s.integration]: builtinIntegrationConfig(s.integration, baseUrl) } };
}

async function record(s: Scenario): Promise<RecordedFixture> {
  const realTarget = process.env[`RECORD_${s.integration.toUpperCase()}_URL`];
  const stub = realTarget ? undefined : await STUBS[s.integration]();
  if (stub) s.seed?.(stub);
  const proxy = await RecordingProxy.start(realTarget ?? stub!.url);
  try {
    const secrets = realTarget ? Object.fromEntries(Object.keys(KIT_SECRETS).flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))) : {};
    const output = await runTool({ config: integrationConfig(s, proxy.url), tool: s.tool, input: s.input, secrets });
    return proxy.save(file(s.tool), { tool: s.tool, recordedFrom: realTarget ? new URL(realTarget).origin : 'stub', input: s.input, output });
  } finally {
    await proxy.close();
    await stub?.close();
  }
}

describe.each(SCENARIOS)('$tool, replayed from its recording', (scenario) => {
  let fixture: RecordedFixture;
  beforeAll(async () => {
    const existing = process.env.RECORD === '1' ? undefined : loadFixture(file(scenario.tool));
    fixture = existing ?? (await record(scenario));
  });

  it('sends exactly the recorded requests and returns the recorded output', async () => {
    const stub = await STUBS[scenario.integration]();
    try {
      stub.replay(fixture);
      const output = await runTool({ config: integrationConfig(scenario, stub.url), tool: scenario.tool, input: fixture.input });
      expect(stub.replayMismatches.map((r) => `${r.method} ${r.path}?${r.query.toString()} ${r.body}`)).toEqual([]);
      expect(stub.replayUnused).toEqual([]);
      expect(output).toEqual(fixture.output);
    } finally {
      await stub.close();
    }
  });
});
