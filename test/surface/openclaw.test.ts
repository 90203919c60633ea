import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '@broker/shared/config/load';

/**
 * integrations/openclaw: the skill's front matter is what OpenClaw reads to
 * offer it (name, description, required env), and the example files parse —
 * the broker config one with the broker's own schema.
 */

const DIR = join(__dirname, '../../integrations/openclaw');
const read = (path: string) => readFileSync(join(DIR, path), 'utf8');

function frontMatter(markdown: string): Record<string, unknown> {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(markdown);
  if (!match) throw new Error('no YAML front matter');
  return parseYaml(match[1]!) as Record<string, unknown>;
}

describe('OpenClaw integration files', () => {
  it('has a skill whose front matter names it, describes it and requires the broker env vars', () => {
    const skill = read('skills/agent-request-broker/SKILL.md');
    const meta = frontMatter(skill);
    expect(meta.name).toBe('agent-request-broker');
    expect(typeof meta.description).toBe('string');
    expect((meta.description as string).length).toBeGreaterThan(40);
    // OpenClaw parses `metadata` as one line of JSON: keep it so.
    const metadataLine = /^metadata: (.*)$/m.exec(skill)?.[1];
    expect(JSON.parse(metadataLine!)).toEqual(meta.metadata);
    const openclaw = (meta.metadata as { openclaw: { requires: { env: string[] }; primaryEnv: string } }).openclaw;
    expect(openclaw.requires.env).toEqual(expect.arrayContaining(['BROKER_URL', 'BROKER_AGENT_KEY']));
    expect(openclaw.primaryEnv).toBe('BROKER_AGENT_KEY');
  });

  it('teaches listing, submitting, polling, idempotency, retrying a failed job and every error code', () => {
    const skill = read('skills/agent-request-broker/SKILL.md');
    for (const needle of ['/v1/tools', '/v1/jobs', 'waitMs', 'Idempotency-Key', 'retryAt', '/v1/jobs/job_…/retry', 'retry_job']) expect(skill).toContain(needle);
    // A retryable failure is retried as the job itself; resubmitting with its key only replays the failed job.
    expect(skill).not.toMatch(/submit again later[^\n]*same `Idempotency-Key`/);
    const codes = [
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'TOOL_NOT_FOUND',
      'VALIDATION_ERROR',
      'IDEMPOTENCY_KEY_REUSED',
      'UNAVAILABLE',
      'NOT_FOUND',
      'AUTHENTICATION_FAILED',
      'PERMISSION_DENIED',
      'RATE_LIMITED',
      'CONFLICT',
      'UPSTREAM_ERROR',
      'TIMEOUT',
      'CIRCUIT_OPEN',
      'SCHEMA_MISMATCH',
      'OUTCOME_UNKNOWN',
      'UNKNOWN',
    ];
    for (const code of codes) expect(skill).toContain(`\`${code}\``);
  });

  it('registers the broker /mcp as a Streamable HTTP MCP server with the agent key', () => {
    const example = JSON.parse(read('openclaw.mcp.example.json')) as { mcp: { servers: Record<string, { url: string; transport: string; headers: Record<string, string> }> } };
    const server = example.mcp.servers.broker!;
    expect(new URL(server.url).pathname).toBe('/mcp');
    expect(server.transport).toBe('streamable-http');
    expect(server.headers.Authorization).toBe('Bearer ${BROKER_AGENT_KEY}');
  });

  it('enables OpenClaw hooks at /hooks with a token', () => {
    const example = JSON.parse(read('openclaw.hooks.example.json')) as { hooks: Record<string, unknown> };
    expect(example.hooks).toMatchObject({ enabled: true, path: '/hooks', token: expect.any(String) });
  });

  it('ships a broker config for format "openclaw" that the broker accepts', () => {
    const config = parseConfig(JSON.parse(read('broker.config.openclaw.example.json')), 'broker.config.openclaw.example.json');
    expect(config.triggerDelivery).toMatchObject({ format: 'openclaw', openclaw: { token: 'OPENCLAW_HOOKS_TOKEN' } });
    expect(new URL(config.triggerDelivery!.url).pathname).toBe('/hooks/agent');
  });

  it('sends hook runs to `main`, the agent a stock gateway has, and the hooks example allows it', () => {
    const config = parseConfig(JSON.parse(read('broker.config.openclaw.example.json')), 'broker.config.openclaw.example.json');
    expect(config.triggerDelivery!.openclaw!.agentId).toBe('main');
    const hooks = (JSON.parse(read('openclaw.hooks.example.json')) as { hooks: { allowedAgentIds?: string[] } }).hooks;
    expect(hooks.allowedAgentIds ?? ['*']).toEqual(expect.arrayContaining([expect.stringMatching(/^(main|\*)$/)]));
    // The README shows the same agent as the file.
    expect(read('README.md')).not.toMatch(/"agentId": "hooks"/);
  });
});
