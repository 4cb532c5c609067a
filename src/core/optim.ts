/**
 * Optimisers and learning-rate schedules. The update itself is `kernels.adamwStep` (PyTorch AdamW semantics);
 * this module owns the per-parameter state, the step count and bias corrections, and checkpointable state.
 */
import { type Params, paramList, type Var, zeroGrad } from "./autograd.js";
import { kernelsFor } from "./backend.js";
import type { FloatArray } from "./kernels.js";
import { allocate } from "./tensor.js";

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (PyTorch AdamW); default 0.01. */
  weightDecay?: number;
  /** Which parameters get weight decay (default: all). E.g. `decayMatricesOnly` to exempt biases and LN. */
  decay?: (name: string, param: Var) => boolean;
}

/** Checkpointable optimiser state: the step count and the moments, keyed by parameter name. */
export interface OptimizerState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/** Parameters by name: a record (as a state dict) or [name, Var] pairs (e.g. a Map). */
export type NamedParams = Readonly<Record<string, Var>> | Iterable<readonly [string, Var]>;

/** The usual transformer convention: decay weight matrices and embeddings (ndim ≥ 2), not biases or LN gains. */
export function decayMatricesOnly(_name: string, param: Var): boolean {
  return param.shape.length >= 2;
}

interface Slot {
  readonly name: string;
  readonly param: Var;
  readonly m: FloatArray;
  readonly v: FloatArray;
  readonly decay: boolean;
}

