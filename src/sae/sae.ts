/**
 * A sparse autoencoder over one hook point's activations (d_in → d_sae → d_in).
 *
 *   standard: f = ReLU((x − b_dec) W_enc + b_enc)                (Towards Monosemanticity; SAELens "standard")
 *   topk:     f = ReLU(TopK_k((x − b_dec) W_enc + b_enc))        (OpenAI / SAELens "topk"; other entries are 0)
 *   decode:   x̂ = f W_dec + b_dec
 *
 * Storage: the encoder is held transposed, `encT` [d_sae, d_in] (row j = feature j's encoder direction), so the
 * sparse gradient scatter and per-feature resampling touch contiguous rows; `dec` [d_sae, d_in] is SAELens'
 * W_dec. The SAELens file layout (W_enc [d_in, d_sae]) is produced by format.ts.
 *
 * Codes are sparse: per token the active features and their values, `k` slots per row padded with index −1.
 */
import { kernels } from "../core/backend.js";

export type SaeArchitecture = "standard" | "topk";

export interface SaeSpec {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  /** Active features per token (topk only). */
  k: number | null;
  /** Subtract b_dec from the input before encoding (true for both recipes here, as SAELens). */
  applyBDecToInput: boolean;
}

/** Sparse codes of `rows` tokens: `k` slots each; indices < 0 are padding. */
export interface SparseCodes {
  rows: number;
  k: number;
  indices: Int32Array;
  values: Float32Array;
}

export class SaeError extends Error {
  override name = "SaeError";
}

export function checkSaeSpec(spec: SaeSpec, where = "SAE"): void {
  const dims: Array<[string, number]> = [["d_in", spec.dIn], ["d_sae", spec.dSae]];
  for (const [name, v] of dims) {
    if (!Number.isInteger(v) || v < 1) throw new SaeError(`${where}: ${name} must be a positive integer, got ${v}`);
  }
  if (spec.architecture !== "standard" && spec.architecture !== "topk") {
    throw new SaeError(`${where}: architecture must be "standard" or "topk", got ${JSON.stringify(spec.architecture)}`);
  }
  if (spec.architecture === "topk") {
    if (spec.k === null || !Number.isInteger(spec.k) || spec.k < 1 || spec.k > spec.dSae) {
      throw new SaeError(`${where}: topk needs k, an integer in [1, d_sae = ${spec.dSae}], got ${spec.k}`);
    }
  }
}

export class Sae {
  readonly spec: SaeSpec;
  /** Encoder, transposed: [d_sae, d_in]. */
  readonly encT: Float32Array;
  readonly bEnc: Float32Array;
  /** Decoder W_dec: [d_sae, d_in]. */
  readonly dec: Float32Array;
  readonly bDec: Float32Array;

  constructor(spec: SaeSpec, weights?: { encT: Float32Array; bEnc: Float32Array; dec: Float32Array; bDec: Float32Array }) {
    checkSaeSpec(spec);
    this.spec = { ...spec };
    const { dIn, dSae } = spec;
    this.encT = weights?.encT ?? new Float32Array(dSae * dIn);
    this.bEnc = weights?.bEnc ?? new Float32Array(dSae);
    this.dec = weights?.dec ?? new Float32Array(dSae * dIn);
    this.bDec = weights?.bDec ?? new Float32Array(dIn);
    const expect: Array<[string, Float32Array, number]> = [
      ["W_enc", this.encT, dSae * dIn], ["b_enc", this.bEnc, dSae], ["W_dec", this.dec, dSae * dIn], ["b_dec", this.bDec, dIn],
    ];
    for (const [name, arr, n] of expect) {
      if (arr.length !== n) throw new SaeError(`SAE: ${name} has ${arr.length} elements, expected ${n} (d_in ${dIn}, d_sae ${dSae})`);
    }
  }

  get dIn(): number {
    return this.spec.dIn;
  }

