/**
 * The kernel interface: every hot loop in saekit goes through one of these functions.
 *
 * Two implementations give the same results (within float32 rounding):
 *  - `native` (C++ N-API addon, AVX-512 / AVX2+FMA / scalar, multi-threaded), Float32Array only;
 *  - `js` (pure TypeScript), which also accepts Float64Array so gradients can be checked in float64.
 *
 * Conventions shared by all kernels:
 *  - matrices are dense, row-major; a "leading dimension" (lda, ldb, ldc) is the stride between rows;
 *  - arrays are passed as typed-array views (use `subarray` for offsets); lengths are checked by callers;
 *  - `out` arguments may alias their input where noted ("in place ok");
 *  - index arrays are Int32Array; an index < 0 in a sparse code means "padding, skip this slot".
 */

import type { LogitRowSummaryOut } from "./kernels-analyze.js";

export type FloatArray = Float32Array | Float64Array;

export type GeluApprox = "tanh" | "erf";

/**
 * Precision of the matrix products (gemm / gemmAsync): "fp32", or "bf16" — both operands rounded to bfloat16
 * (nearest even; alpha folded into A first) and the products accumulated in float32, as PyTorch's bf16 autocast
 * does. Every other kernel, C, alpha and beta stay float32 in both; dot-shaped products (M·N ≤ 4) stay fp32.
 */
export type Precision = "fp32" | "bf16";

/**
 * op(B) prepared once (kernels.packB) for several products that share it, e.g. the unembedding over row chunks: at
 * bf16 the operand is converted and packed once instead of once per product. It refers to `b`, which must not
 * change while the pack is in use. Any kernels accept any pack (one made at another precision just saves nothing).
 */
export interface PackedB {
  readonly transB: boolean;
  readonly K: number;
  readonly N: number;
  readonly b: FloatArray;
  readonly ldb: number;
  /** The native bf16 panels (opaque), when the native bf16 kernels made the pack. */
  readonly handle?: unknown;
}

/** Arguments of Kernels.unembedCrossEntropy (one object: thirteen positional arrays and sizes would invite mix-ups). */
export interface UnembedCrossEntropyArgs<A extends FloatArray = Float32Array> {
  /** The final residual, rows × d. */
  x: A;
  rows: number;
  d: number;
  /** The unembedding, d × vocab (row-major), and its bias (vocab elements) or null. */
  w: A;
  vocab: number;
  bias: A | null;
  /** One target per row in [0, vocab), or ignoreIndex. */
  targets: Int32Array;
  ignoreIndex: number;
  /** null: the loss only. Else the gradients of gradScale · Σ_r nll[r] are written. */
  gradScale: number | null;
  /** Receives −log softmax(logits_r)[targets[r]] per row (NaN where ignored); rows elements. */
  nll: A;
  /** Overwritten with dX = G Wᵀ (rows × d), dW = xᵀ G (d × vocab), dB = Σ_r G (vocab), where G = gradScale ·
   * (softmax − onehot) with zero rows where ignored; null skips one (all are skipped when gradScale is null). */
  dX: A | null;
  dW: A | null;
  dB: A | null;
  /** Rows of logits held at a time by the generic route (default 256; the fused native kernel tiles in cache). */
  chunkRows?: number;
}

export interface Kernels<A extends FloatArray = Float32Array> {
  /** "native" or "js". */
  readonly name: "native" | "js";
  /** Instruction set in use: "avx512", "avx2", "scalar" (native) or "js". */
  readonly isa: string;
  /** Worker threads the backend uses for large kernels. */
  readonly threads: number;
  /** Change the number of threads (native: resizes the pool; js: ignored, always 1). */
  setThreads(n: number): void;

  /** Precision of gemm and gemmAsync (see Precision). */
  readonly precision: Precision;
  /**
   * How bf16 products run: "amx" (AMX-BF16 tiles), "avx512bf16" (vdpbf16ps) or "emulated" (the fp32 kernels on
   * bf16-rounded operands: same numbers up to summation order, no speed-up).
   */
  readonly bf16Path: string;
  /** These kernels with gemm / gemmAsync at another precision (same threads and state; cached, cheap). */
  withPrecision(precision: Precision): Kernels<A>;

