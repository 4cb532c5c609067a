/**
 * SAE training (`saekit sae train`): Adam with warm-up, the standard (ReLU + L1, unit-norm decoder, L1 warm-up,
 * dead-feature resampling) and TopK (AuxK) recipes, progress events, atomic checkpoints and --resume, and a final
 * SAELens folder (activation normalisation folded into the weights, as SAELens does when saving).
 *
 * Output folder OUT:
 *   checkpoint/                        weights (F32, unfolded), Adam moments, the shuffle buffer (stream.safetensors),
 *                                      state.json (written last): a resume continues bit-for-bit
 *   .saekit.lock                       held while a run writes the folder (io/folder-lock.ts)
 *   cfg.json + sae_weights.safetensors the final SAE (SAELens v6 layout, see format.ts)
 *   sparsity.safetensors               log10 feature density over the last `densityWindowTokens` of training
 *   training.json                      hyper-parameters, throughput, final statistics, history
 */
import fs from "node:fs";
import { join, resolve } from "node:path";
import { param } from "../core/autograd.js";
import { backendRecord, kernels } from "../core/backend.js";
import { Adam } from "../core/optim.js";
import { Rng, type RngState } from "../core/rng.js";
import { Tensor } from "../core/tensor.js";
import { removeStaleAtomicTemps, writeFileAtomicSync } from "../io/atomic.js";
import { isCheckpointEntry, readLatestCheckpointFolder, removeCheckpointTemps, writeCheckpointFolder, CHECKPOINT_DIR } from "../io/checkpoint-folder.js";
import { acquireFolderLock, LOCK_FILE } from "../io/folder-lock.js";
import { openSafetensors, saveSafetensors } from "../io/safetensors.js";
import { loadOptimizerState, saveOptimizerState } from "../model/train-checkpoint.js";
import { estimateNormScale, type ActivationSource, type ShuffleBufferState, type StreamSnapshot } from "./activations.js";
import { loadSaeFolder, saveSaeFolder, type SaeMetadata } from "./format.js";
import { geometricMedian, initSae } from "./init.js";
import { Sae, type SaeArchitecture } from "./sae.js";
import { densitySummary, LOW_DENSITY_THRESHOLDS, checkThresholds, type DensitySummary } from "./density.js";
import { FeatureDensityTracker, lowDensityCheckSteps, resampleFeatures, RESAMPLE_MODES, type DensityTrackerState, type ResampleEvent, type ResampleMode } from "./resample.js";
import { SaeBatchStep } from "./sae-step.js";

export interface TrainSaeOptions {
  out: string;
  /** The activations; called with the checkpoint's source.resumePosition (or rows served) when resuming, else 0. */
  source: (resumeRows: number) => ActivationSource;
  meta: SaeMetadata;
  architecture: SaeArchitecture;
  dSae: number;
  /** Active features per token (topk). */
  k?: number;
  seed?: number;
  /** Training tokens (activation rows), rounded up to whole batches. */
  tokens: number;
  batchSize?: number;
  lr?: number;
  /** Linear lr warm-up steps (default 1% of steps, at most 1000). */
  lrWarmupSteps?: number;
  /** The last fraction of steps over which lr decays linearly to 0 (default 0.2). */
  lrDecayFraction?: number;
  /** λ of the L1 penalty (standard); the penalty is averaged over the batch. */
  l1Coefficient?: number;
  /** Steps over which λ ramps up linearly from 0 (default 5% of steps). */
  l1WarmupSteps?: number;
  /**
   * Resampling (standard): "paper" (default) resamples features dead for deadWindowTokens at resampleSteps
   * (Towards Monosemanticity, as the shipped runs were trained); "low-density" resamples features below
   * resampleThreshold over the last resampleWindowTokens, every resampleEveryTokens until the last 20 % of training
   * (opt-in: on model A at 10 M tokens its untuned schedule thrashes — see README); "none".
   */
  resample?: ResampleMode;
  /** low-density: density below which a feature is resampled (default 1e-4). */
  resampleThreshold?: number;
  /** low-density: tokens between checks (default 5 % of training, at least 10 / threshold). */
  resampleEveryTokens?: number;
  /** low-density: tokens the density is counted over before each check (default = resampleEveryTokens). */
  resampleWindowTokens?: number;
  /** Densities below which the progress and training.json report the ultra-low-density share (default 1e-4, 1e-5). */
  lowDensityThresholds?: number[];
  /** Steps at which dead features are resampled (standard, "paper"; default: 20%, 40%, 60% of training). */
  resampleSteps?: number[];
  /** Rows scored to choose resampling inputs (default 65,536). */
  resampleRows?: number;
  /** A feature is dead if it has not fired for this many tokens (default 1M; AuxK and resampling). */
  deadWindowTokens?: number;
  /**
   * AuxK: dead latents per token (default d_in/2) and α (default 1/32 for topk, 0 = off for standard). For the
   * standard recipe the "dead" latents are those whose moving-average density (horizon: the resampling window) is
   * below resampleThreshold, and their aux activations are shifted pre-activations (see sae-step.ts).
   */
  auxK?: number;
  auxCoefficient?: number;
  /** Scale activations so that E‖x‖² = d_in (SAELens "expected_average_only_in"); default true. */
  normalize?: boolean;
  /** Tokens at the end of training over which feature densities are counted for sparsity.safetensors. */
  densityWindowTokens?: number;
  checkpointEvery?: number;
  resume?: boolean;
  dtype?: "F32" | "F16" | "BF16";
  discardCheckpoint?: boolean;
  /** Aborting stops after the current step with a checkpoint (resumable). */
  signal?: AbortSignal;
  /** Settings of the activation source a resume must match (e.g. {bufferRows}); compared like the training settings. */
  sourceSettings?: Record<string, unknown>;
  onProgress?: (event: SaeTrainEvent) => void;
}

