/** POST /api/steer through the server's worker pool (AnalysisPool, as `serve` runs it) on the shipped A/1. */
import { afterAll, describe, expect, it } from "vitest";
import { openWorkspace } from "../../src/analysis/workspace.js";
import { dashboardService } from "../../src/vis/service.js";
import { AnalysisPool } from "../../src/web/analysis-pool.js";
import { createServer, serviceError } from "../../src/web/server.js";
import { densestFeatureWithTopToken } from "../helpers/shipped-features.js";

const ws = openWorkspace();
/** A/1's broad " United" feature (its index changes with each retraining). */
const UNITED = densestFeatureWithTopToken(ws, "A/1", " United");
const pool = new AnalysisPool({ root: ws.root, size: 1, errorFactory: serviceError });
const app = createServer(ws, { analysis: pool });
afterAll(async () => {
  await app.close();
  ws.close();
});

describe("POST /api/steer", () => {
  it("answers from a worker with the service's result; bad bodies and specs are 400, GET is 405", async () => {
    const body = { run: "A/1", text: "The president of the", features: [`${UNITED.index}=+8`], tokens: 6, temperature: 0.8, seed: 3 };
    const res = await app.inject({ method: "POST", url: "/api/steer", payload: body });
    expect(res.statusCode).toBe(200);
    const want = dashboardService(ws).steer("A/1", body.text, body.features, { tokens: 6, temperature: 0.8, seed: 3 });
    expect(res.json()).toEqual(JSON.parse(JSON.stringify(want)));
    for (const [payload, msg] of [
      [{ ...body, features: [`${UNITED.index}=zz`] }, /expected UNIT=VALUE/],
      [{ ...body, features: [] }, /"features" must be a list/],
      [{ ...body, tokens: "5" }, /"tokens" must be a number/],
      [{ ...body, run: "A/neuron" }, /steering needs an SAE run/],
      [{ ...body, text: " " }, /the prompt is empty/],
    ] as const) {
      const bad = await app.inject({ method: "POST", url: "/api/steer", payload });
      expect(bad.statusCode).toBe(400);
      expect((bad.json() as { error: string }).error).toMatch(msg);
    }
    expect((await app.inject({ method: "GET", url: "/api/steer" })).statusCode).toBe(405);
  });
});