  /**
   * C = alpha · op(A) · op(B) + beta · C, with op(A) of shape M×K and op(B) of shape K×N.
   * transA=false: A is stored M×K (lda ≥ K); transA=true: A is stored K×M (lda ≥ M) and op(A) = Aᵀ.
   * transB=false: B is stored K×N (ldb ≥ N); transB=true: B is stored N×K (ldb ≥ K) and op(B) = Bᵀ.
   * C is M×N (ldc ≥ N). beta = 0 overwrites C (NaNs in C are ignored); beta = 1 accumulates.
   * Computed at `precision`.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, a: A, lda: number, b: A, ldb: number,
    beta: number, c: A, ldc: number,
  ): void;

  /** op(B) (K×N; stored as for gemm) prepared for gemmPackedB — converted to bf16 panels once at bf16. */
  packB(transB: boolean, K: number, N: number, b: A, ldb: number): PackedB;
  /** gemm with a packed op(B): C = alpha · op(A) · op(B) + beta · C, op(A) M×K, C M×N; same result as gemm. */
  gemmPackedB(transA: boolean, M: number, alpha: number, a: A, lda: number, packed: PackedB, beta: number, c: A, ldc: number): void;

  /** Same as gemm but off the main thread (native: a libuv worker + the pool); resolves when C is written. */
  gemmAsync(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, a: A, lda: number, b: A, ldb: number,
    beta: number, c: A, ldc: number,
  ): Promise<void>;

  /** x[r, c] += bias[c] for a rows×cols matrix (in place). */
  addBias(x: A, rows: number, cols: number, bias: A): void;

  /** y += alpha · x (elementwise, equal lengths). */
  axpy(alpha: number, x: A, y: A): void;
  /** x *= alpha (in place). */
  scale(x: A, alpha: number): void;

  /** out = gelu(x); approx "tanh" (gelu_new) or "erf" (exact). In place ok. */
  gelu(x: A, out: A, approx: GeluApprox): void;
  /** dx = dy · gelu'(x). dx may alias dy. */
  geluBackward(x: A, dy: A, dx: A, approx: GeluApprox): void;
  /** out = max(x, 0). In place ok. */
  relu(x: A, out: A): void;
  /** dx = dy where x > 0 else 0. dx may alias dy. */
  reluBackward(x: A, dy: A, dx: A): void;

  /** Row-wise softmax of a rows×cols matrix. -Infinity entries get probability 0 (causal masks). In place ok. */
  softmaxRows(x: A, out: A, rows: number, cols: number): void;
  /** Row-wise log-softmax. In place ok. */
  logSoftmaxRows(x: A, out: A, rows: number, cols: number): void;
  /** Given y = softmax(x) and dy, dx = y ⊙ (dy − Σ_c dy·y). dx may alias dy. */
  softmaxRowsBackward(y: A, dy: A, dx: A, rows: number, cols: number): void;
  /** Given y = logSoftmax(x) and dy, dx = dy − exp(y) · Σ_c dy. dx may alias dy. */
  logSoftmaxRowsBackward(y: A, dy: A, dx: A, rows: number, cols: number): void;

  /**
   * Fused softmax cross-entropy over rows of logits (the unembedding loss without a log-prob matrix):
   *   nll[r] = −log softmax(x_r)[targets[r]]            (NaN where targets[r] === ignoreIndex)
   * With gradScale ≠ null, x is overwritten by gradScale · (softmax(x_r) − onehot(targets[r])), i.e. the gradient
   * of gradScale · Σ_r nll[r] w.r.t. the logits (zero rows where ignored). Targets must lie in [0, cols).
   */
  softmaxCrossEntropyRows(
    x: A, rows: number, cols: number, targets: Int32Array, ignoreIndex: number, gradScale: number | null, nll: A,
  ): void;

  /**
   * The unembedding with its softmax cross-entropy, never holding all rows × vocab logits: logits = x W + bias,
   * products at `precision` (bias added in float32), then as softmaxCrossEntropyRows, and with gradScale the
   * gradients dX, dW, dB of gradScale · Σ nll (see UnembedCrossEntropyArgs). The native AVX512-BF16 path fuses it
   * into one kernel that keeps tiles of the logits in cache (native/src/unembed_ce.cc); every other path runs it
   * over row chunks with gemm, addBias, softmaxCrossEntropyRows and sumOverRows (kernels-unembed.ts).
   */
  unembedCrossEntropy(args: UnembedCrossEntropyArgs<A>): void;

