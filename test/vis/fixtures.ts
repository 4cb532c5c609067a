/**
 * Realistic synthetic dashboard data (seeded): a feature record with examples, intervals, proxy, logits, neurons
 * and matches; its comparison scatters; a run; a prompt analysis. Shapes follow src/analysis/investigation.ts.
 */
import type {
  Example,
  ExampleToken,
  Histogram,
  PromptAnalysis,
  PromptFeatureScore,
  UnitRecord,
} from "../../src/analysis/unit-record.js";
import type { CompareResponse, RunInfo, StaticPageData } from "../../src/vis/api-types.js";
import { mulberry32 as rng } from "../helpers/random.js";

export const NASTY_TOKEN = "</script><script>window.__pwned=1</script>";

const WORDS = [
  " of", " the", " in", " a", " to", " and", " was", " on", " for", " with", " city", " river", " king", " said",
  " people", " time", ",", ".", "\n", " house", " from", " at", " by", " he", " she", " it", " that", " old", " new",
  "(", ")", " =", " return", " self", ".", "_", "x", " if", "\n\n", " def", ":",
];
const PREPS = new Set([" of", " in", " on", " for", " with", " from", " at", " by", " to"]);

function histogram(values: number[], lo: number, hi: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)))]! += 1;
  return { edges, counts };
}

function makeExample(r: () => number, seq: number, peak: number, domain: string, nasty: boolean): Example {
  const before = 12;
  const after = 6;
  const tokens: ExampleToken[] = [];
  for (let i = 0; i < before + 1 + after; i++) {
    let text = WORDS[Math.floor(r() * WORDS.length)]!;
    if (i === before - 1) text = [...PREPS][Math.floor(r() * PREPS.size)]!;
    if (i === before) text = " the";
    if (nasty && i === before + 2) text = NASTY_TOKEN;
    const prev = tokens[i - 1]?.text ?? "";
    let activation = 0;
    if (i === before) activation = peak;
    else if (text === " the" && PREPS.has(prev)) activation = peak * (0.3 + 0.5 * r());
    else if (text === " a" && r() < 0.5) activation = peak * 0.15 * r();
    const logprobDelta = i === before + after ? null : activation > 0 ? -(activation / 10) * (0.5 + r()) + (r() < 0.15 ? 0.2 : 0) : 0;
    tokens.push({ id: 100 + Math.floor(r() * 50000), text, activation: Number(activation.toFixed(4)), logprobDelta });
  }
  return { sequence: seq, position: 40 + before, activation: peak, domain, start: 40, tokens };
}

