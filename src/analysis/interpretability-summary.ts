/**
 * The interpretability score as the store and the summaries carry it (interpretability.ts finds it): each unit's best
 * proxy as a spec string, and a unit set's figures over its live units (median, mean, the share with spec and sens
 * ≥ 0.8, the score histogram).
 */
import { SCORE_HISTOGRAM_BINS, SPEC_SENS_THRESHOLD, type ProxySearch, type UnitInterpretability } from "./interpretability.js";

/**
 * The proxy as a spec string: `tokens:[…]`, `tokens:[…] in:prose`, `bigram:[["prev","cur"],…]`, `after:[…]` (the
 * previous tokens; token texts as JSON).
 */
export function interpretabilityProxySpec(r: Pick<UnitInterpretability, "kind" | "ids" | "previous" | "domain">, texts: { tokenText(id: number): string }): string {
  const list = (ids: readonly number[]) => JSON.stringify(ids.map((id) => texts.tokenText(id)));
  switch (r.kind) {
    case "tokens":
      return `tokens:${list(r.ids)}`;
    case "tokens-domain":
      return `tokens:${list(r.ids)} in:${r.domain}`;
    case "bigram":
      return `bigram:${JSON.stringify(r.ids.map((id, i) => [texts.tokenText(r.previous![i]!), texts.tokenText(id)]))}`;
    case "after":
      return `after:${list(r.ids)}`;
  }
}

export interface InterpretabilitySummary {
  /** Units that fired at least once (the others are left out of every figure). */
  live: number;
  median: number;
  mean: number;
  /** Share of live units whose best proxy has spec ≥ 0.8 and sens ≥ 0.8. */
  share_spec_sens_ge_0_8: number;
  /** Live units per score bin: SCORE_HISTOGRAM_BINS equal bins of [0, 1] (1 falls in the last). */
  histogram: number[];
}

/** Median (mean of the middle two for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The summary figures of a unit set's scores; `live[u]` false leaves unit u out. */
export function summarizeInterpretability(results: readonly Pick<UnitInterpretability, "score" | "spec" | "sens">[], live: (u: number) => boolean): InterpretabilitySummary {
  const kept = results.filter((_, u) => live(u));
  const scores = kept.map((r) => r.score);
  const histogram = new Array<number>(SCORE_HISTOGRAM_BINS).fill(0);
  for (const s of scores) histogram[Math.min(SCORE_HISTOGRAM_BINS - 1, Math.max(0, Math.floor(s * SCORE_HISTOGRAM_BINS)))]! += 1;
  const both = kept.filter((r) => r.spec >= SPEC_SENS_THRESHOLD && r.sens >= SPEC_SENS_THRESHOLD).length;
  return {
    live: kept.length,
    median: median(scores),
    mean: scores.length === 0 ? 0 : scores.reduce((a, b) => a + b, 0) / scores.length,
    share_spec_sens_ge_0_8: kept.length === 0 ? 0 : both / kept.length,
    histogram,
  };
}

/** The store's form of a unit's result: [score, spec, sens, proxy spec], or null for a unit that never fired. */
export function storedInterpretability(r: UnitInterpretability, fired: boolean, texts: { tokenText(id: number): string }): [number, number, number, string] | null {
  return fired ? [r.score, r.spec, r.sens, interpretabilityProxySpec(r, texts)] : null;
}

/** The summary of a searched unit set over its live units (density > 0). */
export function interpretabilityFigures(search: ProxySearch, density: ArrayLike<number>): InterpretabilitySummary {
  return summarizeInterpretability(search.results(), (u) => density[u]! > 0);
}
