import { randomUUID } from 'node:crypto';
import { HttpError } from '../http-error';
import { readJson, sendJson } from '../http';
import type { Route } from './route';

/**
 * A slow operation for trying async tools: `POST /exports` answers 202 with
 * an id at once; `GET /exports/{id}` says `running` (with `percent`) until
 * `durationMs` (default 3000, at most 60000) has passed, then `done` with a
 * result. `{"fail": true}` makes it end `failed` instead.
 */
interface ExportJob {
  id: string;
  startedAt: number;
  durationMs: number;
  fail: boolean;
}

/** Per process; the sandbox is a demo, and ids are random, so servers in one process never collide. */
const exportsById = new Map<string, ExportJob>();
const MAX_EXPORTS = 10_000;

function view(job: ExportJob, now: number): Record<string, unknown> {
  const percent = Math.min(100, Math.floor(((now - job.startedAt) / job.durationMs) * 100));
  if (percent < 100) return { id: job.id, status: 'running', percent };
  if (job.fail) return { id: job.id, status: 'failed', percent: 100, error: 'the export ran out of disk' };
  return { id: job.id, status: 'done', percent: 100, result: { url: `/exports/${job.id}/download`, rows: 42 } };
}

export const createExport: Route = {
  method: 'POST',
  pattern: /^\/exports$/,
  async handle({ req, res, maxBodyBytes }) {
    const body = (await readJson(req, maxBodyBytes)) as Record<string, unknown> | null;
    const durationMs = body && typeof body.durationMs === 'number' ? body.durationMs : 3000;
    if (!Number.isInteger(durationMs) || durationMs < 0 || durationMs > 60_000) throw new HttpError(400, 'durationMs must be an integer 0-60000');
    if (exportsById.size >= MAX_EXPORTS) exportsById.delete(exportsById.keys().next().value!);
    const job: ExportJob = { id: `exp_${randomUUID().replace(/-/g, '').slice(0, 16)}`, startedAt: Date.now(), durationMs: Math.max(1, durationMs), fail: body?.fail === true };
    exportsById.set(job.id, job);
    sendJson(res, 202, { id: job.id, status: 'queued', percent: 0 }, { Location: `/exports/${job.id}` });
  },
};

export const getExport: Route = {
  method: 'GET',
  pattern: /^\/exports\/([^/]+)$/,
  handle({ res, params: [id = ''] }) {
    const job = exportsById.get(id);
    if (!job) throw new HttpError(404, `export ${id} not found`);
    sendJson(res, 200, view(job, Date.now()));
  },
};
