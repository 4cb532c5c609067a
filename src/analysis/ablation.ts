/**
 * Ablation through the residual stream of the last layer: zeroing a unit (an SAE feature, or an MLP neuron) at a
 * token removes activation × its output direction from that token's final residual, and only that token's
 * prediction changes (the MLP is the last thing written before ln_final). So an ablation is one extra residual
 * row through ln_final + unembedding + log-softmax — no second forward pass — which is what makes ablating
 * hundreds of thousands of (unit, token) pairs affordable.
 *
 * This needs the hook to be the last block's `mlp.hook_post` (the default); other hooks are refused with a clear
 * error rather than answered wrongly.
 */
import { kernels } from "../core/backend.js";
import { Tape, constant } from "../core/autograd.js";
import { Tensor } from "../core/tensor.js";
import { lastMlpHook, lastResidMidHook, lastResidPostHook, mlpOut, unembed } from "../model/readout.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae, SparseCodes } from "../sae/sae.js";
import type { CodeStore } from "./code-store.js";
import type { EvaluationTokens } from "./eval-tokens.js";

export class AblationError extends Error {
  override name = "AblationError";
}

export function checkAblationHook(model: HookedTransformer, hook: string): void {
  const expected = lastMlpHook(model);
  if (hook !== expected) {
    throw new AblationError(
      `ablation and logit effects are computed through the residual stream after the last MLP, so the hook must be ${expected}; got ${hook}`,
    );
  }
}

/**
 * −log P(target | residual row) for final-residual rows: ln_final, unembedding and a fused softmax
 * cross-entropy, in row chunks so the [rows × d_vocab] logits never exist at once.
 */
export class NextTokenScorer {
  readonly dModel: number;
  readonly dVocab: number;
  private readonly wU: Float32Array;
  private readonly bU: Float32Array;
  private readonly lnW: Float32Array | null;
  private readonly lnB: Float32Array | null;
  private readonly eps: number;
  private readonly chunk: number;
  private readonly normed: Float32Array;
  private readonly mean: Float32Array;
  private readonly rstd: Float32Array;

  constructor(model: HookedTransformer, chunkRows = 256) {
    const u = unembed(model);
    this.dModel = u.dModel;
    this.dVocab = u.dVocab;
    this.wU = u.wU;
    this.bU = u.bU;
    const hasLn = u.norm !== null;
    this.lnW = u.lnW;
    this.lnB = u.lnB;
    this.eps = u.eps;
    this.chunk = chunkRows;
    this.normed = new Float32Array(chunkRows * this.dModel);
    this.mean = new Float32Array(chunkRows);
    this.rstd = new Float32Array(chunkRows);
    this.hasLn = hasLn;
  }

  private readonly hasLn: boolean;

  /** losses[i] = −log softmax(unembed(ln_final(rows[i])))[targets[i]]. */
  losses(rows: Float32Array, n: number, targets: Int32Array, out = new Float32Array(n)): Float32Array {
    const k = kernels();
    const { dModel: d, dVocab: v } = this;
    for (let first = 0; first < n; first += this.chunk) {
      const m = Math.min(this.chunk, n - first);
      const x = rows.subarray(first * d, (first + m) * d);
      let normed = x;
      if (this.hasLn) {
        normed = this.normed.subarray(0, m * d);
        k.layerNorm(x, m, d, this.lnW, this.lnB, this.eps, normed, this.mean, this.rstd);
      }
      // Logits, b_U and the cross-entropy as one kernel: on AVX512-BF16 it keeps vocabulary tiles of the logits in
      // cache (pass 3 scores ~65 ablated rows per live feature: 8·10^6 rows × 50,257 at 131,072 features); elsewhere
      // it is the same gemm + addBias + softmaxCrossEntropyRows over row chunks as before (bit-identical in fp32).
      k.unembedCrossEntropy({
        x: normed, rows: m, d, w: this.wU, vocab: v, bias: this.bU, targets: targets.subarray(first, first + m), ignoreIndex: -1,
        gradScale: null, nll: out.subarray(first, first + m), dX: null, dW: null, dB: null, chunkRows: this.chunk,
      });
    }
    return out;
  }
}

