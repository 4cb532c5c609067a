import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import type { ActivationSource } from "../../src/sae/activations.js";
import { loadSaeFolder, type SaeMetadata } from "../../src/sae/format.js";
import { saeLearningRate, trainSae, type TrainSaeOptions } from "../../src/sae/train.js";

const D_IN = 16;
const N_TRUE = 24;

/**
 * Activations with a known sparse structure: each row is a sum of ~3 of 24 fixed unit directions with positive
 * magnitudes, plus a little noise. Row i depends only on (seed, i), so a resumed stream is the same stream.
 */
class SyntheticSource implements ActivationSource {
  readonly dIn = D_IN;
  readonly hookName = "blocks.0.mlp.hook_post";
  served: number;
  readonly epoch = 1;
  private readonly directions: Float32Array;
  constructor(private readonly seed: number, start = 0, private readonly poisonAt = -1) {
    this.served = start;
    this.directions = new Float32Array(N_TRUE * D_IN);
    const rng = new Rng(1234);
    rng.fillNormal(this.directions, 0, 1);
    for (let j = 0; j < N_TRUE; j++) {
      const row = this.directions.subarray(j * D_IN, (j + 1) * D_IN);
      const n = Math.hypot(...row);
      row.forEach((v, i) => (row[i] = (3 * v) / n));
    }
  }
  next(rows: number, out = new Float32Array(rows * D_IN)): Float32Array {
    for (let r = 0; r < rows; r++) {
      const i = this.served++;
      const rng = new Rng(this.seed * 1_000_003 + i);
      const x = out.subarray(r * D_IN, (r + 1) * D_IN);
      for (let c = 0; c < D_IN; c++) x[c] = 0.05 * rng.normal();
      for (let j = 0; j < N_TRUE; j++) {
        if (rng.uniform() < 3 / N_TRUE) {
          const a = 0.5 + rng.uniform();
          for (let c = 0; c < D_IN; c++) x[c]! += a * this.directions[j * D_IN + c]!;
        }
      }
      if (i === this.poisonAt) x[3] = NaN;
    }
    return out;
  }
}

/** 512-wide Gaussian rows (the default model's d_mlp), for the size smoke test. */
class WideSource implements ActivationSource {
  readonly dIn = 512;
  readonly hookName = "blocks.0.mlp.hook_post";
  readonly epoch = 1;
  private readonly rng: Rng;
  constructor(public served: number) {
    this.rng = new Rng(11 + served);
  }
  next(rows: number, out = new Float32Array(rows * 512)): Float32Array {
    this.rng.fillNormal(out.subarray(0, rows * 512), 0, 1);
    this.served += rows;
    return out;
  }
}

const META: SaeMetadata = {
  modelName: "test/synthetic", hookName: "blocks.0.mlp.hook_post", hookLayer: 0, hookHeadIndex: null, contextSize: 8,
  prependBos: false, datasetPath: "synthetic", normalizeActivations: "expected_average_only_in",
};

