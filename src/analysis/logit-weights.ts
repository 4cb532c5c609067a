/**
 * Logit weights: the direct effect of a feature (or an MLP neuron) on the output logits through the residual stream,
 * as in Towards Monosemanticity's and sae-vis' "logit weights" table and histogram (docs/conventions.md, "Dashboard data").
 *
 * For an SAE on `blocks.0.mlp.hook_post`, feature f writes W_dec[f] into the MLP activations, and the MLP writes
 *   d_f = W_dec[f] · W_out                       (its output direction in the residual stream, [d_model])
 * which reaches the logits through ln_final and the unembedding:
 *   logit weights of f = d_f · W_U'              ([d_vocab]),  W_U' = diag(ln_final.w) · W_U.
 *
 * The final LayerNorm, LN(x) = w ⊙ (x − mean(x)) / σ(x) + b, is handled as TransformerLens' weight processing does
 * (the `fold_ln` step of `HookedTransformer.from_pretrained`, whose W_U sae-vis multiplies by):
 *   - ln_final.w is folded into W_U (here by scaling the direction instead, (d ⊙ w) · W_U, which is the same numbers
 *     without a d_model × d_vocab copy of W_U); `lnFinalW = null` for LNPre / no final norm;
 *   - ln_final.b only adds a per-token constant to b_U and does not depend on the feature: it is left out;
 *   - the division by σ(x) is a positive per-token scalar (it scales every logit weight of a token equally and never
 *     changes their order): ignored, as in every weight-based logit table;
 *   - the mean-centring is ignored by default (the numbers are d · diag(w) · W_U exactly). With `centre: true` it is
 *     applied the way TransformerLens' default processing does (fold_ln + center_writing_weights + center_unembed,
 *     all on by default in `from_pretrained`, so this is what sae-vis shows for a TL-loaded model): the direction is
 *     centred over d_model (LN removes that component exactly; TL centres W_out's rows and, after folding, W_U's
 *     columns over d_model, which gives the same products), and each feature's logit weights are centred over the
 *     vocabulary (TL's center_unembed; a constant shift per feature, so top/bottom tokens are unchanged, only the
 *     values and the histogram move).
 * sae-vis itself (data_fetching_fns / model_fns) computes `feature_resid_dir = W_dec[f] @ W_out` and
 * `logits = feature_resid_dir @ model.W_U` with whatever processing the TL model was loaded with; it does no LN
 * handling of its own.
 *
 * The directions come from ablation.ts' outputDirections(model, sae | null): W_dec · W_out for features, and for
 * neurons W_out's rows (neuron n writes W_out[n]), which gives neurons the same table.
 *
 * Memory: the full [count, d_vocab] matrix is 4 · count · d_vocab bytes (823 MB for 4,096 features × 50,257 tokens),
 * so `logitWeightSummaries` computes it `chunk` features at a time (one GEMM each, a chunk × d_vocab float32 scratch:
 * 51 MB for the default 256 × 50,257) and keeps only the per-feature summaries.
 *
 * Summaries (per feature, over its d_vocab logit weights):
 *   top     the `top` largest weights, descending; bottom  the `top` smallest, ascending (most negative first);
 *           ties go to the smaller token id in both;
 *   histogram  `bins` equal-width bins of [min, max]: bin b is [edges[b], edges[b+1]) and the last bin also holds
 *           max; edges[b] = min + (max − min) · b / bins (edges[bins] = max), the same expression used for binning,
 *           so every counted weight w satisfies edges[b] ≤ w < edges[b+1] exactly; the counts sum to d_vocab. When
 *           min = max every weight is in the last bin;
 *   mean, std  over the vocabulary, std the population standard deviation (÷ d_vocab), both in float64.
 */
import { kernels } from "../core/backend.js";
import type { LogitRowSummaryOut } from "../core/kernels-analyze.js";

export class LogitWeightsError extends Error {
  override name = "LogitWeightsError";
}

export interface LogitWeightOptions {
  /**
   * Apply LayerNorm's mean-centring the way TransformerLens' default weight processing does (see the module doc):
   * centre each direction over d_model and each feature's logit weights over the vocabulary. Default false.
   */
  centre?: boolean;
}

export interface LogitWeightSummaryOptions extends LogitWeightOptions {
  /** Tokens in the top and in the bottom list (default 10; at most d_vocab are returned). */
  top?: number;
  /** Histogram bins (default 50). */
  bins?: number;
  /** Features per GEMM (default 256): the scratch is chunk × d_vocab float32. */
  chunk?: number;
  /**
   * logitWeightTable only: called with each chunk's logit weights [n, d_vocab] (centred over the vocabulary when
   * `centre`), for work that needs the full rows (analyze's matched logit r); the rows are reused afterwards.
   */
  onChunk?: (first: number, n: number, rows: Float32Array) => void;
}