/** The final residual rows [batch·seq, d_model] with the SAE's reconstruction spliced into the hook, and the codes. */
export function splicedResiduals(
  model: HookedTransformer, sae: Sae, hook: string, tokens: Int32Array, batch: number, seq: number,
): { resid: Float32Array; codes: SparseCodes; activations: Float32Array } {
  checkAblationHook(model, hook);
  let codes: SparseCodes | null = null;
  let activations: Float32Array | null = null;
  const residName = lastResidPostHook(model);
  const { cache } = model.forward(Tape.noGrad(), tokens, batch, seq, {
    stopAt: residName,
    cache: [residName],
    hooks: {
      [hook]: (x) => {
        activations = x.value.data as Float32Array;
        const rows = batch * seq;
        codes = sae.encode(activations, rows);
        const recon = sae.decode(codes);
        return constant(new Tensor(recon, x.value.shape));
      },
    },
  });
  return { resid: cache.get(residName)!.value.data as Float32Array, codes: codes!, activations: activations! };
}

/**
 * Output directions in the residual stream of the last MLP's units, [count, d_model]: W_dec · W_out for the features
 * of an SAE on its activations (one GEMM), W_out's rows (a copy) for the MLP neurons when `sae` is null.
 */
export function outputDirections(model: HookedTransformer, sae: Sae | null): Float32Array {
  const { wOut, dMlp, dModel } = mlpOut(model);
  if (sae === null) return wOut.slice();
  if (sae.dIn !== dMlp) {
    throw new AblationError(`output directions: the SAE reads ${sae.dIn} values per token but the last MLP has ${dMlp} neurons (an SAE on ${lastMlpHook(model)} is needed)`);
  }
  const out = new Float32Array(sae.dSae * dModel);
  kernels().gemm(false, false, sae.dSae, dModel, dMlp, 1, sae.dec, dMlp, wOut, dModel, 0, out, dModel);
  return out;
}

/**
 * Writes rows − activation × direction for a list of (row, unit, activation) ablations into `out` [n × d_model].
 * rowIndex points into `resid`; unit into `directions`.
 */
export function ablatedRows(
  resid: Float32Array, directions: Float32Array, dModel: number,
  rowIndex: Int32Array, unit: Int32Array, activation: Float32Array, n: number, out: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    const src = rowIndex[i]! * dModel;
    const dir = unit[i]! * dModel;
    const dst = i * dModel;
    const a = activation[i]!;
    for (let m = 0; m < dModel; m++) out[dst + m] = resid[src + m]! - a * directions[dir + m]!;
  }
}

/** Where planning puts an ablation request; returns the request's index (examples.ts planUnit). */
export interface RequestSink {
  add(token: number, unit: number, act: number): number;
}

/**
 * Ablation requests: token (global index into the evaluation tokens), unit, activation (NaN: read it in the pass).
 * Kept in growing typed arrays, not number[] or objects: at 131,072 features there are ~10^7 requests, alive from
 * planning to the end of pass 3, and a heap of that many small values makes every major GC slow.
 */
export class AblationRequests implements RequestSink {
  private tok = new Int32Array(1024);
  private uni = new Int32Array(1024);
  private ac = new Float32Array(1024);
  private n = 0;

  get length(): number {
    return this.n;
  }
  /** The requests' tokens, units and activations (views of the first `length` entries; activations are float32). */
  get token(): Int32Array {
    return this.tok.subarray(0, this.n);
  }
  get unit(): Int32Array {
    return this.uni.subarray(0, this.n);
  }
  get act(): Float32Array {
    return this.ac.subarray(0, this.n);
  }

  add(token: number, unit: number, act: number): number {
    if (this.n === this.tok.length) {
      const grow = <T extends Int32Array | Float32Array>(a: T, b: T): T => (b.set(a), b);
      const cap = this.n * 2;
      this.tok = grow(this.tok, new Int32Array(cap));
      this.uni = grow(this.uni, new Int32Array(cap));
      this.ac = grow(this.ac, new Float32Array(cap));
    }
    this.tok[this.n] = token;
    this.uni[this.n] = unit;
    this.ac[this.n] = act;
    return this.n++;
  }
}

