/**
 * Training the transformer (`saekit model train`): next-token cross-entropy on the token shards of both domains,
 * AdamW with warm-up + cosine decay, gradient accumulation and clipping, periodic validation per domain,
 * resumable atomic checkpoints, and a final model folder with `training.json` (the model card's source).
 *
 * Determinism: the weights come from Rng(seed), the data order from a fork of it; a run resumed from a checkpoint
 * restores weights, AdamW moments, the data-order RNG state and position, and so continues bit-for-bit as if it
 * had never stopped (same batches, same learning rates, same updates).
 *
 * Output folder OUT:
 *   run.json                         the run's identity (config, data, schedule), written first
 *   checkpoint/                      the latest checkpoint (see train-checkpoint.ts)
 *   config.json + model.safetensors  the final model (dtype selectable), written at the end
 *   training.json                    hyper-parameters, throughput, final losses, baselines, history (written last)
 */
import fs from "node:fs";
import { join, resolve } from "node:path";
import { Tape } from "../core/autograd.js";
import { backendInfo } from "../core/backend.js";
import type { Precision } from "../core/kernels.js";
import { AdamW, clipGradNorm, decayMatricesOnly, lrAt } from "../core/optim.js";
import { Rng } from "../core/rng.js";
import { Tensor } from "../core/tensor.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { bfloat16BitsToFloat32Array, float16BitsToFloat32Array, float32ArrayToBfloat16Bits, float32ArrayToFloat16Bits } from "../io/safetensors.js";
import { DEFAULT_CORPUS_SOURCES, type CorpusSource } from "../data/corpus.js";
import { DOMAINS, type Domain } from "../data/document.js";
import { buildTokenShards, type ShardProgress, type TokenShardManifest, type TokenShards } from "../data/shards.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../data/tokenizer.js";
import { baselineLosses, fitBaselines, sequenceCount, type BaselineLosses, type TokenSequences } from "./baselines.js";
import { saveModelFolder, type ModelStorageDtype } from "./checkpoint.js";
import { DEFAULT_MODEL_CONFIG, validateModelConfig, type ModelConfig } from "./config.js";
import { isCheckpointEntry, readLatestCheckpoint, removeCheckpointTemps, writeCheckpoint, CHECKPOINT_DIR } from "./train-checkpoint.js";
import { DataOrder, evenlySpacedIndices, IGNORE_TARGET, nextBatch, recutSequences, SequencePool, type DataOrderState } from "./train-data.js";
import { validationLoss, type ValidationLoss } from "./train-eval.js";
import { HookedTransformer } from "./transformer.js";
import { initWeights, parameterCount, type ModelWeights } from "./weights.js";

// ---------------------------------------------------------------------------------------------------------------
// Options

export interface TrainModelOptions {
  /** Output folder (created). Must be new or empty unless resuming the same run. */
  out: string;
  /** Overrides of DEFAULT_MODEL_CONFIG (d_vocab and tokenizer_name default to the tokenizer's). */
  model?: Partial<ModelConfig>;
  /** Corpus sources (default: DEFAULT_CORPUS_SOURCES). */
  sources?: readonly CorpusSource[];
  /** Tokenizer (default GPT-2). */
  tokenizer?: Tokenizer;
  /** Already-built token shards (then sources/tokenizer/cacheDir are not used); their n_ctx must be ≥ the model's. */
  shards?: TokenShards;
  /** Token cache folder (default: defaultTokenCacheDir()). */
  cacheDir?: string;
  seed?: number;
  /** Training budget in tokens (sequences × n_ctx), rounded up to whole steps (default: one epoch of the train split). */
  tokens?: number;
  /** Training budget in optimizer steps. Exclusive with `tokens`. */
  steps?: number;
  /** Sequences per micro-batch. */
  batchSize?: number;
  /** Micro-batches per optimizer step (gradient accumulation). */
  accumSteps?: number;
  /** Peak learning rate. */
  lr?: number;
  /** Linear warm-up steps (default: min(200, 10% of the steps)). */
  warmupSteps?: number;
  /** Final learning rate of the cosine decay, as a fraction of the peak. */
  minLrRatio?: number;
  /** AdamW decoupled weight decay, applied to matrices and embeddings only. */
  weightDecay?: number;
  /** Global gradient-norm clip. */
  clipNorm?: number;
  /** Validate every this many steps (0: only at the end). */
  evalEvery?: number;
  /** Tokens per domain in each periodic validation (a fixed, evenly spaced subset of validation sequences). */
  evalTokens?: number;
  /** Write a checkpoint every this many steps (0: only at the end and when stopped). */
  checkpointEvery?: number;
  /** Continue the run in `out` from its last checkpoint (starts fresh when it has none). */
  resume?: boolean;
  /** Storage dtype of the final model.safetensors (checkpoints are always F32). */
  dtype?: ModelStorageDtype;
  /** Keep checkpoint/ after a completed run (default true; it is what a longer run would resume from). */
  keepCheckpoint?: boolean;
  /** Consecutive non-finite steps tolerated (skipped) before training stops with an error. */
  maxNonFiniteSteps?: number;
  /** Aborting stops after the current step and writes a checkpoint; the result then has completed: false. */
  signal?: AbortSignal;
  onProgress?: (event: TrainEvent) => void;
}

