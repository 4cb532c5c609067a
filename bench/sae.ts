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
 *
 * Each step runs at both precisions (fp32, and bf16: bf16 operands with float32 accumulation, SAEKIT_PRECISION),
 * and PyTorch runs both ways too (float32, and `--autocast bf16`: oneDNN on AMX or AVX512-BF16), all in this run.
 */
import { spawnSync } from "node:child_process";
import os from "node:os";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { param } from "../src/core/autograd.js";
import { backendInfo, kernels, setPrecision } from "../src/core/backend.js";
import type { Precision } from "../src/core/kernels.js";
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
function measurePytorch(arch: SaeArchitecture, dSae: number, autocast: "none" | "bf16"): number | null {
  // ../shared/bench beside the repository, from dist/bench (npm run bench) or bench/ (vite-node).
  const here = dirname(fileURLToPath(import.meta.url));
  const script = [resolve(here, "..", "..", "shared", "bench", "torch_sae_baseline.py"), resolve(here, "..", "..", "..", "shared", "bench", "torch_sae_baseline.py")]
    .find(existsSync);
  if (!script) return null;
  const args = [script, "--arch", arch === "topk" ? "topk" : "relu", "--d-sae", String(dSae), "--steps", dSae > 4096 ? "6" : "20", "--autocast", autocast];
  const python = process.env.SAEKIT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  const run = spawnSync(python, args, { encoding: "utf8", timeout: 300_000 });
  if (run.status !== 0) return null;
  try {
    return (JSON.parse(run.stdout.trim().split("\n").pop()!) as { tokens_per_s: number }).tokens_per_s;
  } catch {
    return null;
  }
}
/** Issue 11's target: saekit ≥ this × PyTorch-bf16 (5× where the CPU has AMX, 3× with AVX512-BF16 only). */
const bf16Target = (bf16Path: string) => (bf16Path === "amx" ? 5 : 3);

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

