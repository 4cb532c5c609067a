/**
 * Exports of an analysed run (fixture workspace): the feature-table CSV parsed back (csv-parse) equals the table, and
 * Neuronpedia's gzipped JSONL batches parsed back hold the store's records (activations, top tokens, logits,
 * densities, histograms); `saekit export` and `saekit features --domain` from the CLI.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allFeatureRows, FEATURE_CSV_COLUMNS, featureCsvColumns, featureTableCsv } from "../../src/analysis/export-csv.js";
import {
  neuronpediaSourceId, writeNeuronpediaExport, type NeuronpediaActivation, type NeuronpediaExportOptions, type NeuronpediaFeature,
} from "../../src/analysis/export-neuronpedia.js";
import type { FeatureTableRow } from "../../src/analysis/feature-table.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { dashboardService } from "../../src/vis/service.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { buildFixture, D_SAE, DEAD, type Fixture } from "../web/fixture.js";

let fx: Fixture;
let ws: Workspace;
let out: string;
const cli = captureCliOutput();

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  out = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-export-"));
}, 120_000);
afterAll(() => {
  ws?.close();
  fx?.cleanup();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const readJsonlGz = <T>(file: string): T[] =>
  zlib.gunzipSync(fs.readFileSync(file)).toString("utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);

const STRING_COLUMNS = new Set(["name", "label", "neuron", "match"]);
/** A CSV record back to a table row: empty cells are null, every column but the string ones a number. */
function rowOf(rec: Record<string, string>): FeatureTableRow {
  return Object.fromEntries(
    Object.keys(rec).map((c) => [c, rec[c] === "" && c !== "label" ? null : STRING_COLUMNS.has(c) ? rec[c] : Number(rec[c])]),
  ) as unknown as FeatureTableRow;
}

describe("feature table CSV", () => {
  it("has one column per field of a table row and parses back to the table exactly", () => {
    const service = dashboardService(ws);
    const rows = allFeatureRows((q) => service.featureTable("A/1", q));
    expect(rows.map((r) => r.index)).toEqual(Array.from({ length: D_SAE }, (_, i) => i));
    // Every field of a row is a column (whatever fields the table has), the documented ones first among them.
    expect(featureCsvColumns(rows)).toEqual(Object.keys(rows[0]!));
    expect(featureCsvColumns(rows)).toEqual(expect.arrayContaining([...FEATURE_CSV_COLUMNS]));
    expect(featureCsvColumns([])).toEqual([...FEATURE_CSV_COLUMNS]);
    const text = featureTableCsv(rows);
    const parsed = parse(text, { columns: true }) as Record<string, string>[];
    expect(parsed).toHaveLength(D_SAE);
    expect(parsed.map(rowOf)).toEqual(rows);
    // Labels are quoted top tokens (`" the" "("`): the quoting survived, and dead units have no code share.
    expect(rows.some((r) => r.label.includes('"'))).toBe(true);
    expect(parsed[DEAD[0]!]!.codeShare).toBe("");
    expect(text.split("\n")[0]).toBe(Object.keys(rows[0]!).join(","));
  });

  it("pages through sets larger than one page (1,000 rows)", () => {
    const rows = Array.from({ length: 2345 }, (_, i) => i);
    const pages: number[] = [];
    const got = allFeatureRows((q) => {
      pages.push(q.offset!);
      return { total: rows.length, rows: rows.slice(q.offset!, q.offset! + q.limit!).map((index) => ({ index })) } as never;
    });
    expect(pages).toEqual([0, 1000, 2000]);
    expect(got.map((r) => r.index)).toEqual(rows);
  });
});