export const TRAIN_DEFAULTS = {
  seed: 0,
  batchSize: 8,
  accumSteps: 2,
  lr: 1e-3,
  maxWarmupSteps: 200,
  minLrRatio: 0.1,
  weightDecay: 0.1,
  clipNorm: 1,
  evalEvery: 500,
  evalTokens: 16_384,
  checkpointEvery: 1000,
  dtype: "F32" as ModelStorageDtype,
  maxNonFiniteSteps: 5,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
} as const;

/** A bad argument, an unusable corpus or out dir, or a diverged run. */
export class TrainModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainModelError";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Events, history, results

export type TrainEvent =
  | { type: "tokenize"; progress: ShardProgress }
  | { type: "data"; manifest: TokenShardManifest; fromCache: boolean; train: Record<Domain, number>; validation: Record<Domain, number> }
  | { type: "cleanup"; removed: string[] }
  | { type: "start"; step: number; totalSteps: number; tokensPerStep: number; totalTokens: number; parameters: number; resumedFrom: string | null; cfg: ModelConfig }
  | { type: "step"; step: number; totalSteps: number; tokens: number; totalTokens: number; loss: number; lr: number; gradNorm: number; tokensPerSecond: number; epochs: number }
  | { type: "skip"; step: number; loss: number; gradNorm: number; streak: number }
  | { type: "eval"; step: number; tokens: number; losses: Record<Domain, number | null>; trainLosses: Record<Domain, number | null> }
  | { type: "checkpoint"; step: number; dir: string }
  | { type: "phase"; phase: "final-eval" | "baselines" | "write"; message: string };

export interface TrainLogEntry {
  step: number;
  tokens: number;
  /** Mean train loss over the steps since the previous entry (finite steps only). */
  loss: number;
  gradNorm: number;
  lr: number;
}

export interface ValidationLogEntry {
  step: number;
  tokens: number;
  /** Mean CE per token on the periodic validation subset; null for a domain without validation sequences. */
  prose: number | null;
  code: number | null;
  /** The same on an evenly spaced subset of each domain's train split, as many sequences (absent in older runs). */
  train?: Record<Domain, number | null>;
}

export interface TrainingHistory {
  train: TrainLogEntry[];
  validation: ValidationLogEntry[];
  /** Steps skipped because the loss or gradient norm was not finite (values as strings: "NaN", "Infinity"). */
  skipped: Array<{ step: number; loss: string; gradNorm: string }>;
  /** Steps at which a session resumed from a checkpoint. */
  resumes: number[];
}

/** What identifies a run: the same identity means the same weights, so resuming is allowed. */
export interface RunIdentity {
  model: ModelConfig;
  seed: number;
  /** The shard key hashes the corpus content, the tokenizer, the shards' n_ctx and the validation fraction. */
  data: { shardKey: string; shardNCtx: number; nCtx: number };
  totalSteps: number;
  batchSize: number;
  accumSteps: number;
  lr: number;
  warmupSteps: number;
  schedule: "cosine";
  minLrRatio: number;
  weightDecay: number;
  clipNorm: number;
  adam: { beta1: number; beta2: number; eps: number };
}

export interface DomainValidation {
  /** Mean CE per scored token, nats; null when the domain has no validation sequences. */
  loss: number | null;
  sequences: number;
  targets: number;
  unigram: number | null;
  bigram: number | null;
}