  get dSae(): number {
    return this.spec.dSae;
  }

  /** Encoder input: x − b_dec (or a copy of x), into `out` when given (a reused buffer of rows·d_in). */
  centred(x: Float32Array, rows: number, out?: Float32Array): Float32Array {
    this.checkInput(x, rows);
    const xc = out ?? new Float32Array(rows * this.dIn);
    xc.set(x.subarray(0, rows * this.dIn));
    if (this.spec.applyBDecToInput) {
      const neg = this.bDec.map((v) => -v);
      kernels().addBias(xc, rows, this.dIn, neg);
    }
    return xc;
  }

  /**
   * Pre-activations (x − b_dec) W_enc + b_enc, dense [rows, d_sae]. `out` may be a reused buffer. withBias = false
   * leaves b_enc out (TopK adds it inside its selection, saving a pass over the [rows, d_sae] matrix).
   */
  preActivations(xc: Float32Array, rows: number, out?: Float32Array, withBias = true): Float32Array {
    const k = kernels();
    const pre = out ?? new Float32Array(rows * this.dSae);
    if (rows === 0) return pre;
    k.gemm(false, true, rows, this.dSae, this.dIn, 1, xc, this.dIn, this.encT, this.dIn, 0, pre, this.dSae);
    if (withBias) k.addBias(pre, rows, this.dSae, this.bEnc);
    return pre;
  }

  /** Sparse codes of the pre-activations (ReLU, or ReLU of the top k). */
  codesFromPre(pre: Float32Array, rows: number): SparseCodes {
    return this.spec.architecture === "topk"
      ? topkCodes(pre, rows, this.dSae, this.spec.k!)
      : reluCodes(pre, rows, this.dSae);
  }

  /**
   * Sparse feature activations of x [rows, d_in]. Encoded ENCODE_BLOCK_VALUES pre-activations at a time through one
   * reused buffer, so no [rows, d_sae] matrix is allocated (4096 tokens × 131,072 features would be 2 GiB per call):
   * a row's products and its ReLU / TopK selection do not depend on the other rows, so the codes are the same as one
   * block's (ReLU codes are padded to the same k: the densest row's count, at least 32).
   */
  encode(x: Float32Array, rows: number, blockValues = ENCODE_BLOCK_VALUES): SparseCodes {
    const xc = this.centred(x, rows);
    const block = Math.max(1, Math.floor(blockValues / this.dSae));
    if (rows <= block) return this.codesFromPre(this.preActivations(xc, rows), rows);
    if (sharedPre.length < block * this.dSae) sharedPre = new Float32Array(block * this.dSae);
    const parts: SparseCodes[] = [];
    for (let r0 = 0; r0 < rows; r0 += block) {
      const n = Math.min(block, rows - r0);
      const pre = this.preActivations(xc.subarray(r0 * this.dIn, (r0 + n) * this.dIn), n, sharedPre.subarray(0, n * this.dSae));
      parts.push(this.codesFromPre(pre, n));
    }
    return concatCodes(parts, rows);
  }

  /** Dense feature activations [rows, d_sae] (for small inputs and tests; prefer encode). */
  encodeDense(x: Float32Array, rows: number): Float32Array {
    return densify(this.encode(x, rows), this.dSae);
  }

