/**
 * Training in bf16 tracks training in fp32: a short SAE run and a short transformer run, each trained twice from the
 * same seed and data (SAEKIT_PRECISION's two values via setPrecision), with the loss curves compared step by step,
 * and the precision recorded in training.json (and the SAE's cfg.json).
 *
 * Tolerance. bf16 rounds each operand of every product to 8 significant bits (relative error ≤ 2⁻⁸ ≈ 0.4 %), and
 * float32 accumulation keeps that error from growing with K, so one step's loss differs by a fraction of 0.4 %.
 * Over a run the two trajectories drift apart (different rounding → slightly different weights → different
 * batches' losses), as two fp32 runs with different summation orders would, but a healthy run does not amplify
 * that drift: we allow 1.5 % relative difference per logged loss (≈ 4× the one-step scale) and 1 % at the end
 * (measured on this suite's runs: ≤ 0.4 % for TopK, whose selection flips with rounding; ≤ 0.05 % otherwise).
 * Both are far below what training itself changes (the losses fall by > 25 % over the same run), so the test fails
 * for a wrong product (a swapped pair, a lost alpha, truncation instead of rounding drifts by tens of per cent).
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { kernels, setPrecision } from "../../src/core/backend.js";
import type { Precision } from "../../src/core/kernels.js";
import { Rng } from "../../src/core/rng.js";
import { buildTokenShards, type TokenShards } from "../../src/data/shards.js";
import type { Tokenizer } from "../../src/data/tokenizer.js";
import type { ModelConfig } from "../../src/model/config.js";
import { trainModel } from "../../src/model/train.js";
import type { ActivationSource } from "../../src/sae/activations.js";
import type { SaeMetadata } from "../../src/sae/format.js";
import { trainSae } from "../../src/sae/train.js";

const STEP_TOL = 0.015, FINAL_TOL = 0.01;

const tmp = fs.mkdtempSync(join(os.tmpdir(), "saekit-bf16-train-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => setPrecision("auto"));

async function withPrecision<T>(p: Precision, run: () => Promise<T>): Promise<T> {
  setPrecision(p);
  expect(kernels().precision).toBe(p);
  try {
    return await run();
  } finally {
    setPrecision("auto");
  }
}

function expectTracks(what: string, fp32: number[], bf16: number[]): void {
  expect(bf16.length).toBe(fp32.length);
  expect(fp32.length).toBeGreaterThan(3);
  for (let i = 0; i < fp32.length; i++) {
    const rel = Math.abs(bf16[i]! - fp32[i]!) / Math.abs(fp32[i]!);
    if (!(rel <= STEP_TOL)) expect.fail(`${what}: logged loss ${i} bf16 ${bf16[i]} vs fp32 ${fp32[i]} (${(100 * rel).toFixed(2)} % > ${100 * STEP_TOL} %)`);
  }
  const last = fp32.length - 1;
  expect(Math.abs(bf16[last]! - fp32[last]!) / fp32[last]!).toBeLessThanOrEqual(FINAL_TOL);
  // The runs learned (the tolerance is small next to the change training makes)...
  expect(fp32[last]!).toBeLessThan(0.75 * fp32[0]!);
  // ...and bf16 really ran in bf16 (not the same numbers as fp32).
  expect(bf16).not.toEqual(fp32);
}

// ---- SAE --------------------------------------------------------------------------------------------------

const D_IN = 32;

/** Rows that are sparse sums of 40 fixed directions plus noise; row i depends only on (seed, i). */
class SparseSource implements ActivationSource {
  readonly dIn = D_IN;
  readonly hookName = "blocks.0.mlp.hook_post";
  readonly epoch = 1;
  private readonly directions = new Float32Array(40 * D_IN);
  constructor(public served: number) {
    new Rng(5).fillNormal(this.directions, 0, 0.5);
  }
  next(rows: number, out = new Float32Array(rows * D_IN)): Float32Array {
    for (let r = 0; r < rows; r++) {
      const rng = new Rng(1_000_003 + this.served++);
      const x = out.subarray(r * D_IN, (r + 1) * D_IN);
      for (let c = 0; c < D_IN; c++) x[c] = 0.05 * rng.normal();
      for (let j = 0; j < 40; j++) {
        if (rng.uniform() < 0.1) {
          const a = 0.5 + rng.uniform();
          for (let c = 0; c < D_IN; c++) x[c]! += a * this.directions[j * D_IN + c]!;
        }
      }
    }
    return out;
  }
}

const META: SaeMetadata = {
  modelName: "test/synthetic", hookName: "blocks.0.mlp.hook_post", hookLayer: 0, hookHeadIndex: null, contextSize: 8,
  prependBos: false, datasetPath: "synthetic", normalizeActivations: "expected_average_only_in",
};

