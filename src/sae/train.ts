/**
 * SAE training (`saekit sae train`): Adam with warm-up, the standard (ReLU + L1, unit-norm decoder, L1 warm-up,
 * dead-feature resampling) and TopK (AuxK) recipes, progress events, atomic checkpoints and --resume, and a final
 * SAELens folder (activation normalisation folded into the weights, as SAELens does when saving).
 *
 * Output folder OUT:
 *   checkpoint/                        weights (F32, unfolded), Adam moments, state.json (written last)
 *   cfg.json + sae_weights.safetensors the final SAE (SAELens v6 layout, see format.ts)
 *   sparsity.safetensors               log10 feature density over the last `densityWindowTokens` of training
 *   training.json                      hyper-parameters, throughput, final statistics, history
 */
import fs from "node:fs";
import { join, resolve } from "node:path";
import { param } from "../core/autograd.js";
import { backendInfo, kernels } from "../core/backend.js";
import { Adam } from "../core/optim.js";
import { Rng, type RngState } from "../core/rng.js";
import { Tensor } from "../core/tensor.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { isCheckpointEntry, readLatestCheckpointFolder, removeCheckpointTemps, writeCheckpointFolder, CHECKPOINT_DIR } from "../io/checkpoint-folder.js";
import { loadOptimizerState, saveOptimizerState } from "../model/train-checkpoint.js";
import { estimateNormScale, type ActivationSource } from "./activations.js";
import { loadSaeFolder, saveSaeFolder, type SaeMetadata } from "./format.js";
import { geometricMedian, initSae } from "./init.js";
import { Sae, type SaeArchitecture } from "./sae.js";
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
  /** Steps at which dead features are resampled (standard; default: 20%, 40%, 60% of training). */
  resampleSteps?: number[];
  /** Rows scored to choose resampling inputs (default 65,536). */
  resampleRows?: number;
  /** A feature is dead if it has not fired for this many tokens (default 1M; AuxK and resampling). */
  deadWindowTokens?: number;
  /** AuxK: dead latents per token (default d_in/2) and α (default 1/32). */
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
  tokensPerSecond: number;
}

export type SaeTrainEvent =
  | { type: "start"; totalSteps: number; totalTokens: number; resumedFrom: number | null; normScale: number }
  | SaeStepEvent
  | { type: "resample"; step: number; dead: number }
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
  history: Array<{ step: number; tokens: number; mse: number; fvu: number; l0: number; dead: number; loss: number }>;
  resampled: Array<{ step: number; dead: number }>;
  identity: string;
}

const STATE_FILE = "state.json";
const OPTIMIZER_FILE = "optimizer.safetensors";
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
}

