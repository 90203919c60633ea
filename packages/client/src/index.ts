export { BrokerClient, MAX_WAIT_MS, type BrokerClientOptions, type SubmitOptions } from './client';
export { BrokerApiError, BrokerTimeoutError } from './errors';
export { TERMINAL_STATUSES, type FieldError, type Job, type JobError, type JobStatus, type Problem, type Tool, type ToolErrorCode } from './types';