export interface SaeStepEvent {
  type: "step";
  step: number;
  totalSteps: number;
  tokens: number;
  totalTokens: number;
  loss: number;
  mse: number;
  /** Fraction of variance unexplained of this batch. */
  fvu: number;
  l0: number;
  l1Coefficient: number;
  lr: number;
  /** Fraction of features that have not fired within the dead window. */
  deadFraction: number;
  /** Per lowDensityThresholds: share of features whose moving-average density is below it. */
  lowDensity: Array<{ threshold: number; share: number }>;
  tokensPerSecond: number;
}

export type SaeTrainEvent =
  | { type: "start"; totalSteps: number; totalTokens: number; resumedFrom: number | null; normScale: number }
  | SaeStepEvent
  | { type: "resample"; step: number; mode: ResampleMode; dead: number; belowThreshold: number | null; resampled: number }
  | { type: "checkpoint"; step: number; dir: string }
  | { type: "done"; out: string; seconds: number };

export class SaeTrainError extends Error {
  override name = "SaeTrainError";
}

interface TrainState {
  version: 1;
  step: number;
  served: number;
  /** source.resumePosition (or served) at the checkpoint: where a resumed stream starts. */
  resumeAt: number;
  trainSeconds: number;
  normScale: number;
  /** Last step each feature fired (−1: never). */
  lastFired: number[];
  /** Firings per feature within the density window. */
  densityCounts: number[];
  densityTokens: number;
  rng: RngState;
  /** lowDensity: shares below lowDensityThresholds (moving-average densities). */
  history: Array<{ step: number; tokens: number; mse: number; fvu: number; l0: number; dead: number; loss: number; lowDensity?: number[] }>;
  resampled: ResampleEvent[];
  /** Density tracking of the low-density resampling and the AuxK mask (absent in older checkpoints). */
  densityTracker?: DensityTrackerState;
  /** The run's settings (object; a JSON string in checkpoints of older saekit versions). */
  identity: RunIdentity | string;
  /** The last step's batch statistics (the final metrics when a resume starts at the last step). */
  last?: { mse: number | null; fvu: number | null; l0: number | null };
  /** The activation stream's exact state (stream.safetensors holds its buffered rows). */
  stream?: ShuffleBufferState;
}

/** Every setting that decides the weights; a resume must match all of them. */
type RunIdentity = Record<string, unknown>;

const STATE_FILE = "state.json";
const OPTIMIZER_FILE = "optimizer.safetensors";
const STREAM_FILE = "stream.safetensors";
const PARAM_NAMES = ["W_enc", "b_enc", "W_dec", "b_dec"] as const;

export interface TrainSaeResult {
  /** False when stopped by the signal (a checkpoint was written). */
  completed: boolean;
  sae: Sae;
  out: string;
  steps: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  final: { mse: number; fvu: number; l0: number; deadFraction: number };
  /** Density bands over the last densityWindowTokens of training (what sparsity.safetensors holds). */
  density?: DensitySummary;
}

export async function trainSae(options: TrainSaeOptions): Promise<TrainSaeResult> {
  const o = resolveOptions(options);
  const out = resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const release = acquireFolderLock(out, "sae train");
  try {
    return await trainSaeLocked(options, o, out);
  } finally {
    release();
  }
}

