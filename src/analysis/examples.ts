/**
 * Which example windows a unit's record shows and which of their tokens get ablated: the top-K examples (every
 * firing token of the window ablated, for features) and each activation interval's samples (the example token
 * only). The requests go to ablation.ts' ablateRequests; store/assemble.ts turns the plans into stored examples.
 */
import { AblationRequests, stratifiedMean } from "./ablation.js";
import type { FeatureStats, TokenActivation } from "./feature-stats.js";

/** One example to render and ablate: the unit, its token, and the firing window positions (filled in pass 3). */
export interface ExamplePlan {
  sequence: number;
  position: number;
  activation: number;
  /** [offset, activation, request index or −1] of the window's firing tokens (activation NaN: read in pass 3). */
  window: [number, number, number][];
}

export interface UnitPlan {
  top: ExamplePlan[];
  intervals: { lo: number; hi: number; fraction: number; examples: ExamplePlan[] }[];
}

export interface PlanOptions {
  seqLen: number;
  windowBefore: number;
  windowAfter: number;
}

/**
 * The plan of unit u. `valueAt(t)` is the unit's activation at global token t, or null where it is only known in
 * the ablation pass (neurons: their activations are not kept), in which case every window token is requested
 * there. `wholeWindow` ablates every firing token of the top examples' windows, not just the example token.
 */
export function planUnit(
  stats: FeatureStats, u: number, valueAt: (t: number) => number | null, req: AblationRequests, wholeWindow: boolean, o: PlanOptions,
): UnitPlan {
  const L = o.seqLen;
  const plan = (e: TokenActivation, ablateWindow: boolean): ExamplePlan => {
    const base = e.sequence * L;
    const window: [number, number, number][] = [];
    const lo = Math.max(0, e.position - o.windowBefore);
    const hi = Math.min(L - 1, e.position + o.windowAfter);
    for (let q = lo; q <= hi; q++) {
      const centre = q === e.position;
      const a = centre ? e.activation : valueAt(base + q);
      if (a === null) {
        // Activation known only in pass 3 (neurons): ask for it there.
        window.push([q - e.position, Number.NaN, ablateWindow && q < L - 1 ? req.add(base + q, u, Number.NaN) : -1]);
        continue;
      }
      if (!(a > 0)) continue;
      const ablate = q < L - 1 && (centre || ablateWindow);
      window.push([q - e.position, a, ablate ? req.add(base + q, u, a) : -1]);
    }
    return { sequence: e.sequence, position: e.position, activation: e.activation, window };
  };
  return {
    top: stats.top(u).map((e) => plan(e, wholeWindow)),
    intervals: stats.intervals(u).map((iv) => ({ lo: iv.lo, hi: iv.hi, fraction: iv.fraction, examples: iv.examples.map((e) => plan(e, false)) })),
  };
}

/**
 * Stratified mean loss effect of a unit from its interval samples: each interval's mean −Δlog-prob at the example
 * token, weighted by the interval's share of firing tokens, and its standard error (ablation.ts stratifiedMean);
 * null when nothing was sampled.
 */
export function meanLossEffect(plan: UnitPlan, deltas: Float32Array): { meanLossEffect: number | null; sampled: number; se: number | null } {
  const strata = plan.intervals.map((iv) => {
    const values: number[] = [];
    for (const p of iv.examples) {
      const centre = p.window.find(([off]) => off === 0);
      if (centre && centre[2] >= 0) values.push(-deltas[centre[2]]!);
    }
    return { weight: iv.fraction, values };
  });
  const { mean, se } = stratifiedMean(strata);
  // Every sampled token counts, as before (an interval of weight 0 contributes samples but no weight).
  const sampled = strata.reduce((t, s) => t + s.values.length, 0);
  return { meanLossEffect: mean, sampled, se };
}
