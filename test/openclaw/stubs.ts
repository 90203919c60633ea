import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StubServer, type StubRequest } from '../helpers/stub-server';

/**
 * An OpenAI-compatible model server (`/v1/chat/completions`, streamed or not)
 * that answers every turn with the same short text and no tool call, so an
 * agent run is one model request. It keeps every request: a request whose
 * prompt quotes an event is proof that OpenClaw ran the agent on it.
 */
export async function startModelStub(reply = 'Noted.'): Promise<StubServer & { prompts(marker: string): StubRequest[] }> {
  const stub = await StubServer.start((req) => {
    if (req.path === '/v1/models')
      return {
        body: {
          object: 'list',
          data: [{ id: 'stub-model', object: 'model', owned_by: 'stub' }],
        },
      };
    if (req.method !== 'POST' || req.path !== '/v1/chat/completions') return { status: 404, body: { error: { message: 'not here' } } };
    const { model, stream } = JSON.parse(req.body) as {
      model: string;
      stream?: boolean;
    };
    const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    if (!stream) {
      return {
        body: {
          id: 'chatcmpl-stub',
          object: 'chat.completion',
          created: 0,
          model,
          usage,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: reply },
              finish_reason: 'stop',
            },
          ],
        },
      };
    }
    const chunk = (choice: object, extra: object = {}) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-stub', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, ...choice }], ...extra })}\n\n`;
    return {
      headers: { 'content-type': 'text/event-stream' },
      raw:
        chunk({
          delta: { role: 'assistant', content: reply },
          finish_reason: null,
        }) +
        chunk({ delta: {}, finish_reason: 'stop' }, { usage }) +
        'data: [DONE]\n\n',
    };
  });
  return Object.assign(stub, {
    prompts: (marker: string) => stub.requests.filter((r) => r.path === '/v1/chat/completions' && r.body.includes(marker)),
  });
}

/** One request the proxy passed on, and what the gateway answered to it. */
export interface Passed {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  answer: string;
  /** The answer never reached the sender: its connection was dropped instead. */
  lost: boolean;
  /** ms since epoch when OpenClaw's answer arrived. */
  answeredAt: number;
}

/**
 * A pass-through in front of the gateway that loses the first answer to each
 * `Idempotency-Key`: the request reaches OpenClaw and takes effect, then the
 * connection to the sender is dropped, as when a network or a load balancer
 * fails after the receiver acted. The sender cannot tell that from a request
 * that never arrived, so it must retry; later tries get their answer.
 */
export class LossyProxy {
  readonly passed: Passed[] = [];
  private readonly seen = new Set<string>();
  private server!: Server;
  url = '';

  /** Where requests go: set once the gateway is up (its port is known only then); until then port 1, where nothing listens. */
  private constructor(public target: string) {}

  static async start(target = 'http://127.0.0.1:1'): Promise<LossyProxy> {
    const proxy = new LossyProxy(target);
    proxy.server = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([name, value]) => typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)),
        ) as Record<string, string>;
        const upstream = await fetch(`${proxy.target}${req.url ?? '/'}`, {
          method: req.method ?? 'POST',
          headers,
          body,
        });
        const answer = await upstream.text();
        const key = req.headers['idempotency-key'];
        const lost = typeof key === 'string' && !proxy.seen.has(key);
        if (typeof key === 'string') proxy.seen.add(key);
        proxy.passed.push({
          headers: req.headers,
          body,
          status: upstream.status,
          answer,
          lost,
          answeredAt: Date.now(),
        });
        if (lost) {
          req.socket.destroy();
          return;
        }
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'application/json',
        });
        res.end(answer);
      })().catch(() => req.socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
