/**
 * saekit's library surface: everything the CLI does is available here for scripts and notebooks.
 * Stages follow the pipeline: core (tensors, kernels, autograd) → io (safetensors) → data (corpus, tokens).
 */
export type { FloatArray, GeluApprox, Kernels } from "./core/kernels.js";
export { backendInfo, jsKernels, kernels, kernelsFor, measureFmaPeakGflops, nativeKernels, type BackendInfo } from "./core/backend.js";
export { Rng, type RngState } from "./core/rng.js";
export { Tensor, type DType, type Shape } from "./core/tensor.js";
export { Tape, Var, constant, crossEntropyPerToken, detach, param, paramList, zeroGrad, type Params } from "./core/autograd.js";
export { Adam, AdamW, clipGradNorm, decayMatricesOnly, lrAt, type AdamWOptions, type LrSchedule, type LrScheduleKind, type OptimizerState } from "./core/optim.js";
export * from "./io/safetensors.js";
export * from "./io/atomic.js";
export * from "./data/index.js";
import { packageInfo } from "./cli/package-info.js";

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
export * from "./analysis/feature-stats.js";
export * from "./analysis/logit-weights.js";
export * from "./analysis/correlation.js";
