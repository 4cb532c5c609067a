/**
 * A small reverse-mode autograd: enough to train a 1-layer TransformerLens-style transformer and a dense SAE.
 *
 * Design
 *  - A `Var` holds a `value` tensor, a lazily allocated `grad` (same dtype) and `requiresGrad`.
 *  - Parameters are long-lived leaf Vars (`param(tensor)`); their `.grad` accumulates (+=) across backward passes,
 *    so micro-batch gradient accumulation works; clear it with `zeroGrad(params)` (or the optimiser's zeroGrad).
 *  - Each forward pass records onto its own, explicit `Tape`: ops are methods (`tape.matmul(x, w)`). Nothing is
 *    global, so async training loops and interleaved evaluation cannot leak state into each other. A tape is
 *    single-use: `tape.backward(loss)` runs the recorded closures in reverse and then releases them.
 *  - `Tape.noGrad()` gives a tape that computes the same forward values and records nothing (evaluation).
 *  - Every op dispatches to `kernelsFor(data)`, so float64 runs exactly the same code path on the TS kernels; that
 *    is what the finite-difference gradient checks rely on.
 *
 * Matrices are row-major; an op on "rows" treats a tensor [..., C] as a (size / C) × C matrix.
 */
import { kernelsFor } from "./backend.js";
import type { FloatArray, GeluApprox, Kernels } from "./kernels.js";
import { allocate, resolveReshape, sameShape, shapeToString, Tensor, type Shape } from "./tensor.js";

export class Var {
  /** The forward value. Parameters are updated in place by the optimiser (value.data is mutated). */
  readonly value: Tensor;
  /** d(loss)/d(value), allocated on first use during backward; same dtype and shape as value. */
  grad: Tensor | null = null;
  readonly requiresGrad: boolean;
  /** The tape that produced this Var, or null for leaves (parameters, constants, detached values). */
  readonly tape: Tape | null;
  readonly name: string | undefined;

  constructor(value: Tensor, requiresGrad: boolean, tape: Tape | null = null, name?: string) {
    this.value = value;
    this.requiresGrad = requiresGrad;
    this.tape = tape;
    this.name = name;
  }

  get shape(): Shape {
    return this.value.shape;
  }

  get data(): FloatArray {
    return this.value.data;
  }

  toString(): string {
    return `Var(${this.name ?? "?"}, ${this.value.dtype}, ${shapeToString(this.shape)}${this.requiresGrad ? ", grad" : ""})`;
  }
}

/** A trainable leaf: gradients accumulate into its `.grad`. */
export function param(value: Tensor, name?: string): Var {
  return new Var(value, true, null, name);
}

/** A leaf that never receives gradients (inputs, targets). */
export function constant(value: Tensor, name?: string): Var {
  return new Var(value, false, null, name);
}

/** The same value cut off from the graph: no gradient flows through it. */
export function detach(x: Var): Var {
  return new Var(x.value, false, null, x.name);
}

/** A list of Vars, or a name → Var record (as a state dict). */
export type Params = Iterable<Var> | Readonly<Record<string, Var>>;

export function paramList(params: Params): Var[] {
  if (typeof (params as Iterable<Var>)[Symbol.iterator] === "function") return [...(params as Iterable<Var>)];
  return Object.values(params as Record<string, Var>);
}

/** Sets every allocated gradient to zero (keeps the buffers, so steady-state training allocates nothing). */
export function zeroGrad(params: Params): void {
  for (const p of paramList(params)) p.grad?.data.fill(0);
}

// ---------------------------------------------------------------------------------------------------------------
// Gradient buffers

/** v.grad's data, allocated as zeros on first use; kernels that accumulate (beta = 1, "+=") write straight in. */
function gradBuffer(v: Var): FloatArray {
  v.grad ??= Tensor.zeros(v.value.shape, v.value.dtype);
  return v.grad.data;
}

/** v.grad += alpha · delta. */
function addGrad(k: Kernels<FloatArray>, v: Var, delta: FloatArray, alpha = 1): void {
  k.axpy(alpha, delta, gradBuffer(v));
}

/**
 * For kernels that overwrite their output (dx = …): write straight into a fresh grad, or into scratch that is then
 * added, so a Var used by several ops still gets the sum of its gradients.
 */
function writeGrad(k: Kernels<FloatArray>, v: Var, compute: (dst: FloatArray) => void): void {
  if (v.grad === null) {
    compute(gradBuffer(v));
    return;
  }
  const scratch = allocate(v.value.size, v.value.dtype);
  compute(scratch);
  k.axpy(1, scratch, v.grad.data);
}

