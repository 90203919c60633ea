import { pairTools } from '../../define-tool';
import { shopifyDescriptors } from './descriptors';
import { getOrder } from './get-order';
import { listOrders } from './list-orders';

export { SHOPIFY_API_VERSION } from './schemas';
export const shopifyTools = pairTools(shopifyDescriptors, { listOrders, getOrder });
