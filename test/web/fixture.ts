/**
 * A small workspace for the workspace, server and browser tests, built by code in a temp dir:
 *   A/, B/            tiny 1-layer models (GPT-2 vocabulary, d_model 16, d_mlp 32, n_ctx 16), different seeds
 *   A/1/, B/1/        standard SAEs with 64 features (a few dead, a few dense) on blocks.0.mlp.hook_post
 *   A/1/investigation, B/1/investigation, A/investigation, B/investigation: of A/1, B/1 (A/1 compared with B/1), A/neuron and B/neuron
 * The investigations are written by `analyzeRun` (saekit analyze) over real text (prose and code), so every number a
 * page shows is the analysis' own.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../../src/data/tokenizer.js";
import { analyzeRun } from "../../src/analysis/analyze.js";
import type { EvaluationTokens } from "../../src/analysis/eval-tokens.js";
import type { InvestigationManifest } from "../../src/analysis/unit-record.js";
import { INVESTIGATION_DIR } from "../../src/analysis/store.js";
import { saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { saveSaeFolder } from "../../src/sae/format.js";
import { initSae } from "../../src/sae/init.js";
import { Sae } from "../../src/sae/sae.js";

export const HOOK = "blocks.0.mlp.hook_post";
export const CFG: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 16 };
export const D_SAE = 64;
export const SEQ_LEN = 16;
/** Features of each SAE that never fire, and features made dense (density > 10 %). */
export const DEAD = [7, 13];
export const DENSE = [3, 40];
/** A feature that fires moderately (density ≈ 5 %), for tests that need examples. */
export const LIVE = 5;

const PROSE = `The nation was at peace, and the people of the union looked to congress for the laws that would keep it so.
In the spring the river rose over its banks, and the farmers along the valley moved their cattle to the high ground.
Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I
would sail about a little and see the watery part of the world. The whale was white, and the sea was grey and cold.
It is a way I have of driving off the spleen and regulating the circulation. The state of the union is strong, the
president said, and the economy has grown in every quarter of the year. Whenever I find myself growing grim about
the mouth, I account it high time to get to sea as soon as I can. The committee met on Tuesday to discuss the budget.`;

const CODE = `def parse_args(argv):
    parser = argparse.ArgumentParser(description="process the files")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)

class Buffer(object):
    def __init__(self, size=1024):
        self.size = size
        self.data = []

    def append(self, item):
        if len(self.data) >= self.size:
            raise ValueError("buffer is full")
        self.data.append(item)
        return len(self.data)

for i in range(10):
    print(i, i * i, str(i) + "!")
`;

export interface Fixture {
  root: string;
  tokenizer: Tokenizer;
  /** Evaluation tokens [sequences × SEQ_LEN]: prose sequences first, then code. */
  tokens: Int32Array;
  sequences: number;
  domains: InvestigationManifest["domains"];
  cleanup(): void;
}

function sequencesOf(tokenizer: Tokenizer, text: string, count: number): Int32Array {
  const ids = Int32Array.from(tokenizer.encode(text));
  const out = new Int32Array(count * SEQ_LEN);
  for (let i = 0; i < out.length; i++) out[i] = ids[i % ids.length]!;
  return out;
}

interface ModelData {
  name: string;
  dir: string;
  net: HookedTransformer;
  /** hook_post [rows, d_mlp] on the evaluation tokens. */
  acts: Float32Array;
}

function buildModel(root: string, name: string, seed: number, tokens: Int32Array, sequences: number): ModelData {
  const dir = path.join(root, name);
  const weights = initWeights(CFG, new Rng(seed));
  saveModelFolder(dir, CFG, weights);
  const net = new HookedTransformer(CFG, weights);
  const { cache } = net.forward(Tape.noGrad(), tokens, sequences, SEQ_LEN, { cache: [HOOK], stopAt: HOOK });
  return { name, dir, net, acts: Float32Array.from(cache.get(HOOK)!.data) };
}

