import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import { ErrorCode, McpError, type CallToolResult, type Task } from '@modelcontextprotocol/sdk/types.js';
import { ProblemError, toPublicJob, TERMINAL_STATUSES, type JobRecord } from '@broker/shared';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { cancelOwnJob } from '../routes/cancel-job';
import { readOwnJob } from '../routes/own-job';
import { jobOutcomeResult } from './results';
import type { TaskIndex } from './task-index';
import { taskOf } from './task-status';

/** What the tools/call handler hands `createTask` in `context`: the job it just submitted. */
export const TASK_JOB_CONTEXT = 'broker/job';

const taskNotFound = () => new McpError(ErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');

/**
 * The SDK's TaskStore over the broker's job store, for one agent: the SDK's
 * own `tasks/get`, `tasks/list` and `tasks/cancel` handlers call it
 * (Protocol, sdk 1.32 `shared/protocol.js`). A task is a job: the record is
 * the only state, so the store keeps none of its own beyond the agent's
 * {@link TaskIndex}. Tenant isolation: the store is built per request for the
 * authenticated agent (stateless MCP has no session to bind tasks to), every
 * read goes through readOwnJob, and another agent's job, an unknown id and a
 * job that is not a task all read as "not found".
 */
export class JobTaskStore implements TaskStore {
  constructor(
    private readonly ctx: ApiContext,
    private readonly agentId: string,
    private readonly index: TaskIndex,
  ) {}

  private get retentionMs(): number {
    return this.ctx.config.retention.jobSeconds * 1000;
  }

  /** The agent's job behind a task, or null: readOwnJob's NOT_FOUND, or a job not created as a task. */
  async readTaskJob(taskId: string): Promise<JobRecord | null> {
    try {
      const [record, isTask] = await Promise.all([readOwnJob(this.ctx.store, taskId, this.agentId), this.index.has(taskId)]);
      return isTask ? record : null;
    } catch (err) {
      if (err instanceof ProblemError && err.problem.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /**
   * Registers the job the tools/call handler just submitted (its id is the
   * task id; see task-call.ts). The requested `ttl` is not honoured: a task
   * lives as long as its job record (taskOf says how long). A task begins
   * `working`, as the spec requires, whatever its job's state already is
   * (held for approval, or an idempotent replay of a finished job): the next
   * `tasks/get` tells.
   */
  async createTask(options: CreateTaskOptions): Promise<Task> {
    const record = options.context?.[TASK_JOB_CONTEXT] as JobRecord | undefined;
    if (!record || record.agentId !== this.agentId) throw new McpError(ErrorCode.InternalError, 'A task is created only for a submitted job.');
    await this.index.add(record.id, record.createdAt);
    return { ...taskOf(record, this.retentionMs), status: 'working' };
  }

  async getTask(taskId: string): Promise<Task | null> {
    const record = await this.readTaskJob(taskId);
    return record ? taskOf(record, this.retentionMs) : null;
  }

  /** Results are stored by the worker, on the job record; nothing in the api calls this. */
  storeTaskResult(): Promise<void> {
    return Promise.reject(new McpError(ErrorCode.InternalError, 'A task result is the job result, which only the worker stores.'));
  }

  /** The answer a plain tools/call gives for the finished job (results.ts): `tasks/result` returns exactly that. */
  async getTaskResult(taskId: string): Promise<CallToolResult> {
    const record = await this.readTaskJob(taskId);
    if (!record) throw taskNotFound();
    if (!TERMINAL_STATUSES.has(record.status)) throw new McpError(ErrorCode.InvalidParams, `Task ${taskId} has not finished.`);
    return jobOutcomeResult(toPublicJob(record));
  }

  /**
   * Only `cancelled` can be asked for (the SDK's `tasks/cancel` handler, after
   * it refused a terminal task): the broker's cancel (`DELETE /v1/jobs/{id}`).
   * A job that has started cannot be cancelled, nor one whose earlier try may
   * have applied its write: a JSON-RPC error saying so, since the spec
   * requires a cancelled task to be `cancelled` before the answer.
   */
  async updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    if (status !== 'cancelled') throw new McpError(ErrorCode.InvalidRequest, `A task's status follows its job; it cannot be set to ${status}.`);
    if (!(await this.readTaskJob(taskId))) throw taskNotFound();
    try {
      await cancelOwnJob(this.ctx, this.agentId, taskId);
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      if (err.problem.code === 'NOT_FOUND') throw taskNotFound();
      if (err.problem.code !== 'CONFLICT') throw err;
      // It finished meanwhile: the spec's error for cancelling a terminal task.
      const now = await this.readTaskJob(taskId);
      const terminal = now !== null && TERMINAL_STATUSES.has(now.status);
      throw new McpError(terminal ? ErrorCode.InvalidParams : ErrorCode.InvalidRequest, `Cannot cancel task ${taskId}: ${err.problem.detail}`, {
        code: 'CONFLICT',
        status: now?.status,
        retryable: false,
      });
    }
  }

  /**
   * The agent's tasks, newest first, by the index; entries whose job record
   * has expired are dropped (and removed), so a page may be short. A bad
   * cursor throws; the SDK answers it `-32602`, as the spec requires.
   */
  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const page = await this.index.page(cursor);
    const records = await withRedisDeadline(Promise.all(page.ids.map((id) => this.ctx.store.get(id))));
    const tasks: Task[] = [];
    const gone: string[] = [];
    records.forEach((record, i) => {
      if (record && record.agentId === this.agentId) tasks.push(taskOf(record, this.retentionMs));
      else gone.push(page.ids[i]!);
    });
    await this.index.remove(gone);
    return page.nextCursor ? { tasks, nextCursor: page.nextCursor } : { tasks };
  }
}
