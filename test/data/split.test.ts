import { describe, expect, it } from "vitest";
import type { Document } from "../../src/data/document.js";
import { assignSplit, splitCorpus, splitKey } from "../../src/data/split.js";

const docs = (domain: "prose" | "code", count: number, prefix: string = domain): Document[] =>
  Array.from({ length: count }, (_, i) => ({ id: `${prefix}/${i}`, domain, text: `text ${i}` }));

describe("train/validation split", () => {
  it("depends only on the id", () => {
    expect(splitKey("brown/ca01")).toBe(splitKey("brown/ca01"));
    expect(splitKey("brown/ca01")).not.toBe(splitKey("brown/ca02"));
    const corpus = [...docs("prose", 300), ...docs("code", 200)];
    const a = splitCorpus(corpus, 0.1);
    const b = splitCorpus([...corpus].reverse(), 0.1);
    const ids = (s: Document[]) => s.map((d) => d.id).sort();
    expect(ids(a.prose.validation)).toEqual(ids(b.prose.validation));
    expect(ids(a.code.validation)).toEqual(ids(b.code.validation));
    // Adding documents does not move existing ones.
    const c = splitCorpus([...corpus, ...docs("prose", 50, "extra")], 0.1);
    expect(ids(c.prose.validation).filter((id) => !id.startsWith("extra/"))).toEqual(ids(a.prose.validation));
  });

  it("sends about the requested fraction to validation, per domain, and keeps every document once", () => {
    const corpus = [...docs("prose", 2000), ...docs("code", 2000)];
    const split = splitCorpus(corpus, 0.05);
    for (const domain of ["prose", "code"] as const) {
      const { train, validation } = split[domain];
      expect(train.length + validation.length).toBe(2000);
      expect(validation.length).toBeGreaterThan(60); // binomial(2000, 0.05): mean 100, sd ≈ 10
      expect(validation.length).toBeLessThan(140);
      expect(validation.every((d) => d.domain === domain && assignSplit(d.id, 0.05) === "validation")).toBe(true);
    }
  });

  it("gives each domain with at least two documents a non-empty validation and train split", () => {
    for (let n = 2; n <= 6; n++) {
      const split = splitCorpus([...docs("prose", n), ...docs("code", n)], 0.01);
      for (const domain of ["prose", "code"] as const) {
        expect(split[domain].validation.length).toBeGreaterThanOrEqual(1);
        expect(split[domain].train.length).toBeGreaterThanOrEqual(1);
      }
    }
    const all = splitCorpus(docs("code", 3), 1);
    expect(all.code.train).toHaveLength(1);
    const single = splitCorpus(docs("prose", 1), 0.05);
    expect(single.prose.train.length + single.prose.validation.length).toBe(1);
    expect(single.code.train).toHaveLength(0);
  });

  it("rejects fractions outside [0, 1]", () => {
    expect(() => splitCorpus(docs("prose", 3), 1.5)).toThrow(/validation fraction/);
  });
});
