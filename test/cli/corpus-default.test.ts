/** The corpus a command reads when none is named: the packaged version its model was trained on, else the default. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_V1_SOURCES, CORPUS_V2_SOURCES, corpusVersionOfSources, DEFAULT_CORPUS_SOURCES, describeSource } from "../../src/data/corpus.js";
import { corpusSources, modelCorpusVersion } from "../../src/cli/flags.js";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-corpus-default-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A model folder whose training.json records `sources` (or holds `raw` verbatim). */
function modelDir(name: string, contents: { sources?: unknown; raw?: string }): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "training.json"), contents.raw ?? JSON.stringify({ data: { sources: contents.sources } }));
  return dir;
}

const v1Labels = CORPUS_V1_SOURCES.map(describeSource);
const v2Labels = CORPUS_V2_SOURCES.map(describeSource);
const noFlags = { text: [], jsonl: [] };

describe("corpusVersionOfSources", () => {
  it("names the version whose source kinds match, in order, whatever the package versions", () => {
    expect(corpusVersionOfSources(v1Labels)).toBe("v1");
    expect(corpusVersionOfSources(v2Labels)).toBe("v2");
    expect(corpusVersionOfSources(v2Labels.map((l) => l.replace(/@[\d.]+\)$/, "@0.0.1)")))).toBe("v2");
  });

  it("is null for other text: a subset, another order, --text folders", () => {
    expect(corpusVersionOfSources(v2Labels.slice(0, -1))).toBeNull();
    expect(corpusVersionOfSources([...v1Labels].reverse())).toBeNull();
    expect(corpusVersionOfSources(["text-dir (/data/my-text)"])).toBeNull();
    expect(corpusVersionOfSources([])).toBeNull();
  });
});

describe("corpusSources with a model folder", () => {
  const v2Model = modelDir("v2-model", { sources: v2Labels });
  const v1Model = modelDir("v1-model", { sources: v1Labels });

  it("reads the model's training corpus when no corpus flag is given", () => {
    expect(modelCorpusVersion(v2Model)).toBe("v2");
    expect(corpusSources(noFlags, v2Model)).toEqual(CORPUS_V2_SOURCES);
    expect(corpusSources(noFlags, v1Model)).toEqual(CORPUS_V1_SOURCES);
  });

  it("lets --corpus, --text and --jsonl win over the model's corpus", () => {
    expect(corpusSources({ ...noFlags, corpus: "v1" }, v2Model)).toEqual(CORPUS_V1_SOURCES);
    expect(corpusSources({ text: ["/data/t"], jsonl: [] }, v2Model)).toEqual([{ kind: "text-dir", path: "/data/t" }]);
  });

  it("falls back to the default without a readable record of a packaged corpus", () => {
    const cases = [
      path.join(scratch, "missing"),
      modelDir("broken-json", { raw: "{ not json" }),
      modelDir("no-sources", { raw: JSON.stringify({ data: {} }) }),
      modelDir("not-strings", { sources: [1, 2] }),
      modelDir("own-text", { sources: ["text-dir (/data/my-text)"] }),
    ];
    for (const dir of cases) {
      expect(modelCorpusVersion(dir)).toBeNull();
      expect(corpusSources(noFlags, dir)).toEqual(DEFAULT_CORPUS_SOURCES);
    }
    expect(corpusSources(noFlags)).toEqual(DEFAULT_CORPUS_SOURCES);
  });
});
