export { createApi, type Api, type ApiDeps } from './app';
export { isRedisUnavailable } from './redis/unavailable';
export { answerProtocolErrors } from './http/protocol-errors';
