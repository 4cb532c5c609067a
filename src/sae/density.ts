/**
 * Feature density bands: how much of a dictionary sits in the ultra-low-density cluster (*Towards Monosemanticity*:
 * features that fire on so few tokens that they learn next to nothing). "Dead" (never fired) undercounts it: a
 * feature firing on 1 token in 50,000 is alive but, in a 10 M-token run, saw only a few hundred training tokens.
 *
 * Shared by `sae eval`, training progress / training.json and analyze's summary, so every report uses one
 * definition: share below t = features with density < t over the counted tokens, never-fired ones included.
 */

/** Default thresholds of the ultra-low-density report (fraction of tokens a feature fires on). */
export const LOW_DENSITY_THRESHOLDS: readonly number[] = [1e-4, 1e-5];

export interface DensityBand {
  /** Density threshold t. */
  threshold: number;
  /** Features with density < t (never-fired ones included). */
  count: number;
  /** count / features. */
  share: number;
}

export interface DensitySummary {
  features: number;
  /** Tokens the densities were counted over (null when unknown). */
  tokens: number | null;
  /** Never fired. */
  dead: number;
  /** One band per threshold, in the order given. */
  below: DensityBand[];
  /** Median density over all features (dead ones included). */
  median: number;
}

/** Bands of per-feature densities (fractions of tokens). */
export function densitySummary(density: ArrayLike<number>, thresholds: readonly number[] = LOW_DENSITY_THRESHOLDS, tokens: number | null = null): DensitySummary {
  checkThresholds(thresholds, "density thresholds");
  const n = density.length;
  const sorted = Float64Array.from(density).sort();
  let dead = 0;
  for (let i = 0; i < n; i++) if (!(sorted[i]! > 0)) dead++;
  const below = thresholds.map((threshold) => {
    // Densities are mostly float32 (count / tokens): a feature at exactly the threshold is not below it.
    const t = Math.fround(threshold);
    // sorted is ascending: count = first index with value ≥ t.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return { threshold, count: lo, share: n > 0 ? lo / n : 0 };
  });
  const median = n === 0 ? NaN : n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { features: n, tokens, dead, below, median };
}

/** Throws unless every threshold is a number in (0, 1]. */
export function checkThresholds(thresholds: readonly number[], what: string): void {
  if (thresholds.length === 0) throw new Error(`${what}: give at least one threshold`);
  for (const t of thresholds) {
    if (!(t > 0 && t <= 1)) throw new Error(`${what}: ${t} is not a density in (0, 1] (e.g. 1e-4)`);
  }
}

/** "1e-4" for 0.0001: thresholds as people write them. */
export function formatThreshold(t: number): string {
  const e = Math.floor(Math.log10(t) + 1e-9);
  const m = t / 10 ** e;
  return Math.abs(m - 1) < 1e-9 ? `1e${e}` : t.toExponential(1).replace("e+", "e").replace(/\.0e/, "e");
}

/** "< 1e-4 3,029 (74.0 %), < 1e-5 165 (4.0 %)". */
export function formatDensityBands(s: DensitySummary): string {
  return s.below.map((b) => `< ${formatThreshold(b.threshold)} ${b.count.toLocaleString("en-US")} (${(100 * b.share).toFixed(1)}%)`).join(", ");
}

/** "1e-4,1e-5" → [1e-4, 1e-5]; the message names the flag. */
export function parseThresholdList(value: string, flag: string): number[] {
  const list = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  checkThresholds(list.length > 0 && list.every(Number.isFinite) ? list : [NaN], `${flag} "${value}"`);
  return list;
}
