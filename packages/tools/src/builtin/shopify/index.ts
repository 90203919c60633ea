import { getOrder } from './get-order';
import { listOrders } from './list-orders';

export { SHOPIFY_API_VERSION } from './schemas';
export const shopifyTools = [listOrders, getOrder];