describe("bf16 SAE training", () => {
  for (const architecture of ["standard", "topk"] as const) {
    it(`${architecture}: the bf16 loss curve tracks fp32 and training.json / cfg.json record the precision`, async () => {
      const run = (p: Precision) =>
        withPrecision(p, () =>
          trainSae({
            out: join(tmp, `sae-${architecture}-${p}`), meta: META, source: (start) => new SparseSource(start), architecture,
            dSae: 128, k: 6, seed: 3, tokens: 512 * 120, batchSize: 512, lr: 3e-3, l1Coefficient: 0.5, checkpointEvery: 0,
            deadWindowTokens: 512 * 40,
          }));
      const fp32 = await run("fp32");
      const bf16 = await run("bf16");
      const history = (p: Precision) =>
        (JSON.parse(fs.readFileSync(join(tmp, `sae-${architecture}-${p}`, "training.json"), "utf8")) as { history: { loss: number }[] })
          .history.map((h) => h.loss);
      expectTracks(`SAE ${architecture}`, history("fp32"), history("bf16"));
      expect(Math.abs(bf16.final.fvu - fp32.final.fvu)).toBeLessThan(0.02);
      for (const [p, file] of [["bf16", "training.json"], ["fp32", "training.json"]] as const) {
        const training = JSON.parse(fs.readFileSync(join(tmp, `sae-${architecture}-${p}`, file), "utf8"));
        expect(training.precision).toBe(p);
        expect(training.backend.precision).toBe(p);
      }
      const cfg = JSON.parse(fs.readFileSync(join(tmp, `sae-${architecture}-bf16`, "cfg.json"), "utf8"));
      expect(cfg.saekit.training.precision).toBe("bf16");
    });
  }
});

// ---- transformer ------------------------------------------------------------------------------------------

function charTokenizer(): Tokenizer {
  const alphabet = "\n abcdefghijklmnopqrstuvwxyz.,:()=_+-0123456789?";
  const ids = new Map([...alphabet].map((ch, i) => [ch, i]));
  return {
    name: "test-chars", vocabSize: alphabet.length + 1, eotId: alphabet.length, fingerprint: "test-chars-v1",
    encode: (text) => Int32Array.from([...text.toLowerCase()].map((ch) => ids.get(ch) ?? ids.get("?")!)),
    decode: (tokens) => Array.from(tokens, (t) => alphabet[t] ?? "").join(""),
    tokenText: (t) => alphabet[t] ?? "<eot>",
  };
}

const WORDS = ["the", "whale", "ship", "sea", "captain", "sailed", "over", "a", "grey", "wave", "and", "crew"];

describe("bf16 model training", () => {
  let shards: TokenShards;
  beforeAll(() => {
    const rng = new Rng(3);
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const prose = Array.from({ length: 8 }, () => Array.from({ length: 6 }, () => WORDS[rng.int(WORDS.length)]).join(" ") + ".");
      lines.push(JSON.stringify({ id: `prose-${i}`, domain: "prose", text: prose.join(" ") }));
      const code = Array.from({ length: 6 }, () => `def f(x):\n    y = x + ${rng.int(10)}\n    return y\n`);
      lines.push(JSON.stringify({ id: `code-${i}`, domain: "code", text: code.join("\n") }));
    }
    const corpus = join(tmp, "corpus.jsonl");
    fs.writeFileSync(corpus, lines.join("\n"));
    shards = buildTokenShards({ tokenizer: charTokenizer(), sources: [{ kind: "jsonl", path: corpus }], nCtx: 32, cacheDir: join(tmp, "cache") });
  });

  it("the bf16 loss curve tracks fp32 and training.json records the precision", async () => {
    const model: Partial<ModelConfig> = { n_layers: 1, d_model: 64, n_heads: 2, d_head: 32, d_mlp: 256, n_ctx: 32 };
    const run = (p: Precision) =>
      withPrecision(p, () =>
        trainModel({
          out: join(tmp, `model-${p}`), shards, model, seed: 11, steps: 60, batchSize: 8, accumSteps: 1, lr: 3e-3,
          warmupSteps: 5, evalEvery: 20, evalTokens: 256, checkpointEvery: 0,
        }));
    const fp32 = await run("fp32");
    const bf16 = await run("bf16");
    expect(fp32.completed && bf16.completed).toBe(true);
    expectTracks("model", fp32.summary!.history.train.map((e) => e.loss), bf16.summary!.history.train.map((e) => e.loss));
    expect(fp32.summary!.environment.precision).toBe("fp32");
    expect(bf16.summary!.environment.precision).toBe("bf16");
    const written = JSON.parse(fs.readFileSync(join(tmp, "model-bf16", "training.json"), "utf8"));
    expect(written.environment.precision).toBe("bf16");
  });
});
