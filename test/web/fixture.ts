/**
 * A small workspace for the workspace, server and browser tests, built by code in a temp dir:
 *   A/, B/            tiny 1-layer models (GPT-2 vocabulary, d_model 16, d_mlp 32, n_ctx 16), different seeds
 *   A/1/, B/1/        standard SAEs with 64 features (a few dead, a few dense) on blocks.0.mlp.hook_post
 *   A/1/investigation, B/1/investigation, A/investigation, B/investigation: of A/1, B/1 (A/1 compared with B/1), A/neuron and B/neuron
 * The investigations are computed from the models' real activations on real text (prose and code), in the store's
 * format, so every number a page shows can be checked against them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../../src/data/tokenizer.js";
import type { InvestigationManifest, ProxyReport } from "../../src/analysis/investigation.js";
import { featureOutputDirections, logitWeights, logitWeightSummaries, neuronOutputDirections } from "../../src/analysis/logit-weights.js";
import { InvestigationWriter, type StoredExample, type StoredUnit } from "../../src/analysis/store.js";
import { pearson } from "../../src/analysis/workspace.js";
import { saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights, type ModelWeights } from "../../src/model/weights.js";
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
  weights: ModelWeights;
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
  return { name, dir, weights, net, acts: Float32Array.from(cache.get(HOOK)!.data) };
}

/** A standard SAE whose biases give each feature a chosen density on the evaluation tokens. */
function buildSae(m: ModelData, seed: number, rows: number): { sae: Sae; codes: Float32Array } {
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
  return { sae, codes: sae.encodeDense(m.acts, rows) };
}

const WINDOW_BEFORE = 4;
const WINDOW_AFTER = 2;
const TOP_K = 5;
const BINS = 10;
const INTERVALS = 3;

/** The store's record of one unit from its activations over the evaluation tokens ([rows] at `col` of [rows, width]). */
function storedUnit(
  acts: Float32Array, width: number, col: number, rows: number, tokens: Int32Array,
  logit: { top: [number, number][]; bottom: [number, number][]; hist: { edges: number[]; counts: number[] }; mean: number; std: number },
  tokenizer: Tokenizer,
): { unit: StoredUnit; topTokens: string[] } {
  const a = (r: number) => acts[r * width + col]!;
  let firing = 0;
  let max = 0;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const v = a(r);
    if (v > 0) {
      firing++;
      sum += v;
      if (v > max) max = v;
    }
  }
  const binOf = (v: number, n: number) => Math.min(n - 1, Math.floor((v / max) * n));
  const hist = new Array<number>(BINS).fill(0);
  for (let r = 0; r < rows; r++) if (a(r) > 0) hist[binOf(a(r), BINS)]! += 1;
  const example = (r: number): StoredExample => {
    const s = Math.floor(r / SEQ_LEN);
    const p = r % SEQ_LEN;
    const w: [number, number, number | null][] = [];
    for (let q = Math.max(0, p - WINDOW_BEFORE); q <= Math.min(SEQ_LEN - 1, p + WINDOW_AFTER); q++) {
      const v = a(s * SEQ_LEN + q);
      if (v > 0) w.push([q - p, v, q === SEQ_LEN - 1 ? null : -0.05 * v]);
    }
    return { s, p, a: a(r), w };
  };
  const firingRows = Array.from({ length: rows }, (_, r) => r).filter((r) => a(r) > 0);
  const ranked = [...firingRows].sort((x, y) => a(y) - a(x) || x - y);
  const top = ranked.slice(0, TOP_K).map(example);
  const intervals = Array.from({ length: max > 0 ? INTERVALS : 0 }, (_, i) => {
    const inside = firingRows.filter((r) => binOf(a(r), INTERVALS) === i);
    return { lo: (max * i) / INTERVALS, hi: (max * (i + 1)) / INTERVALS, fraction: inside.length / firing, examples: inside.slice(0, 2).map(example) };
  });
  const topIds = [...new Set(ranked.slice(0, TOP_K).map((r) => tokens[r]!))];
  const topTokens = topIds.map((id) => tokenizer.tokenText(id));
  let proxy: ProxyReport | null = null;
  if (firing > 0) {
    const isProxy = (r: number) => topIds.includes(tokens[r]!);
    let mass = 0;
    let proxyMass = 0;
    let proxyFiring = 0;
    let proxyTokens = 0;
    const bins = Array.from({ length: BINS }, (_, b) => ({ lo: (max * b) / BINS, hi: (max * (b + 1)) / BINS, count: 0, proxyCount: 0, activationMass: 0, proxyActivationMass: 0, meanLlr: null }));
    for (let r = 0; r < rows; r++) {
      if (isProxy(r)) proxyTokens++;
      const v = a(r);
      if (v <= 0) continue;
      const bin = bins[binOf(v, BINS)]!;
      bin.count++;
      bin.activationMass += v;
      mass += v;
      if (isProxy(r)) {
        bin.proxyCount++;
        bin.proxyActivationMass += v;
        proxyMass += v;
        proxyFiring++;
      }
    }
    proxy = {
      spec: `tokens: ${topTokens.map((t) => t.trim()).join(",")}`,
      description: `the ${topTokens.length} top-activating token${topTokens.length === 1 ? "" : "s"}`,
      specificity: proxyMass / mass,
      specificityFiring: proxyFiring / firing,
      sensitivity: proxyFiring / proxyTokens,
      proxyTokens,
      bins,
    };
  }
  const label = topTokens.length > 0 ? `"${topTokens.slice(0, 3).map((t) => t.trim()).join('", "')}"` : "dead";
  const unit: StoredUnit = {
    label,
    firing,
    max,
    mean: firing > 0 ? sum / firing : 0,
    hist,
    top,
    intervals,
    logits: logit,
    ablation: { meanLossEffect: firing > 0 ? 0.01 * (col % 7) - 0.02 : null, sampled: Math.min(firing, top.length + intervals.length * 2) },
    proxy,
    neurons: null,
    matches: {},
  };
  return { unit, topTokens };
}