  /**
   * Layer norm over the last axis: out = (x − mean) · rstd · w + b, rstd = 1/sqrt(var + eps) with the biased
   * variance (as PyTorch / TransformerLens). w, b may be null (LNPre). Writes mean[rows] and rstd[rows].
   */
  layerNorm(
    x: A, rows: number, cols: number, w: A | null, b: A | null, eps: number,
    out: A, mean: A, rstd: A,
  ): void;
  /**
   * Backward of layerNorm. Writes dx (overwrites); accumulates dw += Σ_r dy·x̂ and db += Σ_r dy when given.
   */
  layerNormBackward(
    x: A, dy: A, rows: number, cols: number, w: A | null, mean: A, rstd: A,
    dx: A, dw: A | null, db: A | null,
  ): void;

  /**
   * Row-wise top-k of a rows×cols matrix: values[r*k + j], indices[r*k + j] hold the k largest entries of row r,
   * sorted by value descending, ties broken by the smaller column index. Requires 1 ≤ k ≤ cols. With `bias`
   * (length cols) the rows ranked are x[r, c] + bias[c] (float32 sums), without writing x + bias anywhere.
   */
  topkRows(x: A, rows: number, cols: number, k: number, values: A, indices: Int32Array, bias?: A | null): void;

  /**
   * Sparse codes × dense dictionary (the SAE decoder): for each row r,
   *   out[r, :] (= or +=) Σ_j values[r*k + j] · W[indices[r*k + j], :]
   * W is m×n row-major (n = d_in), out is rows×n. Slots with index < 0 are skipped.
   */
  sparseDecode(
    rows: number, k: number, indices: Int32Array, values: A, w: A, n: number,
    out: A, accumulate: boolean,
  ): void;
  /**
   * Backward of sparseDecode given dOut (rows×n):
   *   dValues[r*k + j] = dOut[r, :] · W[idx, :]          (overwrites; skipped when dValues is null; 0 for padding)
   *   dW[idx, :]     += values[r*k + j] · dOut[r, :]      (scatter-add; skipped when dW is null)
   */
  sparseDecodeBackward(
    rows: number, k: number, indices: Int32Array, values: A, w: A, n: number,
    dOut: A, dValues: A | null, dW: A | null,
  ): void;

  /**
   * The positive entries of each row of a rows×cols matrix as sparse slots (ReLU codes): values[r*k + j],
   * indices[r*k + j] in column order, padded with (0, −1). counts[r] receives the row's number of positive
   * entries, which may exceed k (then only the first k are written). Returns the largest count.
   */
  positiveRowsToSparse(x: A, rows: number, cols: number, k: number, values: A, indices: Int32Array, counts: Int32Array): number;
  /** g_r −= (g_r·w_r / ‖w_r‖²) w_r per row (rows with w_r = 0 unchanged): the gradient tangent to ‖w_r‖ = const. */
  projectOutRows(g: A, w: A, rows: number, cols: number): void;
  /** w_r /= ‖w_r‖ per row in place (zero rows unchanged); norms[r] (if given) receives the norm before. */
  normalizeRows(w: A, rows: number, cols: number, norms: A | null): void;

  /**
   * analyze's logit-weight summaries, one per row of x [rows, cols] (kernels-analyze.ts logitRowSummariesJs: optional
   * in-place centring, min/max/mean/std, k largest and smallest with their columns, histogram). Returns −1, or
   * row·cols + col of the first non-finite value.
   */
  logitRowSummaries(x: Float32Array, rows: number, cols: number, centre: boolean, k: number, bins: number, out: LogitRowSummaryOut): number;

  /** out[c] (= or +=) Σ_r x[r, c]  — reduce a rows×cols matrix over its rows (e.g. bias gradients). */
  sumOverRows(x: A, rows: number, cols: number, out: A, accumulate: boolean): void;
  /** out[r] (= or +=) Σ_c x[r, c]  — reduce over columns. */
  sumOverCols(x: A, rows: number, cols: number, out: A, accumulate: boolean): void;

  /**
   * One AdamW update in place (decoupled weight decay, PyTorch semantics):
   *   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
   *   p -= lr · ( (m/bc1) / (sqrt(v/bc2) + eps) + weightDecay · p )
   * where bc1 = 1 − β1^t and bc2 = 1 − β2^t are passed in by the optimiser.
   */
  adamwStep(
    param: A, grad: A, m: A, v: A,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, bc1: number, bc2: number,
  ): void;
}