/** tokens/s of the training step at one precision, and the step's L0 / path. */
function measureStep(arch: SaeArchitecture, dSae: number, sparseBias: number | null, precision: Precision) {
  setPrecision(precision);
  try {
    const { trainStep, stats } = setup(arch, dSae, sparseBias);
    const ms = bestOf(dSae > 4096 ? 2 : 4, trainStep);
    return { ms, tokS: BATCH / (ms / 1000), ...stats() };
  } finally {
    setPrecision("auto");
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Issue 16's target for a 131,072-feature run: tokens/s of the training step at the default precision. */
const target131k = (bf16Path: string) => (bf16Path === "amx" ? 1500 : 1000);

/**
 * `npm run bench sae131k`: the training step at 131,072 features (d_in 512, batch 4096) at the default precision,
 * standard (ReLU + L1) in the trained-sparsity regime (b_enc = −3.49: P(z > 3.49) · 131,072 ≈ 32 features per token
 * on these unit-variance pre-activations) and TopK (k = 32). One warm-up step, then the best of two.
 */
export function benchSae131k(): void {
  const info = backendInfo();
  const precision = kernels().precision;
  const dSae = 131072;
  const target = target131k(info.bf16Path);
  console.log(
    `\n# SAE training step at 131,072 features — batch ${BATCH}, d_in ${D_IN}, ${precision} products (bf16 path ${info.bf16Path}), ` +
      `${info.threads} threads; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")} (1/5/15 min)`,
  );
  const rows: string[][] = [];
  for (const [arch, bias] of [["standard", -3.49], ["topk", null]] as const) {
    const r = measureStep(arch, dSae, bias, precision);
    rows.push([`${arch}${arch === "topk" ? "(32)" : ""} 512→131,072`, r.l0.toFixed(1), r.dense ? "dense" : "sparse", (r.ms / 1000).toFixed(2), fmt(r.tokS), fmt(target), r.tokS >= target ? "yes" : "no"]);
  }
  console.log(table(["step", "L0", "path", "s/step", "tokens/s", "target", "met"], rows));
  console.log(`target: ≥ ${fmt(target)} tok/s (1,500 with AMX, 1,000 with AVX512-BF16 only); wall time of the whole step incl. Adam and renormalisation.`);
}

export function benchSae(): void {
  const info = backendInfo();
  console.log(
    `\n# SAE training step — batch ${BATCH}, d_in ${D_IN}, backend ${info.name} (${info.isa}, ${info.threads} threads), ` +
      `bf16 path ${info.bf16Path}`,
  );
  const rows: string[][] = [];
  const cases: Array<[SaeArchitecture, number]> = [["standard", 4096], ["topk", 4096], ["standard", 16384], ["topk", 16384]];
  const measured = new Map<string, { fp32: number | null; bf16: number | null }>();
  const target = bf16Target(info.bf16Path);
  for (const [arch, dSae] of cases) {
    for (const regime of ["PyTorch's setup", "trained sparsity"] as const) {
      if (arch === "topk" && regime === "trained sparsity") continue; // TopK codes are always k per token
      const bias = regime === "trained sparsity" ? -2.44 : null;
      const f32 = measureStep(arch, dSae, bias, "fp32");
      const b16 = measureStep(arch, dSae, bias, "bf16");
      const key = `${arch}/${dSae}`;
      if (!measured.has(key)) measured.set(key, { fp32: measurePytorch(arch, dSae, "none"), bf16: measurePytorch(arch, dSae, "bf16") });
      const torch = measured.get(key)!;
      const readme = PYTORCH_README[key];
      rows.push([
        `${arch}${arch === "topk" ? "(32)" : ""} 512→${dSae}, ${regime}`, b16.l0.toFixed(1), b16.dense ? "dense" : "sparse",
        fmt(f32.tokS), fmt(b16.tokS), `${(b16.tokS / f32.tokS).toFixed(2)}×`,
        torch.fp32 ? fmt(torch.fp32) : "not run", torch.bf16 ? fmt(torch.bf16) : "not run",
        torch.fp32 ? `${(f32.tokS / torch.fp32).toFixed(1)}×` : "—",
        torch.bf16 ? `${(b16.tokS / torch.bf16).toFixed(1)}×` : "—",
        readme ? `${(f32.tokS / readme).toFixed(1)}×` : "—",
        `${target}×`,
      ]);
    }
  }
  console.log(table([
    "step", "L0", "path", "saekit fp32", "saekit bf16", "bf16/fp32", "PyTorch fp32", "PyTorch bf16",
    "fp32 vs PyTorch fp32", "bf16 vs PyTorch bf16", "fp32 vs README PyTorch", "target (bf16)",
  ], rows));
  console.log(
    "tokens/s. PyTorch: ../shared/bench/torch_sae_baseline.py run now, without and with --autocast bf16 (dense ReLU codes on its\n" +
      "random data, so its speed is the same in both regimes). README PyTorch: 2,100 / 2,950 / 480 tok/s (fp32) as\n" +
      `../shared/bench/README.md reports. Target: saekit bf16 ≥ ${target}× PyTorch bf16 (5× with AMX, 3× with AVX512-BF16 only).`,
  );
}

/**
 * `npm run bench saeAuxK`: the cost of AuxK in a training step at 4,096 features (batch 4096, d_in 512, the default
 * precision, trained sparsity: b_enc = −2.6 gives L0 ≈ 19 on these unit-variance pre-activations) with 300 dead
 * latents (7 %, as a ReLU + L1 run carries them) and k_aux = 256: the step without AuxK, then with its sparse
 * (gather/scatter) and dense (gemm) paths. One warm-up step, then the best of four.
 */
export function benchSaeAuxK(): void {
  const [dSae, dead] = [4096, 300];
  console.log(`\n# AuxK in the SAE training step — ${dSae.toLocaleString("en-US")} features, ${dead} dead latents, k_aux ${D_IN / 2}, batch ${BATCH}, ${kernels().precision} products; load average ${os.loadavg()[0]!.toFixed(1)}`);
  const rows: string[][] = [];
  let without = 0;
  for (const arch of ["standard", "topk"] as const) {
    const rng = new Rng(3);
    const sae = new Sae({ architecture: arch, dIn: D_IN, dSae, k: arch === "topk" ? 24 : null, applyBDecToInput: true });
    rng.fillNormal(sae.dec, 0, 1);
    kernels().normalizeRows(sae.dec, dSae, D_IN, null);
    sae.encT.set(sae.dec);
    sae.bEnc.fill(-2.6);
    const x = new Float32Array(BATCH * D_IN);
    rng.fillNormal(x, 0, 1);
    const deadMask = new Uint8Array(dSae);
    for (let j = 0; j < dead; j++) deadMask[j * 13] = 1;
    for (const auxPath of ["none", "sparse", "dense"] as const) {
      const step = new SaeBatchStep(sae);
      const ms = bestOf(4, () => step.run(x, BATCH, { l1Coefficient: 3, deadMask: auxPath === "none" ? null : deadMask, auxCoefficient: 1 / 32, withVariance: false, ...(auxPath === "none" ? {} : { auxPath }) }));
      if (auxPath === "none") without = ms;
      rows.push([`${arch}${arch === "topk" ? "(24)" : ""}`, auxPath === "none" ? "no AuxK" : `AuxK, ${auxPath} path`, ms.toFixed(1), fmt(BATCH / (ms / 1000)), auxPath === "none" ? "" : `${(ms - without).toFixed(1)}`]);
    }
  }
  console.log(table(["step", "AuxK", "ms/step", "tokens/s", "AuxK ms"], rows));
  console.log("forward + backward of the batch only (no Adam); the auto path picks dense while dead ≤ 8 × k_aux.");
}
