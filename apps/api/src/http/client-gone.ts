import type { Request, Response } from 'express';

/**
 * True once the client has left. A `close` listener attached after the client
 * left (after an await, or behind async middleware) never fires, so a handler
 * that waits on one checks this right after attaching it.
 */
export function clientGone(req: Request, res: Response): boolean {
  return res.closed || req.socket.destroyed;
}