/** Σ a·b over all elements, as a 1×n · n×1 gemm (the kernels have no separate dot product). */
function dot(k: Kernels<FloatArray>, a: FloatArray, b: FloatArray): number {
  const out = allocate(1, a instanceof Float64Array ? "f64" : "f32");
  if (a.length > 0) k.gemm(false, true, 1, 1, a.length, 1, a, a.length, b, b.length, 0, out, 1);
  return out[0]!;
}

/** Σ x over all elements. */
function sumAll(k: Kernels<FloatArray>, x: FloatArray): number {
  const out = allocate(1, x instanceof Float64Array ? "f64" : "f32");
  if (x.length > 0) k.sumOverCols(x, 1, x.length, out, false);
  return out[0]!;
}

/** Rows × cols view of a tensor [..., cols]. */
function rowsCols(t: Tensor): [number, number] {
  const cols = t.lastDim;
  return [cols === 0 ? 0 : t.size / cols, cols];
}

// ---------------------------------------------------------------------------------------------------------------
// Tape

interface TapeEntry {
  readonly out: Var;
  readonly backward: (dOut: Tensor) => void;
}

export interface TapeOptions {
  /** false: compute forward values only and record nothing (evaluation). Default true. */
  grad?: boolean;
}

export interface CrossEntropyOptions {
  /** Targets equal to this are ignored (no loss, no gradient). Default -1. */
  ignoreIndex?: number;
  /** When given (length = rows), receives each row's loss −log p(target); NaN for ignored rows. */
  perToken?: FloatArray;
}

export interface UnembedCrossEntropyOptions extends CrossEntropyOptions {
  /** Rows of logits materialised at a time (memory: chunkRows × V floats). Default 256. */
  chunkRows?: number;
}

/**
 * Gradient scratch of unembedCrossEntropy, by dtype and size: taken in forward, returned after backward has added
 * it into the gradients (a tape released without backward just drops its buffers). A few per size, so a second
 * outstanding tape allocates its own instead of sharing.
 */
const scratchPool = new Map<string, FloatArray[]>();
const SCRATCH_PER_SIZE = 2;

function takeScratch(size: number, dtype: "f32" | "f64"): FloatArray {
  return scratchPool.get(`${dtype}:${size}`)?.pop() ?? allocate(size, dtype);
}

function returnScratch(buffer: FloatArray): void {
  const key = `${buffer instanceof Float64Array ? "f64" : "f32"}:${buffer.length}`;
  const free = scratchPool.get(key) ?? [];
  if (free.length < SCRATCH_PER_SIZE) free.push(buffer);
  scratchPool.set(key, free);
}

export class Tape {
  /** Whether ops on this tape record backward closures. */
  readonly recording: boolean;
  private entries: TapeEntry[] = [];
  private consumed = false;

  constructor(options: TapeOptions = {}) {
    this.recording = options.grad ?? true;
  }

  /** A tape that records nothing: ops compute values only and return Vars without gradients. */
  static noGrad(): Tape {
    return new Tape({ grad: false });
  }

  /** Number of recorded ops awaiting backward. */
  get length(): number {
    return this.entries.length;
  }

  /** Drops the recorded closures (and the activations they hold) without running backward. */
  release(): void {
    this.entries = [];
    this.consumed = true;
  }

  /**
   * Backpropagates from `root`: seeds d(root) = 1 (root must then hold a single value) or `seed` (a vector–Jacobian
   * product, same shape as root), runs the recorded closures in reverse and accumulates into every `.grad` reached.
   * The tape is spent afterwards.
   */
  backward(root: Var, seed?: Tensor): void {
    if (!this.recording) throw new Error("backward: this is a no-grad tape; it recorded nothing");
    if (this.consumed) throw new Error("backward: this tape was already used (tapes are single-use; make a new one per step)");
    if (root.tape !== null && root.tape !== this) throw new Error(`backward: ${root} was recorded on another tape`);
    if (!root.requiresGrad) throw new Error(`backward: ${root} does not depend on anything that requires a gradient`);
    const k = kernelsFor(root.value.data);
    if (seed === undefined) {
      if (root.value.size !== 1) {
        throw new RangeError(`backward: loss must be a scalar, got shape ${shapeToString(root.shape)}`);
      }
      gradBuffer(root)[0]! += 1;
    } else {
      if (!sameShape(seed.shape, root.shape) || seed.dtype !== root.value.dtype) {
        throw new RangeError(
          `backward: seed ${seed} does not match ${root} (shape ${shapeToString(root.shape)}, ${root.value.dtype})`,
        );
      }
      addGrad(k, root, seed.data);
    }
    try {
      for (let i = this.entries.length - 1; i >= 0; i--) {
        const e = this.entries[i]!;
        if (e.out.grad !== null) e.backward(e.out.grad);
      }
    } finally {
      this.release();
    }
  }

