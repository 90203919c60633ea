import { z } from 'zod';
import { pathSegment } from '../../declared/fill-path';

/** Shopify's quarterly Admin API version, part of the endpoint's path (https://shopify.dev/docs/api/usage/versioning). */
export const SHOPIFY_API_VERSION = '2026-10';

export const graphqlPath = (apiVersion: string | null) => `/admin/api/${pathSegment(apiVersion ?? SHOPIFY_API_VERSION, 'apiVersion')}/graphql.json`;

/** The order fields both tools select, as a GraphQL fragment body. */
export const ORDER_FIELDS = `
  id
  name
  createdAt
  updatedAt
  cancelledAt
  email
  displayFinancialStatus
  displayFulfillmentStatus
  totalPriceSet { shopMoney { amount currencyCode } }
  customer { id displayName email }
`;

const money = z.object({ shopMoney: z.object({ amount: z.string().describe('Decimal as a string'), currencyCode: z.string() }) });

export const order = z.object({
  id: z.string().describe('Global id, gid://shopify/Order/…'),
  name: z.string().describe('The order number shown to merchants, e.g. "#1001"'),
  createdAt: z.string(),
  updatedAt: z.string(),
  cancelledAt: z.string().nullable(),
  email: z.string().nullable(),
  displayFinancialStatus: z.string().nullable(),
  displayFulfillmentStatus: z.string(),
  totalPriceSet: money,
  customer: z.object({ id: z.string(), displayName: z.string(), email: z.string().nullable() }).nullable(),
});

export const lineItem = z.object({
  id: z.string(),
  title: z.string(),
  quantity: z.int(),
  sku: z.string().nullable(),
  originalUnitPriceSet: z.object({ shopMoney: z.object({ amount: z.string(), currencyCode: z.string() }) }),
});

/** A numeric order id, or its global id. */
export const orderId = z
  .string()
  .regex(/^(gid:\/\/shopify\/Order\/)?\d+$/, 'an order id: 450789469 or gid://shopify/Order/450789469')
  .transform((id) => (id.startsWith('gid://') ? id : `gid://shopify/Order/${id}`));
