import type { z } from 'zod';
import { implementTool } from '../../define-tool';
import { GraphqlClient } from '../../graphql';
import { cursorPages, paginate } from '../../pagination';
import { shopifyDescriptors } from './descriptors';
import { graphqlPath, ORDER_FIELDS, type order } from './schemas';

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
export const listOrders = implementTool(shopifyDescriptors.listOrders, {
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
