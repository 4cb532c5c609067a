/**
 * The shapes of a unit's "Related units" (GET /api/related/…; related-view.ts computes them). Types only, with no
 * imports outside names.ts, so the browser app can use them.
 */
import type { UnitKind } from "../names.js";

/** How many of two top-k token lists' tokens they share (related-units.ts tokenOverlap). */
export interface TokenOverlap {
  /** Tokens in both lists. */
  shared: number;
  /** shared / |union| (1: the same tokens, 0: none in common); null when both lists are empty. */
  jaccard: number | null;
  /** The shorter list's length (the most `shared` can be). */
  k: number;
}

export interface RelatedUnit {
  name: string;
  index: number;
  label: string;
  /** null when the unit's record cannot be read. */
  density: number | null;
}

export interface RelatedScored extends RelatedUnit {
  /** Pearson r over the evaluation tokens, or the decoder cosine (decoder list); null where undefined. */
  value: number | null;
}

export interface RelatedTokenOverlap extends TokenOverlap {
  /** The shared tokens' texts. */
  tokens: string[];
}

export interface RelatedMatch extends RelatedUnit {
  rank: number;
  /** Activation r over the evaluation tokens. */
  r: number | null;
  /** Logit-weight r over the vocabulary (stored for the best match only), null elsewhere. */
  logitR: number | null;
  /** The match's own best match back in this unit's run, with its r; null when unknown. */
  reverse: (RelatedUnit & { r: number | null }) | null;
  /** True: the match's best match back is this unit; false: another unit (asymmetric, likely splitting); null: unknown. */
  mutual: boolean | null;
  /** Overlap of the two units' top-k positive and negative logit tokens; null when either record is unreadable. */
  logitOverlap: { top: RelatedTokenOverlap; bottom: RelatedTokenOverlap } | null;
}

export interface RelatedRun {
  run: string;
  /** "analysis": the stored top matches both ways; "best match": an older store's single best match. */
  source: "analysis" | "best match";
  matches: RelatedMatch[];
}

export interface RelatedUnitsView {
  unit: string;
  kind: UnitKind;
  /** Matches in each compared run, best first. */
  runs: RelatedRun[];
  /** Features: nearest features of the same SAE by decoder cosine (null: a neuron, or no SAE weights here). */
  decoder: RelatedScored[] | null;
  /** Features: nearest features of the same SAE by activation r (null: a store written before it). */
  coactivation: RelatedScored[] | null;
  /** Neurons: the features that correlate most with the neuron (r), or of an older store those whose best neuron it is. */
  features: RelatedScored[] | null;
  /** "analysis": top features by r; "best neuron": features whose best-correlated neuron this is (older stores). */
  featuresSource: "analysis" | "best neuron" | null;
  /** What is missing and why, one line each. */
  notes: string[];
}