export function syntheticUnit(name = "A/1/3450", seed = 1): UnitRecord {
  const r = rng(seed);
  const max = 8.5;
  const top = Array.from({ length: 16 }, (_, i) => makeExample(r, 100 + i * 37, Number((max * (1 - i * 0.03)).toFixed(3)), i % 3 === 2 ? "code" : "prose", i === 3));
  const intervalCount = 6;
  const intervals = Array.from({ length: intervalCount }, (_, k) => {
    const lo = (max * k) / intervalCount;
    const hi = (max * (k + 1)) / intervalCount;
    return {
      lo,
      hi,
      fraction: [0.42, 0.25, 0.15, 0.1, 0.05, 0.03][k]!,
      examples: Array.from({ length: 3 }, (_, j) => makeExample(r, 2000 + k * 10 + j, Number((lo + (hi - lo) * r()).toFixed(3)), "prose", false)),
    };
  });
  const acts: number[] = [];
  for (let i = 0; i < 5000; i++) acts.push(max * Math.pow(r(), 2.2));
  const histo = histogram(acts, 0, max, 40);
  const bins = histo.counts.map((count, i) => {
    const lo = histo.edges[i]!;
    const hi = histo.edges[i + 1]!;
    const share = Math.min(1, 0.25 + (0.75 * i) / 40);
    const mass = count * (lo + hi) / 2;
    return {
      lo,
      hi,
      count,
      proxyCount: Math.round(count * share),
      proxyMassShare: mass > 0 ? Math.min(1, share + 0.05) : null,
      meanLlr: count === 0 ? null : -1.5 + 7 * (i / 40),
    };
  });
  const logitValues: number[] = [];
  for (let i = 0; i < 50257; i++) logitValues.push((r() + r() + r() - 1.5) * 0.12);
  const topTexts = [" city", " river", " first", " same", " United", " world", " following", " end", " most", " other"];
  const bottomTexts = [" the", " a", " an", "\n", " and", " of", " his", " their", " this", NASTY_TOKEN];
  return {
    name,
    kind: "feature",
    index: Number(name.split("/").pop()),
    label: "' the' after a preposition",
    tokens: 262144,
    firing: 5000,
    density: 5000 / 262144,
    maxActivation: max,
    meanActivation: 1.93,
    histogram: histo,
    top,
    intervals,
    logits: {
      top: topTexts.map((text, i) => ({ id: 1000 + i, text, weight: 0.61 - i * 0.035 })),
      bottom: bottomTexts.map((text, i) => ({ id: 2000 + i, text, weight: -0.58 + i * 0.03 })),
      histogram: histogram(logitValues, -0.2, 0.2, 40),
      mean: 0.001,
      std: 0.06,
    },
    ablation: { meanLossEffect: 0.0412, lossEffectPerToken: 0.0412 * (5000 / 262144), sampled: 64 },
    proxy: {
      spec: "tokens: the",
      description: "the token is ' the'",
      specificity: 0.91,
      specificityFiring: 0.84,
      sensitivity: 0.37,
      proxyTokens: 11532,
      bins,
    },
    neurons: {
      alignment: [489, 12, 301, 77, 250].map((n, i) => ({ neuron: n, name: `A/neuron/${n}`, value: (i % 2 ? -1 : 1) * (0.41 - i * 0.07), fractionOfL1: 0.09 - i * 0.012, cosine: (i % 2 ? -1 : 1) * (0.41 - i * 0.07) })),
      correlated: [489, 301, 12, 402, 6].map((n, i) => ({ name: `A/neuron/${n}`, index: n, r: 0.72 - i * 0.11 })),
    },
    matches: { "B/1": { name: "B/1/1187", index: 1187, r: 0.81, logitR: 0.77 } },
  };
}

function scatter(r: () => number, n: number, rho: number, scale: number): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, (r() - 0.6) * scale * 2.5);
    x.push(a);
    y.push(Math.max(0, rho * a + (1 - rho) * scale * (r() - 0.3)));
  }
  return { x, y };
}

export function syntheticComparisons(unit: UnitRecord, seed = 2): CompareResponse[] {
  const r = rng(seed);
  const others = [unit.neurons?.correlated[0]?.name ?? "A/neuron/489", ...Object.values(unit.matches).map((m) => m.name)];
  return others.map((b, k) => {
    const act = scatter(r, 1500, 0.8 - k * 0.1, unit.maxActivation);
    const lx: number[] = [];
    const ly: number[] = [];
    for (let i = 0; i < 800; i++) {
      const v = (r() - 0.5) * 0.3;
      lx.push(v);
      ly.push(0.7 * v + (r() - 0.5) * 0.08);
    }
    return { a: unit.name, b, activations: { ...act, r: 0.72 - k * 0.05, tokens: 1500 }, logits: { x: lx, y: ly, r: 0.64 + k * 0.1 } };
  });
}

export function syntheticRun(name = "A/1"): RunInfo {
  const r = rng(7);
  const logD: number[] = [];
  for (let i = 0; i < 4055; i++) logD.push(-4.2 + 2.6 * (r() + r() + r()) / 3 + (r() < 0.01 ? 2.5 : 0));
  return {
    name,
    model: name.split("/")[0]!,
    kind: "feature",
    units: 4096,
    tokens: 262144,
    hook: "blocks.0.mlp.hook_post",
    sae: { l0: 15.46, ceLossRecovered: 0.9588, dead: 41, dense: 13 },
    compare: [
      {
        name: "B/1",
        livePairs: { a: 4055, b: 4080 },
        thresholds: [0.5, 0.7, 0.9].map((t, i) => ({ threshold: t, matched: [3100, 2240, 610][i]!, fraction: [3100, 2240, 610][i]! / 4055 })),
      },
    ],
    densityHistogram: { ...histogram(logD, -7, 0, 28), dead: 41 },
    dead: 41,
    dense: 13,
    promptable: true,
  };
}