/** A vocabulary id and its logit weight (the records carry the id with its text: unit-record.ts TokenWeight). */
export interface TokenIdWeight {
  token: number;
  weight: number;
}

export interface LogitWeightSummary {
  /** Largest weights, descending (ties: smaller token id first). */
  top: TokenIdWeight[];
  /** Smallest weights, ascending (ties: smaller token id first). */
  bottom: TokenIdWeight[];
  histogram: { edges: number[]; counts: number[] };
  mean: number;
  /** Population standard deviation over the vocabulary. */
  std: number;
}

const INT32_MAX = 0x7fffffff;

function checkInt(name: string, v: number, min: number, max = INT32_MAX): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LogitWeightsError(`logit weights: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

function checkLength(name: string, arr: ArrayLike<number>, expected: number, shape: string): void {
  if (arr.length !== expected) {
    throw new LogitWeightsError(`logit weights: ${name} has ${arr.length} elements, expected ${expected} (${shape})`);
  }
}

interface Unembed {
  directions: Float32Array;
  count: number;
  dModel: number;
  wU: Float32Array;
  dVocab: number;
  lnFinalW: Float32Array | null;
  centre: boolean;
}

function checkUnembed(
  directions: Float32Array, count: number, dModel: number, wU: Float32Array, dVocab: number,
  lnFinalW: Float32Array | null, options: LogitWeightOptions | undefined,
): Unembed {
  checkInt("count", count, 0);
  checkInt("dModel", dModel, 1);
  checkInt("dVocab", dVocab, 1);
  checkLength("directions", directions, count * dModel, `[count ${count}, d_model ${dModel}]`);
  checkLength("wU", wU, dModel * dVocab, `unembed.W_U [d_model ${dModel}, d_vocab ${dVocab}]`);
  if (lnFinalW !== null) checkLength("lnFinalW", lnFinalW, dModel, `ln_final.w [d_model ${dModel}]`);
  const centre = options?.centre ?? false;
  if (typeof centre !== "boolean") throw new LogitWeightsError(`logit weights: centre must be a boolean, got ${String(centre)}`);
  return { directions, count, dModel, wU, dVocab, lnFinalW, centre };
}

/**
 * Logit weights of directions [first, first + n) into out [n, d_vocab] (n ≤ the scratch's rows): one GEMM of the
 * (centred, ln_final.w-scaled) directions with W_U, then the vocabulary centring when asked.
 */
function logitChunk(u: Unembed, first: number, n: number, scaled: Float32Array, out: Float32Array, centreVocab = u.centre): void {
  const { dModel, dVocab, lnFinalW, centre } = u;
  let a = u.directions.subarray(first * dModel, (first + n) * dModel);
  if (centre || lnFinalW !== null) {
    for (let i = 0; i < n; i++) {
      const off = i * dModel;
      let mean = 0;
      if (centre) {
        let s = 0;
        for (let m = 0; m < dModel; m++) s += a[off + m]!;
        mean = s / dModel;
      }
      for (let m = 0; m < dModel; m++) {
        const v = a[off + m]! - mean;
        scaled[off + m] = lnFinalW !== null ? v * lnFinalW[m]! : v;
      }
    }
    a = scaled.subarray(0, n * dModel);
  }
  kernels().gemm(false, false, n, dVocab, dModel, 1, a, dModel, u.wU, dVocab, 0, out, dVocab);
  if (centreVocab) {
    for (let i = 0; i < n; i++) {
      const row = out.subarray(i * dVocab, (i + 1) * dVocab);
      let s = 0;
      for (let t = 0; t < dVocab; t++) s += row[t]!;
      const mean = s / dVocab;
      for (let t = 0; t < dVocab; t++) row[t] = row[t]! - mean;
    }
  }
}

/** Internal GEMM block for logitWeights: bounds the scaled-direction scratch, not the output. */
const FULL_CHUNK = 1024;

/**
 * The full logit-weight matrix [count, d_vocab] = directions · diag(ln_final.w) · W_U (see the module doc for the
 * LayerNorm treatment). 4 · count · d_vocab bytes: for a whole dictionary over a real vocabulary prefer
 * logitWeightSummaries.
 */
export function logitWeights(
  directions: Float32Array, count: number, dModel: number, wU: Float32Array, dVocab: number,
  lnFinalW: Float32Array | null, options?: LogitWeightOptions,
): Float32Array {
  const u = checkUnembed(directions, count, dModel, wU, dVocab, lnFinalW, options);
  let out: Float32Array;
  try {
    out = new Float32Array(count * dVocab);
  } catch (e) {
    throw new LogitWeightsError(
      `logit weights: cannot allocate the [${count}, ${dVocab}] matrix (${((count * dVocab * 4) / 2 ** 20).toFixed(0)} MiB); ` +
        `use logitWeightSummaries, which works chunk by chunk (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const scaled = new Float32Array(Math.min(count, FULL_CHUNK) * dModel);
  for (let first = 0; first < count; first += FULL_CHUNK) {
    const n = Math.min(FULL_CHUNK, count - first);
    logitChunk(u, first, n, scaled, out.subarray(first * dVocab, (first + n) * dVocab));
  }
  return out;
}

/**
 * Per-direction summaries of the logit weights (top/bottom tokens, histogram, mean, std), computed `chunk` directions
 * per GEMM so the [count, d_vocab] matrix never exists. Same numbers as summarising logitWeights' rows.
 */
export function logitWeightSummaries(
  directions: Float32Array, count: number, dModel: number, wU: Float32Array, dVocab: number,
  lnFinalW: Float32Array | null, options: LogitWeightSummaryOptions = {},
): LogitWeightSummary[] {
  const table = logitWeightTable(directions, count, dModel, wU, dVocab, lnFinalW, options);
  return Array.from({ length: count }, (_, i) => table.at(i));
}

/** logitWeightSummaries kept in flat typed arrays; `at(i)` builds direction i's summary when it is needed. */
export interface LogitWeightTable {
  count: number;
  at(i: number): LogitWeightSummary;
}

/**
 * logitWeightSummaries without the per-direction objects: at 131,072 features those are millions of small objects
 * alive until the store is written, which every major GC re-traverses; the table holds the same numbers flat.
 */
export function logitWeightTable(
  directions: Float32Array, count: number, dModel: number, wU: Float32Array, dVocab: number,
  lnFinalW: Float32Array | null, options: LogitWeightSummaryOptions = {},
): LogitWeightTable {
  const u = checkUnembed(directions, count, dModel, wU, dVocab, lnFinalW, options);
  const top = options.top ?? 10;
  const bins = options.bins ?? 50;
  const chunk = options.chunk ?? 256;
  checkInt("top", top, 0);
  checkInt("bins", bins, 1, 1 << 20);
  checkInt("chunk", chunk, 1, 1 << 20);
  const rows = Math.min(chunk, count);
  if (rows * dVocab > 2 ** 31) {
    throw new LogitWeightsError(`logit weights: chunk ${chunk} × d_vocab ${dVocab} exceeds 2^31 elements; use a smaller chunk`);
  }
  const out = new Float32Array(rows * dVocab);
  const scaled = new Float32Array(rows * dModel);
  const k = Math.min(top, dVocab);
  // The per-row scan (6.6·10^9 values for 131,072 features × 50,257 tokens) runs in the numeric core; its outputs
  // for all directions are the table (the chunk's rows are views into it).
  const all: LogitRowSummaryOut = {
    topTok: new Int32Array(count * k), topVal: new Float32Array(count * k), botTok: new Int32Array(count * k), botVal: new Float32Array(count * k),
    counts: new Int32Array(count * bins), stats: new Float64Array(count * 4),
  };
  for (let first = 0; first < count; first += rows) {
    const n = Math.min(rows, count - first);
    // The vocabulary centring happens inside the kernel (the same float64 mean, in place, before the scan).
    logitChunk(u, first, n, scaled, out, false);
    const res: LogitRowSummaryOut = {
      topTok: all.topTok.subarray(first * k), topVal: all.topVal.subarray(first * k), botTok: all.botTok.subarray(first * k),
      botVal: all.botVal.subarray(first * k), counts: all.counts.subarray(first * bins), stats: all.stats.subarray(first * 4),
    };
    const bad = kernels().logitRowSummaries(out, n, dVocab, u.centre, k, bins, res);
    if (bad >= 0) {
      const i = Math.floor(bad / dVocab);
      throw new LogitWeightsError(`logit weights: direction ${first + i} has a non-finite logit weight ${out[bad]} for token ${bad % dVocab}; check the weights`);
    }
    options.onChunk?.(first, n, out.subarray(0, n * dVocab));
  }
  return {
    count,
    at(i: number): LogitWeightSummary {
      if (!(Number.isInteger(i) && i >= 0 && i < count)) throw new LogitWeightsError(`logit weights: direction ${i} is not in 0..${count - 1}`);
      const [lo, hi, mean, std] = all.stats.subarray(4 * i, 4 * i + 4) as unknown as [number, number, number, number];
      const list = (tok: Int32Array, val: Float32Array) => Array.from({ length: k }, (_, j) => ({ token: tok[i * k + j]!, weight: val[i * k + j]! }));
      return {
        top: list(all.topTok, all.topVal),
        bottom: list(all.botTok, all.botVal),
        histogram: { edges: Array.from({ length: bins + 1 }, (_, b) => edge(lo, hi, b, bins)), counts: Array.from(all.counts.subarray(i * bins, (i + 1) * bins)) },
        mean,
        std,
      };
    },
  };
}

/** Edge b of n equal-width bins of [lo, hi]: the one expression used for binning and for reporting. */
function edge(lo: number, hi: number, b: number, n: number): number {
  return b === n ? hi : lo + ((hi - lo) * b) / n;
}