/** A standard SAE whose biases give each feature a chosen density on the evaluation tokens. */
function buildSae(m: ModelData, seed: number, rows: number): Sae {
  const dIn = CFG.d_mlp;
  const sae = new Sae({ architecture: "standard", dIn, dSae: D_SAE, k: null, applyBDecToInput: true });
  const mean = new Float32Array(dIn);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dIn; c++) mean[c]! += m.acts[r * dIn + c]! / rows;
  initSae(sae, new Rng(seed), mean);
  const pre = sae.preActivations(sae.centred(m.acts, rows), rows);
  for (let j = 0; j < D_SAE; j++) {
    const col = Float32Array.from({ length: rows }, (_, r) => pre[r * D_SAE + j]!).sort();
    const density = DEAD.includes(j) ? 0 : DENSE.includes(j) ? 0.3 : [0.02, 0.05, 0.08][j % 3]!;
    const threshold = density === 0 ? col[rows - 1]! + 1 : col[Math.floor(rows * (1 - density))]!;
    sae.bEnc[j] = -threshold;
  }
  return sae;
}

/** Builds the fixture workspace (a couple of seconds). */
export async function buildFixture(): Promise<Fixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-workspace-"));
  const tokenizer = loadGpt2Tokenizer();
  const proseSeqs = 16;
  const codeSeqs = 16;
  const sequences = proseSeqs + codeSeqs;
  const tokens = new Int32Array(sequences * SEQ_LEN);
  tokens.set(sequencesOf(tokenizer, PROSE, proseSeqs), 0);
  tokens.set(sequencesOf(tokenizer, CODE, codeSeqs), proseSeqs * SEQ_LEN);
  const domains = [
    { domain: "prose", firstSequence: 0, sequences: proseSeqs },
    { domain: "code", firstSequence: proseSeqs, sequences: codeSeqs },
  ];
  const f = { root, tokenizer, tokens, sequences, domains };
  const rows = tokens.length;
  const models = [buildModel(root, "A", 4, tokens, sequences), buildModel(root, "B", 5, tokens, sequences)];
  const saes = models.map((m, i) => {
    const sae = buildSae(m, 11 + i, rows);
    const dir = path.join(m.dir, "1");
    saveSaeFolder(dir, sae, {
      modelName: `saekit/${m.name}`, hookName: HOOK, hookLayer: 0, hookHeadIndex: null, contextSize: SEQ_LEN, prependBos: false,
      datasetPath: "fixture", normalizeActivations: "none", extra: { model: ".." },
    });
    return { sae, dir };
  });
  const [a, b] = models as [ModelData, ModelData];
  const [sa, sb] = saes as [(typeof saes)[0], (typeof saes)[0]];
  const evaluation: EvaluationTokens = { tokens, seqLen: SEQ_LEN, sequences, domains: domains.map((d) => ({ ...d, validationSequences: d.sequences })) };
  const common = { hook: HOOK, tokenizer, evaluation, options: { topK: 5, histogramBins: 10, intervalCount: 3, intervalSamples: 2, windowBefore: 4, windowAfter: 2, logitTop: 8 } };
  const summary = { l0: 3.1, ceLossRecovered: 0.9, dead: DEAD.length, dense: DENSE.length };
  await analyzeRun({
    ...common, run: "B/1", modelName: "B", model: b.net, sae: sb.sae, saeSummary: summary,
    featureDir: path.join(sb.dir, INVESTIGATION_DIR), neuronDir: path.join(b.dir, INVESTIGATION_DIR),
  });
  await analyzeRun({
    ...common, run: "A/1", modelName: "A", model: a.net, sae: sa.sae, saeSummary: summary,
    featureDir: path.join(sa.dir, INVESTIGATION_DIR), neuronDir: path.join(a.dir, INVESTIGATION_DIR),
    compare: [{ name: "B/1", model: b.net, sae: sb.sae, hook: HOOK }],
  });
  return { ...f, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