function logitSummaries(directions: Float32Array, count: number, m: ModelData) {
  const p = m.net.params;
  return logitWeightSummaries(directions, count, CFG.d_model, p["unembed.W_U"]!.data as Float32Array, CFG.d_vocab, p["ln_final.w"]!.data as Float32Array, { top: 8, bins: 20 });
}

function fullLogits(directions: Float32Array, count: number, m: ModelData): Float32Array {
  const p = m.net.params;
  return logitWeights(directions, count, CFG.d_model, p["unembed.W_U"]!.data as Float32Array, CFG.d_vocab, p["ln_final.w"]!.data as Float32Array);
}

function column(data: Float32Array, width: number, col: number, rows: number): Float32Array {
  return Float32Array.from({ length: rows }, (_, r) => data[r * width + col]!);
}

function densityHistogram(densities: number[]): InvestigationManifest["densityHistogram"] {
  const bins = 8;
  const edges = Array.from({ length: bins + 1 }, (_, b) => -4 + (4 * b) / bins);
  const counts = new Array<number>(bins).fill(0);
  let dead = 0;
  for (const d of densities) {
    if (d === 0) dead++;
    else counts[Math.max(0, Math.min(bins - 1, Math.floor(((Math.log10(d) + 4) / 4) * bins)))]! += 1;
  }
  return { edges, counts, dead };
}

interface RunSpec {
  dir: string;
  name: string;
  model: ModelData;
  kind: "feature" | "neuron";
  /** [rows, units] activations. */
  acts: Float32Array;
  units: number;
  directions: Float32Array;
  sae: Sae | null;
  compareWith?: { name: string; acts: Float32Array; logits: Float32Array; units: number };
}

