/**
 * saekit's library surface: everything the CLI does is available here for scripts and notebooks.
 * Stages follow the pipeline: core (tensors, kernels, autograd) → io (safetensors) → data (corpus, tokens) →
 * model (hooked transformer, training) → sae (training, evaluation, SAELens folders) → analysis (`analyzeRun`, the
 * investigation stores, live proxies and prompts, the workspace) → vis + web (dashboard service, HTML pages, the
 * server). Each CLI subcommand is a thin layer over one of these entry points.
 */
export type { FloatArray, GeluApprox, Kernels, Precision } from "./core/kernels.js";
export {
  backendInfo, jsKernels, kernels, kernelsFor, measureBf16PeakGflops, measureFmaPeakGflops, nativeKernels, setPrecision, type BackendInfo,
} from "./core/backend.js";
export { Rng, type RngState } from "./core/rng.js";
export { Tensor, type DType, type Shape } from "./core/tensor.js";
export { Tape, Var, constant, crossEntropyPerToken, detach, param, paramList, zeroGrad, type Params } from "./core/autograd.js";
export { Adam, AdamW, clipGradNorm, decayMatricesOnly, lrAt, type AdamWOptions, type LrSchedule, type LrScheduleKind, type OptimizerState } from "./core/optim.js";
export * from "./io/safetensors.js";
export * from "./io/atomic.js";
export * from "./data/index.js";
import { packageInfo } from "./package-info.js";

export { packageInfo };
export const version: string = packageInfo().version;
export * from "./model/config.js";
export * from "./model/weights.js";
export * from "./model/checkpoint.js";
export * from "./model/transformer.js";
export * from "./model/run.js";
export * from "./model/train.js";
export * from "./model/baselines.js";
export * from "./model/corpus-splits.js";
export * from "./io/checkpoint-folder.js";
export * from "./sae/sae.js";
export * from "./sae/sae-step.js";
export * from "./sae/init.js";
export * from "./sae/format.js";
export * from "./sae/activations.js";
export * from "./sae/train.js";
export * from "./sae/eval.js";
export * from "./sae/run-folder.js";
export * from "./model/readout.js";
export * from "./names.js";
export * from "./analysis/feature-stats.js";
export * from "./analysis/logit-weights.js";
export { CorrelationError, DenseColumnCorrelation, neuronAlignment, pearson, pearsonFromSums } from "./analysis/correlation.js";
export type {
  CorrelationMatch, CorrelationResult, FeatureFeatureCorrelationOptions, FeatureFeatureCorrelationResult, FeatureNeuronCorrelationOptions,
  NeuronAlignment, UniversalityThreshold,
} from "./analysis/correlation.js";
export * from "./analysis/feature-correlation.js";
export * from "./analysis/eval-tokens.js";
export * from "./analysis/proxy.js";
export * from "./analysis/proxy-stats.js";
export * from "./analysis/ablation.js";
export * from "./analysis/universality.js";
export * from "./analysis/analyze.js";
export * from "./analysis/prompt.js";
export * from "./analysis/live-proxy.js";
export * from "./analysis/unit-record.js";
export * from "./analysis/store.js";
export * from "./analysis/errors.js";
export * from "./analysis/shipped-models.js";
export { openWorkspace, Workspace } from "./analysis/workspace.js";
export * from "./analysis/unit-compare.js";
export type { ModelEntry, UnitSetEntry } from "./analysis/unit-sets.js";
export { UnitSetRegistry } from "./analysis/unit-sets.js";
export { WorkspaceLoader } from "./analysis/workspace-loader.js";
export type * from "./vis/api-types.js";
export { COMPARE_VOCAB_POINTS, DashboardService, dashboardService, PROMPT_PAGE_UNITS_PER_RANKING, vocabSample } from "./vis/service.js";
export { renderStaticPage } from "./vis/html.js";
export { formatPromptReport, formatUnitReport } from "./vis/text-report.js";
export { createServer, listen, type ServerOptions } from "./web/server.js";
