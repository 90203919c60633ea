import { StubServer, type StubReply, type StubRequest } from '../helpers/stub-server';

/** One call the upstream saw: its idempotency key, which worker sent it, when it came and when it was answered. */
export interface UpstreamCall {
  key: string;
  /** An order carries an Idempotency-Key; a note only its job id (`clientRef`). */
  kind: 'order' | 'note';
  worker: string;
  at: number;
  answeredAt?: number;
  outcome: 'created' | 'replayed' | 'refused';
}

export interface OrderUpstreamOptions {
  /** How long each answer is held after the effect is applied (a slow API). @defaultValue 0 */
  answerDelayMs?: number;
  /** While it returns a reply, the upstream is "down": it answers that and applies nothing. */
  down?: () => StubReply | undefined;
}

/**
 * An upstream that keeps orders the way Stripe keeps idempotent requests: the
 * first call with an `Idempotency-Key` creates the order (the effect), every
 * later call with that key gets the same order back. Notes (`POST /notes`)
 * have no key: every call makes one, found by the `clientRef` it carries. It records every call,
 * and who sent it (`X-Worker`, set per worker process through the config's
 * `apiVersion` header), so a test can tell the calls of a killed worker.
 */
export class OrderUpstream {
  readonly calls: UpstreamCall[] = [];
  /** Idempotency key → how many times its effect was applied (never more than once, if all is well). */
  readonly effects = new Map<string, number>();
  /** Lookups of notes by reference (`GET /notes?clientRef=`): who asked, when. */
  readonly lookups: { key: string; worker: string; at: number }[] = [];
  private readonly orders = new Map<string, { id: string; key: string }>();
  private readonly notes: { id: string; key: string }[] = [];
  private constructor(
    readonly stub: StubServer,
    private readonly options: OrderUpstreamOptions,
  ) {}

  static async start(options: OrderUpstreamOptions = {}): Promise<OrderUpstream> {
    let upstream: OrderUpstream | undefined;
    const stub = await StubServer.start((req) => upstream!.handle(req));
    upstream = new OrderUpstream(stub, options);
    return upstream;
  }

  get url(): string {
    return this.stub.url;
  }

  /** Calls sent but not yet answered, by worker. */
  inFlight(worker?: string): UpstreamCall[] {
    return this.calls.filter((c) => c.answeredAt === undefined && c.outcome !== 'refused' && (worker === undefined || c.worker === worker));
  }

  callsFor(key: string): UpstreamCall[] {
    return this.calls.filter((c) => c.key === key);
  }

  private async handle(req: StubRequest): Promise<StubReply> {
    if (req.method === 'GET' && req.path === '/notes') return this.findNotes(req);
    const unkeyed = req.method === 'POST' && req.path === '/notes';
    if (!unkeyed && (req.method !== 'POST' || req.path !== '/orders')) return { status: 404, body: { error: 'no such route' } };
    const call: UpstreamCall = {
      kind: unkeyed ? 'note' : 'order',
      // A note carries no Idempotency-Key, only the job id as its `clientRef` (so it can be found, not deduplicated).
      key: unkeyed ? String((JSON.parse(req.body || '{}') as { clientRef?: unknown }).clientRef ?? '') : String(req.headers['idempotency-key'] ?? ''),
      worker: String(req.headers['x-worker'] ?? '?'),
      at: req.at,
      outcome: 'created',
    };
    this.calls.push(call);
    const down = this.options.down?.();
    if (down) {
      call.outcome = 'refused';
      return down;
    }
    let order = unkeyed ? undefined : this.orders.get(call.key);
    if (unkeyed) {
      // No idempotency: every POST makes a note, as HubSpot or GitHub would.
      order = { id: `note_${this.notes.length + 1}`, key: call.key };
      this.notes.push(order);
      this.effects.set(call.key, (this.effects.get(call.key) ?? 0) + 1);
    } else if (order) {
      call.outcome = 'replayed';
    } else {
      order = { id: `ord_${this.orders.size + 1}`, key: call.key };
      this.orders.set(call.key, order);
      this.effects.set(call.key, (this.effects.get(call.key) ?? 0) + 1);
    }
    // The effect is applied before the answer is held: a worker that dies now never learns it.
    if (this.options.answerDelayMs) await new Promise((r) => setTimeout(r, this.options.answerDelayMs));
    call.answeredAt = Date.now();
    return { status: call.outcome === 'created' ? 201 : 200, body: order, headers: call.outcome === 'replayed' ? { 'idempotent-replayed': 'true' } : {} };
  }

  /** `GET /notes?clientRef=…`: the notes made with that reference, as a list API answers. */
  private findNotes(req: StubRequest): StubReply {
    const ref = req.query.get('clientRef');
    this.lookups.push({ key: ref ?? '', worker: String(req.headers['x-worker'] ?? '?'), at: req.at });
    return { status: 200, body: { data: this.notes.filter((n) => n.key === ref) } };
  }

  close(): Promise<void> {
    return this.stub.close();
  }
}
