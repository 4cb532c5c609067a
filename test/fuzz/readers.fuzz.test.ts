/**
 * Property-based fuzzing (fast-check) of everything that reads untrusted bytes (issue 13): safetensors files,
 * SAE cfg.json, model config.json, and the API's unit names and request bodies. For every generated input the
 * reader either succeeds or throws its own error class with a message naming the file (or, for the API, answers
 * a 4xx JSON {error}); nothing crashes with a TypeError/RangeError, hangs, or allocates far beyond the input.
 *
 * Seeds are fixed (reproducible); FUZZ_RUNS scales the number of cases (default 150 per property).
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { encodeSafetensors, openSafetensors, SafetensorsError } from "../../src/io/safetensors.js";
import { loadModelFolder, ModelFolderError, saveModelFolder } from "../../src/model/checkpoint.js";
import { DEFAULT_MODEL_CONFIG, ModelConfigError, validateModelConfig, type ModelConfig } from "../../src/model/config.js";
import { initWeights, ModelWeightsError } from "../../src/model/weights.js";
import { loadSaeFolder, SaeFormatError, saveSaeFolder } from "../../src/sae/format.js";
import { Sae } from "../../src/sae/sae.js";
import { InvestigationStoreError, openInvestigation } from "../../src/analysis/store.js";
import { createServer } from "../../src/web/server.js";
import { buildFixture, LIVE, type Fixture } from "../web/fixture.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const params = (seed: number) => ({ numRuns: RUNS, seed, endOnFailure: true });
const root = fs.mkdtempSync(join(os.tmpdir(), "saekit-fuzz-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs `read`; it must succeed or throw one of `allowed`, naming `mustName`, within `ms`; heap growth bounded. */
function readsSafely(read: () => void, allowed: Array<new (...a: never[]) => Error>, mustName: string, ms = 2000): void {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  try {
    read();
  } catch (error) {
    if (!allowed.some((C) => error instanceof C)) throw new Error(`unexpected ${(error as Error).name}: ${(error as Error).message}`);
    expect((error as Error).message).toContain(mustName);
  }
  expect(performance.now() - t0).toBeLessThan(ms);
  expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(256 * 1024 * 1024);
}

// ---------------------------------------------------------------------------------------------------------------

const VALID_ST = encodeSafetensors(
  new Map([
    ["a", { dtype: "F32" as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ["b", { dtype: "BF16" as const, shape: [4], data: Float32Array.from([1, -2, 0.5, 8]) }],
  ]),
  { format: "pt" },
  "fuzz",
);
const VALID_BYTES = Buffer.concat(Array.from(VALID_ST, (c) => Buffer.from(c)));

function readAllTensors(path: string): void {
  const r = openSafetensors(path);
  try {
    for (const name of r.names()) r.readFloat32(name);
  } finally {
    r.close();
  }
}

describe("fuzz: safetensors reader", () => {
  const file = join(root, "fuzz.safetensors");

  it("random bytes, flipped bytes and truncations of a valid file", () => {
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat()).map(([flips, cut]) => {
        const b = Buffer.from(VALID_BYTES);
        for (const [at, v] of flips) b[at % b.length] = v;
        return b.subarray(0, cut % 3 === 0 ? cut % (b.length + 1) : b.length);
      }),
    );
    fc.assert(fc.property(mutated, (bytes) => {
      fs.writeFileSync(file, bytes);
      readsSafely(() => readAllTensors(file), [SafetensorsError], file);
    }), params(1301));
  });

  it("hostile headers: any JSON, huge lengths, shapes and offsets", () => {
    const big = fc.oneof(fc.integer(), fc.constantFrom(2 ** 53, 2 ** 60, -1, 1e300, Number.MAX_SAFE_INTEGER), fc.double());
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom("F32", "F16", "BF16", "I32", "I64", "F64", "U8", "BOOL", "X"), fc.anything()),
      shape: fc.oneof(fc.array(big, { maxLength: 4 }), fc.anything()),
      data_offsets: fc.oneof(fc.tuple(big, big), fc.array(big, { maxLength: 3 }), fc.anything()),
    }, { requiredKeys: [] });
    const header = fc.oneof(
      fc.dictionary(fc.oneof(fc.string(), fc.constant("__metadata__")), entry, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
      fc.json(),
      fc.string(),
    );
    fc.assert(fc.property(header, fc.oneof(fc.constant(-1), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), fc.nat({ max: 64 }), (json, lengthField, dataBytes) => {
      const h = Buffer.from(json, "utf8");
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(lengthField === -1 ? BigInt(h.length) : (lengthField as bigint));
      fs.writeFileSync(file, Buffer.concat([len, h, Buffer.alloc(dataBytes, 7)]));
      readsSafely(() => readAllTensors(file), [SafetensorsError], file);
    }), params(1302));
  });
});

