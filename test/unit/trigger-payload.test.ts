import { MAX_PAYLOAD_DEPTH, payloadOf } from '@broker/worker';

type StoredEvent = Parameters<typeof payloadOf>[0];

describe('trigger payload', () => {
  const event = (body: string) => ({ body, bodyEncoding: 'utf8' }) as unknown as StoredEvent;

  it('is the parsed body when it is JSON, else the text', () => {
    expect(payloadOf(event('{"a":1}'))).toEqual({ a: 1 });
    expect(payloadOf(event('a=1&b=2'))).toBe('a=1&b=2');
  });

  it('falls back to the text for a body too deep to serialise again', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const payload = payloadOf(event(deep));
    expect(payload).toBe(deep);
    expect(() => JSON.stringify({ payload })).not.toThrow();
    const fine = '['.repeat(MAX_PAYLOAD_DEPTH - 1) + ']'.repeat(MAX_PAYLOAD_DEPTH - 1);
    expect(typeof payloadOf(event(fine))).toBe('object');
  });
});
