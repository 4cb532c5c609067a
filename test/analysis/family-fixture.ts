/**
 * A workspace with planted feature splitting, analysed by `analyzeRun` with --family (test/web/fixture.ts' tiny
 * models and real text):
 *   A/0 (8 features) → A/1 (16) → A/2 (32): feature j of a larger run has the encoder and decoder row of feature
 *   ⌊j/2⌋ of the next smaller run plus a small perturbation, so A/1/j's parent is A/0/⌊j/2⌋ and its children are
 *   A/2/2j and A/2/2j+1. B/1 (16 features, model B) is A/1's --compare run, and the neurons of A and B are analysed.
 * Stores: A/0, A/1, A/2, B/1 and A/neuron, B/neuron; A/1 is analysed with --family A/0 A/2, A/0 with A/1, A/2 with A/1.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeRun } from "../../src/analysis/analyze.js";
import type { EvaluationTokens } from "../../src/analysis/eval-tokens.js";
import { INVESTIGATION_DIR } from "../../src/analysis/store.js";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { loadGpt2Tokenizer } from "../../src/data/tokenizer.js";
import { saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { saveSaeFolder } from "../../src/sae/format.js";
import { Sae } from "../../src/sae/sae.js";

export const HOOK = "blocks.0.mlp.hook_post";
const CFG: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 16 };
const SEQ_LEN = 16;
export const SIZES = { "A/0": 8, "A/1": 16, "A/2": 32 } as const;

const TEXT = `The nation was at peace, and the people of the union looked to congress for the laws that would keep it so.
In the spring the river rose over its banks, and the farmers along the valley moved their cattle to the high ground.
def parse_args(argv):
    parser = argparse.ArgumentParser(description="process the files")
    return parser.parse_args(argv)
Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I
would sail about a little and see the watery part of the world. for i in range(10): print(i, i * i)`;

export interface FamilyFixture {
  root: string;
  /** The SAEs by run name, and the hook activations of model A on the evaluation tokens [rows × 32]. */
  saes: Record<string, Sae>;
  actsA: Float32Array;
  rows: number;
  /** What `analyze` printed for A/1, as returned (timing aside). */
  resultA1: Awaited<ReturnType<typeof analyzeRun>>;
  cleanup(): void;
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

/** An SAE with the given encoder/decoder rows (tied) and biases giving each feature ≈ `density` on `acts`. */
function saeWith(rowsOf: Float32Array[], acts: Float32Array, rows: number, density: (j: number) => number): Sae {
  const dIn = CFG.d_mlp;
  const dSae = rowsOf.length;
  const sae = new Sae({ architecture: "standard", dIn, dSae, k: null, applyBDecToInput: true });
  const mean = new Float32Array(dIn);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dIn; c++) mean[c]! += acts[r * dIn + c]! / rows;
  sae.bDec.set(mean);
  rowsOf.forEach((w, j) => {
    sae.encT.set(w, j * dIn);
    sae.dec.set(w, j * dIn);
  });
  const pre = sae.preActivations(sae.centred(acts, rows), rows, undefined, false);
  for (let j = 0; j < dSae; j++) {
    const col = Float32Array.from({ length: rows }, (_, r) => pre[r * dSae + j]!).sort();
    sae.bEnc[j] = -col[Math.floor(rows * (1 - density(j)))]!;
  }
  return sae;
}

export async function buildFamilyFixture(): Promise<FamilyFixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-family-"));
  const tokenizer = loadGpt2Tokenizer();
  const sequences = 48;
  const ids = tokenizer.encode(TEXT);
  const tokens = Int32Array.from({ length: sequences * SEQ_LEN }, (_, i) => ids[(i * 7) % ids.length]!);
  const rows = tokens.length;
  const models = ["A", "B"].map((name, i) => {
    const dir = path.join(root, name);
    const weights = initWeights(CFG, new Rng(40 + i));
    saveModelFolder(dir, CFG, weights);
    const net = new HookedTransformer(CFG, weights);
    const { cache } = net.forward(Tape.noGrad(), tokens, sequences, SEQ_LEN, { cache: [HOOK], stopAt: HOOK });
    return { name, dir, net, acts: Float32Array.from(cache.get(HOOK)!.data) };
  });
  const [a, b] = models as [(typeof models)[0], (typeof models)[0]];
  const rng = new Rng(5);
  const noisy = (v: Float32Array, scale: number) => unit(v.map((x) => x + scale * rng.normal()));
  const random = () => unit(Float32Array.from({ length: CFG.d_mlp }, () => rng.normal()));
  const rows0 = Array.from({ length: SIZES["A/0"] }, random);
  const rows1 = Array.from({ length: SIZES["A/1"] }, (_, j) => noisy(rows0[j >> 1]!, 0.06));
  const rows2 = Array.from({ length: SIZES["A/2"] }, (_, j) => noisy(rows1[j >> 1]!, 0.04));
  const saes: Record<string, Sae> = {
    "A/0": saeWith(rows0, a.acts, rows, () => 0.12),
    "A/1": saeWith(rows1, a.acts, rows, (j) => [0.05, 0.08, 0.1][j % 3]!),
    "A/2": saeWith(rows2, a.acts, rows, (j) => [0.03, 0.05][j % 2]!),
    "B/1": saeWith(Array.from({ length: 16 }, random), b.acts, rows, () => 0.06),
  };
  const dirOf = (run: string) => path.join(root, run.split("/")[0]!, run.split("/")[1]!);
  for (const [run, sae] of Object.entries(saes)) {
    saveSaeFolder(dirOf(run), sae, {
      modelName: `saekit/${run[0]}`, hookName: HOOK, hookLayer: 0, hookHeadIndex: null, contextSize: SEQ_LEN, prependBos: false,
      datasetPath: "fixture", normalizeActivations: "none", extra: { model: ".." },
    });
  }
  const evaluation: EvaluationTokens = {
    tokens, seqLen: SEQ_LEN, sequences, domains: [{ domain: "prose", firstSequence: 0, sequences, validationSequences: sequences }],
  };
  const options = { topK: 4, histogramBins: 8, intervalCount: 2, intervalSamples: 2, windowBefore: 3, windowAfter: 1, logitTop: 5 };
  const common = { hook: HOOK, tokenizer, evaluation, options };
  const fam = (...runs: string[]) => runs.map((r) => ({ name: r, sae: saes[r]!, hook: HOOK }));
  const store = (run: string) => path.join(dirOf(run), INVESTIGATION_DIR);
  await analyzeRun({ ...common, run: "B/1", modelName: "B", model: b.net, sae: saes["B/1"]!, featureDir: store("B/1"), neuronDir: path.join(b.dir, INVESTIGATION_DIR) });
  const resultA1 = await analyzeRun({
    ...common, run: "A/1", modelName: "A", model: a.net, sae: saes["A/1"]!, featureDir: store("A/1"), neuronDir: path.join(a.dir, INVESTIGATION_DIR),
    compare: [{ name: "B/1", model: b.net, sae: saes["B/1"]!, hook: HOOK }], family: fam("A/2", "A/0"),
  });
  await analyzeRun({ ...common, run: "A/0", modelName: "A", model: a.net, sae: saes["A/0"]!, featureDir: store("A/0"), neuronDir: null, family: fam("A/1", "A/2") });
  await analyzeRun({ ...common, run: "A/2", modelName: "A", model: a.net, sae: saes["A/2"]!, featureDir: store("A/2"), neuronDir: null, family: fam("A/1") });
  return { root, saes, actsA: a.acts, rows, resultA1, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
