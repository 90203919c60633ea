/**
 * Baseline for the ingest benchmark: what a user would write by hand — an
 * `express.raw` handler that checks Stripe's HMAC, claims the event id with
 * `SET NX` and adds one BullMQ job.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const secret = process.env.BENCH_STRIPE_SECRET;
const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
await new Promise((r) => redis.once('ready', r));
const queue = new Queue('bare-ingest', { connection: redis, prefix: process.env.BENCH_PREFIX });
const app = express();
app.post('/hooks/stripe', express.raw({ type: '*/*', limit: '1mb' }), async (req, res) => {
  const header = String(req.get('stripe-signature') ?? '');
  const t = /t=(\d+)/.exec(header)?.[1];
  const v1 = /v1=([0-9a-f]+)/.exec(header)?.[1];
  const expected = createHmac('sha256', secret).update(`${t}.`).update(req.body).digest();
  const given = Buffer.from(v1 ?? '', 'hex');
  if (!t || given.length !== expected.length || !timingSafeEqual(given, expected)) return res.status(400).end();
  const event = JSON.parse(req.body.toString('utf8'));
  const fresh = await redis.set(`${process.env.BENCH_PREFIX}:seen:${event.id}`, '1', 'EX', 604800, 'NX');
  if (fresh) await queue.add('trigger', { id: event.id, type: event.type }, { removeOnComplete: { count: 1000 } });
  res.json({ received: true, duplicate: !fresh });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`bare listening ${server.address().port}`));
process.on('SIGTERM', async () => {
  server.close();
  await queue.close();
  redis.disconnect();
  process.exit(0);
});
