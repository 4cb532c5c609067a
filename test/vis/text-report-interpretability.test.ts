/** The text report's interpretability line for each kind of best proxy (interpretability.ts' spec forms). */
import { describe, expect, it } from "vitest";
import { interpretabilityProxySpec } from "../../src/analysis/interpretability-summary.js";
import { formatUnitReport } from "../../src/vis/text-report.js";
import { syntheticUnit } from "./fixtures.js";

const texts = { tokenText: (id: number) => [" of", " the", "def"][id]! };

describe("text report: the best proxy of every kind", () => {
  it("shows the spec, and plain words for after-sets and bigrams", () => {
    const report = (proxy: string) => formatUnitReport({ ...syntheticUnit(), interpretability: { score: 0.8123, spec: 0.75, sens: 0.9, proxy } }, null).split("\n");
    const after = report(interpretabilityProxySpec({ kind: "after", ids: [0, 1] }, texts));
    const at = after.findIndex((l) => l.startsWith("interpretability 0.812"));
    expect(after[at]).toContain('best proxy after:[" of"," the"]');
    expect(after[at + 1]).toBe("  (fires on the token after one of these tokens, whatever that token is)");
    const bigram = report(interpretabilityProxySpec({ kind: "bigram", ids: [1], previous: [0] }, texts));
    expect(bigram[bigram.findIndex((l) => l.startsWith("interpretability")) + 1]).toContain("second token of one of these [previous, current] pairs");
    const tokens = report(interpretabilityProxySpec({ kind: "tokens-domain", ids: [2], domain: "code" }, texts));
    const i = tokens.findIndex((l) => l.startsWith("interpretability"));
    expect(tokens[i]).toContain('best proxy tokens:["def"] in:code');
    expect(tokens[i + 1]).not.toMatch(/^ {2}\(/);
  });
});
