import { z } from 'zod';
import { defineTool } from '../../define-tool';
import { GraphqlClient } from '../../graphql';
import { ToolError } from '../../tool-error';
import { graphqlPath, order, ORDER_FIELDS, orderId, SHOPIFY_API_VERSION } from './schemas';

const GET_ORDER = `query GetOrder($id: ID!) {
  order(id: $id) {
    ${ORDER_FIELDS}
    note
    tags
    lineItems(first: 100) { nodes { id title quantity sku originalUnitPriceSet { shopMoney { amount currencyCode } } } }
  }
}`;

const lineItem = z.object({
  id: z.string(),
  title: z.string(),
  quantity: z.int(),
  sku: z.string().nullable(),
  originalUnitPriceSet: z.object({ shopMoney: z.object({ amount: z.string(), currencyCode: z.string() }) }),
});

/** `order(id:)` of the Admin GraphQL API. */
export const getOrder = defineTool({
  name: 'shopify.getOrder',
  integration: 'shopify',
  description:
    'Fetch one Shopify order by id (450789469 or gid://shopify/Order/450789469), with its note, tags and up to 100 line items. Fails NOT_FOUND when the store has no such order.',
  apiVersion: SHOPIFY_API_VERSION,
  idempotent: true,
  write: false,
  input: z.strictObject({ id: orderId }),
  output: order.extend({ note: z.string().nullable(), tags: z.array(z.string()), lineItems: z.object({ nodes: z.array(lineItem) }) }),
  async run(input, ctx, { apiVersion }) {
    const client = new GraphqlClient(ctx, { path: graphqlPath(apiVersion) });
    const data = await client.request<{ order: Record<string, unknown> | null }>(GET_ORDER, { id: input.id }, 'GetOrder');
    // Shopify answers a missing order with `order: null`, not an error.
    if (!data.order) throw new ToolError('NOT_FOUND', { message: `no order ${input.id}` });
    return data.order as z.input<typeof order> & { note: string | null; tags: string[]; lineItems: { nodes: z.input<typeof lineItem>[] } };
  },
});