  // ---- bookkeeping shared by the ops ------------------------------------------------------------------------

  /** Checks the inputs of an op and returns the kernels for their dtype. */
  private begin(op: string, inputs: readonly Var[]): Kernels<FloatArray> {
    if (this.recording && this.consumed) throw new Error(`${op}: this tape was already used by backward or released`);
    const dtype = inputs[0]!.value.dtype;
    for (const v of inputs) {
      if (v.value.dtype !== dtype) {
        throw new TypeError(`${op}: mixed dtypes (${inputs.map((x) => x.value.dtype).join(", ")})`);
      }
      if (this.recording && v.requiresGrad && v.tape !== null && v.tape !== this) {
        throw new Error(`${op}: ${v} was recorded on another tape; gradients cannot flow between tapes`);
      }
    }
    return kernelsFor(inputs[0]!.value.data);
  }

  /** Wraps an op's output; records its backward only when some input needs a gradient. */
  private record(value: Tensor, inputs: readonly Var[], backward: (dOut: Tensor) => void): Var {
    const needsGrad = this.recording && inputs.some((v) => v.requiresGrad);
    const out = new Var(value, needsGrad, needsGrad ? this : null);
    if (needsGrad) this.entries.push({ out, backward });
    return out;
  }

  // ---- ops -------------------------------------------------------------------------------------------------

