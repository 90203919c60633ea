import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** ms since epoch when the request arrived (for sliding-window checks). */
  at: number;
}

/** What a stub answers; `delayMs` holds the answer, `hang` never answers, `destroy` drops the socket. */
export interface StubReply {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sent as is, e.g. malformed JSON. */
  raw?: string;
  delayMs?: number;
  hang?: boolean;
  destroy?: boolean;
}

export type StubHandler = (req: StubRequest, index: number) => StubReply | Promise<StubReply>;

/**
 * A real HTTP server on port 0 that plays an external API: it records every
 * request and answers from a handler that can inject 429/5xx, delays, hangs
 * and dropped connections.
 */
export class StubServer {
  readonly requests: StubRequest[] = [];
  private server: Server;
  private handler: StubHandler;
  private readonly open = new Set<ServerResponse>();
  url = '';

  constructor(handler: StubHandler = () => ({ status: 200, body: {} })) {
    this.handler = handler;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(handler?: StubHandler): Promise<StubServer> {
    const stub = new StubServer(handler);
    await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
    stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
    return stub;
  }

  setHandler(handler: StubHandler): void {
    this.handler = handler;
  }

  count(filter?: (r: StubRequest) => boolean): number {
    return filter ? this.requests.filter(filter).length : this.requests.length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://stub');
    const record: StubRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      at,
    };
    const index = this.requests.push(record) - 1;
    const reply = await this.handler(record, index);
    if (reply.destroy) {
      req.socket.destroy();
      return;
    }
    if (reply.hang) {
      this.open.add(res);
      return;
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const payload = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
    res.end(payload);
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