export function syntheticFeaturePage(): Extract<StaticPageData, { page: "feature" }> {
  const unit = syntheticUnit();
  return { mode: "static", page: "feature", unit, run: syntheticRun(), comparisons: syntheticComparisons(unit) };
}

export const PROMPT_TEXT = "The cat sat on the mat.\nShe walked to the river with the dog and </script> said hello.";

export function syntheticPrompt(): PromptAnalysis {
  const r = rng(11);
  const pieces = ["The", " cat", " sat", " on", " the", " mat", ".", "\n", "She", " walked", " to", " the", " river", " with", " the", " dog", " and", " </", "script", ">", " said", " hello", "."];
  const feats = [3450, 12, 77, 901, 2048, 3999, 5, 640];
  const tokens = pieces.map((text, i) => {
    const fs: { name: string; index: number; activation: number }[] = [];
    for (const f of feats) {
      let a = 0;
      if (f === 3450 && text === " the" && i > 0 && PREPS.has(pieces[i - 1]!)) a = 6 + 2 * r();
      else if (r() < 0.25) a = Number((r() * 4).toFixed(3));
      if (a > 0) fs.push({ name: `A/1/${f}`, index: f, activation: a });
    }
    fs.sort((a, b) => b.activation - a.activation);
    return { id: 300 + i, text, features: fs, loss: i === pieces.length - 1 ? null : Number((1 + 5 * r()).toFixed(3)) };
  });
  const score = (scale: number, signedv: boolean): PromptFeatureScore[] =>
    feats
      .map((f, k) => ({
        name: `A/1/${f}`,
        index: f,
        value: Number(((signedv && k % 3 === 2 ? -1 : 1) * scale * (1 - k * 0.1) * (0.8 + 0.4 * r())).toFixed(4)),
        position: tokens.findIndex((t) => t.features.some((x) => x.index === f)),
        label: f === 3450 ? "' the' after a preposition" : k % 2 ? null : `feature ${f}`,
      }))
      .filter((s) => s.position >= 0)
      .sort((a, b) => b.value - a.value);
  return {
    run: "A/1",
    text: PROMPT_TEXT,
    tokens,
    rankings: { maxActivation: score(7.5, false), lossEffect: score(0.3, true), logitEffect: score(1.2, true) },
  };
}

export function syntheticPromptPage(): Extract<StaticPageData, { page: "prompt" }> {
  const prompt = syntheticPrompt();
  return { mode: "static", page: "prompt", prompt, run: syntheticRun(), units: { "A/1/3450": syntheticUnit("A/1/3450") } };
}

export function syntheticNeuron(name = "A/neuron/489"): UnitRecord {
  const u = syntheticUnit(name, 5);
  return { ...u, kind: "neuron", label: "prepositions → ' the'", neurons: null, matches: {}, proxy: null };
}

export function syntheticNeuronRun(): RunInfo {
  return { ...syntheticRun("A/neuron"), kind: "neuron", units: 512, sae: null, compare: [], dead: 0, dense: 7, promptable: false };
}

/** A unit that never fired: empty histograms and examples, null effects, a NaN correlation (null in JSON). */
export function syntheticDeadPage(): Extract<StaticPageData, { page: "feature" }> {
  const u = syntheticUnit("A/1/7", 3);
  const unit: UnitRecord = {
    ...u,
    label: "",
    firing: 0,
    density: 0,
    maxActivation: 0,
    meanActivation: 0,
    histogram: { edges: [], counts: [] },
    top: [],
    intervals: [],
    ablation: { meanLossEffect: null, lossEffectPerToken: null, sampled: 0 },
    proxy: null,
    neurons: { alignment: u.neurons!.alignment, correlated: [] },
    matches: { "B/1": { name: "B/1/7", index: 7, r: Number.NaN, logitR: null } },
  };
  return { mode: "static", page: "feature", unit, run: null, comparisons: [] };
}