const tmp = fs.mkdtempSync(join(os.tmpdir(), "saekit-sae-train-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function options(out: string, extra: Partial<TrainSaeOptions> = {}): TrainSaeOptions {
  return {
    out, meta: META, source: (start) => new SyntheticSource(7, start), architecture: "standard", dSae: 48, seed: 3,
    tokens: 256 * 300, batchSize: 256, lr: 3e-3, l1Coefficient: 0.3, checkpointEvery: 0, deadWindowTokens: 256 * 50, resample: "paper", ...extra,
  };
}

describe("SAE training", () => {
  it("learns a sparse dictionary of synthetic activations (standard) and writes a loadable SAELens folder", async () => {
    const out = join(tmp, "standard");
    const events: string[] = [];
    const result = await trainSae(options(out, { tokens: 256 * 1000, l1Coefficient: 1, onProgress: (e) => events.push(e.type) }));
    expect(result.completed).toBe(true);
    expect(result.final.fvu).toBeLessThan(0.2);
    expect(result.final.l0).toBeGreaterThan(2);
    expect(result.final.l0).toBeLessThan(12);
    expect(events).toContain("resample");
    const loaded = loadSaeFolder(out);
    expect(loaded.sae.dSae).toBe(48);
    expect(loaded.sparsity).not.toBeNull();
    // The saved SAE takes raw (unscaled) activations: its reconstruction of fresh rows is good.
    const x = new SyntheticSource(99).next(512);
    const xh = loaded.sae.reconstruct(x, 512);
    let err = 0;
    let total = 0;
    for (let i = 0; i < x.length; i++) {
      err += (xh[i]! - x[i]!) ** 2;
      total += x[i]! ** 2;
    }
    expect(err / total).toBeLessThan(0.2);
    const training = JSON.parse(fs.readFileSync(join(out, "training.json"), "utf8"));
    expect(training.steps).toBe(1000);
    expect(training.history.length).toBeGreaterThan(10);
  });

  it("trains TopK with exactly k active features per token at most", async () => {
    const out = join(tmp, "topk");
    const result = await trainSae(options(out, { architecture: "topk", k: 4 }));
    expect(result.final.l0).toBeLessThanOrEqual(4);
    expect(result.final.fvu).toBeLessThan(0.2);
    expect(loadSaeFolder(out).sae.spec).toMatchObject({ architecture: "topk", k: 4 });
  });

  it("stopped and resumed, it ends with exactly the weights of an uninterrupted run", async () => {
    const straight = await trainSae(options(join(tmp, "straight"), { tokens: 256 * 60 }));
    const out = join(tmp, "resumed");
    const controller = new AbortController();
    const first = await trainSae(options(out, {
      tokens: 256 * 60, signal: controller.signal, onProgress: (e) => { if (e.type === "step" && e.step === 20) controller.abort(); },
    }));
    expect(first.completed).toBe(false);
    expect(first.steps).toBe(20);
    const resumed = await trainSae(options(out, { tokens: 256 * 60, resume: true }));
    expect(resumed.completed).toBe(true);
    expect(Array.from(resumed.sae.dec)).toEqual(Array.from(straight.sae.dec));
    expect(Array.from(resumed.sae.encT)).toEqual(Array.from(straight.sae.encT));
  });

  it("stops on NaN activations, names the step and keeps the last good checkpoint", async () => {
    const out = join(tmp, "nan");
    await expect(trainSae(options(out, { source: (s) => new SyntheticSource(7, s, 32768 + 512 + 256 * 25 + 5), checkpointEvery: 10 }))).rejects.toThrow(
      /stopped: .*step 2\d.*last good checkpoint \(step 20\)/,
    );
    expect(fs.existsSync(join(out, "checkpoint", "state.json"))).toBe(true);
  });

  it("rejects a non-empty output folder without --resume and bad options", async () => {
    const out = join(tmp, "standard");
    await expect(trainSae(options(out))).rejects.toThrow(/not empty/);
    await expect(trainSae(options(join(tmp, "bad"), { architecture: "topk", k: 100 }))).rejects.toThrow(/k = 100 exceeds d_sae = 48/);
  });

  it("a 131,072-feature dictionary trains (smoke run: memory and index ranges at the largest size)", async () => {
    const out = join(tmp, "huge");
    const result = await trainSae(options(out, {
      dSae: 131_072, architecture: "topk", k: 8, tokens: 64 * 4, batchSize: 64, dtype: "BF16", discardCheckpoint: true,
      source: (start) => new WideSource(start),
    }));
    expect(result.completed).toBe(true);
    expect(result.final.l0).toBeGreaterThan(0);
    expect(result.final.l0).toBeLessThanOrEqual(8);
    const loaded = loadSaeFolder(out);
    expect(loaded.sae.dSae).toBe(131_072);
    expect(loaded.sae.dIn).toBe(512);
  }, 240_000);

  it("learning rate: warm-up, constant, linear decay to 0", () => {
    const o = { lr: 1, lrWarmupSteps: 10, totalSteps: 100, lrDecayFraction: 0.2 };
    expect(saeLearningRate(0, o)).toBeCloseTo(0.1);
    expect(saeLearningRate(9, o)).toBeCloseTo(1);
    expect(saeLearningRate(50, o)).toBe(1);
    expect(saeLearningRate(90, o)).toBeCloseTo(0.5);
    expect(saeLearningRate(99, o)).toBeCloseTo(0.05);
  });
});
