import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { StubRequest } from '../helpers/stub-server';
import { parseBody } from './form';

/**
 * One upstream exchange as recorded: enough of the request to recognise it
 * again, and the answer to give back. Credentials are never recorded.
 */
export interface RecordedInteraction {
  request: {
    method: string;
    path: string;
    query: Record<string, string>;
    /** Only the headers that are part of the wire contract (versions; whether an idempotency key was sent). */
    headers: Record<string, string>;
    body?: unknown;
  };
  response: {
    status: number;
    headers: Record<string, string>;
    body: unknown;
  };
}

export interface RecordedFixture {
  tool: string;
  /** Where it was recorded: `stub` (the kit's own stub) or the upstream's origin. */
  recordedFrom: string;
  recordedAt: string;
  input: unknown;
  output: unknown;
  interactions: RecordedInteraction[];
}

/** Request headers that must match on replay: a tool that changes its API version or stops sending its idempotency key fails. */
const CONTRACT_HEADERS = ['stripe-version', 'x-github-api-version'];
/** Response headers worth keeping: pagination, request ids, rate limits, replays. */
const KEPT_RESPONSE_HEADERS =
  /^(content-type|link|request-id|x-request-id|x-github-request-id|idempotent-replayed|retry-after|x-ratelimit-.*|ratelimit.*|x-shopify-.*-call-limit|stripe-version)$/i;
/** Secret-looking values scrubbed from recorded bodies, whatever the field. */
const SECRET_PATTERNS = [/\b(sk|rk)_(live|test)_[A-Za-z0-9]+/g, /\bgh[pousr]_[A-Za-z0-9]{20,}/g, /\bshp(at|ca|pa|ss)_[A-Fa-f0-9]{20,}/g, /\bpat-[a-z0-9]{2,4}-[a-f0-9-]{20,}/g];

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function contractHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of CONTRACT_HEADERS) {
    const v = header(headers, name);
    if (v !== undefined) out[name] = v;
  }
  if (header(headers, 'idempotency-key') !== undefined) out['idempotency-key'] = '<present>';
  return out;
}

function scrub<T>(value: T): T {
  let text = JSON.stringify(value);
  if (text === undefined) return value;
  for (const pattern of SECRET_PATTERNS) text = text.replace(pattern, '[redacted]');
  return JSON.parse(text) as T;
}

/** Whether a request is the one an interaction recorded. */
export function matchInteraction(interaction: RecordedInteraction, req: StubRequest): boolean {
  const rec = interaction.request;
  if (rec.method !== req.method || rec.path !== req.path) return false;
  if (!isDeepStrictEqual(rec.query, Object.fromEntries(req.query))) return false;
  if (!isDeepStrictEqual(rec.headers, contractHeaders(req.headers))) return false;
  return isDeepStrictEqual(rec.body, scrub(parseBody(req.body, header(req.headers, 'content-type'))));
}

/**
 * Records a tool's real traffic once: a local proxy in front of the upstream
 * (a sandbox account, or the kit's stub) that forwards every request as is and
 * keeps each exchange, without credentials. Point the integration's `baseUrl`
 * at `proxy.url`, run the tool, then `save()` the fixture.
 */
export class RecordingProxy {
  readonly interactions: RecordedInteraction[] = [];
  url = '';
  private server: Server | undefined;

  private constructor(private readonly target: string) {}

  static async start(target: string): Promise<RecordingProxy> {
    const proxy = new RecordingProxy(target.replace(/\/$/, ''));
    proxy.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const url = new URL(req.url ?? '/', 'http://proxy.invalid');
          const headers = new Headers();
          for (const [k, v] of Object.entries(req.headers)) {
            if (v !== undefined && !['host', 'connection', 'content-length'].includes(k)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          try {
            const upstream = await fetch(`${proxy.target}${url.pathname}${url.search}`, {
              method: req.method ?? 'GET',
              headers,
              ...(body && req.method !== 'GET' ? { body } : {}),
            });
            const text = await upstream.text();
            const kept: Record<string, string> = {};
            upstream.headers.forEach((v, k) => {
              if (KEPT_RESPONSE_HEADERS.test(k)) kept[k] = v;
            });
            let parsed: unknown = text;
            try {
              parsed = text === '' ? '' : JSON.parse(text);
            } catch {
              // Not JSON: kept as text.
            }
            proxy.interactions.push({
              request: {
                method: req.method ?? 'GET',
                path: url.pathname,
                query: Object.fromEntries(url.searchParams),
                headers: contractHeaders(req.headers),
                ...(body ? { body: scrub(parseBody(body, header(req.headers, 'content-type'))) } : {}),
              },
              // Links name the recording's host; replays rewrite nothing, tools follow only their query.
              response: { status: upstream.status, headers: kept, body: scrub(parsed) },
            });
            // fetch has already decoded the body: its encoding and length headers no longer apply.
            const forwarded = Object.fromEntries([...upstream.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k)));
            res.writeHead(upstream.status, forwarded);
            res.end(text);
          } catch (err) {
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`recording proxy: ${(err as Error).message}`);
          }
        })();
      });
    });
    await new Promise<void>((resolve) => proxy.server!.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** Writes the fixture (pretty JSON, so a diff of a re-recording reads well). */
  save(file: string, meta: Omit<RecordedFixture, 'interactions' | 'recordedAt'>): RecordedFixture {
    const fixture = scrub<RecordedFixture>({ ...meta, recordedAt: new Date().toISOString(), interactions: this.interactions });
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
    return fixture;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export function loadFixture(file: string): RecordedFixture | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RecordedFixture) : undefined;
}