function writeInvestigation(f: Omit<Fixture, "cleanup">, spec: RunSpec, neuronActs: Float32Array): void {
  const rows = f.tokens.length;
  const { units, acts } = spec;
  const summaries = logitSummaries(spec.directions, units, spec.model);
  const myLogits = spec.compareWith ? fullLogits(spec.directions, units, spec.model) : null;
  const writer = new InvestigationWriter({ dir: path.join(spec.dir, "investigation"), units, tokens: f.tokens, seqLen: SEQ_LEN, vocabSize: CFG.d_vocab });
  const densities: number[] = [];
  let matched = 0;
  let liveA = 0;
  for (let i = 0; i < units; i++) {
    const s = summaries[i]!;
    const { unit, topTokens } = storedUnit(acts, units, i, rows, f.tokens, {
      top: s.top.map((t) => [t.token, t.weight]),
      bottom: s.bottom.map((t) => [t.token, t.weight]),
      hist: s.histogram,
      mean: s.mean,
      std: s.std,
    }, f.tokenizer);
    densities.push(unit.firing / rows);
    const mine = column(acts, units, i, rows);
    if (spec.sae) {
      const dec = spec.sae.dec.subarray(i * CFG.d_mlp, (i + 1) * CFG.d_mlp);
      const l1 = dec.reduce((t, v) => t + Math.abs(v), 0);
      const alignment = Array.from(dec, (v, n) => [n, v, Math.abs(v) / l1] as [number, number, number]).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 3);
      const correlated = Array.from({ length: CFG.d_mlp }, (_, n) => [n, pearson(mine, column(neuronActs, CFG.d_mlp, n, rows))] as [number, number])
        .sort((x, y) => y[1] - x[1] || x[0] - y[0])
        .slice(0, 3);
      unit.neurons = { alignment, correlated };
    }
    if (spec.compareWith && unit.firing > 0) {
      liveA++;
      const other = spec.compareWith;
      let best = -1;
      let bestR = -Infinity;
      for (let j = 0; j < other.units; j++) {
        const r = pearson(mine, column(other.acts, other.units, j, rows));
        if (r > bestR) [best, bestR] = [j, r];
      }
      const logitR = pearson(myLogits!.subarray(i * CFG.d_vocab, (i + 1) * CFG.d_vocab), other.logits.subarray(best * CFG.d_vocab, (best + 1) * CFG.d_vocab));
      unit.matches[other.name] = [best, bestR, logitR];
      if (bestR >= 0.5) matched++;
    }
    const texts = (list: [number, number][]) => list.map(([id]) => f.tokenizer.tokenText(id));
    writer.add(unit, { topTokens, logitTop: texts(unit.logits.top), logitBottom: texts(unit.logits.bottom) }, rows, spec.compareWith?.name ?? null);
  }
  const [modelName, run] = spec.name.split("/") as [string, string];
  writer.finish({
    format: "saekit-investigation",
    version: 1,
    kind: spec.kind,
    name: spec.name,
    model: modelName,
    run: spec.kind === "feature" ? run : null,
    hook: HOOK,
    tokenizer: "gpt2",
    units,
    tokens: rows,
    sequences: f.sequences,
    seqLen: SEQ_LEN,
    domains: f.domains,
    createdAt: new Date(0).toISOString(),
    options: { topK: TOP_K, histogramBins: BINS, intervalCount: INTERVALS, intervalSamples: 2, windowBefore: WINDOW_BEFORE, windowAfter: WINDOW_AFTER, logitTop: 8, proxy: "top-tokens", seed: 0 },
    sae: spec.kind === "feature" ? { l0: 3.1, ceLossRecovered: 0.9, dead: DEAD.length / D_SAE, dense: DENSE.length / D_SAE } : null,
    compare: spec.compareWith
      ? [{ name: spec.compareWith.name, livePairs: { a: liveA, b: liveA }, thresholds: [{ threshold: 0.5, matched, fraction: liveA > 0 ? matched / liveA : 0 }] }]
      : [],
    densityHistogram: densityHistogram(densities),
    timing: { total: 0.1 },
  });
}

/** Builds the fixture workspace (about a second). */
export function buildFixture(): Fixture {
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
    const { sae, codes } = buildSae(m, 11 + i, rows);
    const dir = path.join(m.dir, "1");
    saveSaeFolder(dir, sae, {
      modelName: `saekit/${m.name}`, hookName: HOOK, hookLayer: 0, hookHeadIndex: null, contextSize: SEQ_LEN, prependBos: false,
      datasetPath: "fixture", normalizeActivations: "none", extra: { model: ".." },
    });
    const wOut = m.net.params["blocks.0.mlp.W_out"]!.data as Float32Array;
    return { sae, codes, dir, directions: featureOutputDirections(sae, wOut, CFG.d_mlp, CFG.d_model) };
  });
  const [a, b] = models as [ModelData, ModelData];
  const [sa, sb] = saes as [(typeof saes)[0], (typeof saes)[0]];
  writeInvestigation(f, { dir: sb.dir, name: "B/1", model: b, kind: "feature", acts: sb.codes, units: D_SAE, directions: sb.directions, sae: sb.sae }, b.acts);
  writeInvestigation(f, {
    dir: sa.dir, name: "A/1", model: a, kind: "feature", acts: sa.codes, units: D_SAE, directions: sa.directions, sae: sa.sae,
    compareWith: { name: "B/1", acts: sb.codes, logits: fullLogits(sb.directions, D_SAE, b), units: D_SAE },
  }, a.acts);
  for (const m of models) {
    const wOut = m.net.params["blocks.0.mlp.W_out"]!.data as Float32Array;
    writeInvestigation(f, {
      dir: m.dir, name: `${m.name}/neuron`, model: m, kind: "neuron", acts: m.acts, units: CFG.d_mlp,
      directions: neuronOutputDirections(wOut, CFG.d_mlp, CFG.d_model), sae: null,
    }, m.acts);
  }
  return { ...f, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