  /**
   * One feature's activation at every row of x [rows, d_in]. A standard SAE computes only that feature's encoder
   * row, ReLU((x − b_dec) · W_enc[:, f] + b_enc[f]); for TopK whether the feature survives depends on every other
   * feature, so the whole dictionary is encoded.
   */
  featureActivation(x: Float32Array, rows: number, feature: number): Float32Array {
    if (!Number.isInteger(feature) || feature < 0 || feature >= this.dSae) {
      throw new SaeError(`feature ${feature} is out of range [0, ${this.dSae})`);
    }
    const out = new Float32Array(rows);
    if (rows === 0) return out;
    if (this.spec.architecture === "topk") {
      const codes = this.encode(x, rows);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < codes.k; j++) if (codes.indices[r * codes.k + j] === feature) out[r] = Math.max(0, codes.values[r * codes.k + j]!);
      }
      return out;
    }
    const d = this.dIn;
    const xc = this.centred(x, rows);
    kernels().gemm(false, true, rows, 1, d, 1, xc, d, this.encT.subarray(feature * d, (feature + 1) * d), d, 0, out, 1);
    const b = this.bEnc[feature]!;
    for (let r = 0; r < rows; r++) out[r] = Math.max(0, out[r]! + b);
    return out;
  }

  /** x̂ = f W_dec + b_dec, [rows, d_in]. */
  decode(codes: SparseCodes, out?: Float32Array): Float32Array {
    const k = kernels();
    const xh = out ?? new Float32Array(codes.rows * this.dIn);
    if (codes.rows === 0) return xh;
    k.sparseDecode(codes.rows, codes.k, codes.indices, codes.values, this.dec, this.dIn, xh, false);
    k.addBias(xh, codes.rows, this.dIn, this.bDec);
    return xh;
  }

  /** decode(encode(x)). */
  reconstruct(x: Float32Array, rows: number): Float32Array {
    return this.decode(this.encode(x, rows));
  }

  /** A deep copy (weights copied). */
  clone(): Sae {
    return new Sae(this.spec, { encT: this.encT.slice(), bEnc: this.bEnc.slice(), dec: this.dec.slice(), bDec: this.bDec.slice() });
  }

  private checkInput(x: Float32Array, rows: number): void {
    if (!Number.isInteger(rows) || rows < 0) throw new SaeError(`SAE input: rows must be a non-negative integer, got ${rows}`);
    if (x.length < rows * this.dIn) {
      throw new SaeError(`SAE input: ${x.length} values for ${rows} rows of d_in ${this.dIn} (need ${rows * this.dIn})`);
    }
  }
}

/** Pre-activations encode() computes at once: 2^24 floats (64 MiB; 128 rows at 131,072 features). */
export const ENCODE_BLOCK_VALUES = 1 << 24;
/** encode()'s block buffer, shared by every SAE (encode is synchronous). */
let sharedPre = new Float32Array(0);

/** Codes of consecutive row blocks as one batch, padded to the largest k (padding: index −1, value 0). */
export function concatCodes(parts: readonly SparseCodes[], rows: number): SparseCodes {
  const k = Math.max(1, ...parts.map((p) => p.k));
  const indices = new Int32Array(rows * k).fill(-1);
  const values = new Float32Array(rows * k);
  let r = 0;
  for (const p of parts) {
    if (p.k === k) {
      indices.set(p.indices.subarray(0, p.rows * k), r * k);
      values.set(p.values.subarray(0, p.rows * k), r * k);
    } else {
      for (let i = 0; i < p.rows; i++) {
        indices.set(p.indices.subarray(i * p.k, (i + 1) * p.k), (r + i) * k);
        values.set(p.values.subarray(i * p.k, (i + 1) * p.k), (r + i) * k);
      }
    }
    r += p.rows;
  }
  return { rows, k, indices, values };
}

/** ReLU codes: every positive pre-activation, in column order; k = the largest row count (≥ 1). */
export function reluCodes(pre: Float32Array, rows: number, cols: number): SparseCodes {
  return reluCodesBounded(pre, rows, cols).codes!;
}

/**
 * ReLU codes padded to the densest row's count, starting from `slots` per row (a second pass only when a row has
 * more), or codes = null once the mean density exceeds `maxDensity` (the caller then takes a dense path). The bound
 * is on the mean, not the densest row: sparse kernels skip padding slots cheaply. Also returns the densest count.
 * With `splitHeavy`, a batch whose densest rows would multiply the padding comes back as `split` (codes = null):
 * splitReluCodes.
 */
