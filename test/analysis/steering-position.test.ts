/**
 * The next-token distribution shift at a chosen prompt position (analysis/steering.ts, `saekit steer --position`):
 * the probabilities are those of a plain forward pass at that token, with and without the steered hook.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Tape } from "../../src/core/autograd.js";
import { openWorkspace } from "../../src/analysis/workspace.js";
import type { SteerResult } from "../../src/analysis/steering.js";
import { dashboardService } from "../../src/vis/service.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { densestFeatureWithTopToken } from "../helpers/shipped-features.js";

const ws = openWorkspace();
/** A/1's broad " United" feature (its index changes with each retraining). */
const UNITED = densestFeatureWithTopToken(ws, "A/1", " United");
const svc = dashboardService(ws);
afterAll(() => ws.close());
const out = captureCliOutput();
const TEXT = "France and the United States";

describe("steering at a chosen position", () => {
  it("compares the distribution after the chosen token: 'before' is the unsteered model's softmax there", () => {
    const r = svc.steer("A/1", TEXT, [`${UNITED.index}=+8`], { tokens: 0, position: 2 });
    expect(r.nextToken.position).toBe(2);
    expect(r.nextToken.token).toBe(" the");
    const { unit, tokenizer } = ws.liveUnit("A/1/0");
    const ids = Int32Array.from(tokenizer.encode(TEXT));
    const V = unit.model.cfg.d_vocab;
    const { logits } = unit.model.forward(Tape.noGrad(), ids, 1, ids.length);
    const row = (logits!.value.data as Float32Array).subarray(2 * V, 3 * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    for (const s of r.nextToken.topBefore.slice(0, 5)) expect(s.before).toBeCloseTo(Math.exp(row[s.id]! - max) / sum, 5);
    // The default (the last token) is another distribution; a position past the prompt is refused.
    const last = svc.steer("A/1", TEXT, [`${UNITED.index}=+8`], { tokens: 0 });
    expect(last.nextToken.position).toBe(ids.length - 1);
    expect(r.nextToken.topBefore.map((s) => s.id)).not.toEqual(last.nextToken.topBefore.map((s) => s.id));
    expect(() => svc.steer("A/1", TEXT, [`${UNITED.index}=+8`], { tokens: 0, position: ids.length })).toThrow(`position must be a prompt token index in [0, ${ids.length - 1}], got ${ids.length}`);
  });

  it("saekit steer --position prints the shift at that token (text and --json)", async () => {
    await runCli("steer", "--sae", `${ws.root}/A/1`, "--feature", `${UNITED.name}=+8`, "--text", TEXT, "--tokens", "1", "--position", "3", "--json");
    const r = JSON.parse(out.text()) as SteerResult;
    const want = svc.steer("A/1", TEXT, [`${UNITED.index}=+8`], { tokens: 1, position: 3 });
    expect(r.nextToken).toEqual(want.nextToken);
    expect(r.nextToken.token).toBe(" United");
    out.clear();
    await runCli("steer", "--sae", `${ws.root}/A/1`, "--feature", `${UNITED.name}=+8`, "--text", TEXT, "--tokens", "1", "--position", "3");
    expect(out.text()).toContain('next token after " United" (prompt position 3)');
    out.clear();
    await runCli("steer", "--sae", `${ws.root}/A/1`, "--feature", `${UNITED.name}=+8`, "--text", TEXT, "--position", "-1");
    expect(out.text()).toMatch(/--position/);
    expect(process.exitCode).not.toBe(0);
  });
});
