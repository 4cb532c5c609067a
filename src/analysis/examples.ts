/**
 * Which example windows a unit's record shows and which of their tokens get ablated: the top-K examples (every
 * firing token of the window ablated, for features) and each activation interval's samples (the example token
 * only). The requests go to ablation.ts' ablateRequests; store/assemble.ts turns the plans into stored examples.
 */
import { ReplayedRequests, stratifiedMean, type RequestSink } from "./ablation.js";
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
 * The requests go to `req` in a fixed order, so planning the unit again with a ReplayedRequests (ablation.ts) started
 * at its first request's index gives the same plan with the same indices.
 */
export function planUnit(
  stats: FeatureStats, u: number, valueAt: (t: number) => number | null, req: RequestSink, wholeWindow: boolean, o: PlanOptions,
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

/**
 * Plans units 0 … count−1 only to register their ablation requests in `req`, keeping no plan: returns where each
 * unit's requests start (count + 1 entries). replayPlan builds a unit's plan again when it is needed, with the same
 * request indices; at 131,072 features the kept plans were tens of millions of small objects alive through pass 3.
 */
export function registerPlans(count: number, req: RequestSink & { readonly length: number }, plan: (u: number, req: RequestSink) => unknown): Int32Array {
  const first = new Int32Array(count + 1);
  for (let u = 0; u < count; u++) {
    first[u] = req.length;
    plan(u, req);
  }
  first[count] = req.length;
  return first;
}

/** Unit u's plan again, with the request indices registerPlans gave it (`plan` must be the same function of u). */
export function replayPlan<P>(first: Int32Array, u: number, plan: (u: number, req: RequestSink) => P): P {
  const sink = new ReplayedRequests(first[u]!);
  const p = plan(u, sink);
  if (sink.next !== first[u + 1]) {
    throw new Error(`examples: unit ${u}'s plan made ${sink.next - first[u]!} ablation requests when replayed, ${first[u + 1]! - first[u]!} when registered`);
  }
  return p;
}
