import request from 'supertest';
import type { Harness } from '../api/harness';
import { ADMIN_TOKEN, startWebhookApi } from './harness';
import { githubEvent } from './signers';

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/** Every events:read caller sees a stored event's headers: no credential may be among them. */
describe('stored webhook headers', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startWebhookApi('wh-stored-headers');
  });
  afterAll(async () => {
    await h.close();
  });

  it('credential headers are not stored; the signature header is (docs/webhooks.md#stored-headers)', async () => {
    const signed = githubEvent({ delivery: 'gh-creds' });
    const credentials = {
      'x-api-key': 'key-live-123',
      'x-gitlab-token': 'glpat-secret',
      'cf-access-client-secret': 'cf-secret',
      'x-auth-token': 'tok',
      cookie: 'session=1',
    };
    const req = request(h.server).post('/hooks/github');
    for (const [k, v] of Object.entries({ ...signed.headers, ...credentials, 'idempotency-key': 'idem-1' })) req.set(k, v);
    const { id } = (await req.send(signed.body).expect(200)).body as { id: string };

    const { headers } = (await request(h.server).get(`/v1/events/${id}`).set(admin).expect(200)).body as { headers: Record<string, string> };
    for (const name of Object.keys(credentials)) expect(headers[name]).toBeUndefined();
    expect(headers['x-hub-signature-256']).toBe(signed.headers['x-hub-signature-256']);
    expect(headers['x-github-delivery']).toBe('gh-creds');
    expect(headers['idempotency-key']).toBe('idem-1');
  });
});
