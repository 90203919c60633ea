import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeliveryKind, Inbox, ReceivedDelivery } from '../inbox';
import type { OrderStore } from '../order-store';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters, in the order the pattern captures them. */
  params: readonly string[];
  orders: OrderStore;
  maxBodyBytes: number;
  /** Triggers and callbacks received. */
  inbox: Inbox;
  /** The secret value a kind of delivery is signed with, when the sandbox knows it. */
  receiverSecret: (kind: DeliveryKind) => string | undefined;
  onReceived: (delivery: ReceivedDelivery) => void;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Anchored pattern over the raw (still percent-encoded) path; each group is one parameter. */
  pattern: RegExp;
  /** Answered without the API key: the broker's deliveries carry signatures, not the sandbox's key. */
  public?: true;
  handle(ctx: RouteContext): void | Promise<void>;
}
