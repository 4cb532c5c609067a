/**
 * One name grammar for writer and reader (names.ts, issue 13.9): an SAE folder with a non-numeric name, such as the
 * README's `--out runs/A-1`, is analysed under the unit set "A/A-1" and then listed, opened, served and routed.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeRun } from "../../src/analysis/analyze.js";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { NEURON_SET, parseUnitName, UnitNameError, unitFromPath, unitPath, unitSetName } from "../../src/names.js";
import { featureStoreDir, loadSaeRun } from "../../src/sae/run-folder.js";
import { dashboardService } from "../../src/vis/service.js";
import { createServer } from "../../src/web/server.js";
import { buildFixture, HOOK, LIVE, SEQ_LEN, type Fixture } from "../web/fixture.js";

let fx: Fixture;
let root: string;

beforeAll(async () => {
  fx = await buildFixture();
  root = fs.mkdtempSync(path.join(fx.root, "..", "saekit-run-names-"));
  // models/A with its SAE trained into a folder called A-1 (what `sae train --out models/A/A-1` makes).
  fs.mkdirSync(path.join(root, "A", "A-1"), { recursive: true });
  for (const f of ["config.json", "model.safetensors"]) fs.copyFileSync(path.join(fx.root, "A", f), path.join(root, "A", f));
  for (const f of fs.readdirSync(path.join(fx.root, "A", "1"))) {
    if (f !== "investigation") fs.copyFileSync(path.join(fx.root, "A", "1", f), path.join(root, "A", "A-1", f));
  }
  const run = loadSaeRun(path.join(root, "A", "A-1"));
  expect(run.name).toBe("A/A-1");
  await analyzeRun({
    run: run.name, modelName: run.modelName, model: run.model, sae: run.sae, hook: HOOK, tokenizer: fx.tokenizer,
    evaluation: { tokens: fx.tokens, seqLen: SEQ_LEN, sequences: fx.sequences, domains: fx.domains.map((d) => ({ ...d, validationSequences: d.sequences })) },
    featureDir: featureStoreDir(run.saeDir), neuronDir: null, options: { topK: 5, histogramBins: 10 },
  });
});
afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  fx?.cleanup();
});

describe("unit-set names from folder names", () => {
  it("the writer's name is the reader's: A/A-1 is listed, opened, searched and served", async () => {
    const ws = openWorkspace(root);
    try {
      expect(ws.runs().map((r) => r.name)).toEqual(["A/A-1"]);
      const rec = ws.unit(`A/A-1/${LIVE}`);
      expect(rec.name).toBe(`A/A-1/${LIVE}`);
      expect(rec.top.length).toBeGreaterThan(0);
      expect(dashboardService(ws).search(`A/A-1/${LIVE}`).hits[0]).toMatchObject({ run: "A/A-1", name: `A/A-1/${LIVE}`, field: "name" });
      const app = createServer(ws);
      const res = await app.inject({ method: "GET", url: `/api/unit/A/A-1/${LIVE}` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ name: `A/A-1/${LIVE}`, kind: "feature" });
      await app.close();
    } finally {
      ws.close();
    }
  });

  it("one grammar: parse, format and the app's paths agree; digits are canonical; neuron is reserved", () => {
    expect(parseUnitName("A/A-1/7")).toMatchObject({ model: "A", set: "A-1", kind: "feature", name: "A/A-1", index: 7, unit: "A/A-1/7" });
    expect(parseUnitName("A/007/0012").unit).toBe("A/7/12");
    expect(unitSetName("A", "01")).toBe("A/1");
    expect(unitPath("A/A-1/7")).toBe("/feature/A/A-1/7");
    expect(unitFromPath("feature", ["A", "A-1", "7"])).toEqual({ kind: "feature", name: "A/A-1/7" });
    expect(unitPath("A/neuron/3")).toBe("/neuron/A/3");
    expect(unitFromPath("neuron", ["A", "3"])).toEqual({ kind: "neuron", name: "A/neuron/3" });
    expect(() => unitSetName("A", NEURON_SET)).toThrow(/"neuron" is reserved/);
    expect(() => unitSetName("my model", "1")).toThrow(UnitNameError);
    expect(() => parseUnitName("A/x y/1")).toThrow(/"x y" is not a valid SAE run \(or neuron\) name/);
  });
});
