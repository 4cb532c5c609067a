/**
 * Activation stores against activations computed directly with model.forward: one epoch serves exactly the
 * direct rows (as a multiset), rows are mixed across sequences, streams are deterministic, epochs cycle, and the
 * on-disk cache round-trips (exactly in F32, rounded to nearest in BF16/F16) with clear errors for broken caches.
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  saveSafetensors,
} from "../../src/io/safetensors.js";
import type { TokenSequences } from "../../src/model/baselines.js";
import type { ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import {
  ActivationError,
  CachedActivationStore,
  epochPermutation,
  estimateNormScale,
  ModelActivationStore,
  writeActivationCache,
  type ActivationSource,
} from "../../src/sae/activations.js";

const HOOK = "blocks.0.mlp.hook_post";
const N_CTX = 8;

const CFG: ModelConfig = {
  n_layers: 1, d_model: 16, d_head: 8, n_heads: 2, d_mlp: 32, d_vocab: 50, n_ctx: N_CTX, act_fn: "gelu",
  normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5,
};
const D_IN = CFG.d_mlp;

function tinyModel(seed = 1): HookedTransformer {
  return new HookedTransformer(CFG, initWeights(CFG, new Rng(seed)));
}

/** Random tokens; `firstToken` fixes each sequence's first token (position 0 sees only itself). */
function randomSequences(count: number, seed: number, nCtx = N_CTX, firstToken?: (s: number) => number): TokenSequences {
  const rng = new Rng(seed);
  const tokens = new Int32Array(count * nCtx);
  for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(CFG.d_vocab);
  if (firstToken) for (let s = 0; s < count; s++) tokens[s * nCtx] = firstToken(s);
  return { tokens, nCtx };
}

const MODEL = tinyModel();
/** 7 + 5 sequences = 96 rows, all distinct (distinct first tokens, so no two sequences share a prefix). */
const SETS = [randomSequences(7, 10, N_CTX, (s) => s), randomSequences(5, 11, N_CTX, (s) => 7 + s)];
const ROWS = 12 * N_CTX;

/** Rows of `hook` computed directly, per set, in sequence order; also each row's (global sequence, position). */
function directRows(model: HookedTransformer, sets: TokenSequences[], hook = HOOK): { rows: Float32Array[]; where: string[] } {
  const rows: Float32Array[] = [];
  const where: string[] = [];
  let global = 0;
  for (const s of sets) {
    const n = s.tokens.length / s.nCtx;
    const { cache } = model.forward(Tape.noGrad(), s.tokens, n, s.nCtx, { stopAt: hook, cache: [hook] });
    const data = cache.get(hook)!.data;
    const d = data.length / (n * s.nCtx);
    for (let r = 0; r < n * s.nCtx; r++) {
      rows.push(Float32Array.from(data.subarray(r * d, (r + 1) * d)));
      where.push(`${global + Math.floor(r / s.nCtx)}:${r % s.nCtx}`);
    }
    global += n;
  }
  return { rows, where };
}

const fingerprint = (row: ArrayLike<number>): string => Array.from(row).join(",");

function splitRows(data: Float32Array, dIn: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let r = 0; r < data.length / dIn; r++) out.push(data.slice(r * dIn, (r + 1) * dIn));
  return out;
}

function sortedFingerprints(rows: ArrayLike<number>[]): string[] {
  return rows.map(fingerprint).sort();
}

/** Serves `total` rows in calls of `step` rows. */
function serve(source: ActivationSource, total: number, step: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let done = 0; done < total; done += step) rows.push(...splitRows(source.next(Math.min(step, total - done)), source.dIn));
  return rows;
}

