import { deliveryIdFor, eventTypeMatches, matchTriggers, newReplayDeliveryId } from '@broker/shared/webhooks/routing';
import { parseConfig } from '@broker/shared/config/load';
import { entityOf, sessionKeyFor, triggerBackoffMs } from '@broker/worker';

describe('route event patterns', () => {
  it.each([
    ['payment_intent.succeeded', 'payment_intent.succeeded', true],
    ['payment_intent.succeeded', 'payment_intent.failed', false],
    ['*', 'anything.at.all', true],
    ['customer.*', 'customer.created', true],
    ['customer.*', 'customer.subscription.updated', true],
    ['customer.*', 'customer', false],
    ['customer.*', 'customers.created', false],
    ['orders/*', 'orders/create', true],
  ])('%s matches %s: %s', (pattern, type, expected) => {
    expect(eventTypeMatches(pattern, type)).toBe(expected);
  });

  it('fires each trigger once, in config order, for its source only', () => {
    const routes = [
      { source: 's', event: 'a.*', trigger: 't1' },
      { source: 'other', event: '*', trigger: 't0' },
      { source: 's', event: '*', trigger: 't2' },
      { source: 's', event: 'a.b', trigger: 't1' },
    ];
    expect(matchTriggers(routes, 's', 'a.b')).toEqual(['t1', 't2']);
    expect(matchTriggers(routes, 's', 'x')).toEqual(['t2']);
  });

  it('config: a "*" anywhere but at the end is refused, as is openclaw without its token', () => {
    const base = {
      webhooks: { s: { type: 'github', secret: 'S' } },
      triggerDelivery: { url: 'http://127.0.0.1:1/x', secret: 'T' },
    };
    expect(() => parseConfig({ ...base, routes: [{ source: 's', event: '*.created', trigger: 't' }] })).toThrow(/routes\.0\.event|routes\/0\/event|event/);
    expect(() => parseConfig({ ...base, triggerDelivery: { ...base.triggerDelivery, format: 'openclaw' } })).toThrow(/openclaw/);
    const ok = parseConfig({ ...base, routes: [{ source: 's', event: 'issues.*', trigger: 't' }] });
    expect(ok.triggerDelivery?.retry).toEqual({ attempts: 10, baseDelayMs: 1000, maxDelayMs: 600_000 });
  });
});

describe('delivery ids', () => {
  it('are derived from source, event id, trigger and the acceptance', () => {
    const a = deliveryIdFor('stripe', 'evt_1', 't', '2026-01-01T00:00:00.000Z');
    expect(a).toMatch(/^dlv_[0-9a-f]{32}$/);
    expect(deliveryIdFor('stripe', 'evt_1', 't', '2026-01-01T00:00:00.000Z')).toBe(a);
    expect(deliveryIdFor('stripe', 'evt_1', 't2', '2026-01-01T00:00:00.000Z')).not.toBe(a);
    expect(deliveryIdFor('github', 'evt_1', 't', '2026-01-01T00:00:00.000Z')).not.toBe(a);
    expect(deliveryIdFor('stripe', 'evt_1', 't', '2026-01-08T00:00:00.000Z')).not.toBe(a);
    expect(newReplayDeliveryId()).not.toBe(newReplayDeliveryId());
  });
});

describe('trigger backoff', () => {
  const defaults = { baseDelayMs: 1000, maxDelayMs: 600_000 };
  it('retries the first time within 5 s with the defaults, never at once', () => {
    expect(triggerBackoffMs(1, defaults, () => 0)).toBe(500);
    expect(triggerBackoffMs(1, defaults, () => 0.9999)).toBeLessThanOrEqual(1000);
  });
  it('doubles, then stops at maxDelayMs', () => {
    expect(triggerBackoffMs(4, defaults, () => 1)).toBe(8000);
    expect(triggerBackoffMs(30, defaults, () => 1)).toBe(600_000);
  });
});

describe('OpenClaw session entities', () => {
  it('picks the object each provider is about', () => {
    expect(entityOf('stripe', 'charge.refunded', { data: { object: { id: 'ch_1' } } })).toBe('ch_1');
    expect(entityOf('github', 'pull_request.closed', { pull_request: { number: 3 }, repository: { full_name: 'o/r' } })).toBe('o/r#3');
    expect(entityOf('github', 'push', { repository: { full_name: 'o/r' } })).toBe('o/r');
    expect(entityOf('shopify', 'orders/create', { id: 42 })).toBe('orders/42');
    expect(entityOf('standard', 'x', { data: { id: 'inv_1' } })).toBe('inv_1');
    expect(entityOf('standard', 'x', 'not json')).toBeUndefined();
    expect(sessionKeyFor('acme', 'a b\n"c"')).toBe('hook:acme:a_b__c_');
  });
});
