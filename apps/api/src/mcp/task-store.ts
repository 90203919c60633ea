import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import { ErrorCode, McpError, type CallToolResult, type Task } from '@modelcontextprotocol/sdk/types.js';
import { ProblemError } from '@broker/shared/errors/problem';
import { toPublicJob, type JobRecord } from '@broker/redis/jobs/job-store';
import { TERMINAL_STATUSES } from '@broker/shared/jobs/schema';
import type { Logger } from '@broker/shared/logger';
import type { ApiContext } from '../context';
import { withRedisDeadline } from '../redis/deadline';
import { cancelOwnJob } from '../routes/cancel-job';
import { assertJobId, mayReadJob, readOwnJob, type JobReader } from '../routes/own-job';
import { jobOutcomeResult } from './results';
import { taskError } from './task-errors';
import type { TaskIndex } from './task-index';
import { taskOf } from './task-status';

/** What the tools/call handler hands `createTask` in `context`: the job it just submitted. */
export const TASK_JOB_CONTEXT = 'broker/job';

const taskNotFound = () => new McpError(ErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');

/** Who a store answers for: its log lines carry the request id an agent quotes. */
export interface TaskStoreRequest {
  logger: Logger;
  requestId: string;
}

/**
 * The SDK's TaskStore over the broker's job store, for one agent: the SDK's
 * own `tasks/get` and `tasks/cancel` handlers call it (Protocol, sdk 1.32
 * `shared/protocol.js`; `tasks/list` and `tasks/result` have handlers of
 * their own in mcp-server.ts). A task is a job submitted as one (its record
 * says `via: "mcp-task"`): the record is the only state, so the store keeps
 * none of its own beyond the agent's {@link TaskIndex}, which only lists.
 * Tenant isolation: the store is built per request for the authenticated
 * agent (stateless MCP has no session to bind tasks to), every read goes
 * through readOwnJob with the request's credential, and another agent's job,
 * a job of a tool outside the credential's scopes (an access token narrowed
 * to `tools:demo.*` and the agent's `stripe.*` tasks), an unknown id and a
 * job that is not a task all read as "not found", and are never listed.
 *
 * Every method throws only McpErrors made by taskError (task-errors.ts):
 * logged, with the stable `{code, message, retryable, retryAt?}` in `data`,
 * since the SDK passes a raw error's message on as the answer (a Redis outage
 * would read as `-32603` with an ioredis message, or as a bad request).
 */
export class JobTaskStore implements TaskStore {
  constructor(
    private readonly ctx: ApiContext,
    private readonly agent: JobReader,
    private readonly index: TaskIndex,
    private readonly request: TaskStoreRequest,
  ) {}

  /** Runs a store operation, its failure made a JSON-RPC error by taskError. */
  private async answer<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw taskError(err, this.request.logger, this.request.requestId);
    }
  }

  private get retentionMs(): number {
    return this.ctx.config.retention.jobSeconds * 1000;
  }

  /**
   * The agent's job behind a task, or null: an id newJobId() cannot have made
   * (refused before any Redis command), readOwnJob's NOT_FOUND, or a job not
   * created as a task. A job is a task when its record says so
   * (`via: "mcp-task"`), so a task whose index entry was never written is
   * still served; else when the index has it (a task-augmented call that
   * replayed a plain call's job by its idempotency key).
   * Raw errors (a Redis outage): callers make them JSON-RPC errors.
   */
  async readTaskJob(taskId: string): Promise<JobRecord | null> {
    try {
      assertJobId(taskId);
      const record = await readOwnJob(this.ctx.store, taskId, this.agent);
      return record.via === 'mcp-task' || (await this.index.has(taskId)) ? record : null;
    } catch (err) {
      if (err instanceof ProblemError && err.problem.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /**
   * Registers the job the tools/call handler just submitted (its id is the
   * task id; see task-call.ts) in the agent's index. The job is queued by
   * then and will run, so a failed index write must not refuse the call (a
   * client retrying a "retryable" error without an idempotency key would
   * queue the write twice): it is logged, and the task is answered anyway,
   * served by `tasks/get`, `tasks/result` and `tasks/cancel` by its record,
   * just missing from `tasks/list`. The requested `ttl` is not honoured: a
   * task lives as long as its job record (taskOf says how long). A task
   * begins `working`, as the spec requires, whatever its job's state already
   * is (held for approval, or an idempotent replay of a finished job): the
   * next `tasks/get` tells.
   */
  async createTask(options: CreateTaskOptions): Promise<Task> {
    const record = options.context?.[TASK_JOB_CONTEXT] as JobRecord | undefined;
    if (!record || record.agentId !== this.agent.id) {
      throw taskError(new Error('createTask was called without the submitted job'), this.request.logger, this.request.requestId);
    }
    try {
      await this.index.add(record.id, record.createdAt);
    } catch (err) {
      this.request.logger.warn(
        { requestId: this.request.requestId, jobId: record.id, err: (err as Error).message },
        'could not add a task to the agent task index; the task is answered anyway (tasks/list will not show it)',
      );
    }
    return { ...taskOf(record, this.retentionMs), status: 'working' };
  }

  getTask(taskId: string): Promise<Task | null> {
    return this.answer(async () => {
      const record = await this.readTaskJob(taskId);
      return record ? taskOf(record, this.retentionMs) : null;
    });
  }

  /** Results are stored by the worker, on the job record; nothing in the api calls this. */
  storeTaskResult(): Promise<void> {
    return Promise.reject(new McpError(ErrorCode.InternalError, 'A task result is the job result, which only the worker stores.'));
  }

  /** The answer a plain tools/call gives for the finished job (results.ts): `tasks/result` returns exactly that. */
  getTaskResult(taskId: string): Promise<CallToolResult> {
    return this.answer(async () => {
      const record = await this.readTaskJob(taskId);
      if (!record) throw taskNotFound();
      if (!TERMINAL_STATUSES.has(record.status)) throw new McpError(ErrorCode.InvalidParams, `Task ${taskId} has not finished.`);
      return jobOutcomeResult(toPublicJob(record));
    });
  }

  /**
   * Only `cancelled` can be asked for (the SDK's `tasks/cancel` handler, after
   * it refused a terminal task): the broker's cancel (`DELETE /v1/jobs/{id}`).
   * A job that has started cannot be cancelled, nor one whose earlier try may
   * have applied its write: a JSON-RPC error saying so, since the spec
   * requires a cancelled task to be `cancelled` before the answer.
   */
  updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    return this.answer(async () => {
      if (status !== 'cancelled') throw new McpError(ErrorCode.InvalidRequest, `A task's status follows its job; it cannot be set to ${status}.`);
      if (!(await this.readTaskJob(taskId))) throw taskNotFound();
      try {
        // readTaskJob above has checked the scopes; cancelOwnJob checks the owner again, in its script.
        await cancelOwnJob(this.ctx, this.agent.id, taskId);
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
    });
  }

  /**
   * The agent's tasks by the index: newest first, ties (the same
   * millisecond) by task id, descending. Entries whose job record has
   * expired are dropped (and removed from the index), and tasks of tools
   * outside the credential's scopes are left out (but kept in the index: a
   * credential holding those scopes lists them), so a page may be short. A
   * bad cursor is `-32602`, as the spec requires. The SDK's own handler
   * would answer any error `-32602` "Failed to list tasks", so
   * mcp-server.ts installs one that passes this method's errors on.
   */
  listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    return this.answer(async () => {
      const page = await this.index.page(cursor);
      const records = await withRedisDeadline(Promise.all(page.ids.map((id) => this.ctx.store.get(id))));
      const tasks: Task[] = [];
      const gone: string[] = [];
      records.forEach((record, i) => {
        if (!record || record.agentId !== this.agent.id) gone.push(page.ids[i]!);
        else if (mayReadJob(record, this.agent)) tasks.push(taskOf(record, this.retentionMs));
      });
      // Tidying only: a failure leaves entries the next read removes.
      await this.index.remove(gone).catch((err: unknown) => {
        this.request.logger.warn({ requestId: this.request.requestId, err: (err as Error).message }, 'could not remove expired tasks from the agent task index');
      });
      return page.nextCursor ? { tasks, nextCursor: page.nextCursor } : { tasks };
    });
  }
}