/**
 * A sink that hands out the indices a unit's requests got when it was first planned (from `first` on) without
 * storing anything: analyze plans each unit once to register its requests and again, transiently, when it writes
 * the unit's record, so no per-unit plan objects live through pass 3.
 */
export class ReplayedRequests implements RequestSink {
  constructor(public next: number) {}
  add(): number {
    return this.next++;
  }
}

/** Request indices sorted by token, ties by index (a stable counting sort over the tokens [0, tokens)). */
export function requestsByToken(token: Int32Array, tokens: number): Int32Array {
  const start = new Int32Array(tokens + 1);
  for (let i = 0; i < token.length; i++) start[token[i]! + 1]! += 1;
  for (let t = 0; t < tokens; t++) start[t + 1]! += start[t]!;
  const order = new Int32Array(token.length);
  for (let i = 0; i < token.length; i++) order[start[token[i]!]!++] = i;
  return order;
}

export interface AblationPassInput {
  model: HookedTransformer;
  sae: Sae;
  hook: string;
  evaluation: EvaluationTokens;
  /** The SAE's codes of every evaluation token (pass 1). */
  codes: CodeStore;
  features: AblationRequests;
  neurons: AblationRequests;
  batchSequences: number;
  onProgress?: (doneTokens: number) => void;
}

/**
 * The ablation pass of `analyze`: per batch, the final residual with the SAE spliced in (features) and clean
 * (neurons); each request's ablated row and its clean row go through the scorer. Returns Δ log P(next token) per
 * request (ablated − clean), and each neuron request's activation (read from the batch's hook activations).
 */
