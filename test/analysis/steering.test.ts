/**
 * Steering on the shipped A/1 (analysis/steering.ts through DashboardService.steer and `saekit steer`): its broad
 * " United" feature (top logits " States", " Nations") raises the probability of " States" by the largest factor; ×1 changes nothing; sampling
 * is seeded; specs parse as documented and bad ones are refused by name.
 */
import { afterAll, describe, expect, it } from "vitest";
import { parseSteerFeature, SteerSpecError } from "../../src/analysis/steering.js";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { dashboardService } from "../../src/vis/service.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { mergeTokenText } from "../../web/src/token-bytes.js";
import { densestFeatureWithTopToken } from "../helpers/shipped-features.js";

const ws = openWorkspace();
/** A/1's broad " United" feature (its index changes with each retraining). */
const UNITED = densestFeatureWithTopToken(ws, "A/1", " United");
const svc = dashboardService(ws);
afterAll(() => ws.close());
const out = captureCliOutput();

describe("steering", () => {
  it("parses =8 (clamp), =+8 / =-3 (add) and =*2 (scale), refusing other sets and bad values", () => {
    expect(parseSteerFeature("A/1/617=8", "A/1", 4096)).toEqual({ index: 617, mode: "clamp", value: 8 });
    expect(parseSteerFeature("617=+8", "A/1", 4096)).toEqual({ index: 617, mode: "add", value: 8 });
    expect(parseSteerFeature("617=-3", "A/1", 4096)).toEqual({ index: 617, mode: "add", value: -3 });
    expect(parseSteerFeature("617=*2", "A/1", 4096)).toEqual({ index: 617, mode: "scale", value: 2 });
    expect(() => parseSteerFeature("B/1/617=8", "A/1", 4096)).toThrow(/B\/1 is not the steered SAE's set A\/1/);
    expect(() => parseSteerFeature("9999=8", "A/1", 4096)).toThrow(/has 4096 features/);
    expect(() => parseSteerFeature("617", "A/1", 4096)).toThrow(SteerSpecError);
  });

  it("A/1's \" United\" feature at +8 raises the probability of \" States\" most, and at +16 steers the generated text towards it", () => {
    const r = svc.steer("A/1", "Last year I travelled to the", [`${UNITED.name}=+8`], { tokens: 12 });
    const states = r.nextToken.raised.find((s) => s.text === " States");
    expect(states).toBeDefined();
    expect(states!.after).toBeGreaterThan(10 * states!.before);
    // Ranked by the rise in probability, " States" (rare after "to the") may follow likelier words; by ratio it leads.
    const ratio = (s: { before: number; after: number }) => s.after / s.before;
    expect(Math.max(...r.nextToken.raised.map(ratio))).toBe(ratio(states!));
    // Generation: " States" comes more often, and without its " United".
    const g = svc.steer("A/1", "The president of the", [`${UNITED.name}=+16`], { tokens: 20 });
    const count = (t: string[], w: string) => t.filter((x) => x === w).length;
    expect(count(g.steered.tokens, " States")).toBeGreaterThan(count(g.unsteered.tokens, " States"));
    expect(count(g.steered.tokens, " United")).toBeLessThan(count(g.unsteered.tokens, " United"));
    expect(r.features).toEqual([{ name: UNITED.name, index: UNITED.index, mode: "add", value: 8, label: "+8" }]);
    expect(g.features).toEqual([{ name: UNITED.name, index: UNITED.index, mode: "add", value: 16, label: "+16" }]);
  });

  it("×1 changes nothing; a seeded temperature gives the same text twice", () => {
    const same = svc.steer("A/1", "The state of the union is", [`${UNITED.index}=*1`], { tokens: 6 });
    expect(same.steered).toEqual(same.unsteered);
    expect(same.nextToken.topAfter).toEqual(same.nextToken.topBefore);
    const a = svc.steer("A/1", "The state of the union is", [`${UNITED.index}=8`], { tokens: 8, temperature: 1, seed: 7 });
    const b = svc.steer("A/1", "The state of the union is", [`${UNITED.index}=8`], { tokens: 8, temperature: 1, seed: 7 });
    expect(b.steered.text).toBe(a.steered.text);
    expect(b.unsteered.text).toBe(a.unsteered.text);
    expect(() => svc.steer("A/1", "hi", [`${UNITED.index}=8`], { tokens: 500 })).toThrow(/tokens must be an integer in \[0, 128\]/);
    expect(() => svc.steer("A/neuron", "hi", ["3=8"])).toThrow(/steering needs an SAE run/);
  });

  it("sends each prompt token's bytes, so a Cyrillic prompt's split characters merge back into the prompt for display", () => {
    const prompt = "Привет, мир! Это";
    const r = svc.steer("A/1", prompt, [`${UNITED.index}=+8`], { tokens: 1 });
    expect(r.promptTokens.filter((t) => t.includes("\ufffd")).length).toBeGreaterThan(0); // alone, the halves are "�"
    expect(r.promptTokenBytes).toHaveLength(r.promptTokens.length);
    expect(Buffer.from(r.promptTokenBytes!.flat()).toString("utf8")).toBe(prompt);
    const pieces = mergeTokenText(r.promptTokens.map((text, i) => ({ text, bytes: r.promptTokenBytes![i]! })));
    expect(pieces.map((p) => p.text).join("")).toBe(prompt);
    expect(pieces[0]!.text).toBe("П"); // D0 9F split over tokens 0 and 1: shown on the first, the second shows nothing
    expect(pieces[1]!.text).toBe("");
  });

  it("saekit steer --json", async () => {
    await runCli("steer", "--sae", `${ws.root}/A/1`, "--feature", `${UNITED.name}=+16`, "--text", "Last year I travelled to the", "--tokens", "4", "--json");
    const r = JSON.parse(out.text()) as { nextToken: { raised: { text: string }[] }; steered: { tokens: string[] } };
    expect(r.nextToken.raised[0]!.text).toBe(" States");
    expect(r.steered.tokens).toHaveLength(4);
  });
});