// ---------------------------------------------------------------------------------------------------------------

/** A JSON-ish value biased towards the kinds a config field could hold, hostile sizes included. */
const fieldValue = fc.oneof(
  fc.integer({ min: -5, max: 100 }), fc.constantFrom(0, 1, 16, 64, 1e9, 1e15, 2 ** 31, 2 ** 53, -1, 1.5, NaN, Infinity),
  fc.string({ maxLength: 12 }), fc.constantFrom("standard", "topk", "jumprelu", "gated", "float32", "bfloat16", "none", "expected_average_only_in", "relu"),
  fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

describe("fuzz: SAE cfg.json and model config.json readers", () => {
  const saeDir = join(root, "sae");
  let validCfg: Record<string, unknown>;
  beforeAll(() => {
    const sae = new Sae({ architecture: "standard", dIn: 8, dSae: 16, k: null, applyBDecToInput: true });
    new Rng(1).fillNormal(sae.encT, 0, 1);
    saveSaeFolder(saeDir, sae, {
      modelName: "m", hookName: "blocks.0.mlp.hook_post", hookLayer: 0, hookHeadIndex: null, contextSize: 8, prependBos: false,
      datasetPath: "x", normalizeActivations: "none",
    });
    validCfg = JSON.parse(fs.readFileSync(join(saeDir, "cfg.json"), "utf8")) as Record<string, unknown>;
  });

  it("cfg.json with fields replaced, removed, added or moved between the top level and metadata", () => {
    const keys = ["d_in", "d_sae", "dtype", "architecture", "apply_b_dec_to_input", "normalize_activations", "activation_fn_kwargs", "k",
      "hook_name", "hook_point", "hook_layer", "context_size", "model_name", "metadata", "activation_fn_str", "prepend_bos", "dataset_path", "saekit"];
    const edit = fc.array(fc.tuple(fc.constantFrom(...keys), fc.oneof(fieldValue, fc.constant(undefined)), fc.boolean()), { maxLength: 6 });
    const cfgPath = join(saeDir, "cfg.json");
    fc.assert(fc.property(fc.oneof(edit.map((e) => ({ e })), fc.json().map((j) => ({ j }))), (input) => {
      let text: string;
      if ("j" in input) text = input.j;
      else {
        const cfg = structuredClone(validCfg) as Record<string, unknown>;
        for (const [key, value, inMetadata] of input.e) {
          const target = inMetadata && typeof cfg.metadata === "object" && cfg.metadata !== null ? (cfg.metadata as Record<string, unknown>) : cfg;
          if (value === undefined) delete target[key];
          else target[key] = value;
        }
        text = JSON.stringify(cfg);
      }
      fs.writeFileSync(cfgPath, text);
      readsSafely(() => loadSaeFolder(saeDir), [SaeFormatError, SafetensorsError], saeDir);
    }), params(1303));
  });

  it("config.json: any object is a ModelConfig or a ModelConfigError; a model folder with it loads or names the problem", () => {
    const modelDir = join(root, "model");
    const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, n_layers: 1, d_model: 8, d_mlp: 16, n_heads: 2, d_head: 4, n_ctx: 8, d_vocab: 20 };
    saveModelFolder(modelDir, cfg, initWeights(cfg, new Rng(2)));
    const keys = ["n_layers", "d_model", "d_head", "n_heads", "d_mlp", "d_vocab", "n_ctx", "act_fn", "normalization_type", "positional_embedding_type",
      "tokenizer_name", "eps", "d_vocab_out", "seed", "model_name", "attn_scale", "rotary_dim", "parallel_attn_mlp"];
    const edit = fc.array(fc.tuple(fc.constantFrom(...keys), fc.oneof(fieldValue, fc.constant(undefined))), { maxLength: 5 });
    fc.assert(fc.property(edit, (e) => {
      const obj: Record<string, unknown> = { ...cfg };
      for (const [key, value] of e) {
        if (value === undefined) delete obj[key];
        else obj[key] = value;
      }
      readsSafely(() => validateModelConfig(obj, "config.json"), [ModelConfigError], "config.json");
      fs.writeFileSync(join(modelDir, "config.json"), JSON.stringify(obj));
      readsSafely(() => loadModelFolder(modelDir), [ModelFolderError, ModelConfigError, ModelWeightsError, SafetensorsError], modelDir);
    }), params(1304));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("fuzz: the API's unit names, queries and bodies", () => {
  let fx: Fixture;
  let ws: Workspace;
  let app: FastifyInstance;
  beforeAll(async () => {
    fx = await buildFixture();
    ws = openWorkspace(fx.root);
    app = createServer(ws, { logError: (line) => { throw new Error(`500 logged: ${line}`); } });
    await app.ready();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    ws?.close();
    fx?.cleanup();
  });

  /** A response that is a success or a 4xx JSON {error} (never a 500). */
  function answered(res: { statusCode: number; body: string; headers: Record<string, unknown> }, ok: number[]): void {
    expect(res.statusCode, res.body).not.toBeGreaterThanOrEqual(500);
    expect(ok.includes(res.statusCode) || (res.statusCode >= 400 && res.statusCode < 500), res.body).toBe(true);
    if (res.statusCode >= 400) expect(typeof (JSON.parse(res.body) as { error?: unknown }).error).toBe("string");
  }

  const namePart = fc.oneof(fc.constantFrom("A", "B", "1", "neuron", "0", String(LIVE), "-1", "1e3", "999999999999", "..", ".", "%2F", "%00", "%E0%A4%A", " "), fc.string({ maxLength: 6 }), fc.nat().map(String));
  const unitName = fc.array(namePart, { minLength: 0, maxLength: 5 }).map((parts) => parts.join("/"));

  it("GET /api/unit/NAME, /api/compare and /api/search with hostile names and queries", async () => {
    await fc.assert(fc.asyncProperty(unitName, unitName, fc.string({ maxLength: 20 }), async (a, b, q) => {
      const enc = (s: string) => s.replace(/[^A-Za-z0-9/%._-]/g, (c) => encodeURIComponent(c));
      answered(await app.inject({ method: "GET", url: `/api/unit/${enc(a)}` }), [200]);
      answered(await app.inject({ method: "GET", url: `/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}` }), [200]);
      answered(await app.inject({ method: "GET", url: `/api/search?q=${encodeURIComponent(q)}&run=${encodeURIComponent(a)}&limit=${encodeURIComponent(b)}` }), [200]);
    }), params(1305));
  }, 120_000);

  it("POST /api/prompt with any body and content type", async () => {
    const body = fc.oneof(
      fc.json(),
      fc.string({ maxLength: 50 }),
      fc.record({ run: fc.oneof(unitName, fc.anything()), text: fc.oneof(fc.string({ maxLength: 80 }), fc.anything()) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    );
    const type = fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "");
    await fc.assert(fc.asyncProperty(body, type, async (payload, contentType) => {
      const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
      answered(await app.inject({ method: "POST", url: "/api/prompt", headers, payload }), [200]);
    }), { ...params(1306), numRuns: Math.min(RUNS, 100) });
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------------------------

describe("fuzz: the investigation store reader", () => {
  let fx: Fixture;
  let pristine: string;
  beforeAll(async () => {
    fx = await buildFixture();
    pristine = join(fx.root, "A", "1", "investigation");
  }, 60_000);
  afterAll(() => fx?.cleanup());

  const FILES = ["manifest.json", "index.safetensors", "units.bin", "search.json.gz", "tokens.gz", "dictionary.bin"];
  /** Byte flips and a truncation in one file; with `dropChecksum` its manifest checksum goes too (the structure checks alone). */
  const damage = fc.record({
    file: fc.constantFrom(...FILES),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    dropChecksum: fc.boolean(),
    manifestEdits: fc.array(fc.tuple(fc.constantFrom("units", "tokens", "sequences", "seqLen", "tokenDtype", "kind", "checksums", "name"), fieldValue), { maxLength: 2 }),
  });

  it("damaged files open and read consistently, or fail naming the store file", () => {
    const dir = join(root, "store");
    fc.assert(fc.property(damage, (d) => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.cpSync(pristine, dir, { recursive: true });
      const target = join(dir, d.file);
      const bytes = fs.readFileSync(target);
      for (const [at, v] of d.flips) if (bytes.length > 0) bytes[at % bytes.length] = v;
      fs.writeFileSync(target, d.cut === undefined ? bytes : bytes.subarray(0, d.cut % (bytes.length + 1)));
      if (d.file !== "manifest.json") {
        try {
          const m = JSON.parse(fs.readFileSync(join(dir, "manifest.json"), "utf8")) as Record<string, unknown>;
          if (d.dropChecksum && m.checksums && typeof m.checksums === "object") delete (m.checksums as Record<string, unknown>)[d.file];
          for (const [key, value] of d.manifestEdits) m[key] = value;
          fs.writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));
        } catch {
          // the manifest itself is intact here; nothing else to edit
        }
      }
      readsSafely(() => {
        const store = openInvestigation(dir, fx.tokenizer);
        try {
          for (const i of [0, LIVE, store.units - 1]) store.unit(i);
          store.search("the");
        } finally {
          store.close();
        }
      }, [InvestigationStoreError], dir, 5000);
    }), { ...params(1307), numRuns: Math.min(RUNS, 120) });
  }, 180_000);
});

