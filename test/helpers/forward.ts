/** Slow, direct references for ablation tests: full forward passes with a hook activation replaced. */
import { Tape, constant } from "../../src/core/autograd.js";
import { Tensor } from "../../src/core/tensor.js";
import type { HookedTransformer } from "../../src/model/transformer.js";
import type { Sae } from "../../src/sae/sae.js";

/** A replacement of the hook activation x [rows × width] (a new array). */
export type HookEdit = (x: Float32Array, rows: number) => Float32Array;

/** −log P(next token) at positions 0 … n−2 of one sequence, the hook's activation replaced by edit(x). */
export function nextTokenLosses(model: HookedTransformer, ids: Int32Array, hook: string, edit: HookEdit): Float32Array {
  const n = ids.length;
  const perToken = new Float32Array(n);
  const targets = new Int32Array(n).fill(-1);
  targets.set(ids.subarray(1), 0);
  model.forwardLoss(Tape.noGrad(), ids, 1, n, targets, {
    ignoreIndex: -1,
    perToken,
    hooks: { [hook]: (x) => constant(new Tensor(edit(x.value.data as Float32Array, n), x.value.shape)) },
  });
  return perToken.subarray(0, n - 1);
}

/** Splices the SAE's reconstruction in, with the (token, feature) codes for which `zero` holds set to 0. */
export function spliceSae(sae: Sae, zero: ((token: number, feature: number) => boolean) | null = null): HookEdit {
  return (x, rows) => {
    const codes = sae.encode(x, rows);
    if (zero) {
      for (let i = 0; i < codes.indices.length; i++) {
        if (codes.indices[i]! >= 0 && zero(Math.floor(i / codes.k), codes.indices[i]!)) codes.values[i] = 0;
      }
    }
    return sae.decode(codes);
  };
}

/** Zeroes one neuron of the hook activation at one token (the clean model otherwise). */
export function zeroNeuron(width: number, token: number, neuron: number): HookEdit {
  return (x) => {
    const v = x.slice();
    v[token * width + neuron] = 0;
    return v;
  };
}