describe("Neuronpedia export", () => {
  const opts: NeuronpediaExportOptions = {
    modelId: "saekit-a", sourceSet: "saekit-mlp64-1", layer: 0, hookName: "blocks.0.mlp.hook_post", batchSize: 10,
    createdAt: "2026-01-02T03:04:05.000Z", creatorId: null, creatorName: "saekit", dataset: "fixture", numPrompts: 32,
    tokensPerPrompt: 16, description: "fixture A/1",
  };

  it("writes the layout, and its features and activations parse back to the store's records", () => {
    const store = ws.store("A/1");
    const summary = writeNeuronpediaExport(store, out, opts);
    const dir = path.join(out, "saekit-a", "0-saekit-mlp64-1");
    expect(summary.dir).toBe(dir);
    expect(summary.batches).toBe(7);
    expect(fs.readdirSync(dir).sort()).toEqual(["activations", "features", "model.jsonl", "release.jsonl", "source.jsonl", "sourceset.jsonl"]);
    const source = JSON.parse(fs.readFileSync(path.join(dir, "source.jsonl"), "utf8")) as Record<string, unknown>;
    expect(source).toMatchObject({ id: "0-saekit-mlp64-1", modelId: "saekit-a", setName: "saekit-mlp64-1", num_prompts: 32, num_tokens_in_prompt: 16 });

    const features: NeuronpediaFeature[] = [];
    const acts: NeuronpediaActivation[] = [];
    for (let b = 0; b < 7; b++) {
      const f = readJsonlGz<NeuronpediaFeature>(path.join(dir, "features", `batch-${b}.jsonl.gz`));
      expect(f).toHaveLength(b < 6 ? 10 : 4);
      features.push(...f);
      acts.push(...readJsonlGz<NeuronpediaActivation>(path.join(dir, "activations", `batch-${b}.jsonl.gz`)));
    }
    expect(features.map((f) => f.index)).toEqual(Array.from({ length: D_SAE }, (_, i) => String(i)));
    expect(summary.activations).toBe(acts.length);
    const sourceId = neuronpediaSourceId(opts);
    for (let i = 0; i < D_SAE; i++) {
      const rec = store.unit(i);
      const f = features[i]!;
      expect(f).toMatchObject({ modelId: "saekit-a", layer: sourceId, createdAt: opts.createdAt, maxActApprox: rec.maxActivation });
      expect(f.frac_nonzero).toBe(rec.density);
      expect(f.frac_nonzero).toBeCloseTo(store.columns.density[i]!, 6);
      expect([f.pos_str, f.pos_values]).toEqual([rec.logits.top.map((w) => w.text), rec.logits.top.map((w) => w.weight)]);
      expect([f.neg_str, f.neg_values]).toEqual([rec.logits.bottom.map((w) => w.text), rec.logits.bottom.map((w) => w.weight)]);
      expect(f.freq_hist_data_bar_heights).toEqual(rec.histogram.counts);
      expect(f.logits_hist_data_bar_heights).toEqual(rec.logits.histogram.counts);
      expect(f.neuron_alignment_indices).toEqual(rec.neurons!.alignment.map((a) => a.neuron));
      expect(f.correlated_neurons_pearson).toEqual(rec.neurons!.correlated.map((c) => c.r));

      const mine = acts.filter((a) => a.index === String(i));
      const examples = [...rec.top.map((e) => ({ e, bin: [-1, rec.maxActivation, -1] })), ...rec.intervals.flatMap((iv) => iv.examples.map((e) => ({ e, bin: [iv.lo, iv.hi, iv.fraction] })))];
      expect(mine).toHaveLength(examples.length);
      if (DEAD.includes(i)) expect(mine).toHaveLength(0);
      mine.forEach((a, k) => {
        const { e, bin } = examples[k]!;
        expect(a.tokens).toEqual(e.tokens.map((t) => t.text));
        expect(a.values).toEqual(e.tokens.map((t) => t.activation));
        expect(a.qualifyingTokenIndex).toBe(e.position - e.start);
        expect(a.values[a.qualifyingTokenIndex!]).toBe(e.activation);
        expect(a.maxValue).toBe(Math.max(...e.tokens.map((t) => t.activation)));
        expect(a.values[a.maxValueTokenIndex]).toBe(a.maxValue);
        expect(a.lossValues).toEqual(e.tokens.map((t) => (t.logprobDelta ? -t.logprobDelta : 0)));
        expect([a.binMin, a.binMax, a.binContains]).toEqual(bin);
        expect(a.dataIndex).toBe(String(e.sequence));
        expect(a.dataSource).toBe(`fixture (${e.domain})`);
      });
    }
    // The top tokens of a live unit's record are the tokens at its top activations' qualifying positions.
    const live = features.findIndex((f, i) => !DEAD.includes(i) && f.maxActApprox > 0);
    const firstTop = acts.find((a) => a.index === String(live))!;
    expect(firstTop.tokens[firstTop.qualifyingTokenIndex!]).toBe(store.unit(live).top[0]!.tokens[store.unit(live).top[0]!.position - store.unit(live).top[0]!.start]!.text);
    expect(new Set(acts.map((a) => a.id)).size).toBe(acts.length);
  });

  it("refuses ids Neuronpedia cannot use as URL segments, and a bad batch size", () => {
    const store = ws.store("A/1");
    expect(() => writeNeuronpediaExport(store, out, { ...opts, modelId: "Saekit A" })).toThrow(/modelId must be lower-case/);
    expect(() => writeNeuronpediaExport(store, out, { ...opts, batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  });
});

describe("saekit export and features --domain (CLI)", () => {
  it("export --format csv --json writes the table and summarises it", async () => {
    await runCli("export", "--run", "A/1", "--format", "csv", "--out", path.join(out, "csv"), "--models", fx.root, "--json");
    const summary = JSON.parse(cli.text()) as { format: string; file: string; rows: number; columns: string[] };
    expect(summary).toMatchObject({ format: "csv", file: path.join(out, "csv", "A-1-features.csv"), rows: D_SAE });
    expect(summary.columns).toEqual(expect.arrayContaining([...FEATURE_CSV_COLUMNS]));
    expect((parse(fs.readFileSync(summary.file, "utf8"), { columns: true }) as unknown[]).length).toBe(D_SAE);
  });

  it("export --format neuronpedia --json names the source folder and every file", async () => {
    await runCli("export", "--run", "A/1", "--format", "neuronpedia", "--out", path.join(out, "np"), "--models", fx.root, "--batch-size", "32", "--created-at", "2026-01-01", "--json");
    const s = JSON.parse(cli.text()) as { dir: string; sourceId: string; features: number; batches: number; files: { path: string; rows: number }[] };
    expect(s).toMatchObject({ dir: path.join(out, "np", "saekit-a", "0-saekit-mlp64-1"), sourceId: "0-saekit-mlp64-1", features: D_SAE, batches: 2 });
    expect(s.files.filter((f) => f.path.startsWith("features/")).map((f) => f.rows)).toEqual([32, 32]);
    const f0 = readJsonlGz<NeuronpediaFeature>(path.join(s.dir, "features", "batch-0.jsonl.gz"))[0]!;
    expect(f0.createdAt).toBe("2026-01-01T00:00:00.000Z");
  });

  it("refuses an unknown format by name", async () => {
    await runCli("export", "--run", "A/1", "--format", "parquet", "--out", out, "--models", fx.root).catch(() => undefined);
    expect(cli.text()).toMatch(/--format must be one of neuronpedia, csv, got "parquet"/);
  });

  it("features --domain code --min-code-share lists exactly the units the column puts there", async () => {
    const col = ws.store("A/1").columns.codeShare!;
    const want = Array.from(col).flatMap((s, i) => (s >= 0.6 ? [`A/1/${i}`] : []));
    expect(want.length).toBeGreaterThan(0);
    await runCli("features", "--run", "A/1", "--domain", "code", "--min-code-share", "0.6", "--limit", "1000", "--models", fx.root, "--json");
    const t = JSON.parse(cli.text()) as { total: number; rows: { name: string; codeShare: number }[] };
    expect(t.rows.map((r) => r.name)).toEqual(want);
    expect(t.total).toBe(want.length);
    cli.clear();
    await runCli("features", "--run", "A/1", "--domain", "prose", "--limit", "3", "--models", fx.root);
    expect(cli.text()).toMatch(/^A\/1: \d+ of 64 units match/);
    expect(cli.text()).toContain("code");
  });
});
