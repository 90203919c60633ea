import { randomBytes } from 'node:crypto';
import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';
import { matchInteraction, type RecordedFixture, type RecordedInteraction } from './recording';

/**
 * A failure to play instead of the integration's answer:
 * - a status (429, 500, 503…), answered in the integration's own error shape;
 * - `timeout`: the request is never answered (the broker's timeout fires);
 * - `reset`: the connection is dropped without an answer;
 * - `timeout-after-commit` / `reset-after-commit`: the request takes effect
 *   first (the object is created, the idempotency key stored), then the answer
 *   is lost — the case idempotency keys exist for;
 * - `{ delayMs }` alone: the real answer, that much later (a slow upstream);
 * - any other raw reply (status, headers, body, delay) instead of the answer.
 */
export type Fault = number | 'timeout' | 'reset' | 'timeout-after-commit' | 'reset-after-commit' | StubReply;

export interface FaultOptions {
  /** How many matching requests get the fault. @defaultValue 1 */
  times?: number;
  /** Which requests; @defaultValue every request */
  match?: (req: StubRequest) => boolean;
  /** Extra headers on a status fault, e.g. `{ 'retry-after': '2' }`. */
  headers?: Record<string, string>;
}

interface ArmedFault {
  fault: Fault;
  left: number;
  match: (req: StubRequest) => boolean;
  headers: Record<string, string>;
}

/** Where replies of a recording are served from, and what did not match. */
interface Replay {
  unused: RecordedInteraction[];
  strict: boolean;
  mismatches: StubRequest[];
}

export const randomId = (prefix: string, bytes = 12) =>
  `${prefix}${randomBytes(bytes)
    .toString('hex')
    .slice(0, bytes * 2)}`;

/**
 * The common part of every integration stub: a real HTTP server on port 0
 * (it records every request), armed faults, and replay of recorded
 * interactions. Subclasses speak one integration's wire format.
 */
export abstract class KitStub {
  private server!: StubServer;
  private readonly faults: ArmedFault[] = [];
  private replaying: Replay | undefined;

  /** Starts the stub on 127.0.0.1, on a free port. */
  protected static async listen<T extends KitStub>(stub: T): Promise<T> {
    stub.server = await StubServer.start((req) => stub.handle(req));
    return stub;
  }

  get url(): string {
    return this.server.url;
  }

  /** Every request received, in order (faulted ones included). */
  get requests(): readonly StubRequest[] {
    return this.server.requests;
  }

  count(filter?: (r: StubRequest) => boolean): number {
    return this.server.count(filter);
  }

  /** Arms a fault for the next matching request(s). */
  inject(fault: Fault, options: FaultOptions = {}): this {
    this.faults.push({ fault, left: options.times ?? 1, match: options.match ?? (() => true), headers: options.headers ?? {} });
    return this;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /**
   * Answers requests from a recording: each recorded interaction once, to the
   * request that matches it (method, path, query, body, version headers).
   * Strict (the default): a request no recording matches is answered 500 and
   * kept in `replayMismatches`, so a tool whose wire format drifted fails.
   */
  replay(fixture: RecordedFixture, options: { strict?: boolean } = {}): void {
    this.replaying = { unused: [...fixture.interactions], strict: options.strict ?? true, mismatches: [] };
  }

  /** Recorded interactions no request has used yet. */
  get replayUnused(): readonly RecordedInteraction[] {
    return this.replaying?.unused ?? [];
  }

  get replayMismatches(): readonly StubRequest[] {
    return this.replaying?.mismatches ?? [];
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** The integration's error body for a status (its own JSON shape). */
  protected abstract errorReply(status: number, message: string): StubReply;

  /** Checks credentials the integration's way; a reply refuses the request. */
  protected abstract authorize(req: StubRequest): StubReply | undefined;

  /** The integration's behaviour. */
  protected abstract route(req: StubRequest): StubReply | Promise<StubReply>;

  private takeFault(req: StubRequest): ArmedFault | undefined {
    const armed = this.faults.find((f) => f.left > 0 && f.match(req));
    if (armed) armed.left -= 1;
    return armed;
  }

  private async handle(req: StubRequest): Promise<StubReply> {
    const armed = this.takeFault(req);
    if (armed) {
      const { fault } = armed;
      if (typeof fault === 'number') {
        const reply = this.errorReply(fault, fault === 429 ? 'rate limited (injected)' : `injected ${fault}`);
        return { ...reply, headers: { ...reply.headers, ...armed.headers } };
      }
      if (fault === 'timeout') return { hang: true };
      if (fault === 'reset') return { destroy: true };
      if (fault === 'timeout-after-commit' || fault === 'reset-after-commit') {
        await this.answer(req);
        return fault === 'timeout-after-commit' ? { hang: true } : { destroy: true };
      }
      if (Object.keys(fault).length === 1 && fault.delayMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        return this.answer(req);
      }
      return fault;
    }
    return this.answer(req);
  }

  private async answer(req: StubRequest): Promise<StubReply> {
    const refused = this.authorize(req);
    if (refused) return refused;
    if (this.replaying) {
      const i = this.replaying.unused.findIndex((interaction) => matchInteraction(interaction, req));
      if (i >= 0) {
        const [interaction] = this.replaying.unused.splice(i, 1);
        const { status, headers, body } = interaction!.response;
        return { status, headers, ...(typeof body === 'string' ? { raw: body } : { body }) };
      }
      if (this.replaying.strict) {
        this.replaying.mismatches.push(req);
        return this.errorReply(500, `no recorded interaction matches ${req.method} ${req.path}`);
      }
    }
    return this.route(req);
  }
}
