import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { adminBasicAuth } from './basic-auth';

/** Where the board is mounted (docs/operations.md#bull-board-adminqueues). */
export const BULL_BOARD_PATH = '/admin/queues';

export interface BullBoardOptions {
  /** The api's tool queues, one per integration (their names contain the integration's). */
  toolQueues: Iterable<Queue>;
  /** The api's trigger and callback queues (same names and prefix as the workers'). */
  triggersQueue: Queue;
  callbacksQueue: Queue;
  isAdmin: (token: string) => Promise<boolean>;
}

export interface BullBoard {
  /** Mount at {@link BULL_BOARD_PATH}. */
  handlers: RequestHandler[];
}

/**
 * The board's page loads its own scripts and styles from `static/` and an
 * IBM Plex stylesheet from Google Fonts, and keeps its config in an inline
 * JSON script tag. helmet's default policy adds `upgrade-insecure-requests`,
 * which sends the page's same-origin requests to https:// on a plain-http
 * deployment and leaves the page blank; this policy drops that and allows
 * the fonts, and nothing else (no inline or remote script).
 */
const boardCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
    fontSrc: ["'self'", 'data:', 'https://fonts.gstatic.com'],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    frameAncestors: ["'self'"],
    formAction: ["'self'"],
  },
});

/**
 * Bull Board (`/admin/queues`) over every queue of the broker: each
 * integration's tool queue, triggers and callbacks, with the broker's key
 * prefix. Behind HTTP Basic auth with the admin token as password.
 *
 * Tool queues are read-only: a tool job's truth is its job record, so
 * retrying, promoting or cleaning its BullMQ job from the board would bypass
 * the record (a retried job finds its record finished and does nothing; a
 * cleaned one leaves its record `queued` forever). Trigger and callback
 * deliveries may be retried from the board: that is how an operator resends
 * an exhausted delivery once its receiver is fixed.
 */
export function bullBoard(options: BullBoardOptions): BullBoard {
  const toolQueues = [...options.toolQueues];

  const serverAdapter = new ExpressAdapter().setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [
      ...toolQueues.map((q) => new BullMQAdapter(q, { readOnlyMode: true, description: 'Tool calls of one integration (read-only: the job record is the truth)' })),
      new BullMQAdapter(options.triggersQueue, { allowRetries: true, description: 'Webhook events delivered to agents' }),
      new BullMQAdapter(options.callbacksQueue, { allowRetries: true, description: 'Signed POSTs of finished jobs to their callbackUrl' }),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Broker queues' } },
  });

  const nameForMetrics: RequestHandler = (_req, res, next) => {
    // One series for the whole board: its many asset and API paths are not ours to enumerate.
    res.locals.metricsRoute = `${BULL_BOARD_PATH}/*`;
    next();
  };

  return {
    handlers: [nameForMetrics, adminBasicAuth(options.isAdmin), boardCsp, serverAdapter.getRouter() as RequestHandler],
  };
}
