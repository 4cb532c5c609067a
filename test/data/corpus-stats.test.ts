import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatSourceStats } from "../../src/cli/corpus.js";
import { corpusSourceStats } from "../../src/data/corpus-stats.js";
import { assignSplit } from "../../src/data/split.js";
import { loadGpt2Tokenizer } from "../../src/data/tokenizer.js";

const scratch = mkdtempSync(join(tmpdir(), "saekit-corpus-stats-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("corpusSourceStats", () => {
  it("counts documents, characters and tokens (+1 end-of-text each) per source and split", () => {
    const prose = Array.from({ length: 40 }, (_, i) => ({ id: `p/${i}`, text: `Document number ${i} says hello.` }));
    const code = Array.from({ length: 30 }, (_, i) => ({ id: `c/${i}`, domain: "code", text: `def f${i}(x):\n    return x + ${i}\n` }));
    const a = join(scratch, "prose.jsonl");
    const b = join(scratch, "code.jsonl");
    writeFileSync(a, prose.map((d) => JSON.stringify(d)).join("\n"));
    writeFileSync(b, code.map((d) => JSON.stringify(d)).join("\n"));
    const tokenizer = loadGpt2Tokenizer();
    const stats = corpusSourceStats([{ kind: "jsonl", path: a }, { kind: "jsonl", path: b }], tokenizer);
    expect(stats.map((s) => s.domain)).toEqual(["prose", "code"]);
    for (const [s, docs] of [[stats[0]!, prose], [stats[1]!, code]] as const) {
      for (const split of ["train", "validation"] as const) {
        const mine = docs.filter((d) => assignSplit(d.id) === split);
        expect(s.splits[split].documents).toBe(mine.length);
        expect(s.splits[split].characters).toBe(mine.reduce((n, d) => n + d.text.length, 0));
        expect(s.splits[split].tokens).toBe(mine.reduce((n, d) => n + tokenizer.encode(d.text).length + 1, 0));
      }
      expect(s.duplicatesDropped).toBe(0);
    }
    const table = formatSourceStats(stats);
    expect(table.split("\n")).toHaveLength(1 + 2 + 2);
    expect(table).toContain(`total prose`);
    expect(table).toContain(stats[1]!.splits.train.tokens.toLocaleString("en-US"));
  });
});
