/**
 * The targets `pnpm bench` prints and judges, in one place. Every ratio is
 * ours ÷ bare (for latency, ours p50 ÷ bare p50, lower is better), taken as
 * the median of per-round ratios.
 */
export const TARGETS = {
  /** submit req/s ratio, at 10 and at 100 connections */
  submit: 0.7,
  /** ingest req/s ratio, at 10 and at 100 connections */
  ingest: 0.7,
  /** drain jobs/s ratio (the bare worker calls the stub with axios, as ours does) */
  drain: 0.7,
  /** submit→done p50: ours at most this many times the bare p50 */
  latencyP50: 1.5,
  /** limiter: sliding 1 s windows holding more calls than the limit */
  limiterWindowsOver: 0,
  /** limiter: steady rate ÷ limit */
  limiterUtilisation: 0.95,
};