export async function ablateRequests(input: AblationPassInput): Promise<{ features: Float32Array; neurons: Float32Array; neuronActs: Float32Array }> {
  const { model, sae, hook, evaluation: ev, codes, features: reqF, neurons: reqN, batchSequences: B } = input;
  const L = ev.seqLen;
  const { wOut, bOut, dMlp, dModel: d } = mlpOut(model);
  const k = kernels();
  const featDirs = outputDirections(model, sae);
  const scorer = new NextTokenScorer(model, 256);
  const out = { features: new Float32Array(reqF.length), neurons: new Float32Array(reqN.length), neuronActs: new Float32Array(reqN.length) };
  // Requests sorted by token so each batch takes a contiguous slice.
  const T = ev.sequences * L;
  const ordF = requestsByToken(reqF.token, T);
  const ordN = requestsByToken(reqN.token, T);
  const tokF = reqF.token;
  const tokN = reqN.token;
  let pf = 0;
  let pn = 0;
  const residMidName = lastResidMidHook(model);
  // Scratch reused across batches (the ablated rows of a batch, their targets and losses; each position's row).
  let mat = new Float32Array(0);
  let targets = new Int32Array(0);
  let losses = new Float32Array(0);
  let cleanRow = new Int32Array(0);
  for (let s = 0; s < ev.sequences; s += B) {
    const n = Math.min(B, ev.sequences - s);
    const rows = n * L;
    const first = s * L;
    const endTok = first + rows;
    const f0 = pf;
    while (pf < ordF.length && tokF[ordF[pf]!]! < endTok) pf++;
    const n0 = pn;
    while (pn < ordN.length && tokN[ordN[pn]!]! < endTok) pn++;
    if (pf === f0 && pn === n0) continue;
    const toks = ev.tokens.subarray(first, endTok);
    const { cache } = model.forward(Tape.noGrad(), toks, n, L, { stopAt: hook, cache: [hook, residMidName] });
    const post = cache.get(hook)!.value.data as Float32Array;
    const mid = cache.get(residMidName)!.value.data as Float32Array;
    // Final residuals: mid + f(post) · W_out + b_out, with f = identity (clean) or the SAE reconstruction.
    const residual = (acts: Float32Array) => {
      const r = mid.slice();
      k.gemm(false, false, rows, d, dMlp, 1, acts, dMlp, wOut, d, 1, r, d);
      k.addBias(r, rows, d, bOut);
      return r;
    };
    const jobs: { resid: Float32Array; req: AblationRequests; ord: Int32Array; from: number; to: number; dirs: Float32Array; out: Float32Array; neurons: boolean }[] = [];
    if (pf > f0) jobs.push({ resid: residual(sae.decode(codes.batch(first, rows))), req: reqF, ord: ordF, from: f0, to: pf, dirs: featDirs, out: out.features, neurons: false });
    if (pn > n0) jobs.push({ resid: residual(post), req: reqN, ord: ordN, from: n0, to: pn, dirs: wOut, out: out.neurons, neurons: true });
    for (const job of jobs) {
      const tok = job.req.token;
      const unit = job.req.unit;
      const act = job.req.act;
      // Rows: one ablated row per request (in token order), then each distinct clean position once. Requests are
      // sorted by token, so one walk numbers the positions and fills both kinds of rows.
      const m = job.to - job.from;
      if (mat.length < 2 * m * d) mat = new Float32Array(Math.ceil(2 * m * 1.25) * d);
      if (targets.length < 2 * m) {
        targets = new Int32Array(Math.ceil(2 * m * 1.25));
        losses = new Float32Array(targets.length);
        cleanRow = new Int32Array(targets.length);
      }
      let clean = m;
      let prevT = -1;
      for (let i = 0; i < m; i++) {
        const r = job.ord[job.from + i]!;
        const t = tok[r]! - first;
        if (t !== prevT) {
          mat.set(job.resid.subarray(t * d, (t + 1) * d), clean * d);
          targets[clean++] = toks[t + 1]!;
          prevT = t;
        }
        cleanRow[i] = clean - 1;
        const u = unit[r]!;
        let a = act[r]!;
        if (job.neurons) {
          a = post[t * dMlp + u]!;
          out.neuronActs[r] = a;
        }
        const dst = i * d;
        for (let c = 0; c < d; c++) mat[dst + c] = job.resid[t * d + c]! - a * job.dirs[u * d + c]!;
        targets[i] = toks[t + 1]!;
      }
      scorer.losses(mat, clean, targets, losses);
      for (let i = 0; i < m; i++) job.out[job.ord[job.from + i]!] = losses[cleanRow[i]!]! - losses[i]!;
    }
    input.onProgress?.(endTok);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** One stratum of a stratified sample: its share of the population and the values sampled in it. */
export interface Stratum {
  weight: number;
  values: readonly number[];
}

/**
 * Stratified mean and its standard error (the ablation's mean loss effect: strata are the activation intervals,
 * weighted by their share of firing tokens, each with a few sampled tokens):
 *   mean = Σ_h W_h·ȳ_h,   SE² = Σ_h W_h²·s_h² / n_h,   W_h = w_h / Σ w (strata with samples only),
 * s_h² the stratum's sample variance (n_h − 1 denominator). A stratum with a single sample borrows the pooled
 * within-stratum variance of the others; with no stratum of ≥ 2 samples the SE is null. The finite-population
 * correction is left out (a few samples out of thousands of firing tokens).
 */
export function stratifiedMean(strata: readonly Stratum[]): { mean: number | null; se: number | null; n: number } {
  const used = strata.filter((s) => s.values.length > 0 && s.weight > 0);
  const W = used.reduce((t, s) => t + s.weight, 0);
  const n = used.reduce((t, s) => t + s.values.length, 0);
  if (!(W > 0)) return { mean: null, se: null, n };
  let mean = 0;
  let pooledSs = 0;
  let pooledDf = 0;
  const parts = used.map((s) => {
    const m = s.values.reduce((t, v) => t + v, 0) / s.values.length;
    const ss = s.values.reduce((t, v) => t + (v - m) * (v - m), 0);
    mean += (s.weight / W) * m;
    if (s.values.length > 1) {
      pooledSs += ss;
      pooledDf += s.values.length - 1;
    }
    return { w: s.weight / W, n: s.values.length, variance: s.values.length > 1 ? ss / (s.values.length - 1) : null };
  });
  if (pooledDf === 0) return { mean, se: null, n };
  const pooled = pooledSs / pooledDf;
  const se2 = parts.reduce((t, p) => t + (p.w * p.w * (p.variance ?? pooled)) / p.n, 0);
  return { mean, se: Math.sqrt(se2), n };
}
