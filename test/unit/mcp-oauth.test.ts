import fc from 'fast-check';
import { parseConfig } from '@broker/shared/config/load';
import { globCovers, intersectScopes, scopeClaim } from '../../apps/api/src/auth/scope-intersection';
import { compileToolScopes } from '../../apps/api/src/auth/scopes';
import { metadataUrls } from '../../apps/api/src/auth/issuer-keys';

/**
 * The pure parts of `/mcp`'s OAuth resource server: how a token's scopes narrow
 * an agent's, where an issuer's metadata is looked for, and the config rules.
 * (test/api/mcp-oauth.test.ts runs the whole thing against a real issuer.)
 */

describe('intersectScopes', () => {
  it.each([
    // agent, token, result
    [['tools:*'], ['tools:crm.*'], ['tools:crm.*']],
    [['tools:demo.*'], ['tools:*'], ['tools:demo.*']],
    [['tools:demo.*'], ['tools:demo.get*'], ['tools:demo.get*']],
    [['tools:demo.*'], ['tools:crm.*'], []],
    [['tools:demo.getContact'], ['tools:demo.*', 'tools:*'], ['tools:demo.getContact']],
    [['tools:*'], ['tools:crm.*', 'tools:demo.getContact'], ['tools:crm.*', 'tools:demo.getContact']],
    [['tools:*', 'events:read', 'jobs:approve'], ['events:read', 'openid', 'profile'], ['events:read']],
    [['tools:*'], [], []],
    // Overlapping without either covering the other: the pair grants nothing.
    [['tools:crm.*'], ['tools:*.getContact'], []],
    // Duplicates collapse; the agent's order is kept.
    [
      ['tools:b.*', 'tools:a.*'],
      ['tools:*', 'tools:a.*'],
      ['tools:b.*', 'tools:a.*'],
    ],
  ])('%j ∩ %j = %j', (agent, token, expected) => {
    expect(intersectScopes(agent, token)).toEqual(expected);
  });

  // Globs over a small alphabet, so that random names often hit them.
  const glob = fc.array(fc.constantFrom('a', 'b', '.', '*'), { minLength: 1, maxLength: 5 }).map((cs) => cs.join(''));
  const name = fc.array(fc.constantFrom('a', 'b', '.'), { maxLength: 6 }).map((cs) => cs.join(''));

  it('never grants a tool that the agent or the token alone would refuse', () => {
    fc.assert(
      fc.property(fc.array(glob, { maxLength: 3 }), fc.array(glob, { maxLength: 3 }), fc.array(name, { maxLength: 20 }), (agent, token, names) => {
        const agentScopes = agent.map((g) => `tools:${g}`);
        const tokenScopes = token.map((g) => `tools:${g}`);
        const both = compileToolScopes(intersectScopes(agentScopes, tokenScopes));
        const byAgent = compileToolScopes(agentScopes);
        const byToken = compileToolScopes(tokenScopes);
        for (const tool of names) if (both(tool)) expect(byAgent(tool) && byToken(tool)).toBe(true);
      }),
    );
  });

  it('is exact when one glob of each pair covers the other', () => {
    fc.assert(
      fc.property(glob, glob, fc.array(name, { maxLength: 20 }), (a, t, names) => {
        fc.pre(globCovers(a, t) || globCovers(t, a));
        const both = compileToolScopes(intersectScopes([`tools:${a}`], [`tools:${t}`]));
        const byAgent = compileToolScopes([`tools:${a}`]);
        const byToken = compileToolScopes([`tools:${t}`]);
        for (const tool of names) expect(both(tool)).toBe(byAgent(tool) && byToken(tool));
      }),
    );
  });
});

describe('globCovers', () => {
  it('decides whether every name of the inner glob matches the outer', () => {
    expect(globCovers('*', 'crm.*')).toBe(true);
    expect(globCovers('crm.*', 'crm.get*')).toBe(true);
    expect(globCovers('crm.get*', 'crm.*')).toBe(false);
    expect(globCovers('a*', '*a')).toBe(false);
    expect(globCovers('*.getContact', 'crm.getContact')).toBe(true);
    expect(globCovers('crm.getContact', 'crm.getContact')).toBe(true);
    // `.` is literal, not a regular-expression wildcard.
    expect(globCovers('crm.x', 'crmax')).toBe(false);
  });

  it('agrees with the names each glob matches', () => {
    const glob = fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));
    const name = fc.array(fc.constantFrom('a', 'b'), { maxLength: 6 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(glob, glob, fc.array(name, { maxLength: 30 }), (outer, inner, names) => {
        if (!globCovers(outer, inner)) return;
        const matchesOuter = compileToolScopes([`tools:${outer}`]);
        const matchesInner = compileToolScopes([`tools:${inner}`]);
        for (const n of names) if (matchesInner(n)) expect(matchesOuter(n)).toBe(true);
      }),
    );
  });
});

describe('scopeClaim', () => {
  it('splits a space-separated string and holds nothing otherwise', () => {
    expect(scopeClaim('openid  tools:crm.* events:read')).toEqual(['openid', 'tools:crm.*', 'events:read']);
    expect(scopeClaim(['tools:*'])).toEqual([]);
    expect(scopeClaim(undefined)).toEqual([]);
  });
});

describe('metadataUrls', () => {
  it('tries RFC 8414, then OpenID discovery, inserted (and appended for an issuer with a path)', () => {
    expect(metadataUrls('https://login.example.com')).toEqual([
      'https://login.example.com/.well-known/oauth-authorization-server',
      'https://login.example.com/.well-known/openid-configuration',
    ]);
    expect(metadataUrls('https://login.example.com/realms/acme/')).toEqual([
      'https://login.example.com/.well-known/oauth-authorization-server/realms/acme',
      'https://login.example.com/.well-known/openid-configuration/realms/acme',
      'https://login.example.com/realms/acme/.well-known/openid-configuration',
    ]);
  });
});

describe('mcp.authorizationServer config', () => {
  const withMcp = (mcp: unknown) => () => parseConfig({ mcp });

  it('takes an https issuer, or http on a loopback host, with an optional audience and agentClaim', () => {
    expect(parseConfig({ mcp: { authorizationServer: { issuer: 'https://login.example.com/tenant' } } }).mcp?.authorizationServer).toEqual({
      issuer: 'https://login.example.com/tenant',
    });
    const config = parseConfig({ mcp: { authorizationServer: { issuer: 'http://127.0.0.1:9000', audience: 'urn:broker' }, agentClaim: 'client_id' } });
    expect(config.mcp).toMatchObject({ allowedOrigins: [], authorizationServer: { audience: 'urn:broker' }, agentClaim: 'client_id' });
    expect(withMcp({ authorizationServer: { issuer: 'http://localhost:8080/realms/x' } })).not.toThrow();
  });

  it('refuses plain http off loopback, queries, fragments, unknown fields and a lone agentClaim', () => {
    expect(withMcp({ authorizationServer: { issuer: 'http://login.example.com' } })).toThrow(/mcp\.authorizationServer\.issuer.*https/s);
    expect(withMcp({ authorizationServer: { issuer: 'https://login.example.com/?tenant=1' } })).toThrow(/issuer/);
    expect(withMcp({ authorizationServer: { issuer: 'https://login.example.com/#x' } })).toThrow(/issuer/);
    expect(withMcp({ authorizationServer: { issuer: 'https://login.example.com', jwks: 'x' } })).toThrow(/jwks/);
    expect(withMcp({ agentClaim: 'client_id' })).toThrow(/agentClaim needs authorizationServer/);
  });
});
