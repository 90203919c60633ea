import type { z } from 'zod';
import { implementTool } from '../../define-tool';
import { GraphqlClient } from '../../graphql';
import { ToolError } from '../../tool-error';
import { shopifyDescriptors } from './descriptors';
import { graphqlPath, ORDER_FIELDS } from './schemas';

const GET_ORDER = `query GetOrder($id: ID!) {
  order(id: $id) {
    ${ORDER_FIELDS}
    note
    tags
    lineItems(first: 100) { nodes { id title quantity sku originalUnitPriceSet { shopMoney { amount currencyCode } } } }
  }
}`;

/** `order(id:)` of the Admin GraphQL API. */
export const getOrder = implementTool(shopifyDescriptors.getOrder, {
  async run(input, ctx, { apiVersion }) {
    const client = new GraphqlClient(ctx, { path: graphqlPath(apiVersion) });
    const data = await client.request<{ order: Record<string, unknown> | null }>(GET_ORDER, { id: input.id }, 'GetOrder');
    // Shopify answers a missing order with `order: null`, not an error.
    if (!data.order) throw new ToolError('NOT_FOUND', { message: `no order ${input.id}` });
    return data.order as z.input<typeof shopifyDescriptors.getOrder.output>;
  },
});
