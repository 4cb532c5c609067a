/** `saekit prompt --position N`: the prediction at token N as the analysis computes it (shipped A/1). */
import { afterAll, describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { formatPrediction } from "../../src/cli/prompt.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";

const ws = openWorkspace();
afterAll(() => ws.close());
const out = captureCliOutput();
const TEXT = "France and the United States";

describe("saekit prompt --position", () => {
  it("prints the top next tokens and the features ranked by direct logit effect at that token", async () => {
    await runCli("prompt", "--sae", `${ws.root}/A/1`, "--text", TEXT, "--position", "3");
    const text = out.text();
    const p = ws.prompt("A/1", TEXT);
    const pred = p.tokens[3]!.prediction!;
    expect(text).toContain(`prediction at token 3 " United": actual next token " States" P=${(100 * pred.target.prob).toFixed(2)}%`);
    expect(text).toContain(`top next tokens: ${pred.top.map((x) => `${JSON.stringify(x.text)} ${(100 * x.prob).toFixed(2)}%`).join(", ")}`);
    const best = [...pred.features].sort((a, b) => b.logitEffect - a.logitEffect)[0]!;
    expect(text).toMatch(new RegExp(`${best.name}\\s+act\\s+${best.activation.toFixed(3)}\\s+logit\\s+\\+${best.logitEffect.toFixed(3)}`));
    expect(() => formatPrediction(p, 99)).toThrow("--position 99: the prompt has 5 tokens (0–4)");
  });
});
