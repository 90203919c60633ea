export { createApi, type Api, type ApiDeps } from './app';
export { compileApprovalRules, conditionHolds, holdOf, jsonEqual } from './jobs/approval-rules';
export { isRedisUnavailable } from './redis/unavailable';
export { answerProtocolErrors } from './http/protocol-errors';