/** The content of training.json. */
export interface TrainingSummary {
  format: "saekit-model-training";
  version: 1;
  model: ModelConfig;
  parameters: number;
  identity: RunIdentity;
  hyperparameters: {
    seed: number;
    totalSteps: number;
    batchSize: number;
    accumSteps: number;
    sequencesPerStep: number;
    tokensPerStep: number;
    lr: number;
    warmupSteps: number;
    schedule: "cosine";
    minLrRatio: number;
    weightDecay: number;
    weightDecayApplies: string;
    clipNorm: number;
    adam: { beta1: number; beta2: number; eps: number };
    evalEvery: number;
    evalTokens: number;
    checkpointEvery: number;
    dtype: ModelStorageDtype;
  };
  data: {
    sources: string[];
    shardKey: string;
    tokenizer: TokenShardManifest["tokenizer"];
    nCtx: number;
    trainSequences: Record<Domain, number>;
    validationSequences: Record<Domain, number>;
  };
  result: {
    steps: number;
    tokensSeen: number;
    epochs: number;
    skippedSteps: number;
    trainSeconds: number;
    wallSeconds: number;
    tokensPerSecond: number;
    finalTrainLoss: number | null;
  };
  /** Final validation over each domain's whole validation split, with the weights as stored (dtype). */
  validation: Record<Domain, DomainValidation> & { dtype: ModelStorageDtype };
  /** The same with the float32 weights, when the stored dtype is 16-bit. */
  validationF32?: Record<Domain, number | null>;
  /**
   * Final loss on an evenly spaced subset of each domain's train split, as many sequences as that domain's validation
   * split, with the stored weights: next to `validation` it shows per domain whether the model over-fits.
   */
  train?: Record<Domain, { loss: number | null; sequences: number; targets: number }>;
  baselines: {
    description: string;
    unigramAlpha: number;
    bigramDiscount: number;
    tuning: ReturnType<typeof fitBaselines>["tuning"];
  };
  history: TrainingHistory;
  /** precision: of the matrix products ("bf16": bf16 operands, float32 accumulation; see Precision); bf16Path: how. */
  environment: { backend: string; isa: string; threads: number; cpu: string; cpus: number; precision: Precision; bf16Path: string; node: string };
  startedAt: string;
  finishedAt: string;
}

export interface TrainModelResult {
  /** False when stopped by the signal (a checkpoint was written; resume to continue). */
  completed: boolean;
  out: string;
  step: number;
  totalSteps: number;
  /** training.json's content, when completed. */
  summary: TrainingSummary | null;
}

/** Checkpoint state.json. */
interface TrainState {
  format: "saekit-model-train-state";
  version: 1;
  identity: RunIdentity;
  step: number;
  tokensSeen: number;
  dataOrder: DataOrderState;
  nonFiniteStreak: number;
  trainSeconds: number;
  wallSeconds: number;
  history: TrainingHistory;
  /** The partly filled history window (steps since the last TrainLogEntry). */
  window: { loss: number; gradNorm: number; steps: number };
}

const RUN_FILE = "run.json";
const TRAINING_FILE = "training.json";
/** Stream of the seed's RNG that orders the data (weights use the root stream). */
const DATA_ORDER_STREAM = 1;
/** About this many train-loss points end up in the history, whatever the run's length. */
const HISTORY_POINTS = 500;

// ---------------------------------------------------------------------------------------------------------------
// Argument checks

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TrainModelError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new TrainModelError(`${name} must be an integer ≥ 0, got ${value}`);
  return value;
}

function positiveNumber(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new TrainModelError(`${name} must be a positive number, got ${value}`);
  return value;
}

interface Settings {
  seed: number;
  batchSize: number;
  accumSteps: number;
  lr: number;
  minLrRatio: number;
  weightDecay: number;
  clipNorm: number;
  evalEvery: number;
  evalTokens: number;
  checkpointEvery: number;
  dtype: ModelStorageDtype;
  maxNonFiniteSteps: number;
  keepCheckpoint: boolean;
}