/** The settings a resume must match; `k` and λ only where the architecture uses them. */
function runIdentity(o: ResolvedOptions, options: TrainSaeOptions): RunIdentity {
  const standard = o.architecture === "standard";
  return {
    architecture: o.architecture, dSae: o.dSae, k: standard ? null : o.k, seed: o.seed, tokens: o.totalSteps * o.batchSize, batch: o.batchSize,
    hook: options.meta.hookName, model: options.meta.modelName, datasetPath: options.meta.datasetPath,
    lr: o.lr, lrWarmupSteps: o.lrWarmupSteps, lrDecayFraction: o.lrDecayFraction,
    l1Coefficient: standard ? o.l1Coefficient : null, l1WarmupSteps: standard ? o.l1WarmupSteps : null,
    resampleSteps: standard && o.resample === "paper" ? o.resampleSteps : null, resampleRows: standard && o.resample !== "none" ? o.resampleRows : null, deadWindowTokens: o.deadWindowTokens,
    resample: standard ? o.resample : null, lowDensityResample: standard && o.resample === "low-density" ? o.lowDensity : null,
    auxK: o.auxCoefficient > 0 ? (o.auxK ?? null) : null, auxCoefficient: standard && o.auxCoefficient === 0 ? null : o.auxCoefficient,
    normalize: o.normalize, densityWindowTokens: o.densityWindowTokens, ...(options.sourceSettings ?? {}),
  };
}

/**
 * The settings in which a checkpoint's run differs from these options, as "name (old → new)". Settings an older
 * checkpoint did not record are not compared (its identity was a JSON string of the first few).
 */
function identityDifferences(recorded: RunIdentity | string, current: RunIdentity): string[] {
  const old = typeof recorded === "string" ? (JSON.parse(recorded) as RunIdentity) : recorded;
  const diffs: string[] = [];
  for (const key of Object.keys(current)) {
    if (!(key in old)) continue;
    const a = JSON.stringify(old[key] ?? null);
    const b = JSON.stringify(current[key] ?? null);
    if (a !== b) diffs.push(`${key} (${a} → ${b})`);
  }
  for (const key of Object.keys(old)) if (!(key in current)) diffs.push(`${key} (${JSON.stringify(old[key])} → unset)`);
  return diffs;
}

