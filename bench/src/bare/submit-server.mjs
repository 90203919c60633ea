/**
 * Baseline for the submit benchmark: what a user would write by hand — an
 * Express 5 handler that adds the request body to a BullMQ queue.
 */
import express from 'express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
await new Promise((r) => redis.once('ready', r));
const queue = new Queue('bare-submit', { connection: redis, prefix: process.env.BENCH_PREFIX });
const app = express();
app.use(express.json({ limit: '1mb' }));
app.post('/v1/jobs', async (req, res) => {
  const job = await queue.add(req.body.tool, req.body, { removeOnComplete: { count: 1000 } });
  res.status(202).json({ id: job.id, status: 'queued' });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`bare listening ${server.address().port}`));
process.on('SIGTERM', async () => {
  server.close();
  await queue.close();
  redis.disconnect();
  process.exit(0);
});