function resolveSettings(o: TrainModelOptions): Settings {
  if (typeof o.out !== "string" || o.out.length === 0) throw new TrainModelError("out (the output folder) is required");
  const seed = o.seed ?? TRAIN_DEFAULTS.seed;
  if (!Number.isSafeInteger(seed)) throw new TrainModelError(`seed must be an integer, got ${seed}`);
  if (o.tokens !== undefined && o.steps !== undefined) throw new TrainModelError("pass tokens or steps, not both");
  if (o.tokens !== undefined) positiveInteger("tokens", o.tokens);
  if (o.steps !== undefined) positiveInteger("steps", o.steps);
  if (o.warmupSteps !== undefined) nonNegativeInteger("warmupSteps", o.warmupSteps);
  const minLrRatio = o.minLrRatio ?? TRAIN_DEFAULTS.minLrRatio;
  if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new TrainModelError(`minLrRatio must be in [0, 1], got ${minLrRatio}`);
  const weightDecay = o.weightDecay ?? TRAIN_DEFAULTS.weightDecay;
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new TrainModelError(`weightDecay must be a number ≥ 0, got ${weightDecay}`);
  const dtype = o.dtype ?? TRAIN_DEFAULTS.dtype;
  if (!["F32", "F16", "BF16"].includes(dtype)) throw new TrainModelError(`dtype must be F32, F16 or BF16, got ${JSON.stringify(dtype)}`);
  return {
    seed,
    batchSize: positiveInteger("batchSize", o.batchSize ?? TRAIN_DEFAULTS.batchSize),
    accumSteps: positiveInteger("accumSteps", o.accumSteps ?? TRAIN_DEFAULTS.accumSteps),
    lr: positiveNumber("lr", o.lr ?? TRAIN_DEFAULTS.lr),
    minLrRatio,
    weightDecay,
    clipNorm: positiveNumber("clipNorm", o.clipNorm ?? TRAIN_DEFAULTS.clipNorm),
    evalEvery: nonNegativeInteger("evalEvery", o.evalEvery ?? TRAIN_DEFAULTS.evalEvery),
    evalTokens: positiveInteger("evalTokens", o.evalTokens ?? TRAIN_DEFAULTS.evalTokens),
    checkpointEvery: nonNegativeInteger("checkpointEvery", o.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery),
    dtype,
    maxNonFiniteSteps: positiveInteger("maxNonFiniteSteps", o.maxNonFiniteSteps ?? TRAIN_DEFAULTS.maxNonFiniteSteps),
    keepCheckpoint: o.keepCheckpoint ?? true,
  };
}

/** The model config: defaults, then the tokenizer's vocabulary, then the caller's overrides; validated. */
function resolveModelConfig(overrides: Partial<ModelConfig> | undefined, tokenizer: TokenShardManifest["tokenizer"], seed: number): ModelConfig {
  const merged = {
    ...DEFAULT_MODEL_CONFIG,
    d_vocab: tokenizer.vocabSize,
    tokenizer_name: tokenizer.name,
    ...overrides,
    seed,
  };
  let cfg: ModelConfig;
  try {
    cfg = validateModelConfig(merged, "model config");
  } catch (error) {
    throw new TrainModelError((error as Error).message);
  }
  if (cfg.d_vocab < tokenizer.vocabSize) {
    throw new TrainModelError(`model config: d_vocab ${cfg.d_vocab} is smaller than the tokenizer's vocabulary (${tokenizer.vocabSize} tokens)`);
  }
  if (cfg.d_vocab_out !== undefined) throw new TrainModelError("model config: d_vocab_out ≠ d_vocab is not supported for training");
  return cfg;
}

// ---------------------------------------------------------------------------------------------------------------
// The out dir

interface RunFile {
  format: "saekit-model-training-run";
  version: 1;
  identity: RunIdentity;
  createdAt: string;
}

/** Fails early (before any tokenising) when `out` holds something this call must not touch. */
function checkOutDir(out: string, resume: boolean): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new TrainModelError(`out "${out}" exists and is not a folder`);
  const entries = fs.readdirSync(out);
  if (entries.includes(RUN_FILE)) {
    if (!resume) {
      throw new TrainModelError(
        `out "${out}" already contains a training run (${RUN_FILE}); pass --resume (resume: true) to continue it, or choose another out folder`,
      );
    }
    return;
  }
  const foreign = entries.filter((e) => !isCheckpointEntry(e));
  if (entries.length > 0) {
    throw new TrainModelError(
      `out "${out}" is not empty (${(foreign.length ? foreign : entries).slice(0, 5).join(", ")}${entries.length > 5 ? ", …" : ""}) ` +
        `and holds no saekit training run (${RUN_FILE}); choose a new or empty folder`,
    );
  }
}

/** Top-level fields (model fields as "model.x") in which two identities differ. */
function identityDifferences(a: RunIdentity, b: RunIdentity): string[] {
  const diffs: string[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof RunIdentity>;
  for (const key of keys) {
    if (key === "model") {
      const ma = a.model as unknown as Record<string, unknown>;
      const mb = b.model as unknown as Record<string, unknown>;
      for (const k of new Set([...Object.keys(ma), ...Object.keys(mb)])) {
        if (JSON.stringify(ma[k]) !== JSON.stringify(mb[k])) diffs.push(`model.${k} (${JSON.stringify(ma[k])} → ${JSON.stringify(mb[k])})`);
      }
    } else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
      diffs.push(`${key} (${JSON.stringify(a[key])} → ${JSON.stringify(b[key])})`);
    }
  }
  return diffs;
}

