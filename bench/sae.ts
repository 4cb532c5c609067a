/**
 * SAE training throughput (tokens/s of forward + backward + Adam + decoder renormalisation, batch 4096, d_in 512),
 * standard (ReLU + L1) and TopK (k = 32), 4,096 and 16,384 features — the shapes of ../shared/bench's PyTorch
 * baseline, whose figures on this machine are printed beside ours for the ratio.
 *
 * Two input regimes:
 *  - "PyTorch's setup": Gaussian inputs and a fresh random SAE. ReLU codes are then ~50 % dense (nothing is
 *    sparse yet), so the standard SAE runs the dense path; TopK codes are sparse by construction.
 *  - "trained sparsity": the same, with b_enc set so that ~32 features fire per token (L0 of a trained SAE),
 *    which is the regime a training run spends nearly all its steps in.
 */
import { param } from "../src/core/autograd.js";
import { backendInfo, kernels } from "../src/core/backend.js";
import { Adam } from "../src/core/optim.js";
import { Rng } from "../src/core/rng.js";
import { Tensor } from "../src/core/tensor.js";
import { Sae, type SaeArchitecture } from "../src/sae/sae.js";
import { SaeBatchStep } from "../src/sae/sae-step.js";
import { bestOf, table } from "./timing.js";

const D_IN = 512;
const BATCH = 4096;
/** PyTorch 1.13 + OpenBLAS on this 2-core machine (../shared/bench/README.md), tokens/s. */
const PYTORCH: Record<string, number> = { "standard/4096": 2100, "topk/4096": 2950, "standard/16384": 480 };
const TARGET: Record<SaeArchitecture, number> = { standard: 3, topk: 10 };

function setup(architecture: SaeArchitecture, dSae: number, sparseBias: number | null) {
  const rng = new Rng(5);
  const sae = new Sae({ architecture, dIn: D_IN, dSae, k: architecture === "topk" ? 32 : null, applyBDecToInput: true });
  rng.fillNormal(sae.dec, 0, 1);
  kernels().normalizeRows(sae.dec, dSae, D_IN, null);
  sae.encT.set(sae.dec);
  if (sparseBias !== null) sae.bEnc.fill(sparseBias);
  const step = new SaeBatchStep(sae);
  const params = {
    W_enc: param(new Tensor(sae.encT, [dSae, D_IN])), b_enc: param(new Tensor(sae.bEnc, [dSae])),
    W_dec: param(new Tensor(sae.dec, [dSae, D_IN])), b_dec: param(new Tensor(sae.bDec, [D_IN])),
  };
  params.W_enc.grad = new Tensor(step.grads.encT, [dSae, D_IN]);
  params.b_enc.grad = new Tensor(step.grads.bEnc, [dSae]);
  params.W_dec.grad = new Tensor(step.grads.dec, [dSae, D_IN]);
  params.b_dec.grad = new Tensor(step.grads.bDec, [D_IN]);
  const adam = new Adam(params);
  const inputs = Array.from({ length: 4 }, () => {
    const x = new Float32Array(BATCH * D_IN);
    rng.fillNormal(x, 0, 1);
    return x;
  });
  let i = 0;
  let l0 = 0;
  let dense = false;
  const trainStep = () => {
    // As the training loop on its 9 of 10 unlogged steps: no batch-variance pass.
    const { stats } = step.run(inputs[i++ % inputs.length]!, BATCH, { l1Coefficient: 5, deadMask: null, withVariance: false });
    l0 = stats.l0;
    dense = stats.dense;
    kernels().projectOutRows(step.grads.dec, sae.dec, dSae, D_IN);
    adam.step(1e-4);
    kernels().normalizeRows(sae.dec, dSae, D_IN, null);
  };
  return { trainStep, stats: () => ({ l0, dense }) };
}

export function benchSae(): void {
  const info = backendInfo();
  console.log(`\n# SAE training step — batch ${BATCH}, d_in ${D_IN}, backend ${info.name} (${info.isa}, ${info.threads} threads)`);
  const rows: string[][] = [];
  const cases: Array<[SaeArchitecture, number]> = [["standard", 4096], ["topk", 4096], ["standard", 16384], ["topk", 16384]];
  for (const [arch, dSae] of cases) {
    for (const regime of ["PyTorch's setup", "trained sparsity"] as const) {
      if (arch === "topk" && regime === "trained sparsity") continue; // TopK codes are always k per token
      const { trainStep, stats } = setup(arch, dSae, regime === "trained sparsity" ? -2.44 : null);
      const ms = bestOf(dSae > 4096 ? 2 : 4, trainStep);
      const tokS = BATCH / (ms / 1000);
      const ref = PYTORCH[`${arch}/${dSae}`];
      const s = stats();
      rows.push([
        `${arch}${arch === "topk" ? "(32)" : ""} 512→${dSae}, ${regime}`, ms.toFixed(1), Math.round(tokS).toLocaleString("en-US"),
        s.l0.toFixed(1), s.dense ? "dense" : "sparse",
        ref ? `${(tokS / ref).toFixed(1)}× (target ${TARGET[arch]}×)` : "—",
      ]);
    }
  }
  console.log(table(["step", "ms", "tokens/s", "L0", "path", "vs PyTorch"], rows));
  console.log("PyTorch 1.13 + OpenBLAS figures from ../shared/bench/README.md (same machine): standard 4096 2,100 tok/s, TopK 4096 2,950, standard 16384 480.");
}
