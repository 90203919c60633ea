import { randomUUID } from 'node:crypto';
import { buildSchema, execute, GraphQLError, parse, validate, type DocumentNode } from 'graphql';
import type { StubReply, StubRequest } from '../helpers/stub-server';
import { KitStub } from './kit-stub';
import { queryCost } from './shopify-cost';
import { SHOPIFY_ADMIN_SDL } from './shopify-schema';

export interface ShopifyStubOptions {
  /** The Admin API access token accepted in `X-Shopify-Access-Token`. @defaultValue "shpat_kit" */
  token?: string;
  /** The cost bucket. @defaultValue Shopify's standard plan: 1000 points, refilled at 50 a second */
  bucket?: { maximumAvailable?: number; restoreRate?: number };
  /** A fixed cost per query instead of the computed one (tests that want round numbers). */
  costOf?: (operationName: string | undefined) => number | undefined;
}

export interface ShopifyOrder {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  processedAt: string;
  cancelledAt: string | null;
  email: string | null;
  note: string | null;
  tags: string[];
  currencyCode: string;
  displayFinancialStatus: string;
  displayFulfillmentStatus: string;
  totalPriceSet: { shopMoney: { amount: string; currencyCode: string }; presentmentMoney: { amount: string; currencyCode: string } };
  customer: Record<string, unknown> | null;
  lineItems: Record<string, unknown>[];
}

const schema = buildSchema(SHOPIFY_ADMIN_SDL);
const encodeCursor = (i: number) => Buffer.from(JSON.stringify({ last_id: i })).toString('base64');
const decodeCursor = (c: string) => Number((JSON.parse(Buffer.from(c, 'base64').toString('utf8')) as { last_id: number }).last_id);