export async function trainSae(options: TrainSaeOptions): Promise<TrainSaeResult> {
  const o = resolveOptions(options);
  const out = resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  removeCheckpointTemps(out);
  const identity = JSON.stringify({ architecture: o.architecture, dSae: o.dSae, k: o.k, seed: o.seed, tokens: o.totalSteps * o.batchSize, batch: o.batchSize, hook: options.meta.hookName, model: options.meta.modelName });
  const checkpoint = options.resume ? readLatestCheckpointFolder(out, STATE_FILE, readSaeCheckpoint) : null;
  if (!options.resume) {
    const stray = fs.readdirSync(out).filter((n) => !isCheckpointEntry(n));
    if (stray.length > 0 || fs.existsSync(join(out, CHECKPOINT_DIR))) {
      throw new SaeTrainError(`sae train: output folder ${out} is not empty (${[...stray, CHECKPOINT_DIR].slice(0, 3).join(", ")}…); use a new folder, or --resume to continue the run there`);
    }
  }
  if (checkpoint && checkpoint.state.identity !== identity) {
    throw new SaeTrainError(`sae train --resume: the checkpoint in ${checkpoint.dir} is from a different run (${checkpoint.state.identity}); these options describe ${identity}`);
  }
  const emit = (e: SaeTrainEvent) => options.onProgress?.(e);
  const source = options.source(checkpoint?.state.resumeAt ?? 0);
  const dIn = source.dIn;
  if (dIn !== (checkpoint?.sae.dIn ?? dIn)) throw new SaeTrainError(`sae train --resume: activations have d_in ${dIn}, the checkpoint ${checkpoint!.sae.dIn}`);

  const spec = { architecture: o.architecture, dIn, dSae: o.dSae, k: o.architecture === "topk" ? o.k : null, applyBDecToInput: true };
  const rng = checkpoint ? Rng.fromState(checkpoint.state.rng) : new Rng(o.seed);
  const sae = checkpoint ? checkpoint.sae : new Sae(spec);
  let state: TrainState;
  const batch = new Float32Array(o.batchSize * dIn);
  if (checkpoint) {
    state = checkpoint.state;
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
    state.rng = rng.state();
    const dir = writeCheckpointFolder(out, (tmp) => {
      saveSaeFolder(tmp, sae, { ...options.meta, extra: { checkpoint: true, normScale: state.normScale } }, { dtype: "F32" });
      saveOptimizerState(join(tmp, OPTIMIZER_FILE), adam.stateDict());
      writeFileAtomicSync(join(tmp, STATE_FILE), `${JSON.stringify(state)}\n`);
    });
    emit({ type: "checkpoint", step: state.step, dir });
    return state.step;
  };

  emit({ type: "start", totalSteps: o.totalSteps, totalTokens: o.totalSteps * o.batchSize, resumedFrom: checkpoint ? state.step : null, normScale: state.normScale });
  let lastCheckpointStep = checkpoint ? state.step : -1;
  let sessionSeconds = 0;
  let sessionTokens = 0;
  let last: { mse: number; fvu: number; l0: number } = { mse: NaN, fvu: NaN, l0: NaN };
  const resampleSet = new Set(o.architecture === "standard" ? o.resampleSteps : []);
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
    const logging = (state.step + 1) % o.logEvery === 0 || state.step + 1 === o.totalSteps;
    const { stats, codes, activeFeatures } = step.run(batch, o.batchSize, {
      withVariance: logging,
      l1Coefficient: lambda, deadMask: o.architecture === "topk" && dead > 0 ? deadMask : null, auxK: o.auxK ?? Math.floor(dIn / 2), auxCoefficient: o.auxCoefficient,
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
    if (state.step >= densityStartStep) {
      accumulateDensity(codes, densityCounts, activeFeatures);
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
      resampleDeadFeatures(sae, adam, deadMask, source, state.normScale, o.resampleRows, rng, o.batchSize);
      for (let j = 0; j < o.dSae; j++) if (deadMask[j]) lastFired[j] = state.step; // a fresh window for new features
      state.resampled.push({ step: state.step, dead: deadNow });
      emit({ type: "resample", step: state.step, dead: deadNow });
    }
    if (logging) {
      const deadFraction = deadCount() / o.dSae;
      state.history.push({ step: state.step, tokens: state.step * o.batchSize, mse: stats.mse, fvu, l0: stats.l0, dead: deadFraction, loss: stats.loss });
      emit({
        type: "step", step: state.step, totalSteps: o.totalSteps, tokens: state.step * o.batchSize, totalTokens: o.totalSteps * o.batchSize,
        loss: stats.loss, mse: stats.mse, fvu, l0: stats.l0, l1Coefficient: lambda, lr, deadFraction, tokensPerSecond: sessionTokens / sessionSeconds,
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
  const training = {
    architecture: o.architecture, dSae: o.dSae, dIn, k: spec.k, seed: o.seed, tokens: state.step * o.batchSize, steps: state.step,
    batchSize: o.batchSize, lr: o.lr, lrWarmupSteps: o.lrWarmupSteps, lrDecayFraction: o.lrDecayFraction, adam: { beta1: o.beta1, beta2: o.beta2 },
    l1Coefficient: o.architecture === "standard" ? o.l1Coefficient : null, l1Penalty: "λ · mean over tokens of Σ_j f_j ‖W_dec_j‖ (unit-norm decoder rows)",
    l1WarmupSteps: o.l1WarmupSteps, resampled: state.resampled, deadWindowTokens: o.deadWindowTokens,
    auxK: o.architecture === "topk" ? o.auxK : null, auxCoefficient: o.architecture === "topk" ? o.auxCoefficient : null,
    normalizeActivations: o.normalize ? "expected_average_only_in (folded into the saved weights)" : "none", normScale: state.normScale,
    trainSeconds: state.trainSeconds, tokensPerSecond: (state.step * o.batchSize) / state.trainSeconds, backend: backendInfo(),
    final: { ...last, deadFraction }, densityWindowTokens: state.densityTokens, history: state.history,
  };
  saveSaeFolder(out, final, { ...options.meta, extra: { ...(options.meta.extra ?? {}), training: { ...training, history: undefined } } }, { dtype: o.dtype, sparsity });
  writeFileAtomicSync(join(out, "training.json"), `${JSON.stringify(training, null, 2)}\n`);
  if (options.discardCheckpoint) fs.rmSync(join(out, CHECKPOINT_DIR), { recursive: true, force: true });
  emit({ type: "done", out, seconds: state.trainSeconds });
  return { completed: true, sae: final, out, steps: state.step, tokens: state.step * o.batchSize, seconds: state.trainSeconds, tokensPerSecond: training.tokensPerSecond, final: training.final };
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
  return { dir, sae, state, optimizer: loadOptimizerState(join(dir, OPTIMIZER_FILE)) };
}

/** Weights trained on s·x, rewritten to take x: W_enc·s, b_dec/s, W_dec/s (what SAELens does when saving). */
export function foldNormScale(sae: Sae, s: number): void {
  if (s === 1) return;
  const k = kernels();
  k.scale(sae.encT, s);
  k.scale(sae.dec, 1 / s);
  k.scale(sae.bDec, 1 / s);
}

function accumulateDensity(codes: { indices: Int32Array } | null, counts: Float64Array, active: Uint8Array): void {
  if (codes === null) {
    // Dense path: only which features fired is known per batch, not how often (rare: early training only).
    for (let j = 0; j < active.length; j++) counts[j]! += active[j]!;
    return;
  }
  for (const idx of codes.indices) if (idx >= 0) counts[idx]! += 1;
}

/**
 * Towards Monosemanticity's resampling: score `rows` inputs by squared reconstruction error, pick one input per
 * dead feature with probability ∝ loss², and point the feature at it: decoder row = the centred input, unit norm;
 * encoder row = the same direction × 0.2 × the mean encoder norm of live features; b_enc = 0; Adam moments reset.
 */
function resampleDeadFeatures(sae: Sae, adam: Adam, deadMask: Uint8Array, source: ActivationSource, normScale: number, rows: number, rng: Rng, batchSize: number): void {
  const { dIn, dSae } = sae.spec;
  const deadIdx: number[] = [];
  for (let j = 0; j < dSae; j++) if (deadMask[j]) deadIdx.push(j);
  if (deadIdx.length === 0) return;
  const k = kernels();
  const candidates = new Float32Array(rows * dIn);
  const weights = new Float64Array(rows);
  for (let r0 = 0; r0 < rows; r0 += batchSize) {
    const n = Math.min(batchSize, rows - r0);
    const x = candidates.subarray(r0 * dIn, (r0 + n) * dIn);
    source.next(n, x);
    if (normScale !== 1) k.scale(x, normScale);
    const xh = sae.reconstruct(x, n);
    for (let r = 0; r < n; r++) {
      let e = 0;
      for (let c = 0; c < dIn; c++) e += (xh[r * dIn + c]! - x[r * dIn + c]!) ** 2;
      weights[r0 + r] = e * e;
    }
  }
  const cumulative = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) cumulative[r] = total += weights[r]!;
  let aliveNorm = 0;
  let alive = 0;
  for (let j = 0; j < dSae; j++) {
    if (deadMask[j]) continue;
    let n2 = 0;
    for (let c = 0; c < dIn; c++) n2 += sae.encT[j * dIn + c]! ** 2;
    aliveNorm += Math.sqrt(n2);
    alive++;
  }
  const encScale = 0.2 * (alive > 0 ? aliveNorm / alive : 1);
  for (const j of deadIdx) {
    const u = rng.uniform() * total;
    let lo = 0;
    let hi = rows - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    const row = sae.dec.subarray(j * dIn, (j + 1) * dIn);
    let n2 = 0;
    for (let c = 0; c < dIn; c++) {
      row[c] = candidates[lo * dIn + c]! - sae.bDec[c]!;
      n2 += row[c]! ** 2;
    }
    const inv = n2 > 0 ? 1 / Math.sqrt(n2) : 0;
    for (let c = 0; c < dIn; c++) {
      row[c] = row[c]! * inv;
      sae.encT[j * dIn + c] = row[c]! * encScale;
    }
    sae.bEnc[j] = 0;
  }
  adam.resetRows("W_enc", deadIdx, dIn);
  adam.resetRows("W_dec", deadIdx, dIn);
  adam.resetRows("b_enc", deadIdx, 1);
}

function resolveOptions(options: TrainSaeOptions) {
  const batchSize = options.batchSize ?? 4096;
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
  const k = options.k ?? 32;
  if (architecture === "topk") positiveInt("k", k);
  if (architecture === "topk" && k > options.dSae) throw new SaeTrainError(`sae train: k = ${k} exceeds d_sae = ${options.dSae}`);
  const lr = options.lr ?? (architecture === "topk" ? 5e-4 : 4e-4);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new SaeTrainError(`sae train: lr must be a positive number, got ${lr}`);
  const l1Coefficient = options.l1Coefficient ?? 5;
  if (!(l1Coefficient >= 0)) throw new SaeTrainError(`sae train: l1 coefficient must be ≥ 0, got ${l1Coefficient}`);
  const resampleSteps = options.resampleSteps ?? [0.2, 0.4, 0.6].map((f) => Math.round(f * totalSteps)).filter((s) => s > 0);
  return {
    architecture, dSae: options.dSae, k, batchSize, totalSteps, lr, seed: options.seed ?? 0,
    lrWarmupSteps: options.lrWarmupSteps ?? Math.min(1000, Math.ceil(totalSteps * 0.01)),
    lrDecayFraction: options.lrDecayFraction ?? 0.2,
    l1Coefficient, l1WarmupSteps: options.l1WarmupSteps ?? Math.ceil(totalSteps * 0.05),
    resampleSteps, resampleRows: options.resampleRows ?? 65_536,
    deadWindowTokens: options.deadWindowTokens ?? 1_000_000,
    auxK: options.auxK, auxCoefficient: options.auxCoefficient ?? 1 / 32,
    normalize: options.normalize ?? true,
    densityWindowTokens: options.densityWindowTokens ?? 1_000_000,
    checkpointEvery: options.checkpointEvery ?? 500,
    logEvery: 10,
    dtype: options.dtype ?? "F32",
    beta1: 0.9, beta2: 0.999,
  };
}
