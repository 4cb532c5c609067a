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
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae, SparseCodes } from "../sae/sae.js";

export class AblationError extends Error {
  override name = "AblationError";
}

/** The last block's MLP output hook, the one ablations (and logit weights) are defined for. */
export function ablationHook(model: HookedTransformer): string {
  return `blocks.${model.cfg.n_layers - 1}.mlp.hook_post`;
}

export function checkAblationHook(model: HookedTransformer, hook: string): void {
  const expected = ablationHook(model);
  if (hook !== expected) {
    throw new AblationError(
      `ablation and logit effects are computed through the residual stream after the last MLP, so the hook must be ${expected}; got ${hook}`,
    );
  }
}

function param(model: HookedTransformer, name: string): Float32Array {
  const p = model.params[name];
  if (!p) throw new AblationError(`the model has no parameter ${name} (needed for ablation)`);
  return p.value.data as Float32Array;
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
  private readonly logits: Float32Array;
  private readonly normed: Float32Array;
  private readonly mean: Float32Array;
  private readonly rstd: Float32Array;

  constructor(model: HookedTransformer, chunkRows = 256) {
    const cfg = model.cfg;
    this.dModel = cfg.d_model;
    this.dVocab = cfg.d_vocab;
    this.wU = param(model, "unembed.W_U");
    this.bU = param(model, "unembed.b_U");
    const hasLn = cfg.normalization_type !== null;
    this.lnW = hasLn && cfg.normalization_type === "LN" ? param(model, "ln_final.w") : null;
    this.lnB = hasLn && cfg.normalization_type === "LN" ? param(model, "ln_final.b") : null;
    this.eps = cfg.eps;
    if (hasLn && cfg.normalization_type !== "LN" && cfg.normalization_type !== "LNPre") {
      throw new AblationError(`ablation supports LN and LNPre final norms, not ${cfg.normalization_type}`);
    }
    this.chunk = chunkRows;
    this.logits = new Float32Array(chunkRows * this.dVocab);
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
      const logits = this.logits.subarray(0, m * v);
      k.gemm(false, false, m, v, d, 1, normed, d, this.wU, v, 0, logits, v);
      k.addBias(logits, m, v, this.bU);
      k.softmaxCrossEntropyRows(logits, m, v, targets.subarray(first, first + m), -1, null, out.subarray(first, first + m));
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
  const residName = `blocks.${model.cfg.n_layers - 1}.hook_resid_post`;
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

/** Output direction of each SAE feature in the residual stream: W_dec · W_out, [d_sae, d_model]. */
export function featureResidualDirections(model: HookedTransformer, sae: Sae): Float32Array {
  const { d_mlp: dMlp, d_model: dModel } = model.cfg;
  const wOut = param(model, `blocks.${model.cfg.n_layers - 1}.mlp.W_out`);
  const out = new Float32Array(sae.dSae * dModel);
  kernels().gemm(false, false, sae.dSae, dModel, dMlp, 1, sae.dec, dMlp, wOut, dModel, 0, out, dModel);
  return out;
}

/** Output direction of each MLP neuron: W_out's rows, [d_mlp, d_model]. */
export function neuronResidualDirections(model: HookedTransformer): Float32Array {
  return param(model, `blocks.${model.cfg.n_layers - 1}.mlp.W_out`);
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