  /** Rows of W [V, D] picked by ids → [N, D]. Backward scatter-adds into dW (a repeated id accumulates). */
  embedding(w: Var, ids: Int32Array): Var {
    const k = this.begin("embedding", [w]);
    if (w.shape.length !== 2) throw new RangeError(`embedding: W must be [V, D], got ${shapeToString(w.shape)}`);
    const [vocab, d] = w.shape as [number, number];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= vocab) throw new RangeError(`embedding: id ${id} at position ${i} is outside [0, ${vocab})`);
    }
    // An embedding lookup is a sparse decode with one code of value 1 per row.
    const ones = allocate(ids.length, w.value.dtype).fill(1);
    const out = Tensor.zeros([ids.length, d], w.value.dtype);
    if (d > 0) k.sparseDecode(ids.length, 1, ids, ones, w.data, d, out.data, false);
    return this.record(out, [w], (dOut) => {
      if (d > 0) k.sparseDecodeBackward(ids.length, 1, ids, ones, w.data, d, dOut.data, null, gradBuffer(w));
    });
  }

  /**
   * a [..., K] · b [K, M] → [..., M]; with transB, b is stored [M, K] (e.g. a tied or [out, in] weight).
   * Backward uses the NT / TN gemm variants, never a transposed copy.
   */
  matmul(a: Var, b: Var, options: { transB?: boolean } = {}): Var {
    const k = this.begin("matmul", [a, b]);
    const transB = options.transB ?? false;
    const [n, kk] = rowsCols(a.value);
    if (b.shape.length !== 2 || a.shape.length === 0 || b.shape[transB ? 1 : 0] !== kk) {
      throw new RangeError(
        `matmul: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)}${transB ? " (transB)" : ""} do not match`,
      );
    }
    const m = b.shape[transB ? 0 : 1]!;
    const out = Tensor.zeros([...a.shape.slice(0, -1), m], a.value.dtype);
    k.gemm(false, transB, n, m, kk, 1, a.data, kk, b.data, transB ? kk : m, 0, out.data, m);
    return this.record(out, [a, b], (dOut) => {
      const dc = dOut.data;
      if (a.requiresGrad) {
        // dA [N, K] += dC [N, M] · op(B)ᵀ
        k.gemm(false, !transB, n, kk, m, 1, dc, m, b.data, transB ? kk : m, 1, gradBuffer(a), kk);
      }
      if (b.requiresGrad) {
        if (transB) k.gemm(true, false, m, kk, n, 1, dc, m, a.data, kk, 1, gradBuffer(b), kk); // dB [M,K] += dCᵀ·A
        else k.gemm(true, false, kk, m, n, 1, a.data, kk, dc, m, 1, gradBuffer(b), m); // dB [K,M] += Aᵀ·dC
      }
    });
  }

  /**
   * Per-head projection with TransformerLens weight layout: x [N, D] and W [nHeads, D, dHead] (W_Q, W_K, W_V)
   * → [N, nHeads·dHead], head h in columns h·dHead … h·dHead+dHead−1 (the layout the attention ops read).
   * One strided gemm per head, so the TL-shaped parameter is trained as is.
   */
  headProjection(x: Var, w: Var): Var {
    const k = this.begin("headProjection", [x, w]);
    const [n, d] = rowsCols(x.value);
    if (w.shape.length !== 3 || w.shape[1] !== d || x.shape.length === 0) {
      throw new RangeError(
        `headProjection: x ${shapeToString(x.shape)} and W ${shapeToString(w.shape)} do not match (W is [nHeads, D, dHead])`,
      );
    }
    const [nHeads, , dHead] = w.shape as [number, number, number];
    const ld = nHeads * dHead;
    const out = Tensor.zeros([...x.shape.slice(0, -1), ld], x.value.dtype);
    for (let h = 0; h < nHeads; h++) {
      const wh = w.data.subarray(h * d * dHead);
      k.gemm(false, false, n, dHead, d, 1, x.data, d, wh, dHead, 0, out.data.subarray(h * dHead), ld);
    }
    return this.record(out, [x, w], (dOut) => {
      for (let h = 0; h < nHeads; h++) {
        const dOutH = dOut.data.subarray(h * dHead);
        const off = h * d * dHead;
        if (x.requiresGrad) k.gemm(false, true, n, d, dHead, 1, dOutH, ld, w.data.subarray(off), dHead, 1, gradBuffer(x), d);
        if (w.requiresGrad) k.gemm(true, false, d, dHead, n, 1, x.data, d, dOutH, ld, 1, gradBuffer(w).subarray(off), dHead);
      }
    });
  }

  /** a + b (same shape). */
  add(a: Var, b: Var): Var {
    const k = this.begin("add", [a, b]);
    if (!sameShape(a.shape, b.shape)) {
      throw new RangeError(`add: shapes ${shapeToString(a.shape)} and ${shapeToString(b.shape)} differ`);
    }
    const out = a.value.clone();
    k.axpy(1, b.data, out.data);
    return this.record(out, [a, b], (dOut) => {
      if (a.requiresGrad) addGrad(k, a, dOut.data);
      if (b.requiresGrad) addGrad(k, b, dOut.data);
    });
  }

  /** x [..., D] + bias broadcast over rows; bias has D elements (any shape, e.g. b_Q [nHeads, dHead]). */
  addBias(x: Var, bias: Var): Var {
    const k = this.begin("addBias", [x, bias]);
    const [rows, cols] = rowsCols(x.value);
    if (x.shape.length === 0 || bias.value.size !== cols) {
      throw new RangeError(`addBias: bias ${shapeToString(bias.shape)} does not match the last axis of x ${shapeToString(x.shape)}`);
    }
    const out = x.value.clone();
    k.addBias(out.data, rows, cols, bias.data);
    return this.record(out, [x, bias], (dOut) => {
      if (x.requiresGrad) addGrad(k, x, dOut.data);
      if (bias.requiresGrad) k.sumOverRows(dOut.data, rows, cols, gradBuffer(bias), true);
    });
  }

  /** s · x for a constant s. */
  scale(x: Var, s: number): Var {
    const k = this.begin("scale", [x]);
    const out = x.value.clone();
    k.scale(out.data, s);
    return this.record(out, [x], (dOut) => addGrad(k, x, dOut.data, s));
  }

  /** A view with another shape (one dimension may be -1); shares data, gradients flow. */
  reshape(x: Var, shape: Shape): Var {
    const k = this.begin("reshape", [x]);
    const out = new Tensor(x.data, resolveReshape("reshape", x.shape, shape));
    return this.record(out, [x], (dOut) => addGrad(k, x, dOut.data));
  }

  /**
   * Layer norm over the last axis (biased variance, as PyTorch / TransformerLens); w, b may be null (LNPre).
   */
  layerNorm(x: Var, w: Var | null, b: Var | null, eps = 1e-5): Var {
    const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
    const k = this.begin("layerNorm", inputs);
    const [rows, cols] = rowsCols(x.value);
    for (const [name, p] of [["w", w], ["b", b]] as const) {
      if (p && p.value.size !== cols) {
        throw new RangeError(`layerNorm: ${name} ${shapeToString(p.shape)} does not match the last axis of x ${shapeToString(x.shape)}`);
      }
    }
    const dtype = x.value.dtype;
    const out = Tensor.zeros(x.shape, dtype);
    const mean = allocate(rows, dtype);
    const rstd = allocate(rows, dtype);
    k.layerNorm(x.data, rows, cols, w?.data ?? null, b?.data ?? null, eps, out.data, mean, rstd);
    return this.record(out, inputs, (dOut) => {
      const dw = w?.requiresGrad ? gradBuffer(w) : null;
      const db = b?.requiresGrad ? gradBuffer(b) : null;
      const run = (dx: FloatArray) =>
        k.layerNormBackward(x.data, dOut.data, rows, cols, w?.data ?? null, mean, rstd, dx, dw, db);
      if (x.requiresGrad) writeGrad(k, x, run);
      else run(allocate(x.value.size, dtype)); // the kernel always writes dx; only dw/db are wanted here
    });
  }

  /** GELU: "tanh" = gelu_new (GPT-2 / TL "gelu_new"), "erf" = exact (TL "gelu"). */
  gelu(x: Var, approx: GeluApprox = "tanh"): Var {
    const k = this.begin("gelu", [x]);
    const out = Tensor.zeros(x.shape, x.value.dtype);
    k.gelu(x.data, out.data, approx);
    return this.record(out, [x], (dOut) => writeGrad(k, x, (dx) => k.geluBackward(x.data, dOut.data, dx, approx)));
  }

  relu(x: Var): Var {
    const k = this.begin("relu", [x]);
    const out = Tensor.zeros(x.shape, x.value.dtype);
    k.relu(x.data, out.data);
    return this.record(out, [x], (dOut) => writeGrad(k, x, (dx) => k.reluBackward(x.data, dOut.data, dx)));
  }

  /** Softmax over the last axis; −Infinity entries get probability 0 and exactly zero gradient. */
  softmaxRows(x: Var): Var {
    const k = this.begin("softmaxRows", [x]);
    const [rows, cols] = rowsCols(x.value);
    const y = Tensor.zeros(x.shape, x.value.dtype);
    k.softmaxRows(x.data, y.data, rows, cols);
    return this.record(y, [x], (dOut) =>
      writeGrad(k, x, (dx) => k.softmaxRowsBackward(y.data, dOut.data, dx, rows, cols)),
    );
  }

  /**
   * Causal attention scores (TL hook_attn_scores). q, k are [batch·seq, nHeads·dHead] (head h in columns
   * h·dHead …); the result is [batch, nHeads, seq, seq] (memory layout = [batch·nHeads·seq, seq]):
   * scores[b, h, i, j] = q_i · k_j / sqrt(dHead) for j ≤ i, −Infinity for j > i.
   * Masked entries are constants: their incoming gradient is discarded, so q and k get no NaN from them.
   */
  attentionScores(q: Var, kv: Var, batch: number, seq: number, nHeads: number, dHead: number): Var {
    const k = this.begin("attentionScores", [q, kv]);
    checkAttentionInput("attentionScores", "q", q, batch, seq, nHeads, dHead);
    checkAttentionInput("attentionScores", "k", kv, batch, seq, nHeads, dHead);
    const ld = nHeads * dHead;
    const alpha = 1 / Math.sqrt(dHead);
    const scores = Tensor.zeros([batch, nHeads, seq, seq], q.value.dtype);
    const s = scores.data;
    forEachHead(batch, seq, nHeads, dHead, (qkOff, sOff) => {
      k.gemm(false, true, seq, seq, dHead, alpha, q.data.subarray(qkOff), ld, kv.data.subarray(qkOff), ld, 0, s.subarray(sOff), seq);
      fillAboveDiagonal(s, sOff, seq, -Infinity);
    });
    return this.record(scores, [q, kv], (dOut) => {
      const ds = dOut.data.slice();
      forEachHead(batch, seq, nHeads, dHead, (qkOff, sOff) => {
        fillAboveDiagonal(ds, sOff, seq, 0);
        const dsH = ds.subarray(sOff);
        // dQ_bh += α · dS · K_bh;  dK_bh += α · dSᵀ · Q_bh
        if (q.requiresGrad) k.gemm(false, false, seq, dHead, seq, alpha, dsH, seq, kv.data.subarray(qkOff), ld, 1, gradBuffer(q).subarray(qkOff), ld);
        if (kv.requiresGrad) k.gemm(true, false, seq, dHead, seq, alpha, dsH, seq, q.data.subarray(qkOff), ld, 1, gradBuffer(kv).subarray(qkOff), ld);
      });
    });
  }

  /**
   * z = pattern · v per (batch, head) (TL hook_z, heads concatenated): pattern [batch, nHeads, seq, seq] (or any
   * shape of that size), v [batch·seq, nHeads·dHead] → z [batch·seq, nHeads·dHead].
   */
  attentionMix(pattern: Var, v: Var, batch: number, seq: number, nHeads: number, dHead: number): Var {
    const k = this.begin("attentionMix", [pattern, v]);
    if (pattern.value.size !== batch * nHeads * seq * seq) {
      throw new RangeError(
        `attentionMix: pattern ${shapeToString(pattern.shape)} is not batch·nHeads·seq·seq = ${batch}·${nHeads}·${seq}·${seq}`,
      );
    }
    checkAttentionInput("attentionMix", "v", v, batch, seq, nHeads, dHead);
    const ld = nHeads * dHead;
    const z = Tensor.zeros([batch * seq, ld], v.value.dtype);
    const p = pattern.data;
    forEachHead(batch, seq, nHeads, dHead, (vOff, pOff) => {
      k.gemm(false, false, seq, dHead, seq, 1, p.subarray(pOff), seq, v.data.subarray(vOff), ld, 0, z.data.subarray(vOff), ld);
    });
    return this.record(z, [pattern, v], (dOut) => {
      forEachHead(batch, seq, nHeads, dHead, (vOff, pOff) => {
        const dz = dOut.data.subarray(vOff);
        // dP_bh += dZ_bh · V_bhᵀ;  dV_bh += P_bhᵀ · dZ_bh
        if (pattern.requiresGrad) k.gemm(false, true, seq, seq, dHead, 1, dz, ld, v.data.subarray(vOff), ld, 1, gradBuffer(pattern).subarray(pOff), seq);
        if (v.requiresGrad) k.gemm(true, false, seq, dHead, seq, 1, p.subarray(pOff), seq, dz, ld, 1, gradBuffer(v).subarray(vOff), ld);
      });
    });
  }

  /**
   * Mean cross-entropy of logits [..., V] against targets (one per row), over the rows whose target is not
   * ignoreIndex; 0 (and no gradient) when every row is ignored. Scalar result.
   */
  crossEntropy(logits: Var, targets: Int32Array, options: CrossEntropyOptions = {}): Var {
    const k = this.begin("crossEntropy", [logits]);
    const ignoreIndex = options.ignoreIndex ?? -1;
    const [rows, vocab] = rowsCols(logits.value);
    const logp = allocate(logits.value.size, logits.value.dtype);
    const { total, count } = gatherTargetLogProbs(k, logits.value, targets, ignoreIndex, logp, options.perToken);
    const loss = Tensor.scalar(count === 0 ? 0 : total / count, logits.value.dtype);
    return this.record(loss, [logits], (dOut) => {
      if (count === 0) return;
      // d/dlogp of −Σ logp[r, t_r] / count, then through log-softmax: (softmax − onehot) · g / count.
      const dLogp = allocate(logits.value.size, logits.value.dtype);
      const g = -dOut.data[0]! / count;
      for (let r = 0; r < rows; r++) {
        const t = targets[r]!;
        if (t !== ignoreIndex) dLogp[r * vocab + t] = g;
      }
      writeGrad(k, logits, (dx) => k.logSoftmaxRowsBackward(logp, dLogp, dx, rows, vocab));
    });
  }

  /**
   * Mean cross-entropy of the unembedding: logits = x W (+ b) with x [N, D], W [D, V], b [V], targets [N]; the
   * same value as crossEntropy(addBias(matmul(x, W), b), targets) but never holding the [N, V] logits. Rows are
   * processed chunkRows at a time; when a gradient is needed it is computed in the same pass (the loss is a
   * terminal scalar, so d/dlogits is known at forward time): dlogits = (softmax − onehot)/count overwrites the
   * chunk, then dW += xᵀ dlogits, db += Σ dlogits, dx = dlogits Wᵀ. Backward only scales by d(loss).
   */
  unembedCrossEntropy(x: Var, w: Var, b: Var | null, targets: Int32Array, options: UnembedCrossEntropyOptions = {}): Var {
    const inputs = b ? [x, w, b] : [x, w];
    const k = this.begin("unembedCrossEntropy", inputs);
    const ignoreIndex = options.ignoreIndex ?? -1;
    const [rows, d] = rowsCols(x.value);
    if (w.shape.length !== 2 || w.shape[0] !== d) {
      throw new RangeError(`unembedCrossEntropy: W must be [${d}, V] for x ${shapeToString(x.shape)}, got ${shapeToString(w.shape)}`);
    }
    const vocab = w.shape[1]!;
    if (b && (b.value.size !== vocab)) throw new RangeError(`unembedCrossEntropy: b must have ${vocab} elements, got ${shapeToString(b.shape)}`);
    if (targets.length !== rows) {
      throw new RangeError(`unembedCrossEntropy: ${targets.length} targets for x ${shapeToString(x.shape)} (${rows} rows)`);
    }
    if (options.perToken && options.perToken.length !== rows) {
      throw new RangeError(`unembedCrossEntropy: perToken has ${options.perToken.length} elements, needs ${rows}`);
    }
    let count = 0;
    for (let r = 0; r < rows; r++) if (targets[r] !== ignoreIndex) count++;
    const dtype = x.value.dtype;
    const wantGrad = this.recording && count > 0 && inputs.some((v) => v.requiresGrad);
    // The kernel overwrites these; reused across calls (dW is d·vocab, 26 MB at the default shape: a fresh buffer
    // per call costs thousands of page faults).
    const dX = wantGrad && x.requiresGrad ? takeScratch(rows * d, dtype) : null;
    const dW = wantGrad && w.requiresGrad ? takeScratch(d * vocab, dtype) : null;
    const dB = wantGrad && b?.requiresGrad ? takeScratch(vocab, dtype) : null;
    const nll = options.perToken ?? allocate(rows, dtype);
    k.unembedCrossEntropy({
      x: x.data, rows, d, w: w.data, vocab, bias: b ? b.data : null, targets, ignoreIndex,
      gradScale: wantGrad ? 1 / count : null, nll, dX, dW, dB,
      ...(options.chunkRows !== undefined ? { chunkRows: options.chunkRows } : {}),
    });
    let total = 0;
    for (let r = 0; r < rows; r++) if (targets[r] !== ignoreIndex) total += nll[r]!;
    const loss = Tensor.scalar(count === 0 ? 0 : total / count, dtype);
    return this.record(loss, inputs, (dOut) => {
      if (!wantGrad) return;
      const g = dOut.data[0]!;
      if (dX) addGrad(k, x, dX, g);
      if (dW) addGrad(k, w, dW, g);
      if (dB) addGrad(k, b!, dB, g);
      for (const buffer of [dX, dW, dB]) if (buffer) returnScratch(buffer);
    });
  }

  /**
   * Mean over rows of the squared error summed over the last axis: (1/rows) Σ_r Σ_c (x − target)².
   * This is SAELens' reconstruction loss ("sum over d_in, mean over batch"), not PyTorch's elementwise mean.
   * rows = size / lastDim. The target may itself require a gradient.
   */
  mse(x: Var, target: Var | Tensor): Var {
    const t = target instanceof Var ? target : constant(target);
    const k = this.begin("mse", [x, t]);
    if (!sameShape(x.shape, t.shape)) {
      throw new RangeError(`mse: shapes ${shapeToString(x.shape)} and ${shapeToString(t.shape)} differ`);
    }
    const [rows] = rowsCols(x.value);
    const diff = x.value.data.slice();
    k.axpy(-1, t.data, diff);
    const loss = Tensor.scalar(rows === 0 ? 0 : dot(k, diff, diff) / rows, x.value.dtype);
    return this.record(loss, [x, t], (dOut) => {
      if (rows === 0) return;
      const c = (2 * dOut.data[0]!) / rows;
      if (x.requiresGrad) addGrad(k, x, diff, c);
      if (t.requiresGrad) addGrad(k, t, diff, -c);
    });
  }

  /** Σ x (scalar). */
  sum(x: Var): Var {
    const k = this.begin("sum", [x]);
    const out = Tensor.scalar(sumAll(k, x.data), x.value.dtype);
    return this.record(out, [x], (dOut) => broadcastScalarGrad(k, x, dOut.data[0]!));
  }

  /** Σ x / size (scalar). */
  mean(x: Var): Var {
    const k = this.begin("mean", [x]);
    const n = x.value.size;
    const out = Tensor.scalar(n === 0 ? NaN : sumAll(k, x.data) / n, x.value.dtype);
    return this.record(out, [x], (dOut) => broadcastScalarGrad(k, x, dOut.data[0]! / n));
  }

  /** Σ |x| (scalar), the L1 norm of everything; gradient sign(x) (0 at 0, as PyTorch). */
  sumAbs(x: Var): Var {
    const k = this.begin("sumAbs", [x]);
    // |x| = relu(x) + relu(−x), so both halves run on kernels.
    const negX = x.data.slice();
    k.scale(negX, -1);
    const pos = allocate(x.value.size, x.value.dtype);
    const neg = allocate(x.value.size, x.value.dtype);
    k.relu(x.data, pos);
    k.relu(negX, neg);
    const out = Tensor.scalar(sumAll(k, pos) + sumAll(k, neg), x.value.dtype);
    return this.record(out, [x], (dOut) => {
      const g = allocate(x.value.size, x.value.dtype).fill(dOut.data[0]!);
      k.reluBackward(x.data, g, pos); // g where x > 0
      k.reluBackward(negX, g, neg); // g where x < 0
      addGrad(k, x, pos, 1);
      addGrad(k, x, neg, -1);
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for the ops

function broadcastScalarGrad(k: Kernels<FloatArray>, x: Var, g: number): void {
  addGrad(k, x, allocate(x.value.size, x.value.dtype).fill(g));
}

function checkAttentionInput(op: string, name: string, x: Var, batch: number, seq: number, nHeads: number, dHead: number): void {
  for (const [dim, value] of [["batch", batch], ["seq", seq], ["nHeads", nHeads], ["dHead", dHead]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${op}: ${dim} must be a positive integer, got ${value}`);
  }
  if (x.value.size !== batch * seq * nHeads * dHead || x.value.lastDim !== nHeads * dHead) {
    throw new RangeError(
      `${op}: ${name} ${shapeToString(x.shape)} is not [batch·seq, nHeads·dHead] = [${batch * seq}, ${nHeads * dHead}]`,
    );
  }
}

/** Calls fn(offset of head h of batch b in q/k/v/z, offset of its seq×seq block in scores/pattern). */
function forEachHead(
  batch: number, seq: number, nHeads: number, dHead: number, fn: (headOffset: number, blockOffset: number) => void,
): void {
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHeads; h++) fn(b * seq * nHeads * dHead + h * dHead, (b * nHeads + h) * seq * seq);
  }
}

/** Sets the strictly-upper triangle of the seq×seq block at `offset` (the causal mask). */
function fillAboveDiagonal(a: FloatArray, offset: number, seq: number, value: number): void {
  for (let i = 0; i < seq - 1; i++) a.fill(value, offset + i * seq + i + 1, offset + (i + 1) * seq);
}

/**
 * logp = logSoftmax(logits); returns Σ −logp[r, t_r] and the count over non-ignored rows, filling perToken if
 * given. Validates targets.
 */
function gatherTargetLogProbs(
  k: Kernels<FloatArray>, logits: Tensor, targets: Int32Array, ignoreIndex: number, logp: FloatArray,
  perToken: FloatArray | undefined,
): { total: number; count: number } {
  const [rows, vocab] = rowsCols(logits);
  if (logits.ndim === 0 || targets.length !== rows) {
    throw new RangeError(`crossEntropy: ${targets.length} targets for logits ${shapeToString(logits.shape)} (${rows} rows)`);
  }
  if (perToken && perToken.length !== rows) {
    throw new RangeError(`crossEntropy: perToken has ${perToken.length} elements, needs ${rows}`);
  }
  k.logSoftmaxRows(logits.data, logp, rows, vocab);
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignoreIndex) {
      if (perToken) perToken[r] = NaN;
      continue;
    }
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      throw new RangeError(`crossEntropy: target ${t} at row ${r} is outside [0, ${vocab}) and not ignoreIndex ${ignoreIndex}`);
    }
    const nll = -logp[r * vocab + t]!;
    if (perToken) perToken[r] = nll;
    total += nll;
    count++;
  }
  return { total, count };
}

/**
 * Per-row cross-entropy −log p(target) without gradients (e.g. loss by token class: prose vs code).
 * logits [..., V], one target per row; ignored rows get NaN. Same dtype as the logits.
 */
export function crossEntropyPerToken(logits: Tensor | Var, targets: Int32Array, ignoreIndex = -1): FloatArray {
  const t = logits instanceof Var ? logits.value : logits;
  const [rows] = rowsCols(t);
  const perToken = allocate(rows, t.dtype);
  gatherTargetLogProbs(kernelsFor(t.data), t, targets, ignoreIndex, allocate(t.size, t.dtype), perToken);
  return perToken;
}
