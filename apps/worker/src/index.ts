export { createWorkerApp, type WorkerApp, type WorkerAppDeps } from './worker-app';
export { decideRetry, fullJitter, type RetryDecision } from './tool-jobs/retry-policy';
export { CallGate, windowWithMargin } from './limits/call-gate';