function claimOutDir(out: string, identity: RunIdentity): void {
  const path = join(out, RUN_FILE);
  if (fs.existsSync(path)) {
    const existing = JSON.parse(fs.readFileSync(path, "utf8")) as RunFile;
    const diffs = identityDifferences(existing.identity, identity);
    if (diffs.length > 0) {
      throw new TrainModelError(`out "${out}" contains a different run; it differs in ${diffs.join(", ")}. Choose another out folder`);
    }
    return;
  }
  fs.mkdirSync(out, { recursive: true });
  const run: RunFile = { format: "saekit-model-training-run", version: 1, identity, createdAt: new Date().toISOString() };
  writeFileAtomicSync(path, `${JSON.stringify(run, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** A copy of the weights rounded to a 16-bit storage dtype and back (what a loader of the saved file gets). */
function roundedWeights(weights: ModelWeights, dtype: ModelStorageDtype): ModelWeights {
  const out: ModelWeights = new Map();
  for (const [name, t] of weights) {
    const data = t.data as Float32Array;
    const rounded = dtype === "BF16" ? bfloat16BitsToFloat32Array(float32ArrayToBfloat16Bits(data))
      : dtype === "F16" ? float16BitsToFloat32Array(float32ArrayToFloat16Bits(data)) : Float32Array.from(data);
    out.set(name, new Tensor(rounded, t.shape));
  }
  return out;
}

const yieldToEventLoop = () => new Promise<void>((done) => setImmediate(done));

// ---------------------------------------------------------------------------------------------------------------
// trainModel

export async function trainModel(options: TrainModelOptions): Promise<TrainModelResult> {
  const startedAt = new Date();
  const sessionStart = performance.now();
  const emit = (event: TrainEvent) => options.onProgress?.(event);
  const s = resolveSettings(options);
  const out = resolve(options.out);
  const resume = options.resume ?? false;
  checkOutDir(out, resume);

  // ---- data
  const requestedNCtx = options.model?.n_ctx ?? DEFAULT_MODEL_CONFIG.n_ctx;
  positiveInteger("model.n_ctx", requestedNCtx);
  const shards = options.shards ?? buildTokenShards({
    tokenizer: options.tokenizer ?? loadGpt2Tokenizer(),
    sources: options.sources ?? DEFAULT_CORPUS_SOURCES,
    nCtx: requestedNCtx,
    cacheDir: options.cacheDir,
    onProgress: (progress) => emit({ type: "tokenize", progress }),
  });
  const manifest = shards.manifest;
  const cfg = resolveModelConfig(options.model, manifest.tokenizer, s.seed);
  if (cfg.n_ctx > manifest.nCtx) {
    throw new TrainModelError(`model.n_ctx ${cfg.n_ctx} is larger than the token shards' n_ctx (${manifest.nCtx})`);
  }
  const nCtx = cfg.n_ctx;
  if (nCtx < 2) throw new TrainModelError(`model.n_ctx must be at least 2 (one input and one target), got ${nCtx}`);
  const split = (domain: Domain, name: "train" | "validation"): TokenSequences => recutSequences(shards.read(domain, name), nCtx);
  const train = Object.fromEntries(DOMAINS.map((d) => [d, split(d, "train")])) as Record<Domain, TokenSequences>;
  const validation = Object.fromEntries(DOMAINS.map((d) => [d, split(d, "validation")])) as Record<Domain, TokenSequences>;
  const trainCounts = Object.fromEntries(DOMAINS.map((d) => [d, sequenceCount(train[d])])) as Record<Domain, number>;
  const validationCounts = Object.fromEntries(DOMAINS.map((d) => [d, sequenceCount(validation[d])])) as Record<Domain, number>;
  emit({ type: "data", manifest, fromCache: shards.fromCache, train: trainCounts, validation: validationCounts });
  const pool = new SequencePool(DOMAINS.map((d) => train[d]));
  if (pool.count === 0) {
    const tokens = DOMAINS.map((d) => `${manifest.shards[d].train.tokens} ${d}`).join(" and ");
    throw new TrainModelError(
      `no training sequences: the train split has ${tokens} tokens, fewer than n_ctx=${nCtx} in each domain ` +
        `(sources: ${manifest.sources.join("; ")}). Add text or lower n_ctx`,
    );
  }

  // ---- schedule and identity
  const sequencesPerStep = s.batchSize * s.accumSteps;
  const tokensPerStep = sequencesPerStep * nCtx;
  const totalSteps = options.steps ??
    (options.tokens !== undefined ? Math.ceil(options.tokens / tokensPerStep) : Math.ceil(pool.count / sequencesPerStep));
  const warmupSteps = options.warmupSteps ?? Math.min(TRAIN_DEFAULTS.maxWarmupSteps, Math.floor(totalSteps / 10));
  const adam = { beta1: TRAIN_DEFAULTS.beta1, beta2: TRAIN_DEFAULTS.beta2, eps: TRAIN_DEFAULTS.eps };
  const identity: RunIdentity = {
    model: cfg,
    seed: s.seed,
    data: { shardKey: manifest.key, shardNCtx: manifest.nCtx, nCtx },
    totalSteps,
    batchSize: s.batchSize,
    accumSteps: s.accumSteps,
    lr: s.lr,
    warmupSteps,
    schedule: "cosine",
    minLrRatio: s.minLrRatio,
    weightDecay: s.weightDecay,
    clipNorm: s.clipNorm,
    adam,
  };
  claimOutDir(out, identity);
  const lrOf = (step: number) => lrAt(step, { base: s.lr, warmupSteps, totalSteps, schedule: "cosine", minRatio: s.minLrRatio });

  // ---- model, optimizer, state (fresh or from the checkpoint)
  const removed = removeCheckpointTemps(out);
  if (removed.length > 0) emit({ type: "cleanup", removed });
  const checkpoint = resume ? readLatestCheckpoint<TrainState>(out) : null;
  if (resume && checkpoint === null && fs.existsSync(join(out, TRAINING_FILE))) {
    throw new TrainModelError(`out "${out}" holds a completed run whose checkpoint was discarded; there is nothing to resume`);
  }
  const rng = new Rng(s.seed);
  let weights: ModelWeights;
  let state: TrainState;
  if (checkpoint) {
    const diffs = identityDifferences(checkpoint.state.identity, identity);
    if (diffs.length > 0) throw new TrainModelError(`checkpoint ${checkpoint.dir} belongs to a different run; it differs in ${diffs.join(", ")}`);
    weights = checkpoint.weights;
    state = checkpoint.state;
    state.history.resumes.push(state.step);
  } else {
    weights = initWeights(cfg, rng);
    state = {
      format: "saekit-model-train-state",
      version: 1,
      identity,
      step: 0,
      tokensSeen: 0,
      dataOrder: DataOrder.start(pool.count, rng.fork(DATA_ORDER_STREAM)).state(),
      nonFiniteStreak: 0,
      trainSeconds: 0,
      wallSeconds: 0,
      history: { train: [], validation: [], skipped: [], resumes: [] },
      window: { loss: 0, gradNorm: 0, steps: 0 },
    };
  }
  const model = new HookedTransformer(cfg, weights);
  const optimizer = new AdamW(model.params, { ...adam, weightDecay: s.weightDecay, decay: decayMatricesOnly });
  if (checkpoint) optimizer.loadStateDict(checkpoint.optimizer);
  const order = DataOrder.fromState(pool.count, state.dataOrder);
  const params = model.parameterList();
  const logEvery = Math.max(1, Math.ceil(totalSteps / HISTORY_POINTS));
  const evalIndices = Object.fromEntries(
    DOMAINS.map((d) => [d, evenlySpacedIndices(validationCounts[d], Math.ceil(s.evalTokens / nCtx))]),
  ) as Record<Domain, Int32Array>;
  // The train-split sample scored beside it: as many sequences, so both losses have the same noise.
  const trainEvalIndices = Object.fromEntries(
    DOMAINS.map((d) => [d, evenlySpacedIndices(trainCounts[d], evalIndices[d].length)]),
  ) as Record<Domain, Int32Array>;
  const wallAtSessionStart = state.wallSeconds;

  const saveCheckpoint = () => {
    state.dataOrder = order.state();
    state.wallSeconds = wallAtSessionStart + (performance.now() - sessionStart) / 1000;
    const dir = writeCheckpoint(out, cfg, weights, optimizer.stateDict(), state);
    emit({ type: "checkpoint", step: state.step, dir });
  };
  const periodicEval = () => {
    const losses = {} as Record<Domain, number | null>;
    const trainLosses = {} as Record<Domain, number | null>;
    for (const d of DOMAINS) {
      losses[d] = evalIndices[d].length === 0 ? null : finiteOrNull(validationLoss(model, validation[d], s.batchSize, evalIndices[d]).loss);
      trainLosses[d] = trainEvalIndices[d].length === 0 ? null : finiteOrNull(validationLoss(model, train[d], s.batchSize, trainEvalIndices[d]).loss);
    }
    state.history.validation.push({ step: state.step, tokens: state.tokensSeen, ...losses, train: trainLosses });
    emit({ type: "eval", step: state.step, tokens: state.tokensSeen, losses, trainLosses });
  };

  emit({
    type: "start", step: state.step, totalSteps, tokensPerStep, totalTokens: totalSteps * tokensPerStep,
    parameters: parameterCount(cfg), resumedFrom: checkpoint?.dir ?? null, cfg,
  });
  if (state.step === 0 && s.evalEvery > 0 && state.history.validation.length === 0) periodicEval();

  // ---- the loop
  let sessionTokens = 0;
  let sessionTrainSeconds = 0;
  let lastCheckpointStep = checkpoint ? state.step : -1;
  while (state.step < totalSteps) {
    const t0 = performance.now();
    let lossSum = 0;
    for (let micro = 0; micro < s.accumSteps; micro++) {
      const batch = nextBatch(pool, order, s.batchSize);
      const tape = new Tape();
      const { loss } = model.forwardLoss(tape, batch.inputs, batch.batch, batch.nCtx, batch.targets, { ignoreIndex: IGNORE_TARGET });
      lossSum += loss.value.item();
      // Mean over all micro-batches: each contributes 1/accum of the gradient.
      tape.backward(s.accumSteps === 1 ? loss : tape.scale(loss, 1 / s.accumSteps));
    }
    const loss = lossSum / s.accumSteps;
    const gradNorm = clipGradNorm(params, s.clipNorm);
    const lr = lrOf(state.step);
    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (finite) optimizer.step(lr);
    optimizer.zeroGrad();
    const seconds = (performance.now() - t0) / 1000;
    state.step += 1;
    state.tokensSeen += tokensPerStep;
    state.trainSeconds += seconds;
    sessionTokens += tokensPerStep;
    sessionTrainSeconds += seconds;

    if (!finite) {
      state.nonFiniteStreak += 1;
      state.history.skipped.push({ step: state.step, loss: String(loss), gradNorm: String(gradNorm) });
      emit({ type: "skip", step: state.step, loss, gradNorm, streak: state.nonFiniteStreak });
      if (state.nonFiniteStreak >= s.maxNonFiniteSteps) {
        const kept = lastCheckpointStep >= 0 ? `the last good checkpoint (step ${lastCheckpointStep}) is kept in ${join(out, CHECKPOINT_DIR)}` : "no checkpoint was written yet";
        throw new TrainModelError(
          `training diverged: the loss or gradient norm was not finite in ${state.nonFiniteStreak} consecutive steps ` +
            `(last: step ${state.step}, loss ${loss}, gradient norm ${gradNorm}); ${kept}. Try a lower lr or a smaller clipNorm`,
        );
      }
    } else {
      state.nonFiniteStreak = 0;
      state.window.loss += loss;
      state.window.gradNorm += gradNorm;
      state.window.steps += 1;
    }
    if ((state.step % logEvery === 0 || state.step === totalSteps) && state.window.steps > 0) {
      const w = state.window;
      state.history.train.push({ step: state.step, tokens: state.tokensSeen, loss: w.loss / w.steps, gradNorm: w.gradNorm / w.steps, lr });
      state.window = { loss: 0, gradNorm: 0, steps: 0 };
    }
    emit({
      type: "step", step: state.step, totalSteps, tokens: state.tokensSeen, totalTokens: totalSteps * tokensPerStep,
      loss, lr, gradNorm, tokensPerSecond: sessionTokens / sessionTrainSeconds, epochs: order.epochs,
    });

    if (s.evalEvery > 0 && state.step % s.evalEvery === 0) periodicEval();
    const stopping = options.signal?.aborted === true;
    const due = s.checkpointEvery > 0 && state.step % s.checkpointEvery === 0;
    if (due || stopping || (state.step === totalSteps && s.keepCheckpoint)) {
      saveCheckpoint();
      lastCheckpointStep = state.step;
    }
    if (stopping && state.step < totalSteps) return { completed: false, out, step: state.step, totalSteps, summary: null };
    await yieldToEventLoop(); // lets signal handlers (Ctrl-C → abort) run
  }
  if (lastCheckpointStep !== state.step && s.keepCheckpoint) saveCheckpoint();

  // ---- final validation, baselines, output
  emit({ type: "phase", phase: "final-eval", message: "validating on the whole validation split of each domain" });
  const shipped = s.dtype === "F32" ? model : new HookedTransformer(cfg, roundedWeights(weights, s.dtype));
  const finalLoss = {} as Record<Domain, ValidationLoss>;
  const finalF32 = {} as Record<Domain, number | null>;
  const finalTrain = {} as Record<Domain, { loss: number | null; sequences: number; targets: number }>;
  for (const d of DOMAINS) {
    finalLoss[d] = validationLoss(shipped, validation[d], s.batchSize);
    const onTrain = validationLoss(shipped, train[d], s.batchSize, evenlySpacedIndices(trainCounts[d], validationCounts[d]));
    finalTrain[d] = { loss: finiteOrNull(onTrain.loss), sequences: onTrain.sequences, targets: onTrain.targets };
    if (shipped !== model) finalF32[d] = finiteOrNull(validationLoss(model, validation[d], s.batchSize).loss);
  }
  emit({ type: "phase", phase: "baselines", message: "fitting unigram and bigram baselines on the train split" });
  const baselines = fitBaselines(DOMAINS.map((d) => train[d]), cfg.d_vocab);
  const baselineOf = {} as Record<Domain, BaselineLosses>;
  for (const d of DOMAINS) baselineOf[d] = baselineLosses(baselines, validation[d]);

  emit({ type: "phase", phase: "write", message: `writing the model folder ${out}` });
  const wallSeconds = wallAtSessionStart + (performance.now() - sessionStart) / 1000;
  const lastTrain = state.history.train[state.history.train.length - 1];
  const domainValidation = (d: Domain): DomainValidation => ({
    loss: finiteOrNull(finalLoss[d].loss),
    sequences: finalLoss[d].sequences,
    targets: finalLoss[d].targets,
    unigram: finiteOrNull(baselineOf[d].unigram),
    bigram: finiteOrNull(baselineOf[d].bigram),
  });
  const summary: TrainingSummary = {
    format: "saekit-model-training",
    version: 1,
    model: cfg,
    parameters: parameterCount(cfg),
    identity,
    hyperparameters: {
      seed: s.seed, totalSteps, batchSize: s.batchSize, accumSteps: s.accumSteps, sequencesPerStep, tokensPerStep, lr: s.lr,
      warmupSteps, schedule: "cosine", minLrRatio: s.minLrRatio, weightDecay: s.weightDecay,
      weightDecayApplies: "matrices and embeddings (ndim ≥ 2); not biases or LayerNorm", clipNorm: s.clipNorm, adam,
      evalEvery: s.evalEvery, evalTokens: s.evalTokens, checkpointEvery: s.checkpointEvery, dtype: s.dtype,
    },
    data: {
      sources: manifest.sources, shardKey: manifest.key, tokenizer: manifest.tokenizer, nCtx,
      trainSequences: trainCounts, validationSequences: validationCounts,
    },
    result: {
      steps: state.step,
      tokensSeen: state.tokensSeen,
      epochs: order.epochs,
      skippedSteps: state.history.skipped.length,
      trainSeconds: state.trainSeconds,
      wallSeconds,
      tokensPerSecond: state.trainSeconds > 0 ? state.tokensSeen / state.trainSeconds : 0,
      finalTrainLoss: lastTrain ? lastTrain.loss : null,
    },
    validation: { prose: domainValidation("prose"), code: domainValidation("code"), dtype: s.dtype },
    ...(shipped !== model ? { validationF32: finalF32 } : {}),
    train: finalTrain,
    baselines: {
      description: "unigram: add-alpha over d_vocab; bigram: interpolated absolute discounting backing off to the unigram; " +
        "alpha and discount minimise the loss on every 10th train sequence, then both are refitted on all train sequences",
      unigramAlpha: baselines.unigram.alpha,
      bigramDiscount: baselines.bigram.discount,
      tuning: baselines.tuning,
    },
    history: state.history,
    environment: (() => {
      const b = backendInfo();
      return { backend: b.name, isa: b.isa, threads: b.threads, cpu: b.cpuModel, cpus: b.cpus, precision: b.precision, bf16Path: b.bf16Path, node: process.version };
    })(),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
  saveModelFolder(out, cfg, weights, {
    dtype: s.dtype,
    metadata: { saekit_training: TRAINING_FILE, saekit_tokens_seen: String(state.tokensSeen) },
  });
  if (!s.keepCheckpoint) {
    for (const name of fs.readdirSync(out).filter(isCheckpointEntry)) fs.rmSync(join(out, name), { recursive: true, force: true });
  }
  writeFileAtomicSync(join(out, TRAINING_FILE), `${JSON.stringify(summary, jsonNumbers, 2)}\n`);
  return { completed: true, out, step: state.step, totalSteps, summary };
}

/** JSON has no NaN/Infinity: write them as null. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}