const DIRECT = directRows(MODEL, SETS);
const DIRECT_SORTED = sortedFingerprints(DIRECT.rows);
const WHERE = new Map(DIRECT.rows.map((r, i) => [fingerprint(r), DIRECT.where[i]!]));

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(join(os.tmpdir(), "saekit-acts-"));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("ModelActivationStore", () => {
  it("has distinct reference rows (so fingerprints identify rows)", () => {
    expect(new Set(DIRECT_SORTED).size).toBe(ROWS);
    expect(DIRECT.rows[0]!.length).toBe(D_IN);
  });

  it("serves exactly the model's activations over one epoch (buffer larger than the data), then cycles", () => {
    const store = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3, forwardBatch: 5, bufferRows: 1000 });
    expect(store.dIn).toBe(D_IN);
    expect(store.hookName).toBe(HOOK);
    expect(store.epoch).toBe(0);
    expect(store.served).toBe(0);
    const first = serve(store, ROWS, 32);
    expect(sortedFingerprints(first)).toEqual(DIRECT_SORTED);
    expect(store.epoch).toBe(1);
    expect(store.served).toBe(ROWS);
    expect(store.sequencesRead).toBe(12);
    const second = serve(store, ROWS, 13);
    expect(sortedFingerprints(second)).toEqual(DIRECT_SORTED);
    expect(store.epoch).toBe(2);
    expect(store.served).toBe(2 * ROWS);
    // A new epoch is a new shuffle.
    expect(second.map(fingerprint)).not.toEqual(first.map(fingerprint));
  });

  it("keeps epochs apart with a buffer smaller than the data: every epoch is a permutation", () => {
    const store = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 4, forwardBatch: 3, bufferRows: 40 });
    for (let e = 1; e <= 3; e++) {
      const rows = serve(store, ROWS, 17);
      expect(sortedFingerprints(rows)).toEqual(DIRECT_SORTED);
      expect(store.epoch).toBe(e);
    }
    expect(store.served).toBe(3 * ROWS);
    // A request that crosses an epoch boundary is still filled completely.
    const out = store.next(ROWS + 5);
    expect(out.length).toBe((ROWS + 5) * D_IN);
    expect(store.epoch).toBe(5);
  });

  it("mixes rows from many sequences", () => {
    const sets = [randomSequences(100, 20)];
    const direct = directRows(MODEL, sets);
    const where = new Map(direct.rows.map((r, i) => [fingerprint(r), direct.where[i]!]));
    const store = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: sets, seed: 5, forwardBatch: 4, bufferRows: 256 });
    const rows = serve(store, 128, 64);
    const seqs = rows.map((r) => where.get(fingerprint(r))!.split(":")[0]);
    expect(seqs.every((s) => s !== undefined)).toBe(true);
    // 64 consecutive rows: without a shuffle they would come from 8 sequences; the buffer holds 32.
    expect(new Set(seqs.slice(0, 64)).size).toBeGreaterThanOrEqual(20);
    expect(new Set(seqs.slice(64)).size).toBeGreaterThanOrEqual(20);
    // Neighbours rarely share a sequence.
    let same = 0;
    for (let i = 1; i < seqs.length; i++) if (seqs[i] === seqs[i - 1]) same++;
    expect(same).toBeLessThan(16);
  });

  it("is deterministic: the same seed gives the same stream, whatever the request sizes", () => {
    const make = (seed: number) =>
      new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed, forwardBatch: 5, bufferRows: 50 });
    const a = serve(make(7), 250, 7).map(fingerprint);
    const b = serve(make(7), 250, 50).map(fingerprint);
    const c = serve(make(8), 250, 50).map(fingerprint);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a.every((f) => WHERE.has(f))).toBe(true);
  });

  it("fills a given output array", () => {
    const store = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 7, bufferRows: 64 });
    const out = new Float32Array(10 * D_IN);
    expect(store.next(10, out)).toBe(out);
    expect(WHERE.has(fingerprint(out.subarray(0, D_IN)))).toBe(true);
    expect(() => store.next(11, out)).toThrow(/out has 320 floats, needs/);
    expect(() => store.next(0)).toThrow(ActivationError);
  });

  it("resumes the data order at startSequence", () => {
    const seed = 9;
    const perm = epochPermutation(seed, 0, 12);
    const store = new ModelActivationStore({
      model: MODEL, hookName: HOOK, sequences: SETS, seed, forwardBatch: 2, bufferRows: 1000, startSequence: 5,
    });
    expect(store.sequencesRead).toBe(5);
    const rows = serve(store, 7 * N_CTX, 8);
    const expected = DIRECT.rows.filter((_, i) => Array.from(perm.subarray(5)).includes(Math.floor(i / N_CTX)));
    expect(sortedFingerprints(rows)).toEqual(sortedFingerprints(expected));
    expect(store.epoch).toBe(1);
    expect(store.sequencesRead).toBe(12);
    // Skipping whole epochs: the next rows are epoch 3's.
    const later = new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed, bufferRows: 1000, startSequence: 24 });
    expect(sortedFingerprints(serve(later, ROWS, 32))).toEqual(DIRECT_SORTED);
    expect(later.epoch).toBe(3);
  });

  it("uses other hook points with their own width", () => {
    const hook = "blocks.0.hook_resid_post";
    const store = new ModelActivationStore({ model: MODEL, hookName: hook, sequences: SETS, seed: 1, bufferRows: 500 });
    expect(store.dIn).toBe(CFG.d_model);
    expect(sortedFingerprints(serve(store, ROWS, 48))).toEqual(sortedFingerprints(directRows(MODEL, SETS, hook).rows));
    const z = new ModelActivationStore({ model: MODEL, hookName: "blocks.0.attn.hook_z", sequences: SETS, seed: 1 });
    expect(z.dIn).toBe(CFG.n_heads * CFG.d_head);
  });

  it("serves float32 rows from a float64 model", () => {
    const weights = initWeights(CFG, new Rng(1));
    for (const [name, t] of weights) weights.set(name, t.to("f64"));
    const model = new HookedTransformer(CFG, weights);
    const direct = directRows(model, SETS);
    expect(direct.rows[0]).toBeInstanceOf(Float32Array);
    const store = new ModelActivationStore({ model, hookName: HOOK, sequences: SETS, seed: 1, forwardBatch: 5, bufferRows: 500 });
    expect(sortedFingerprints(serve(store, ROWS, 32))).toEqual(sortedFingerprints(direct.rows));
  });

  it("rejects bad hook names, mismatched or empty sequences with clear errors", () => {
    const base = { model: MODEL, sequences: SETS, seed: 1 };
    expect(() => new ModelActivationStore({ ...base, hookName: "blocks.0.mlp.hook_postt" })).toThrow(
      /unknown hook point "blocks\.0\.mlp\.hook_postt".*Valid hook points: .*blocks\.0\.mlp\.hook_post/,
    );
    expect(() => new ModelActivationStore({ ...base, hookName: "blocks.0.attn.hook_pattern" })).toThrow(/not one row per token/);
    expect(() => new ModelActivationStore({ ...base, hookName: HOOK, sequences: [SETS[0]!, randomSequences(3, 1, 4)] })).toThrow(
      /sequences\[1\] has nCtx 4, but sequences\[0\] has 8/,
    );
    expect(() => new ModelActivationStore({ ...base, hookName: HOOK, sequences: [] })).toThrow(/no token sequences/);
    expect(() => new ModelActivationStore({ ...base, hookName: HOOK, sequences: [{ tokens: new Int32Array(0), nCtx: 8 }] })).toThrow(
      /hold no sequences/,
    );
    expect(() => new ModelActivationStore({ ...base, hookName: HOOK, sequences: [randomSequences(2, 1, 16)] })).toThrow(
      /nCtx 16.*n_ctx = 8/,
    );
    expect(() => new ModelActivationStore({ ...base, hookName: HOOK, forwardBatch: 0 })).toThrow(/forwardBatch/);
    const badToken = randomSequences(2, 1);
    badToken.tokens[11] = 50;
    const store = new ModelActivationStore({ ...base, hookName: HOOK, sequences: [badToken], bufferRows: 8 });
    expect(() => store.next(1)).toThrow(/sequence 1 \(set 0, row 1\), position 3: token id 50/);
  });

  it("reports a non-finite activation with the hook, sequence and position", () => {
    const weights = initWeights(CFG, new Rng(1));
    weights.get("embed.W_E")!.data[7 * CFG.d_model + 2] = Number.NaN; // token 7's embedding
    const model = new HookedTransformer(CFG, weights);
    const seqs = randomSequences(6, 30);
    for (let i = 0; i < seqs.tokens.length; i++) if (seqs.tokens[i] === 7) seqs.tokens[i] = 8;
    seqs.tokens[3 * N_CTX + 5] = 7;
    const embed = new ModelActivationStore({ model, hookName: "hook_embed", sequences: [seqs], seed: 2, bufferRows: 16 });
    expect(() => embed.next(4)).toThrow(
      /hook hook_embed: non-finite activation NaN in sequence 3 \(set 0, row 3\), position 5, component 2/,
    );
    // Downstream, attention (0·NaN in the mix) spreads the NaN over the whole sequence: the first position is named.
    const post = new ModelActivationStore({ model, hookName: HOOK, sequences: [seqs], seed: 2, bufferRows: 16 });
    expect(() => post.next(4)).toThrow(/hook blocks\.0\.mlp\.hook_post: non-finite activation NaN in sequence 3 \(set 0, row 3\), position 0/);
  });
});

