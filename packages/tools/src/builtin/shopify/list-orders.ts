import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { GraphqlClient } from '../../graphql';
import { cursorPages, DEFAULT_MAX_RECORDS, paginate } from '../../pagination';
import { graphqlPath, order, ORDER_FIELDS, SHOPIFY_API_VERSION } from './schemas';

const LIST_ORDERS = `query ListOrders($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    nodes { ${ORDER_FIELDS} }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface OrdersPage {
  orders: { nodes: z.input<typeof order>[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

/** `orders` of the Admin GraphQL API, every page (https://shopify.dev/docs/api/admin-graphql/latest/queries/orders). */
export const listOrders = defineTool({
  name: 'shopify.listOrders',
  integration: 'shopify',
  description:
    `List a Shopify store's orders, reading every page up to maxRecords (default ${DEFAULT_MAX_RECORDS}). Filter with Shopify's search syntax in query (e.g. "financial_status:paid created_at:>2025-01-01"). When more exist, truncated is true and nextCursor resumes the listing (pass it as after). Follows the store's query cost budget: it pauses rather than being throttled.`,
  apiVersion: SHOPIFY_API_VERSION,
  idempotent: true,
  write: false,
  input: z.strictObject({
    query: z.string().max(1000).optional().describe('Shopify search syntax'),
    sortKey: z.enum(['CREATED_AT', 'UPDATED_AT', 'PROCESSED_AT', 'TOTAL_PRICE', 'ORDER_NUMBER', 'ID']).optional(),
    reverse: z.boolean().optional().describe('Newest (or largest) first'),
    pageSize: z.int().min(1).max(250).default(50).describe('Orders per query; larger pages cost more points each'),
    maxRecords: z.int().min(1).max(DEFAULT_MAX_RECORDS).default(DEFAULT_MAX_RECORDS).describe('Stop after this many orders'),
    after: z.string().min(1).optional().describe("Resume after this cursor (a previous answer's nextCursor)"),
  }),
  output: z.object({
    orders: z.array(order),
    pages: z.int(),
    truncated: z.boolean(),
    nextCursor: z.string().nullable(),
  }),
  async run(input, ctx, { apiVersion }) {
    const client = new GraphqlClient(ctx, { path: graphqlPath(apiVersion) });
    const fetch = cursorPages(async (after, limit) => {
      const data = await client.request<OrdersPage>(
        LIST_ORDERS,
        {
          first: Math.min(input.pageSize, limit),
          after: after ?? null,
          query: input.query ?? null,
          sortKey: input.sortKey ?? null,
          reverse: input.reverse ?? null,
        },
        'ListOrders',
      );
      const { nodes, pageInfo } = data.orders;
      return { items: nodes, nextCursor: pageInfo.hasNextPage ? pageInfo.endCursor : null };
    });
    const result = await paginate(ctx, fetch, { maxRecords: input.maxRecords, start: input.after });
    return { orders: result.items, pages: result.pages, truncated: result.truncated, nextCursor: result.next };
  },
});
