/**
 * Features of the shipped runs found by what they are, never by index: every retraining (scripts/train-shipped.sh)
 * renumbers a dictionary, and the tests that read the shipped stores must survive it. A run usually splits a token
 * into several features (A/1 has about ten whose top token is " United"), so each finder says which one it means.
 */
import { f1 } from "../../src/analysis/interpretability.js";
import type { Workspace } from "../../src/analysis/workspace.js";

export interface ShippedFeature {
  /** e.g. "A/1/617" */
  name: string;
  index: number;
}

/** RUN's features whose top activating token is exactly TOKEN, with their density and interpretability score. */
function featuresWithTopToken(ws: Workspace, run: string, token: string) {
  const hits = ws.store(run).search(token, { exact: true }).filter((h) => h.field === "top token" && h.text === token);
  if (hits.length === 0) throw new Error(`no feature of the shipped ${run} has top token ${JSON.stringify(token)}`);
  return hits;
}

const feature = (run: string, index: number): ShippedFeature => ({ name: `${run}/${index}`, index });

/** The densest of RUN's features with top token TOKEN: for A/1's " United", the broad one that steers " States". */
export function densestFeatureWithTopToken(ws: Workspace, run: string, token: string): ShippedFeature {
  const best = featuresWithTopToken(ws, run, token).reduce((a, b) => (b.density > a.density ? b : a));
  return feature(run, best.index);
}

/**
 * The most interpretable of RUN's features with top token TOKEN (the specific one): by the stored score, or for a
 * store written before the score, the F1 of its proxy's specificity and sensitivity.
 */
export function mostInterpretableFeatureWithTopToken(ws: Workspace, run: string, token: string): ShippedFeature {
  const scored = featuresWithTopToken(ws, run, token).map((h) => {
    if (h.score !== null) return { index: h.index, score: h.score };
    const p = ws.unit(`${run}/${h.index}`).proxy;
    return { index: h.index, score: p ? f1(p.specificity, p.sensitivity) : -1 };
  });
  return feature(run, scored.reduce((a, b) => (b.score > a.score ? b : a)).index);
}