async function trainSaeLocked(options: TrainSaeOptions, o: ResolvedOptions, out: string): Promise<TrainSaeResult> {
  removeCheckpointTemps(out);
  removeStaleAtomicTemps(out); // .training.json.tmp-PID-HEX and the like, from a run killed mid-write
  const identity = runIdentity(o, options);
  const checkpoint = options.resume ? readLatestCheckpointFolder(out, STATE_FILE, readSaeCheckpoint) : null;
  const contents = fs.readdirSync(out).filter((n) => !isCheckpointEntry(n) && n !== LOCK_FILE);
  if (!options.resume) {
    if (contents.length > 0 || fs.existsSync(join(out, CHECKPOINT_DIR))) {
      throw new SaeTrainError(`sae train: output folder ${out} is not empty (${[...contents, CHECKPOINT_DIR].slice(0, 3).join(", ")}…); use a new folder, or --resume to continue the run there`);
    }
  } else if (checkpoint === null && contents.length > 0) {
    // Never train from scratch over something that is there: a finished run, or another run's files.
    if (contents.includes("training.json") && contents.includes("cfg.json")) {
      throw new SaeTrainError(`sae train --resume: ${out} holds a finished run whose checkpoint was discarded (--discard-checkpoint); there is nothing to resume, and it is left as it is. Train into a new folder`);
    }
    throw new SaeTrainError(`sae train --resume: ${out} has no checkpoint to resume (it holds ${contents.slice(0, 4).join(", ")}${contents.length > 4 ? ", …" : ""}); refusing to overwrite it. Train into a new or empty folder`);
  }
  if (checkpoint) {
    const diffs = identityDifferences(checkpoint.state.identity, identity);
    if (diffs.length > 0) {
      throw new SaeTrainError(`sae train --resume: the checkpoint in ${checkpoint.dir} was made with other settings; it differs in ${diffs.join(", ")}. Resume with the run's settings, or train into a new folder`);
    }
  }
  const emit = (e: SaeTrainEvent) => options.onProgress?.(e);
  const source = options.source(checkpoint?.state.resumeAt ?? 0);
  const dIn = source.dIn;
  if (dIn !== (checkpoint?.sae.dIn ?? dIn)) throw new SaeTrainError(`sae train --resume: activations have d_in ${dIn}, the checkpoint ${checkpoint!.sae.dIn}`);
  // The exact stream (buffered rows included): without it a resume would skip the buffered rows and reshuffle.
  if (checkpoint?.stream && source.restore) source.restore(checkpoint.stream);

  const spec = { architecture: o.architecture, dIn, dSae: o.dSae, k: o.architecture === "topk" ? o.k : null, applyBDecToInput: true };
  const rng = checkpoint ? Rng.fromState(checkpoint.state.rng) : new Rng(o.seed);
  const sae = checkpoint ? checkpoint.sae : new Sae(spec);
  let state: TrainState;
  const batch = new Float32Array(o.batchSize * dIn);
  if (checkpoint) {
    state = { ...checkpoint.state, identity };
  } else {
    const normScale = o.normalize ? estimateNormScale(source) : 1;
    if (!Number.isFinite(normScale) || normScale <= 0) throw new SaeTrainError(`sae train: activation norm scale is ${normScale} (are the activations all zero?)`);
    // b_dec = geometric median of a sample (scaled like the training inputs).
    const sampleRows = Math.min(8192, o.batchSize * 2);
    const sample = source.next(sampleRows);
    kernels().scale(sample, normScale);
    initSae(sae, rng, geometricMedian(sample, sampleRows, dIn));
    state = {
      version: 1, step: 0, served: source.served, resumeAt: source.resumePosition ?? source.served, trainSeconds: 0, normScale, lastFired: new Array(o.dSae).fill(-1),
      densityCounts: new Array(o.dSae).fill(0), densityTokens: 0, rng: rng.state(), history: [], resampled: [], identity,
    };
  }

  const params = {
    W_enc: param(new Tensor(sae.encT, [o.dSae, dIn]), "W_enc"),
    b_enc: param(new Tensor(sae.bEnc, [o.dSae]), "b_enc"),
    W_dec: param(new Tensor(sae.dec, [o.dSae, dIn]), "W_dec"),
    b_dec: param(new Tensor(sae.bDec, [dIn]), "b_dec"),
  };
  const step = new SaeBatchStep(sae);
  params.W_enc.grad = new Tensor(step.grads.encT, [o.dSae, dIn]);
  params.b_enc.grad = new Tensor(step.grads.bEnc, [o.dSae]);
  params.W_dec.grad = new Tensor(step.grads.dec, [o.dSae, dIn]);
  params.b_dec.grad = new Tensor(step.grads.bDec, [dIn]);
  const adam = new Adam(params, { beta1: o.beta1, beta2: o.beta2 });
  if (checkpoint) adam.loadStateDict(checkpoint.optimizer);

  const lastFired = Int32Array.from(state.lastFired);
  const densityCounts = Float64Array.from(state.densityCounts);
  const deadWindowSteps = Math.max(1, Math.ceil(o.deadWindowTokens / o.batchSize));
  const densityStartStep = Math.max(0, o.totalSteps - Math.ceil(o.densityWindowTokens / o.batchSize));
  const deadMask = new Uint8Array(o.dSae);
  // Density tracking: the low-density resampling window, and a moving average for the AuxK mask and progress.
  const tracker = new FeatureDensityTracker(o.dSae, o.batchSize, o.lowDensity.windowSteps * o.batchSize, state.densityTracker);
  const lowMask = new Uint8Array(o.dSae);
  const lowDensityChecks = new Set(o.architecture === "standard" && o.resample === "low-density" ? lowDensityCheckSteps(o.lowDensity) : []);
  const standardAux = o.architecture === "standard" && o.auxCoefficient > 0;
  const deadCount = () => {
    let n = 0;
    for (let j = 0; j < o.dSae; j++) {
      // Not yet fired: dead only once a whole window has passed since the start.
      const since = lastFired[j]! < 0 ? state.step : state.step - lastFired[j]!;
      deadMask[j] = since >= deadWindowSteps ? 1 : 0;
      n += deadMask[j]!;
    }
    return n;
  };

  const saveCheckpoint = () => {
    state.lastFired = Array.from(lastFired);
    state.densityCounts = Array.from(densityCounts);
    state.densityTracker = tracker.state();
    state.rng = rng.state();
    state.last = { mse: finiteOrNull(last.mse), fvu: finiteOrNull(last.fvu), l0: finiteOrNull(last.l0) };
    const stream = source.snapshot?.();
    state.stream = stream?.state;
    const dir = writeCheckpointFolder(out, (tmp) => {
      saveSaeFolder(tmp, sae, { ...options.meta, extra: { checkpoint: true, normScale: state.normScale } }, { dtype: "F32" });
      saveOptimizerState(join(tmp, OPTIMIZER_FILE), adam.stateDict());
      if (stream) saveSafetensors(join(tmp, STREAM_FILE), { rows: { dtype: "F32", shape: [stream.state.held, dIn], data: stream.rows } });
      writeFileAtomicSync(join(tmp, STATE_FILE), `${JSON.stringify(state)}\n`);
    });
    emit({ type: "checkpoint", step: state.step, dir });
    return state.step;
  };

  emit({ type: "start", totalSteps: o.totalSteps, totalTokens: o.totalSteps * o.batchSize, resumedFrom: checkpoint ? state.step : null, normScale: state.normScale });
  let lastCheckpointStep = checkpoint ? state.step : -1;
  let sessionSeconds = 0;
  let sessionTokens = 0;
  let last: { mse: number; fvu: number; l0: number } = { mse: state.last?.mse ?? NaN, fvu: state.last?.fvu ?? NaN, l0: state.last?.l0 ?? NaN };
  const resampleSet = new Set(o.architecture === "standard" && o.resample === "paper" ? o.resampleSteps : []);
  const k = kernels();
  while (state.step < o.totalSteps) {
    const t0 = performance.now();
    try {
      source.next(o.batchSize, batch);
    } catch (error) {
      throw stopError(`reading activations failed at step ${state.step}: ${(error as Error).message}`, lastCheckpointStep, out);
    }
    if (state.normScale !== 1) k.scale(batch, state.normScale);
    const lambda = o.l1Coefficient * Math.min(1, (state.step + 1) / Math.max(1, o.l1WarmupSteps));
    const dead = deadCount();
    // A low-density window ends at the next check: start counting `windowSteps` before it.
    if (lowDensityChecks.has(state.step + o.lowDensity.windowSteps)) tracker.resetWindow();
    const auxMask = o.architecture === "topk" ? (dead > 0 ? deadMask : null) : standardAux && tracker.belowMask(o.lowDensity.threshold, lowMask) > 0 ? lowMask : null;
    const logging = (state.step + 1) % o.logEvery === 0 || state.step + 1 === o.totalSteps;
    const { stats, codes, activeFeatures, firedCounts } = step.run(batch, o.batchSize, {
      withVariance: logging,
      l1Coefficient: lambda, deadMask: auxMask, auxK: o.auxK ?? Math.floor(dIn / 2), auxCoefficient: o.auxCoefficient,
    });
    if (!Number.isFinite(stats.loss)) {
      throw stopError(`the loss became ${stats.loss} at step ${state.step} (MSE ${stats.mse}, L1 ${stats.l1}); try a lower lr or λ`, lastCheckpointStep, out);
    }
    // Keep the decoder rows on the unit sphere: step along the tangent, then renormalise.
    k.projectOutRows(step.grads.dec, sae.dec, o.dSae, dIn);
    const lr = saeLearningRate(state.step, o);
    adam.step(lr);
    k.normalizeRows(sae.dec, o.dSae, dIn, null);
    for (let j = 0; j < o.dSae; j++) if (activeFeatures[j]) lastFired[j] = state.step;
    tracker.observe(codes, activeFeatures, firedCounts);
    if (state.step >= densityStartStep) {
      accumulateDensity(codes, densityCounts, activeFeatures, firedCounts);
      state.densityTokens += o.batchSize;
    }
    state.step += 1;
    state.served = source.served;
    state.resumeAt = source.resumePosition ?? source.served;
    const seconds = (performance.now() - t0) / 1000;
    state.trainSeconds += seconds;
    sessionSeconds += seconds;
    sessionTokens += o.batchSize;
    const fvu = stats.totalVariance > 0 ? (stats.mse * o.batchSize) / stats.totalVariance : NaN;
    last = { mse: stats.mse, fvu, l0: stats.l0 };

    if (resampleSet.has(state.step)) {
      const deadNow = deadCount();
      const resampled = resampleFeatures(sae, adam, deadMask, source, state.normScale, o.resampleRows, rng, o.batchSize);
      for (let j = 0; j < o.dSae; j++) if (deadMask[j]) lastFired[j] = state.step; // a fresh window for new features
      state.resampled.push({ step: state.step, dead: deadNow });
      emit({ type: "resample", step: state.step, mode: "paper", dead: deadNow, belowThreshold: null, resampled });
    }
    if (lowDensityChecks.has(state.step) && tracker.windowDenseSteps > 0) {
      // Codes still dense (L1 warm-up): counts are lower bounds and resampling now would only restart the warm-up.
      state.resampled.push({ step: state.step, dead: deadCount(), resampled: 0, skipped: "codes were dense during the window" });
    } else if (lowDensityChecks.has(state.step)) {
      const deadNow = deadCount();
      const below = tracker.windowBelowMask(o.lowDensity.threshold, o.lowDensity.windowSteps * o.batchSize, lowMask);
      const resampled = resampleFeatures(sae, adam, lowMask, source, state.normScale, o.resampleRows, rng, o.batchSize);
      for (let j = 0; j < o.dSae; j++) if (lowMask[j]) lastFired[j] = state.step;
      state.resampled.push({ step: state.step, dead: deadNow, belowThreshold: below, resampled });
      emit({ type: "resample", step: state.step, mode: "low-density", dead: deadNow, belowThreshold: below, resampled });
    }
    if (logging) {
      const deadFraction = deadCount() / o.dSae;
      // No estimate before the first sparse step (the dense path counts only "fired in the batch").
      const bands = densitySummary(tracker.densities(), o.lowDensityThresholds).below.map((b) => ({ ...b, share: tracker.emaSteps > 0 ? b.share : NaN }));
      const lowDensity = bands.map((b) => ({ threshold: b.threshold, share: b.share }));
      state.history.push({ step: state.step, tokens: state.step * o.batchSize, mse: stats.mse, fvu, l0: stats.l0, dead: deadFraction, loss: stats.loss, lowDensity: bands.map((b) => b.share) });
      emit({
        type: "step", step: state.step, totalSteps: o.totalSteps, tokens: state.step * o.batchSize, totalTokens: o.totalSteps * o.batchSize,
        loss: stats.loss, mse: stats.mse, fvu, l0: stats.l0, l1Coefficient: lambda, lr, deadFraction, lowDensity, tokensPerSecond: sessionTokens / sessionSeconds,
      });
    }
    if (o.checkpointEvery > 0 && state.step % o.checkpointEvery === 0 && state.step < o.totalSteps) lastCheckpointStep = saveCheckpoint();
    // Let signals (Ctrl-C) and timers run between steps.
    await new Promise((r) => setImmediate(r));
    if (options.signal?.aborted && state.step < o.totalSteps) {
      saveCheckpoint();
      const tokens = state.step * o.batchSize;
      return { completed: false, sae, out, steps: state.step, tokens, seconds: state.trainSeconds, tokensPerSecond: tokens / state.trainSeconds, final: { ...last, deadFraction: deadCount() / o.dSae } };
    }
  }
  if (!options.discardCheckpoint) saveCheckpoint();

  // Final SAELens folder, normalisation folded in.
  const final = sae.clone();
  foldNormScale(final, state.normScale);
  const sparsity = Float32Array.from(densityCounts, (c) => Math.log10(Math.max(c, 1e-10) / Math.max(1, state.densityTokens)));
  const deadFraction = deadCount() / o.dSae;
  const density = densitySummary(Float64Array.from(densityCounts, (c) => c / Math.max(1, state.densityTokens)), o.lowDensityThresholds, state.densityTokens);
  const standard = o.architecture === "standard";
  const resampling = !standard || o.resample === "none" ? { mode: standard ? "none" : null }
    : o.resample === "paper" ? { mode: "paper", steps: o.resampleSteps, deadWindowTokens: o.deadWindowTokens, rows: o.resampleRows }
      : {
          mode: "low-density", threshold: o.lowDensity.threshold, everySteps: o.lowDensity.everySteps, everyTokens: o.lowDensity.everySteps * o.batchSize,
          windowSteps: o.lowDensity.windowSteps, windowTokens: o.lowDensity.windowSteps * o.batchSize, untilStep: o.lowDensity.untilStep, rows: o.resampleRows,
        };
  const training = {
    architecture: o.architecture, dSae: o.dSae, dIn, k: spec.k, seed: o.seed, tokens: state.step * o.batchSize, steps: state.step,
    batchSize: o.batchSize, lr: o.lr, lrWarmupSteps: o.lrWarmupSteps, lrDecayFraction: o.lrDecayFraction, adam: { beta1: o.beta1, beta2: o.beta2 },
    l1Coefficient: o.architecture === "standard" ? o.l1Coefficient : null, l1Penalty: "λ · mean over tokens of Σ_j f_j ‖W_dec_j‖ (unit-norm decoder rows)",
    l1WarmupSteps: o.l1WarmupSteps, resampling, resampled: state.resampled, deadWindowTokens: o.deadWindowTokens,
    auxK: o.auxCoefficient > 0 ? (o.auxK ?? Math.floor(dIn / 2)) : null, auxCoefficient: o.auxCoefficient > 0 ? o.auxCoefficient : null,
    auxDeadLatents: o.auxCoefficient > 0 ? (standard ? `moving-average density < ${o.lowDensity.threshold} (horizon ${o.lowDensity.windowSteps * o.batchSize} tokens)` : `no firing for ${o.deadWindowTokens} tokens`) : null,
    normalizeActivations: o.normalize ? "expected_average_only_in (folded into the saved weights)" : "none", normScale: state.normScale,
    trainSeconds: state.trainSeconds, tokensPerSecond: (state.step * o.batchSize) / state.trainSeconds, precision: kernels().precision, backend: backendRecord(),
    final: { ...last, deadFraction }, densityWindowTokens: state.densityTokens, density, history: state.history,
  };
  // The scale is folded into the weights: the saved SAE takes raw activations, so "none" (what SAELens'
  // fold_activation_norm_scaling_factor sets; "expected_average_only_in" would make its tools scale twice).
  saveSaeFolder(out, final, { ...options.meta, normalizeActivations: "none", extra: { ...(options.meta.extra ?? {}), training: { ...training, history: undefined } } }, { dtype: o.dtype, sparsity });
  writeFileAtomicSync(join(out, "training.json"), `${JSON.stringify(training, null, 2)}\n`);
  if (options.discardCheckpoint) fs.rmSync(join(out, CHECKPOINT_DIR), { recursive: true, force: true });
  emit({ type: "done", out, seconds: state.trainSeconds });
  return { completed: true, sae: final, out, steps: state.step, tokens: state.step * o.batchSize, seconds: state.trainSeconds, tokensPerSecond: training.tokensPerSecond, final: training.final, density };
}