function connection<T>(all: T[], args: { first?: number | null; after?: string | null }) {
  const start = args.after ? decodeCursor(args.after) + 1 : 0;
  const slice = all.slice(start, start + (args.first ?? 0));
  const edges = slice.map((node, i) => ({ cursor: encodeCursor(start + i), node }));
  return {
    edges,
    nodes: slice,
    pageInfo: {
      hasNextPage: start + slice.length < all.length,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * Plays Shopify's Admin GraphQL API on `POST /admin/api/{version}/graphql.json`:
 * `X-Shopify-Access-Token` auth, a real GraphQL executor over a subset of the
 * Admin schema, the cost extension on every answer
 * (`extensions.cost.{requestedQueryCost, actualQueryCost, throttleStatus}`)
 * drawn from a leaky bucket, `THROTTLED` when a query costs more than the
 * bucket holds, `MAX_COST_EXCEEDED` above the bucket's size, `ACCESS_DENIED`
 * for fields in `denied`, and Shopify's error strings for HTTP failures.
 */
export class ShopifyStub extends KitStub {
  readonly orders: ShopifyOrder[] = [];
  readonly products: Record<string, unknown>[] = [];
  readonly customers: Record<string, unknown>[] = [];
  /** Root fields answered ACCESS_DENIED (a token without the scope). */
  readonly denied = new Set<string>();
  /** API versions seen in request paths. */
  readonly versions: string[] = [];
  readonly maximumAvailable: number;
  readonly restoreRate: number;
  private available: number;
  private refilledAt = Date.now();

  private constructor(private readonly options: ShopifyStubOptions) {
    super();
    this.maximumAvailable = options.bucket?.maximumAvailable ?? 1000;
    this.restoreRate = options.bucket?.restoreRate ?? 50;
    this.available = this.maximumAvailable;
  }

  static start(options: ShopifyStubOptions = {}): Promise<ShopifyStub> {
    return KitStub.listen(new ShopifyStub(options));
  }

  /** Adds `count` orders (#1001, #1002, …), oldest first. */
  seedOrders(count: number, fields: (i: number) => Partial<ShopifyOrder> = () => ({})): ShopifyOrder[] {
    const added: ShopifyOrder[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.orders.length + 1;
      const at = new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString();
      const order: ShopifyOrder = {
        id: `gid://shopify/Order/${450789468 + n}`,
        name: `#${1000 + n}`,
        createdAt: at,
        updatedAt: at,
        processedAt: at,
        cancelledAt: null,
        email: `buyer${n}@example.com`,
        note: null,
        tags: [],
        currencyCode: 'USD',
        displayFinancialStatus: n % 3 === 0 ? 'PENDING' : 'PAID',
        displayFulfillmentStatus: 'UNFULFILLED',
        totalPriceSet: { shopMoney: { amount: `${10 * n}.00`, currencyCode: 'USD' }, presentmentMoney: { amount: `${10 * n}.00`, currencyCode: 'USD' } },
        customer: {
          id: `gid://shopify/Customer/${700 + n}`,
          displayName: `Buyer ${n}`,
          firstName: 'Buyer',
          lastName: String(n),
          email: `buyer${n}@example.com`,
          phone: null,
          tags: [],
          createdAt: at,
        },
        lineItems: [
          {
            id: `gid://shopify/LineItem/${9000 + n}`,
            title: 'Kit mug',
            quantity: 1,
            sku: 'MUG-1',
            originalUnitPriceSet: { shopMoney: { amount: `${10 * n}.00`, currencyCode: 'USD' }, presentmentMoney: { amount: `${10 * n}.00`, currencyCode: 'USD' } },
          },
        ],
        ...fields(i),
      };
      this.orders.push(order);
      added.push(order);
    }
    return added;
  }

  /** The bucket as Shopify would report it now. */
  throttleStatus() {
    this.refill();
    return { maximumAvailable: this.maximumAvailable, currentlyAvailable: Math.floor(this.available), restoreRate: this.restoreRate };
  }

  /** Sets the points left in the bucket (it refills from there). */
  setAvailable(points: number): void {
    this.refill();
    this.available = points;
  }

  protected errorReply(status: number, message: string): StubReply {
    const text =
      status === 429 ? 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' : status >= 500 ? 'Internal Server Error' : message;
    return { status, headers: { 'x-request-id': randomUUID(), ...(status === 429 ? { 'retry-after': '2.0' } : {}) }, body: { errors: text } };
  }

  protected authorize(req: StubRequest): StubReply | undefined {
    if (req.headers['x-shopify-access-token'] !== (this.options.token ?? 'shpat_kit')) {
      return { status: 401, body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' } };
    }
    return undefined;
  }

  protected async route(req: StubRequest): Promise<StubReply> {
    const m = /^\/admin\/api\/(\d{4}-\d{2}|unstable)\/graphql\.json$/.exec(req.path);
    if (!m || req.method !== 'POST') return { status: 404, body: { errors: 'Not Found' } };
    this.versions.push(m[1]!);
    let body: { query?: string; variables?: Record<string, unknown>; operationName?: string };
    try {
      body = JSON.parse(req.body) as typeof body;
    } catch {
      return { status: 400, body: { errors: { query: 'Required parameter missing or invalid' } } };
    }
    const answer = (result: { data?: unknown; errors?: unknown[] }, extensions?: unknown): StubReply => ({
      status: 200,
      headers: { 'x-request-id': randomUUID() },
      body: { ...result, ...(extensions ? { extensions } : {}) },
    });
    let document: DocumentNode;
    try {
      document = parse(body.query ?? '');
    } catch (err) {
      return answer({ errors: [{ message: (err as GraphQLError).message, locations: (err as GraphQLError).locations }] });
    }
    const invalid = validate(schema, document);
    if (invalid.length > 0) {
      return answer({
        errors: invalid.map((e) => ({
          message: e.message,
          locations: e.locations,
          ...(/^Cannot query field/.test(e.message) ? { extensions: { code: 'undefinedField' } } : {}),
        })),
      });
    }
    const variables = body.variables ?? {};
    const requested = this.options.costOf?.(body.operationName) ?? queryCost(schema, document, variables, body.operationName);
    const before = this.throttleStatus();
    if (requested > this.maximumAvailable) {
      return answer({
        errors: [
          {
            message: `Query cost is ${requested}, which exceeds the single query max cost limit (${this.maximumAvailable}).`,
            extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: this.maximumAvailable },
          },
        ],
      });
    }
    if (requested > before.currentlyAvailable) {
      return answer(
        { errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/limits' } }] },
        { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: before } },
      );
    }
    this.available -= requested;
    const result = await execute({
      schema,
      document,
      variableValues: variables,
      rootValue: this.resolvers(),
      ...(body.operationName ? { operationName: body.operationName } : {}),
    });
    return answer(
      { ...(result.data !== undefined ? { data: result.data } : {}), ...(result.errors ? { errors: result.errors.map((e) => e.toJSON()) } : {}) },
      { cost: { requestedQueryCost: requested, actualQueryCost: requested, throttleStatus: this.throttleStatus() } },
    );
  }

  private refill(): void {
    const now = Date.now();
    this.available = Math.min(this.maximumAvailable, this.available + ((now - this.refilledAt) / 1000) * this.restoreRate);
    this.refilledAt = now;
  }

  private guard(field: string): void {
    if (this.denied.has(field)) {
      throw new GraphQLError(`Access denied for ${field} field. Required access: \`read_${field.replace(/s$/, '')}s\` access scope.`, {
        extensions: { code: 'ACCESS_DENIED', documentation: 'https://shopify.dev/api/usage/access-scopes' },
      });
    }
  }

  private orderView(order: ShopifyOrder) {
    return { ...order, lineItems: (args: { first?: number; after?: string }) => connection(order.lineItems, args) };
  }

  private resolvers() {
    return {
      orders: (args: { first?: number | null; last?: number | null; after?: string | null; query?: string | null; sortKey?: string; reverse?: boolean }) => {
        this.guard('orders');
        if (!args.first && !args.last) throw new GraphQLError('you must provide one of first or last', { extensions: { code: 'BAD_USER_INPUT' } });
        if ((args.first ?? 0) > 250) throw new GraphQLError('The first argument cannot exceed 250.', { extensions: { code: 'BAD_USER_INPUT' } });
        let list = [...this.orders];
        const financial = /financial_status:(\w+)/i.exec(args.query ?? '')?.[1];
        if (financial) list = list.filter((o) => o.displayFinancialStatus.toLowerCase() === financial.toLowerCase());
        if (args.sortKey === 'TOTAL_PRICE') list.sort((a, b) => Number(a.totalPriceSet.shopMoney.amount) - Number(b.totalPriceSet.shopMoney.amount));
        if (args.reverse) list.reverse();
        return connection(
          list.map((o) => this.orderView(o)),
          args,
        );
      },
      order: ({ id }: { id: string }) => {
        this.guard('orders');
        const order = this.orders.find((o) => o.id === id);
        return order ? this.orderView(order) : null;
      },
      product: ({ id }: { id: string }) => {
        this.guard('products');
        const product = this.products.find((p) => p.id === id);
        return product ? { ...product, variants: (args: { first?: number }) => connection((product.variants as unknown[]) ?? [], args) } : null;
      },
      customer: ({ id }: { id: string }) => {
        this.guard('customers');
        return this.customers.find((c) => c.id === id) ?? null;
      },
      customerCreate: ({ input }: { input: Record<string, unknown> }) => {
        this.guard('customers');
        const email = input.email as string | undefined;
        if (email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(email)) return { customer: null, userErrors: [{ field: ['email'], message: 'Email is invalid' }] };
        if (email && this.customers.some((c) => c.email === email)) return { customer: null, userErrors: [{ field: ['email'], message: 'Email has already been taken' }] };
        const n = this.customers.length + 1;
        const customer = {
          id: `gid://shopify/Customer/${8000 + n}`,
          displayName: [input.firstName, input.lastName].filter(Boolean).join(' ') || (email ?? ''),
          firstName: input.firstName ?? null,
          lastName: input.lastName ?? null,
          email: email ?? null,
          phone: input.phone ?? null,
          tags: input.tags ?? [],
          createdAt: new Date().toISOString(),
        };
        this.customers.push(customer);
        return { customer, userErrors: [] };
      },
      tagsAdd: ({ id, tags }: { id: string; tags: string[] }) => {
        const order = this.orders.find((o) => o.id === id);
        if (!order) return { node: null, userErrors: [{ field: ['id'], message: 'Order does not exist' }] };
        order.tags = [...new Set([...order.tags, ...tags])];
        return { node: this.orderView(order), userErrors: [] };
      },
    };
  }
}

export { schema as shopifyStubSchema };
