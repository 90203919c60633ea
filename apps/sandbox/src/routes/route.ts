import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OrderStore } from '../order-store';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters, in the order the pattern captures them. */
  params: readonly string[];
  orders: OrderStore;
  maxBodyBytes: number;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Anchored pattern over the raw (still percent-encoded) path; each group is one parameter. */
  pattern: RegExp;
  handle(ctx: RouteContext): void | Promise<void>;
}
