/** Small statistics for benchmark rounds. */

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** min and max of the per-round values: how far apart the rounds were. */
export function spread(values) {
  return { min: Math.min(...values), max: Math.max(...values) };
}

export const round2 = (x) => Math.round(x * 100) / 100;

/**
 * Runs ours and the baseline in alternating rounds (ours, bare, bare, ours, …
 * so neither always goes first) and reports the median of per-round ratios.
 * Each side is called with the round's index; with `warmup`, first with -1
 * (a round that is not counted).
 * These machines are noisy: a ratio from the same minute is what compares.
 */
export async function interleave({ rounds, ours, bare, higherIsBetter = true, warmup = false }) {
  if (warmup) {
    // Round -1, not counted: both sides' code warmed up before the first round.
    await ours(-1);
    await bare(-1);
  }
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    let o, b;
    if (r % 2 === 0) {
      o = await ours(r);
      b = await bare(r);
    } else {
      b = await bare(r);
      o = await ours(r);
    }
    perRound.push({ ours: o, bare: b, ratio: higherIsBetter ? o / b : b / o });
  }
  const ratios = perRound.map((x) => x.ratio);
  return {
    rounds: perRound,
    ours: median(perRound.map((x) => x.ours)),
    bare: median(perRound.map((x) => x.bare)),
    ratio: round2(median(ratios)),
    ratioSpread: { min: round2(Math.min(...ratios)), max: round2(Math.max(...ratios)) },
  };
}