/** Linear warm-up, constant, then linear decay to 0 over the last lrDecayFraction of the steps. */
export function saeLearningRate(step: number, o: { lr: number; lrWarmupSteps: number; totalSteps: number; lrDecayFraction: number }): number {
  if (step < o.lrWarmupSteps) return (o.lr * (step + 1)) / o.lrWarmupSteps;
  const decaySteps = Math.floor(o.totalSteps * o.lrDecayFraction);
  const decayStart = o.totalSteps - decaySteps;
  if (decaySteps <= 0 || step < decayStart) return o.lr;
  return (o.lr * (o.totalSteps - step)) / decaySteps;
}

function stopError(what: string, lastCheckpointStep: number, out: string): SaeTrainError {
  const kept = lastCheckpointStep >= 0 ? `the last good checkpoint (step ${lastCheckpointStep}) is kept in ${join(out, CHECKPOINT_DIR)}; --resume continues from it` : "no checkpoint was written yet";
  return new SaeTrainError(`sae train stopped: ${what}; ${kept}`);
}

function readSaeCheckpoint(dir: string) {
  const state = JSON.parse(fs.readFileSync(join(dir, STATE_FILE), "utf8")) as TrainState;
  const { sae } = loadSaeFolder(dir);
  let stream: StreamSnapshot | null = null;
  if (state.stream) {
    const reader = openSafetensors(join(dir, STREAM_FILE));
    try {
      stream = { state: state.stream, rows: reader.readFloat32("rows") };
    } finally {
      reader.close();
    }
  }
  return { dir, sae, state, stream, optimizer: loadOptimizerState(join(dir, OPTIMIZER_FILE)) };
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Weights trained on s·x, rewritten to take x: W_enc·s, b_dec/s, W_dec/s (what SAELens does when saving). */
export function foldNormScale(sae: Sae, s: number): void {
  if (s === 1) return;
  const k = kernels();
  k.scale(sae.encT, s);
  k.scale(sae.dec, 1 / s);
  k.scale(sae.bDec, 1 / s);
}

function accumulateDensity(codes: { indices: Int32Array } | null, counts: Float64Array, active: Uint8Array, denseCounts?: Float32Array): void {
  if (codes === null && denseCounts) {
    for (let j = 0; j < active.length; j++) counts[j]! += denseCounts[j]!;
    return;
  }
  if (codes === null) {
    // Dense path: only which features fired is known per batch, not how often (rare: early training only).
    for (let j = 0; j < active.length; j++) counts[j]! += active[j]!;
    return;
  }
  for (const idx of codes.indices) if (idx >= 0) counts[idx]! += 1;
}

type ResolvedOptions = ReturnType<typeof resolveOptions>;

/**
 * The defaults of trainSae's options that do not depend on the run's size or architecture (the CLI shows and uses
 * these too); `tokens` is the CLI's default budget.
 */
export const SAE_TRAIN_DEFAULTS = {
  tokens: 20_000_000,
  batchSize: 4096,
  k: 32,
  // The shipped recipe (scripts/train-shipped.sh, chosen on the λ frontier of models/README.md): ReLU + L1 λ 2 at lr
  // 1e-3 with AuxK on low-density latents and no resampling; `--resample paper` is Towards Monosemanticity as published.
  l1Coefficient: 2,
  lr: { standard: 1e-3, topk: 5e-4 },
  seed: 0,
  resample: "none" as ResampleMode,
  resampleThreshold: 1e-4,
  deadWindowTokens: 1_000_000,
  checkpointEvery: 500,
  dtype: "F32" as const,
} as const;

function resolveOptions(options: TrainSaeOptions) {
  const D = SAE_TRAIN_DEFAULTS;
  const batchSize = options.batchSize ?? D.batchSize;
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new SaeTrainError(`sae train: ${name} must be a positive integer, got ${v}`);
    return v;
  };
  positiveInt("batch size", batchSize);
  positiveInt("d_sae", options.dSae);
  if (!(options.tokens > 0)) throw new SaeTrainError(`sae train: tokens must be > 0, got ${options.tokens}`);
  const totalSteps = Math.ceil(options.tokens / batchSize);
  const architecture = options.architecture;
  if (architecture !== "standard" && architecture !== "topk") throw new SaeTrainError(`sae train: architecture must be standard or topk, got ${architecture}`);
  const k = options.k ?? D.k;
  if (architecture === "topk") positiveInt("k", k);
  if (architecture === "topk" && k > options.dSae) throw new SaeTrainError(`sae train: k = ${k} exceeds d_sae = ${options.dSae}`);
  const lr = options.lr ?? D.lr[architecture];
  if (!(lr > 0) || !Number.isFinite(lr)) throw new SaeTrainError(`sae train: lr must be a positive number, got ${lr}`);
  const l1Coefficient = options.l1Coefficient ?? D.l1Coefficient;
  if (!(l1Coefficient >= 0)) throw new SaeTrainError(`sae train: l1 coefficient must be ≥ 0, got ${l1Coefficient}`);
  const resampleSteps = options.resampleSteps ?? [0.2, 0.4, 0.6].map((f) => Math.round(f * totalSteps)).filter((s) => s > 0);
  const resample = options.resample ?? D.resample;
  if (!RESAMPLE_MODES.includes(resample)) throw new SaeTrainError(`sae train: resample must be one of ${RESAMPLE_MODES.join(", ")}, got ${resample}`);
  if (options.resampleSteps && resample !== "paper") throw new SaeTrainError(`sae train: resample steps (--resample-at) belong to the paper's schedule; add --resample paper`);
  const lowDensity = lowDensitySchedule(options, totalSteps, batchSize);
  const lowDensityThresholds = options.lowDensityThresholds ?? [...LOW_DENSITY_THRESHOLDS];
  checkThresholds(lowDensityThresholds, "sae train: low-density thresholds");
  // AuxK by default for TopK only. The standard recipe's AuxK (on latents below a density) is opt-in: on model A v2
  // it killed features once it triggered (λ 3, 4,096 features, 20 M tokens: 11.1 % dead against 0.9 % without it, at
  // the same L0 and CE; 16,384 features at λ 2: 29 % dead 2,000 steps after the first latent fell below 1e-4).
  const auxCoefficient = options.auxCoefficient ?? (architecture === "topk" ? 1 / 32 : 0);
  if (!(auxCoefficient >= 0) || !Number.isFinite(auxCoefficient)) throw new SaeTrainError(`sae train: aux coefficient must be a number ≥ 0, got ${auxCoefficient}`);
  if (options.auxK !== undefined) positiveInt("aux k", options.auxK);
  return {
    architecture, dSae: options.dSae, k, batchSize, totalSteps, lr, seed: options.seed ?? D.seed,
    lrWarmupSteps: options.lrWarmupSteps ?? Math.min(1000, Math.ceil(totalSteps * 0.01)),
    lrDecayFraction: options.lrDecayFraction ?? 0.2,
    l1Coefficient, l1WarmupSteps: options.l1WarmupSteps ?? Math.ceil(totalSteps * 0.05),
    resample, resampleSteps, resampleRows: options.resampleRows ?? 65_536, lowDensity, lowDensityThresholds,
    deadWindowTokens: options.deadWindowTokens ?? D.deadWindowTokens,
    auxK: options.auxK, auxCoefficient,
    normalize: options.normalize ?? true,
    densityWindowTokens: options.densityWindowTokens ?? 1_000_000,
    checkpointEvery: options.checkpointEvery ?? D.checkpointEvery,
    logEvery: 10,
    dtype: options.dtype ?? D.dtype,
    beta1: 0.9, beta2: 0.999,
  };
}

