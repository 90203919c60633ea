import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Harness } from '../api/harness';
import { onceWithin } from '../helpers/wait-for';
import { startWebhookApi, webhookConfig } from './harness';
import { githubEvent, stripeEvent } from './signers';

/** A raw request to the api: the test decides when each byte of the body goes out. */
function openPost(h: Harness, path: string, headers: Record<string, string | number>): ClientRequest {
  const { port } = h.server.address() as AddressInfo;
  const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers });
  // The api closes the connection after its 413: writes after that fail, which is the point.
  req.on('error', () => undefined);
  return req;
}

async function readAnswer(res: IncomingMessage): Promise<{ status: number; headers: IncomingMessage['headers']; body: Record<string, unknown> }> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> };
}

/*
 * A body over the source's limit is answered 413 while the client is still
 * sending, never after reading the rest (body-parser's default), which for a
 * 2 GB declared length or an endless chunked body means Node's 300 s
 * requestTimeout and a 408.
 */
describe('webhook body limits', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startWebhookApi('wh-body-limits');
  });
  afterAll(async () => {
    await h.close();
  });

  it('a declared Content-Length over the limit: 413 problem+json at once, Connection: close, the socket closed', async () => {
    const signed = githubEvent({ delivery: 'huge-declared' });
    const req = openPost(h, '/hooks/small', { ...signed.headers, 'content-length': 2_000_000_000 });
    const answered = onceWithin<IncomingMessage>(req, 'response', 3000);
    req.write(signed.body); // a few bytes of the two billion declared, and never the rest
    const res = await answered;
    const closed = onceWithin(req.socket!, 'close', 3000);
    const answer = await readAnswer(res);
    expect(answer.status).toBe(413);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.headers.connection).toBe('close');
    expect(answer.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await closed;
  });

  it('an endless chunked body: 413 once the limit is passed, and the api stops reading', async () => {
    const signed = githubEvent({ delivery: 'endless-chunked' });
    const { 'content-length': _, ...headers } = signed.headers as Record<string, string>;
    const req = openPost(h, '/hooks/small', { ...headers, 'transfer-encoding': 'chunked' });
    const answered = onceWithin<IncomingMessage>(req, 'response', 3000);
    let response: IncomingMessage | undefined;
    void answered.then((r) => (response = r)).catch(() => undefined);
    // 64 bytes a turn until the api answers (the limit of "small" is 256), capped so a broken api cannot make this loop forever.
    let sent = 0;
    const pump = () => {
      if (response || req.destroyed || sent >= 1024 * 1024) return;
      sent += 64;
      req.write(Buffer.alloc(64, 'x'), () => setImmediate(pump));
    };
    pump();
    const res = await answered;
    const closed = onceWithin(req.socket!, 'close', 3000);
    const answer = await readAnswer(res);
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
    expect(answer.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await closed;
    expect(sent).toBeLessThan(1024 * 1024);
  });
});

/*
 * durability "replicated": the answer's 2 s Redis budget starts once the body
 * is in. Against the test Redis, which has no replica, the WAIT finds none
 * and the answer is a 503 either way; what tells the two apart is whether the
 * WAIT (and the fence key written with it) was sent at all. Before the fix, a
 * 2 s upload left no budget: 503 without a WAIT, on every retry.
 */
describe('webhook bodies under durability "replicated"', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startWebhookApi('wh-slow-upload', { config: webhookConfig(undefined, { durability: 'replicated' }) });
  });
  afterAll(async () => {
    await h.close();
  });

  it('a slow upload (2 s) still gets its WAIT for a replica', async () => {
    const signed = stripeEvent({ id: 'evt_slow_upload' });
    const body = Buffer.from(signed.body);
    const req = openPost(h, '/hooks/stripe', { ...signed.headers, 'content-length': body.length });
    const answered = onceWithin<IncomingMessage>(req, 'response', 10_000);
    req.write(body.subarray(0, 10));
    // The upload's pacing, the input under test: the rest of the body 2.1 s later, past the 1.8 s budget.
    const rest = setTimeout(() => req.end(body.subarray(10)), 2100);
    try {
      const answer = await readAnswer(await answered);
      expect(answer.status).toBe(503); // no replica here
      expect(await h.redis.keys(`${h.prefix}*replica-fence`)).toHaveLength(1);
    } finally {
      clearTimeout(rest);
    }
  });
});