export function reluCodesBounded(
  pre: Float32Array, rows: number, cols: number, options: { slots?: number; maxDensity?: number; counts?: Int32Array; splitHeavy?: boolean } = {},
): { codes: SparseCodes | null; most: number; split?: ReluRowSplit } {
  const k = kernels();
  const counts = options.counts ?? new Int32Array(rows);
  const maxDensity = options.maxDensity ?? Infinity;
  let slots = Math.max(1, options.slots ?? 32);
  for (;;) {
    const indices = new Int32Array(rows * slots);
    const values = new Float32Array(rows * slots);
    const most = k.positiveRowsToSparse(pre, rows, cols, slots, values, indices, counts);
    let total = 0;
    for (let r = 0; r < rows; r++) total += counts[r]!;
    if (total > maxDensity * rows * cols) return { codes: null, most };
    if (most <= slots) return { codes: { rows, k: slots, indices, values }, most };
    // A row overflowed: with splitHeavy, pad the few densest rows apart when that saves most of the padding.
    const split = options.splitHeavy ? splitReluCodes(pre, rows, cols, counts, { rows, k: slots, indices, values }) : null;
    if (split) return { codes: null, most, split };
    slots = most;
  }
}

/**
 * A batch's ReLU rows split into light rows and the few heavy rows on which much of the dictionary fires (early in
 * training, the activations' outlier tokens: at 16,384 features one row firing 15,000 features padded every row to
 * 15,000 slots, 60 M slots where the light rows needed 3 M). Padded apart, each group costs its own densest row.
 * `light` and `heavy` hold the original row indices (ascending); each group's codes are over its rows in that order.
 */
export interface ReluRowSplit {
  light: Int32Array;
  lightCodes: SparseCodes;
  heavy: Int32Array;
  heavyCodes: SparseCodes;
}

/** At most this share of a batch's rows is padded apart as heavy rows. */
export const MAX_HEAVY_ROW_SHARE = 1 / 8;

/**
 * The heavy rows worth padding apart, by the slot count of the two padded groups ((rows − h) · c_h + h · c_0 over
 * the counts sorted in decreasing order), or null unless that at least halves the one-group count rows · c_0: a
 * typical batch keeps the single padded matrix.
 */
export function planHeavyRows(counts: Int32Array, rows: number): { lightSlots: number; heavySlots: number; heavy: Int32Array } | null {
  if (rows < 2) return null;
  const order = Int32Array.from({ length: rows }, (_, r) => r).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const most = Math.max(1, counts[order[0]!]!);
  const oneGroup = rows * most;
  let best = 0;
  let bestSlots = oneGroup;
  const maxHeavy = Math.floor(rows * MAX_HEAVY_ROW_SHARE);
  for (let h = 1; h <= maxHeavy; h++) {
    const slots = (rows - h) * Math.max(1, counts[order[h]!]!) + h * most;
    if (slots < bestSlots) {
      best = h;
      bestSlots = slots;
    }
  }
  if (best === 0 || bestSlots * 2 > oneGroup) return null;
  return { lightSlots: Math.max(1, counts[order[best]!]!), heavySlots: most, heavy: order.slice(0, best).sort() };
}

/**
 * ReLU codes of pre [rows, cols] split by planHeavyRows, or null when one padded matrix is as cheap. `counts` holds
 * every row's positive count (a positiveRowsToSparse pass with any slot count gives them). When that pass's codes
 * (`firstPass`) already hold every light row whole (its slot count ≥ the light rows' densest), the light codes are
 * compacted from them instead of gathered from pre again: at 16,384 features that saves reading the batch's
 * 256 MB of pre-activations a second time.
 */