function namedEntries(params: NamedParams): Array<readonly [string, Var]> {
  if (typeof (params as Iterable<readonly [string, Var]>)[Symbol.iterator] === "function") {
    return [...(params as Iterable<readonly [string, Var]>)];
  }
  return Object.entries(params as Record<string, Var>);
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly slots: Slot[];
  private t = 0;

  constructor(params: NamedParams, options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    for (const [name, b] of [["beta1", this.beta1], ["beta2", this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW: ${name} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps > 0)) throw new RangeError(`AdamW: eps must be > 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new RangeError(`AdamW: weightDecay must be ≥ 0, got ${this.weightDecay}`);
    const decay = options.decay ?? (() => true);
    const seen = new Set<string>();
    this.slots = namedEntries(params).map(([name, param]) => {
      if (seen.has(name)) throw new Error(`AdamW: duplicate parameter name "${name}"`);
      seen.add(name);
      if (!param.requiresGrad) throw new Error(`AdamW: parameter "${name}" does not require a gradient`);
      const { size, dtype } = param.value;
      return { name, param, m: allocate(size, dtype), v: allocate(size, dtype), decay: decay(name, param) };
    });
  }

  /** Number of steps taken (the t in the bias corrections). */
  get stepCount(): number {
    return this.t;
  }

  /** Names of the parameters that get weight decay (for logging and tests). */
  get decayedNames(): string[] {
    return this.slots.filter((s) => s.decay).map((s) => s.name);
  }

  /** One update at learning rate lr. Parameters whose grad was never allocated are skipped (as PyTorch's None). */
  step(lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`AdamW.step: lr must be a finite number ≥ 0, got ${lr}`);
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    for (const s of this.slots) {
      const g = s.param.grad;
      if (g === null) continue;
      const p = s.param.value.data;
      kernelsFor(p).adamwStep(p, g.data, s.m, s.v, lr, this.beta1, this.beta2, this.eps,
        s.decay ? this.weightDecay : 0, bc1, bc2);
    }
  }

  zeroGrad(): void {
    zeroGrad(this.slots.map((s) => s.param));
  }

  /**
   * Zeroes the moments of some rows of one parameter (rowSize elements each), e.g. after re-initialising dead SAE
   * features, so stale momentum does not undo the re-initialisation.
   */
  resetRows(name: string, rows: Iterable<number>, rowSize: number): void {
    const slot = this.slots.find((s) => s.name === name);
    if (!slot) throw new Error(`AdamW.resetRows: unknown parameter "${name}"`);
    for (const r of rows) {
      const start = r * rowSize;
      if (!Number.isInteger(r) || r < 0 || start + rowSize > slot.m.length) {
        throw new RangeError(`AdamW.resetRows: row ${r} of size ${rowSize} is outside "${name}" (${slot.m.length} elements)`);
      }
      slot.m.fill(0, start, start + rowSize);
      slot.v.fill(0, start, start + rowSize);
    }
  }

  /** Copies of the moments (as Float32Array; float64 state is rounded) and the step count. */
  stateDict(): OptimizerState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const s of this.slots) {
      m[s.name] = Float32Array.from(s.m);
      v[s.name] = Float32Array.from(s.v);
    }
    return { step: this.t, m, v };
  }

  /** Restores a stateDict() exactly; the names and sizes must match this optimiser's parameters. */
  loadStateDict(state: OptimizerState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new RangeError(`AdamW.loadStateDict: step must be a non-negative integer, got ${state.step}`);
    }
    const names = new Set(this.slots.map((s) => s.name));
    for (const key of [...Object.keys(state.m), ...Object.keys(state.v)]) {
      if (!names.has(key)) throw new Error(`AdamW.loadStateDict: state has unknown parameter "${key}"`);
    }
    for (const s of this.slots) {
      const m = state.m[s.name];
      const v = state.v[s.name];
      if (!m || !v) throw new Error(`AdamW.loadStateDict: state is missing parameter "${s.name}"`);
      if (m.length !== s.m.length || v.length !== s.v.length) {
        throw new RangeError(
          `AdamW.loadStateDict: "${s.name}" has ${s.m.length} elements, state has m ${m.length} and v ${v.length}`,
        );
      }
    }
    for (const s of this.slots) {
      s.m.set(state.m[s.name]!);
      s.v.set(state.v[s.name]!);
    }
    this.t = state.step;
  }
}

/** Adam: AdamW without weight decay. */
export class Adam extends AdamW {
  constructor(params: NamedParams, options: Omit<AdamWOptions, "weightDecay" | "decay"> = {}) {
    super(params, { ...options, weightDecay: 0 });
  }
}

/**
 * Clips the global L2 norm of all gradients to maxNorm (PyTorch clip_grad_norm_: grads are multiplied by
 * maxNorm / (norm + 1e-6) when the norm exceeds maxNorm). Returns the norm before clipping. A non-finite norm is
 * returned without touching the gradients, so the caller can skip the step.
 */
export function clipGradNorm(params: Params, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const grads = paramList(params).flatMap((p) => (p.grad ? [p.grad.data] : []));
  let sumSq = 0;
  for (const g of grads) {
    if (g.length === 0) continue;
    // ‖g‖² as a 1×n · n×1 gemm: the kernels have no separate dot product.
    const out = allocate(1, g instanceof Float64Array ? "f64" : "f32");
    kernelsFor(g).gemm(false, true, 1, 1, g.length, 1, g, g.length, g, g.length, 0, out, 1);
    sumSq += out[0]!;
  }
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) kernelsFor(g).scale(g, coef);
  return norm;
}

export type LrScheduleKind = "constant" | "cosine" | "linear";

export interface LrSchedule {
  /** Peak learning rate (reached at the end of warm-up). */
  base: number;
  /** Linear warm-up length: step s < warmupSteps gets base·(s+1)/warmupSteps. Default 0. */
  warmupSteps?: number;
  /** Step at which decay reaches base·minRatio (and stays). Required unless schedule is "constant". */
  totalSteps?: number;
  /** Shape after warm-up; default "constant". */
  schedule?: LrScheduleKind;
  /** Final learning rate as a fraction of base; default 0. */
  minRatio?: number;
}

/**
 * Learning rate at a 0-based step: linear warm-up from base/warmupSteps to base over warmupSteps steps, then
 * constant, or cosine / linear decay from base (at step warmupSteps) to base·minRatio (at totalSteps and after).
 */
export function lrAt(step: number, s: LrSchedule): number {
  const warmup = s.warmupSteps ?? 0;
  const kind = s.schedule ?? "constant";
  const minRatio = s.minRatio ?? 0;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`lrAt: step must be a non-negative integer, got ${step}`);
  if (!(s.base >= 0) || !Number.isFinite(s.base)) throw new RangeError(`lrAt: base must be finite and ≥ 0, got ${s.base}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`lrAt: warmupSteps must be an integer ≥ 0, got ${warmup}`);
  if (!(minRatio >= 0 && minRatio <= 1)) throw new RangeError(`lrAt: minRatio must be in [0, 1], got ${minRatio}`);
  if (step < warmup) return (s.base * (step + 1)) / warmup;
  if (kind === "constant") return s.base;
  const total = s.totalSteps;
  if (total === undefined || !Number.isFinite(total)) {
    throw new RangeError(`lrAt: totalSteps is required for the "${kind}" schedule`);
  }
  const decaySteps = total - warmup;
  const progress = decaySteps <= 0 ? 1 : Math.min(1, (step - warmup) / decaySteps);
  const min = s.base * minRatio;
  if (kind === "cosine") return min + (s.base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
  if (kind === "linear") return s.base - (s.base - min) * progress;
  throw new RangeError(`lrAt: unknown schedule "${String(kind)}"`);
}