describe("activation cache", () => {
  it("round-trips F32 exactly, in shards, with the manifest written last", () => {
    const dir = tmpDir();
    const progress: number[] = [];
    const manifest = writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3, forwardBatch: 5 }, dir, {
      rows: ROWS, shardRows: 40, model: { dir: "models/A" }, sourceInfo: { split: "train" },
      onProgress: (done) => progress.push(done),
    });
    expect(manifest.shards).toEqual([
      { file: "acts-00000.safetensors", rows: 40 },
      { file: "acts-00001.safetensors", rows: 40 },
      { file: "acts-00002.safetensors", rows: 16 },
    ]);
    expect(manifest).toMatchObject({ version: 1, hookName: HOOK, dIn: D_IN, dtype: "F32", rows: ROWS });
    expect(manifest.model).toMatchObject({ dir: "models/A", n_ctx: N_CTX });
    expect(manifest.source).toMatchObject({ split: "train", seed: 3, sequences: 12, epochs: 1 });
    expect(progress[progress.length - 1]).toBe(ROWS);
    expect(JSON.parse(fs.readFileSync(join(dir, "manifest.json"), "utf8"))).toEqual(manifest);
    expect(fs.readdirSync(dir).sort()).toEqual([...manifest.shards.map((s) => s.file), "manifest.json"].sort());

    const store = new CachedActivationStore({ dir, seed: 1, bufferRows: 1000 });
    expect(store.dIn).toBe(D_IN);
    expect(store.hookName).toBe(HOOK);
    expect(store.manifest).toEqual(manifest);
    expect(sortedFingerprints(serve(store, ROWS, 30))).toEqual(DIRECT_SORTED);
    expect(store.epoch).toBe(1);
    const small = new CachedActivationStore({ dir, seed: 2, bufferRows: 24 });
    for (let e = 1; e <= 2; e++) {
      expect(sortedFingerprints(serve(small, ROWS, 11))).toEqual(DIRECT_SORTED);
      expect(small.epoch).toBe(e);
    }
    expect(small.served).toBe(2 * ROWS);
    small.close();
    store.close();
  });

  it("reads shards in a seeded order, mixes them, and is deterministic", () => {
    const dir = tmpDir();
    writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3 }, dir, { rows: ROWS, shardRows: 8 });
    const a = serve(new CachedActivationStore({ dir, seed: 5, bufferRows: 64 }), 2 * ROWS, 10).map(fingerprint);
    const b = serve(new CachedActivationStore({ dir, seed: 5, bufferRows: 64 }), 2 * ROWS, 64).map(fingerprint);
    const c = serve(new CachedActivationStore({ dir, seed: 6, bufferRows: 64 }), 2 * ROWS, 64).map(fingerprint);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // Each 8-row shard is one sequence; the first 32 rows served are drawn from 8 shards' rows.
    const seqs = a.slice(0, 32).map((f) => WHERE.get(f)!.split(":")[0]);
    expect(new Set(seqs).size).toBeGreaterThanOrEqual(6);
  });

  it("cycles the data when asked for more rows than it has, and resumes at startRow", () => {
    const dir = tmpDir();
    const manifest = writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3, forwardBatch: 4 }, dir, {
      rows: ROWS + 20, shardRows: 64,
    });
    expect(manifest.source).toMatchObject({ epochs: 2, sequencesRead: 16 });
    const store = new CachedActivationStore({ dir, seed: 1, bufferRows: 1000, startRow: 30 });
    expect(store.rowsRead).toBe(30);
    const rest = serve(store, ROWS + 20 - 30, 20);
    const all = new Set(DIRECT_SORTED);
    expect(rest.every((r) => all.has(fingerprint(r)))).toBe(true);
    expect(store.epoch).toBe(1);
    expect(store.rowsRead).toBe(ROWS + 20);
  });

  it("round-trips BF16 and F16 as the rounded activations", () => {
    for (const [dtype, round, tol] of [
      ["BF16", (v: number) => bfloat16BitsToFloat32(float32ToBfloat16Bits(v)), 2 ** -8],
      ["F16", (v: number) => float16BitsToFloat32(float32ToFloat16Bits(v)), 2 ** -11],
    ] as const) {
      const dir = tmpDir();
      writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3 }, dir, { rows: ROWS, dtype, shardRows: 50 });
      const store = new CachedActivationStore({ dir, seed: 1, bufferRows: 1000 });
      expect(store.manifest.dtype).toBe(dtype);
      const rows = serve(store, ROWS, 32);
      const rounded = DIRECT.rows.map((r) => Float32Array.from(r, round));
      expect(sortedFingerprints(rows)).toEqual(sortedFingerprints(rounded));
      // Close to the float32 activations (relative rounding error, plus F16's subnormal spacing).
      const byRounded = new Map(rounded.map((r, i) => [fingerprint(r), DIRECT.rows[i]!]));
      for (const row of rows) {
        const exact = byRounded.get(fingerprint(row))!;
        for (let j = 0; j < D_IN; j++) expect(Math.abs(row[j]! - exact[j]!)).toBeLessThanOrEqual(tol * Math.abs(exact[j]!) + 2 ** -24);
      }
    }
  });

  it("fails clearly on a missing manifest, a missing or mis-shaped shard, or a bad manifest", () => {
    const dir = tmpDir();
    writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3 }, dir, { rows: ROWS, shardRows: 40 });
    const manifestText = fs.readFileSync(join(dir, "manifest.json"), "utf8");

    fs.rmSync(join(dir, "manifest.json"));
    expect(() => new CachedActivationStore({ dir, seed: 1 })).toThrow(/manifest\.json: no manifest.*did not finish/);
    fs.writeFileSync(join(dir, "manifest.json"), manifestText);

    const shard1 = join(dir, "acts-00001.safetensors");
    const good = fs.readFileSync(shard1);
    saveSafetensors(shard1, { activations: { dtype: "F32", shape: [40, D_IN + 1], data: new Float32Array(40 * (D_IN + 1)) } });
    expect(() => new CachedActivationStore({ dir, seed: 1 })).toThrow(
      /acts-00001\.safetensors: "activations" has shape \[40, 33\], the manifest says \[40, 32\]/,
    );
    saveSafetensors(shard1, { activations: { dtype: "BF16", shape: [40, D_IN], data: new Float32Array(40 * D_IN) } });
    expect(() => new CachedActivationStore({ dir, seed: 1 })).toThrow(/acts-00001\.safetensors: "activations" is BF16, the manifest says F32/);
    saveSafetensors(shard1, { other: { dtype: "F32", shape: [1], data: new Float32Array(1) } });
    expect(() => new CachedActivationStore({ dir, seed: 1 })).toThrow(/acts-00001\.safetensors: no tensor "activations"/);
    fs.rmSync(shard1);
    expect(() => new CachedActivationStore({ dir, seed: 1 })).toThrow(/acts-00001\.safetensors: shard listed in the manifest is missing/);
    fs.writeFileSync(shard1, good);

    const bad = (patch: Record<string, unknown>) => {
      fs.writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...JSON.parse(manifestText), ...patch }));
      return () => new CachedActivationStore({ dir, seed: 1 });
    };
    expect(bad({ rows: 97 })).toThrow(/"rows" is 97 but the shards hold 96/);
    expect(bad({ dtype: "F64" })).toThrow(/"dtype" must be/);
    expect(bad({ version: 2 })).toThrow(/unsupported version 2/);
    expect(bad({ shards: [{ file: "../x.safetensors", rows: 96 }] })).toThrow(/plain file name/);
    fs.writeFileSync(join(dir, "manifest.json"), manifestText);
    expect(sortedFingerprints(serve(new CachedActivationStore({ dir, seed: 1, bufferRows: 200 }), ROWS, 96))).toEqual(DIRECT_SORTED);
  });

  it("replaces an older cache in the same folder", () => {
    const dir = tmpDir();
    writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3 }, dir, { rows: ROWS, shardRows: 10 });
    writeActivationCache({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 3 }, dir, { rows: ROWS, shardRows: 48 });
    expect(fs.readdirSync(dir).sort()).toEqual(["acts-00000.safetensors", "acts-00001.safetensors", "manifest.json"]);
  });
});

