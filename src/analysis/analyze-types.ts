/** The inputs, options and results of `saekit analyze` (analyze.ts), apart from the orchestration. */
import type { Tokenizer } from "../data/tokenizer.js";
import type { HookedTransformer } from "../model/transformer.js";
import { LOW_DENSITY_THRESHOLDS, type DensitySummary } from "../sae/density.js";
import type { Sae } from "../sae/sae.js";
import type { CompareSae } from "./analyze-passes.js";
import type { AtlasOptions, AtlasRunInput } from "./atlas.js";
import { DEFAULT_EVALUATION_TOKENS, type EvaluationTokens } from "./eval-tokens.js";
import type { InterpretabilitySummary } from "./interpretability-summary.js";
import { DEFAULT_LLR_ALPHA } from "./proxy-stats.js";
import type { RunFigures } from "./run-figures.js";
import type { StepTime } from "./step-clock.js";
import type { InvestigationManifest, UniversalitySummary } from "./unit-record.js";

export interface AnalyzeOptions {
  /** Max-activating examples per unit. */
  topK?: number;
  histogramBins?: number;
  intervalCount?: number;
  intervalSamples?: number;
  /** Tokens shown before / after an example's token. */
  windowBefore?: number;
  windowAfter?: number;
  /** Tokens in the top and bottom logit lists. */
  logitTop?: number;
  /** Sequences per forward pass. */
  batchSequences?: number;
  seed?: number;
  /** Smoothing of the proxy log-likelihood ratio (proxy-stats.ts). */
  llrAlpha?: number;
  /** Densities below which the share of units is reported (the ultra-low-density cluster; sae/density.ts). */
  lowDensityThresholds?: readonly number[];
}

/** The defaults of every analyze option (the CLI's too), plus the evaluation budget in tokens. */
export const ANALYZE_DEFAULTS = {
  topK: 20,
  histogramBins: 40,
  intervalCount: 5,
  intervalSamples: 5,
  windowBefore: 8,
  windowAfter: 4,
  logitTop: 10,
  batchSequences: 32,
  seed: 0,
  llrAlpha: DEFAULT_LLR_ALPHA,
  lowDensityThresholds: LOW_DENSITY_THRESHOLDS,
  evaluationTokens: DEFAULT_EVALUATION_TOKENS,
} as const;

export interface AnalyzeProgress {
  stage: string;
  done: number;
  total: number;
}

export interface AnalyzeInput {
  /** The unit set of the SAE run, e.g. "A/1" (names.ts), and its model, e.g. "A". */
  run: string;
  modelName: string;
  model: HookedTransformer;
  sae: Sae;
  hook: string;
  tokenizer: Tokenizer;
  evaluation: EvaluationTokens;
  /** Where the feature store goes (…/A/1/investigation). */
  featureDir: string;
  /** Where the model's neuron store goes (…/A/investigation), or null to skip neurons. */
  neuronDir: string | null;
  compare?: CompareSae[];
  /**
   * Runs of the same model and hook with other dictionary sizes (analyze --family): each feature is linked to its
   * nearest features of the next smaller and next larger of them (family.ts); the others are ignored.
   */
  family?: FamilyRun[];
  /**
   * The feature atlas (analyze --atlas, atlas.ts): a 2-D map of this run's decoder rows and these other runs' of the
   * same model, stored as the feature store's atlas.safetensors.
   */
  atlas?: { runs: AtlasRunInput[]; options?: AtlasOptions };
  saeSummary?: InvestigationManifest["sae"];
  /** Stores over the same tokens (e.g. compared or family runs'), tried in order, whose token file to point at instead of a copy. */
  shareTokensWith?: string | readonly string[];
  options?: AnalyzeOptions;
  onProgress?: (p: AnalyzeProgress) => void;
}

/** A run of the same model at another dictionary size, e.g. { name: "A/0", sae, hook }. */
export interface FamilyRun {
  name: string;
  sae: Sae;
  hook: string;
}

export interface AnalyzeResult {
  /** Seconds per stage (sums of `steps`, see step-clock.ts), plus tokens/s, as the last manifest written stores them. */
  timing: Record<string, number>;
  universality: UniversalitySummary[];
  /** The same for the model's neurons against each compared model's neurons (when neurons are analysed). */
  neuronUniversality: UniversalitySummary[];
  /** Dead and ultra-low-density features over the evaluation tokens (and neurons, when analysed). */
  lowDensity: DensitySummary;
  neuronLowDensity: DensitySummary | null;
  /** Interpretability scores of the features (and neurons, when analysed) over their live units. */
  interpretability: { features: InterpretabilitySummary; neurons?: InterpretabilitySummary };
  tokens: number;
  /** The family sides written (family.ts), with how many features have children / a parent there. */
  family: { side: string; run: string; units: number; linked: number }[];
  /** The run-level figures (run-figures.ts), as stored in the manifest and summary.json. */
  runFigures: RunFigures;
  /** The features' log-density histogram (the manifest's). */
  densityHistogram: InvestigationManifest["densityHistogram"];
  /**
   * Finer steps than `timing`, with this process' CPU seconds (all threads) beside the wall seconds, in order
   * (benchmarks; not stored): pass1, family, pass2, interpretability, plans, ablations, correlations, logit weights,
   * related units, atlas (with --atlas), write features, write neurons.
   */
  steps: StepTime[];
  /** Ablation requests (one scored row each) of the features and of the neurons. */
  ablationRequests: { features: number; neurons: number };
}
