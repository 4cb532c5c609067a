import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Document } from "../../src/data/document.js";
import { buildTokenShards, type TokenShardManifest } from "../../src/data/shards.js";
import { loadMobyDick } from "../../src/data/sources/mobyDick.js";
import { loadPythonStdlib } from "../../src/data/sources/pythonStdlib.js";
import { splitCorpus } from "../../src/data/split.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../../src/data/tokenizer.js";

/** Wraps a tokenizer to count encode calls, so a test can tell whether anything was tokenised. */
function countingTokenizer(inner: Tokenizer): Tokenizer & { encodeCalls: number } {
  return {
    name: inner.name,
    vocabSize: inner.vocabSize,
    eotId: inner.eotId,
    fingerprint: inner.fingerprint,
    encodeCalls: 0,
    encode(text: string) {
      this.encodeCalls += 1;
      return inner.encode(text);
    },
    decode: (ids) => inner.decode(ids),
    tokenText: (id) => inner.tokenText(id),
  };
}

const cacheDir = mkdtempSync(join(tmpdir(), "saekit-shards-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe("token shards", () => {
  let gpt2: Tokenizer;
  let documents: Document[];
  beforeAll(() => {
    gpt2 = loadGpt2Tokenizer();
    // A small real corpus: a dozen Moby-Dick chapters and a dozen short stdlib modules.
    documents = [...loadMobyDick().slice(2, 14), ...loadPythonStdlib().filter((d) => d.text.length < 4000).slice(0, 12)];
  });

  it("lays documents end to end after an end-of-text token and cuts nCtx-token sequences, dropping the remainder", () => {
    const nCtx = 64;
    const shards = buildTokenShards({ tokenizer: gpt2, documents, nCtx, validationFraction: 0.2, cacheDir });
    expect(shards.fromCache).toBe(false);
    const split = splitCorpus(documents, 0.2);
    for (const domain of ["prose", "code"] as const) {
      for (const name of ["train", "validation"] as const) {
        const docs = split[domain][name];
        expect(docs.length).toBeGreaterThan(0);
        const expected = docs.flatMap((d) => [gpt2.eotId, ...gpt2.encode(d.text)]);
        const stats = shards.manifest.shards[domain][name];
        expect(stats.documents).toBe(docs.length);
        expect(stats.tokens).toBe(expected.length);
        expect(stats.sequences).toBe(Math.floor(expected.length / nCtx));
        const tokens = shards.read(domain, name);
        expect(tokens).toBeInstanceOf(Int32Array);
        expect(tokens.length).toBe(stats.sequences * nCtx);
        expect(Array.from(tokens)).toEqual(expected.slice(0, tokens.length));
        expect(tokens[0]).toBe(gpt2.eotId);
        // One separator per document that made it (wholly or partly) into the kept sequences.
        const separators = tokens.filter((t) => t === gpt2.eotId).length;
        expect(separators).toBeGreaterThan(0);
        expect(separators).toBeLessThanOrEqual(docs.length);
      }
    }
  });

  it("loads a second call from the cache without tokenising", () => {
    const first = buildTokenShards({ tokenizer: countingTokenizer(gpt2), documents, nCtx: 32, cacheDir });
    const counting = countingTokenizer(gpt2);
    const second = buildTokenShards({ tokenizer: counting, documents, nCtx: 32, cacheDir });
    expect(second.fromCache).toBe(true);
    expect(counting.encodeCalls).toBe(0);
    expect(second.dir).toBe(first.dir);
    expect(second.manifest).toEqual(first.manifest);
    expect(second.read("prose", "train")).toEqual(first.read("prose", "train"));

    // Another context length, or changed text, is another cache entry.
    expect(buildTokenShards({ tokenizer: gpt2, documents, nCtx: 48, cacheDir }).dir).not.toBe(first.dir);
    const edited = documents.map((d, i) => (i === 0 ? { ...d, text: `${d.text} (edited)` } : d));
    expect(buildTokenShards({ tokenizer: gpt2, documents: edited, nCtx: 32, cacheDir }).fromCache).toBe(false);

    // A cache folder missing a shard file is rebuilt, not trusted.
    unlinkSync(join(first.dir, "code.validation.bin"));
    const rebuilt = buildTokenShards({ tokenizer: counting, documents, nCtx: 32, cacheDir });
    expect(rebuilt.fromCache).toBe(false);
    expect(counting.encodeCalls).toBeGreaterThan(0);
    expect(existsSync(join(first.dir, "code.validation.bin"))).toBe(true);
  });

  it("writes a manifest with the sources, tokenizer and token counts", () => {
    const file = join(cacheDir, "corpus.jsonl");
    writeFileSync(file, documents.map((d) => JSON.stringify(d)).join("\n"));
    const shards = buildTokenShards({ tokenizer: gpt2, sources: [{ kind: "jsonl", path: file }], nCtx: 16, cacheDir });
    const manifest = JSON.parse(readFileSync(join(shards.dir, "manifest.json"), "utf8")) as TokenShardManifest;
    expect(manifest.sources).toEqual([`jsonl ${file}`]);
    expect(manifest.tokenizer).toEqual({ name: "gpt2", fingerprint: gpt2.fingerprint, vocabSize: 50257, eotId: 50256 });
    expect(manifest.nCtx).toBe(16);
    expect(manifest.validationFraction).toBe(0.05);
    const total = (["prose", "code"] as const).reduce(
      (sum, domain) => sum + manifest.shards[domain].train.documents + manifest.shards[domain].validation.documents,
      0,
    );
    expect(total).toBe(documents.length);
    expect(manifest.shards.code.validation.keptTokens).toBe(manifest.shards.code.validation.sequences * 16);
    expect(readdirNoTemporaries(shards.dir)).toBe(true);
  });
});

function readdirNoTemporaries(dir: string): boolean {
  return !readdirSync(dir).some((name) => name.includes(".tmp-"));
}