describe("estimateNormScale", () => {
  /** Rows of norm exactly `norm` in random directions. */
  class FixedNormSource implements ActivationSource {
    readonly hookName = "test";
    served = 0;
    epoch = 1;
    private readonly rng = new Rng(1);
    constructor(readonly dIn: number, private readonly norm: number) {}
    next(rows: number, out = new Float32Array(rows * this.dIn)): Float32Array {
      for (let r = 0; r < rows; r++) {
        const row = out.subarray(r * this.dIn, (r + 1) * this.dIn);
        this.rng.fillNormal(row, 0, 1);
        let sq = 0;
        for (const v of row) sq += v * v;
        for (let j = 0; j < this.dIn; j++) row[j] = (row[j]! * this.norm) / Math.sqrt(sq);
      }
      this.served += rows;
      return out.subarray(0, rows * this.dIn);
    }
  }

  it("gives sqrt(dIn) / ‖x‖ for rows of a known norm", () => {
    const source = new FixedNormSource(64, 3);
    expect(estimateNormScale(source, 5000)).toBeCloseTo(Math.sqrt(64) / 3, 5);
    expect(source.served).toBe(5000);
    expect(estimateNormScale(new FixedNormSource(10, 0.5))).toBeCloseTo(Math.sqrt(10) / 0.5, 5);
  });

  it("makes the mean squared norm of model activations dIn", () => {
    const rowsOf = () => new ModelActivationStore({ model: MODEL, hookName: HOOK, sequences: SETS, seed: 1, bufferRows: 200 });
    const s = estimateNormScale(rowsOf(), ROWS);
    let sq = 0;
    for (const r of DIRECT.rows) for (const v of r) sq += (s * v) ** 2;
    expect(sq / ROWS).toBeCloseTo(D_IN, 3);
  });
});