export function splitReluCodes(pre: Float32Array, rows: number, cols: number, counts: Int32Array, firstPass?: SparseCodes): ReluRowSplit | null {
  const plan = planHeavyRows(counts, rows);
  if (plan === null) return null;
  const k = kernels();
  const { lightSlots, heavySlots, heavy } = plan;
  const light = new Int32Array(rows - heavy.length);
  for (let r = 0, h = 0, l = 0; r < rows; r++) {
    if (h < heavy.length && heavy[h] === r) h++;
    else light[l++] = r;
  }
  const lightCodes = firstPass && firstPass.rows === rows && firstPass.k >= lightSlots
    ? compactRows(firstPass, light, lightSlots)
    : reluCodesOfRows(k, pre, cols, light, lightSlots);
  return { light, lightCodes, heavy, heavyCodes: reluCodesOfRows(k, pre, cols, heavy, heavySlots) };
}

/** The first `slots` entries of the given rows of codes (each row's codes fit in `slots`: the rest is padding). */
function compactRows(codes: SparseCodes, rows: Int32Array, slots: number): SparseCodes {
  const n = rows.length;
  const indices = new Int32Array(n * slots);
  const values = new Float32Array(n * slots);
  for (let i = 0; i < n; i++) {
    const from = rows[i]! * codes.k;
    indices.set(codes.indices.subarray(from, from + slots), i * slots);
    values.set(codes.values.subarray(from, from + slots), i * slots);
  }
  return { rows: n, k: slots, indices, values };
}

/** ReLU codes of the given rows of pre, padded to `slots` (≥ each row's positive count), one row block at a time. */
function reluCodesOfRows(k: ReturnType<typeof kernels>, pre: Float32Array, cols: number, rows: Int32Array, slots: number): SparseCodes {
  const n = rows.length;
  const indices = new Int32Array(n * slots);
  const values = new Float32Array(n * slots);
  const counts = new Int32Array(n);
  const block = Math.max(1, Math.min(n, Math.floor(ENCODE_BLOCK_VALUES / 4 / Math.max(1, cols))));
  const gathered = new Float32Array(block * cols);
  for (let r0 = 0; r0 < n; r0 += block) {
    const m = Math.min(block, n - r0);
    for (let i = 0; i < m; i++) gathered.set(pre.subarray(rows[r0 + i]! * cols, (rows[r0 + i]! + 1) * cols), i * cols);
    k.positiveRowsToSparse(gathered, m, cols, slots, values.subarray(r0 * slots), indices.subarray(r0 * slots), counts.subarray(r0));
  }
  return { rows: n, k: slots, indices, values };
}

/**
 * TopK codes: the k largest pre-activations per row, ReLU'd (non-positive ones become padding). With `bias`, the
 * pre-activations are pre + bias (pre computed without b_enc).
 */
export function topkCodes(pre: Float32Array, rows: number, cols: number, k: number, bias: Float32Array | null = null): SparseCodes {
  const kern = kernels();
  const indices = new Int32Array(rows * k);
  const values = new Float32Array(rows * k);
  if (rows > 0) kern.topkRows(pre, rows, cols, k, values, indices, bias);
  for (let i = 0; i < values.length; i++) {
    if (!(values[i]! > 0)) {
      values[i] = 0;
      indices[i] = -1;
    }
  }
  return { rows, k, indices, values };
}

/** Dense [rows, cols] matrix of sparse codes. */
export function densify(codes: SparseCodes, cols: number): Float32Array {
  const out = new Float32Array(codes.rows * cols);
  for (let r = 0; r < codes.rows; r++) {
    for (let j = 0; j < codes.k; j++) {
      const idx = codes.indices[r * codes.k + j]!;
      if (idx >= 0) out[r * cols + idx] = codes.values[r * codes.k + j]!;
    }
  }
  return out;
}

/** Number of active features per row. */
export function activeCounts(codes: SparseCodes): Int32Array {
  const out = new Int32Array(codes.rows);
  for (let r = 0; r < codes.rows; r++) {
    let n = 0;
    for (let j = 0; j < codes.k; j++) if (codes.indices[r * codes.k + j]! >= 0) n++;
    out[r] = n;
  }
  return out;
}
