import express, { type Request, type RequestHandler, type Response } from 'express';
import { DEFAULT_WEBHOOK_MAX_BODY_BYTES } from '@broker/shared/webhooks/options';
import { MissingSecretError, splitSecretValues, type SecretsProvider } from '@broker/tools/secrets/provider';
import { ProblemError } from '@broker/shared/errors/problem';
import type { RedisKeys } from '@broker/redis/keys';
import type { WebhookReceipt } from '@broker/shared/webhooks/schema';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { awaitReplica, replicaMark } from '../redis/replicated';
import { correlationHook } from '../webhooks/correlate';
import { ingestEvent, storableHeaders } from '../webhooks/ingest';
import { verifiers } from '../webhooks/registry';

/**
 * Reads the body as bytes with the source's limit; nothing parses it before it
 * is verified. Rejects with a 413 error as soon as the bytes received pass the
 * limit: body-parser, on a limit error, reads the rest of the request before
 * it calls back, so an endless chunked body would hold the connection until
 * Node's requestTimeout (300 s) and get a 408, not the 413.
 */
function readRawBody(parser: RequestHandler, req: Request, res: Response, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) return;
      req.off('data', count);
      reject(Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413 }));
    };
    // Before the parser: both listeners are added in this tick, so both see every chunk.
    req.on('data', count);
    void parser(req, res, (err?: unknown) => {
      req.off('data', count);
      if (err) reject(err);
      else resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    });
  });
}

function tooLarge(err: unknown): boolean {
  const e = err as { type?: string; status?: number };
  return e.type === 'entity.too.large' || e.status === 413;
}

/**
 * `POST /hooks/:source` (docs/webhooks.md#what-post-hookssource-answers). In order: unknown source 404; body over
 * the source's limit 413; signature checked on the raw bytes by the source
 * type's verifier (400 INVALID_SIGNATURE, nothing stored); then the event is
 * written to Redis with its dedupe claim (and, for a type that does not sign
 * its ids, its body's) and triggers in one script, and only then answered
 * 200. A duplicate is answered with the id of the event already stored. Redis
 * away: 503, so the provider retries.
 */
export function receiveWebhook(ctx: ApiContext, secrets: SecretsProvider, options: { keys?: RedisKeys } = {}): RequestHandler<{ source: string }> {
  const { config, metrics } = ctx;
  // Async tools waiting for webhook events (needs the key prefix; without it nothing is correlated).
  const correlate = options.keys ? correlationHook({ redis: ctx.redis, keys: options.keys, queues: ctx.queues, metrics, logger: ctx.logger }) : undefined;
  const parsers = new Map<string, RequestHandler>(
    Object.entries(config.webhooks).map(([name, source]) => [
      name,
      // type: every content type, since the bytes are what is signed whatever the sender calls them.
      express.raw({ type: () => true, limit: source.maxBodyBytes ?? DEFAULT_WEBHOOK_MAX_BODY_BYTES }),
    ]),
  );

  return async (req, res) => {
    const receivedAt = new Date();
    const name = req.params.source;
    const source = Object.hasOwn(config.webhooks, name) ? config.webhooks[name] : undefined;
    const parser = parsers.get(name);
    if (!source || !parser) throw new ProblemError('NOT_FOUND', `No webhook source "${name}".`);
    const rejected = () => metrics.webhooksReceived.inc({ source: name, outcome: 'rejected' });

    const limit = source.maxBodyBytes ?? DEFAULT_WEBHOOK_MAX_BODY_BYTES;
    const refuseTooLarge = () => {
      rejected();
      // Stop reading: the rest of an oversized body is not worth waiting for, and an endless one never ends.
      res.once('finish', () => req.destroy());
      return new ProblemError('PAYLOAD_TOO_LARGE', `The body is larger than ${limit} bytes, the limit of "${name}".`, undefined, { Connection: 'close' });
    };
    // A declared length over the limit is refused before a byte is read (a client may declare 2 GB and send slowly).
    if (Number(req.get('content-length') ?? 0) > limit) throw refuseTooLarge();

    let body: Buffer;
    try {
      body = await readRawBody(parser, req, res, limit);
    } catch (err) {
      if (!tooLarge(err)) throw err;
      throw refuseTooLarge();
    }
    // Taken once the body is in, before the first Redis command: the 2 s answer budget is
    // for Redis, and a slow upload (2 s over a bad link) would otherwise leave none for the
    // replica's WAIT and be answered 503 on every retry, the duplicates included.
    const mark = replicaMark(ctx.redis);

    const values = splitSecretValues(await secrets.get(source.secret));
    if (values.length === 0) throw new MissingSecretError(source.secret);
    const verifier = verifiers[source.type];
    let verified;
    try {
      verified = verifier.verify({ body, header: (h) => req.get(h) }, values);
    } catch (err) {
      if (err instanceof ProblemError) rejected();
      throw err;
    }

    const { id, eventId, duplicate } = await withRedisDeadline(
      ingestEvent(
        { config, store: ctx.eventStore, queue: ctx.triggers, logger: ctx.logger, ...(correlate ? { correlate } : {}) },
        {
          source: name,
          sourceConfig: source,
          eventId: verified.eventId,
          type: verified.type,
          body,
          headers: storableHeaders(req.headers),
          receivedAt,
          verifiedAt: new Date(),
          dedupeBody: !verifier.signsEventId,
        },
      ),
    );
    // durability "replicated": a 200 only once a replica has the event (a duplicate too: the first answer may have been a 503).
    await awaitReplica(ctx, mark);
    metrics.webhooksReceived.inc({ source: name, outcome: duplicate ? 'duplicate' : 'accepted' });
    const receipt: WebhookReceipt = { received: true, id, eventId, duplicate };
    res.status(200).json(receipt);
  };
}
