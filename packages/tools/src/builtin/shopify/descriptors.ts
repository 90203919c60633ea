import { z } from 'zod';
import { describeTool } from '../../describe-tool';
import { DEFAULT_MAX_RECORDS } from '../../list-limits';
import { lineItem, order, orderId, SHOPIFY_API_VERSION } from './schemas';

/** The Shopify tools as the api lists and validates them; each file of this folder implements one. */
export const shopifyDescriptors = {
  listOrders: describeTool({
    name: 'shopify.listOrders',
    integration: 'shopify',
    description: `List a Shopify store's orders, reading every page up to maxRecords (default ${DEFAULT_MAX_RECORDS}). Filter with Shopify's search syntax in query (e.g. "financial_status:paid created_at:>2025-01-01"). When more exist, truncated is true and nextCursor resumes the listing (pass it as after). Follows the store's query cost budget: it pauses rather than being throttled.`,
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
  }),

  getOrder: describeTool({
    name: 'shopify.getOrder',
    integration: 'shopify',
    description:
      'Fetch one Shopify order by id (450789469 or gid://shopify/Order/450789469), with its note, tags and up to 100 line items. Fails NOT_FOUND when the store has no such order.',
    apiVersion: SHOPIFY_API_VERSION,
    idempotent: true,
    write: false,
    input: z.strictObject({ id: orderId }),
    output: order.extend({ note: z.string().nullable(), tags: z.array(z.string()), lineItems: z.object({ nodes: z.array(lineItem) }) }),
  }),
};
