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
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
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
/** PyTorch 1.13 + OpenBLAS on this 2-core machine as ../shared/bench/README.md reports it, tokens/s. */
const PYTORCH_README: Record<string, number> = { "standard/4096": 2100, "topk/4096": 2950, "standard/16384": 480 };

/**
 * The same steps in PyTorch, measured now on this machine by ../shared/bench/torch_sae_baseline.py when a Python
 * with torch is installed (Debian: python3-torch + libopenblas0-pthread); null when it cannot run.
 */
function measurePytorch(arch: SaeArchitecture, dSae: number): number | null {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const script = resolve(root, "..", "shared", "bench", "torch_sae_baseline.py");
  if (!existsSync(script)) return null;
  const args = [script, "--arch", arch === "topk" ? "topk" : "relu", "--d-sae", String(dSae), "--steps", dSae > 4096 ? "6" : "20"];
  const python = process.env.SAEKIT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  const run = spawnSync(python, args, { encoding: "utf8", timeout: 300_000 });
  if (run.status !== 0) return null;
  try {
    return (JSON.parse(run.stdout.trim().split("\n").pop()!) as { tokens_per_s: number }).tokens_per_s;
  } catch {
    return null;
  }
}
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
  const measured = new Map<string, number | null>();
  for (const [arch, dSae] of cases) {
    for (const regime of ["PyTorch's setup", "trained sparsity"] as const) {
      if (arch === "topk" && regime === "trained sparsity") continue; // TopK codes are always k per token
      const { trainStep, stats } = setup(arch, dSae, regime === "trained sparsity" ? -2.44 : null);
      const ms = bestOf(dSae > 4096 ? 2 : 4, trainStep);
      const tokS = BATCH / (ms / 1000);
      const key = `${arch}/${dSae}`;
      if (!measured.has(key)) measured.set(key, measurePytorch(arch, dSae));
      const now = measured.get(key)!;
      const readme = PYTORCH_README[key];
      const s = stats();
      rows.push([
        `${arch}${arch === "topk" ? "(32)" : ""} 512→${dSae}, ${regime}`, ms.toFixed(1), Math.round(tokS).toLocaleString("en-US"),
        s.l0.toFixed(1), s.dense ? "dense" : "sparse",
        now ? `${Math.round(now).toLocaleString("en-US")} → ${(tokS / now).toFixed(1)}×` : "not run",
        readme ? `${(tokS / readme).toFixed(1)}×` : "—",
        `${TARGET[arch]}×`,
      ]);
    }
  }
  console.log(table(["step", "ms", "tokens/s", "L0", "path", "PyTorch now (tok/s → ratio)", "vs README PyTorch", "target"], rows));
  console.log(
    "PyTorch now: ../shared/bench/torch_sae_baseline.py run in this process's run (dense ReLU codes on its random data, so\n" +
      "its speed is the same in both regimes). README PyTorch: 2,100 / 2,950 / 480 tok/s as ../shared/bench/README.md reports.",
  );
}