/**
 * The low-density schedule in steps. Defaults: threshold 1e-4; a check every 5 % of training (at least 10 / threshold
 * tokens, so a feature at the threshold is expected to fire ≥ 10 times per window); window = the interval; checks
 * stop at 80 % of training, where the learning rate starts to decay (resampled features need the rest to settle).
 */
function lowDensitySchedule(options: TrainSaeOptions, totalSteps: number, batchSize: number) {
  const threshold = options.resampleThreshold ?? SAE_TRAIN_DEFAULTS.resampleThreshold;
  if (!(threshold > 0 && threshold < 1)) throw new SaeTrainError(`sae train: resample threshold must be a density in (0, 1), got ${threshold}`);
  const tokens = totalSteps * batchSize;
  const everyTokens = options.resampleEveryTokens ?? Math.max(Math.round(0.05 * tokens), Math.ceil(10 / threshold));
  const windowTokens = options.resampleWindowTokens ?? everyTokens;
  for (const [name, v] of [["resample interval", everyTokens], ["resample window", windowTokens]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SaeTrainError(`sae train: ${name} must be a positive number of tokens, got ${v}`);
  }
  const everySteps = Math.max(1, Math.round(everyTokens / batchSize));
  const windowSteps = Math.max(1, Math.round(windowTokens / batchSize));
  if (windowSteps > everySteps) throw new SaeTrainError(`sae train: the resample window (${windowTokens} tokens) must not exceed the interval between checks (${everyTokens} tokens)`);
  return { threshold, everySteps, windowSteps, untilStep: Math.floor(0.8 * totalSteps) };
}
