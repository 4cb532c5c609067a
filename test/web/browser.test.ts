/**
 * End to end in a real browser (Debian's chromium through playwright-core) against `createServer` listening on
 * 127.0.0.1: home, search, the feature page's panels with the fixture's numbers, a live prompt, a neuron page.
 * Screenshots go to test-artifacts/ (gitignored).
 */
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import type { UnitRecord } from "../../src/vis/api-types.js";
import { buildFixture, LIVE, type Fixture } from "./fixture.js";
import { ARTIFACTS, startBrowserSession, type BrowserSession } from "../helpers/browser.js";

let fx: Fixture;
let ws: Workspace;
let session: BrowserSession;
let server: FastifyInstance;
let url: string;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  session = await startBrowserSession(ws, { pageErrors, consoleErrors: true });
  ({ server, url, page } = session);
});
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const byTestId = (id: string, within: Page | Locator = page) => within.locator(`[data-testid="${id}"]`);

/** True once the canvas inside `box` has any non-transparent pixel (Chart.js has drawn it). */
async function expectDrawn(box: Locator): Promise<void> {
  const handle = await box.locator("canvas").first().elementHandle();
  await page.waitForFunction((c) => {
    // (The test compiles without the DOM library: the canvas API is stated structurally.)
    const canvas = c as unknown as { width: number; height: number; getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
    if (canvas.width === 0 || canvas.height === 0) return false;
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  }, handle);
}

/** The app's token label: spaces as "·", line breaks as "↵". */
const tokenLabel = (t: string) => (t.length === 0 ? "∅" : t.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/\r/g, "␍"));

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe("dashboards in chromium", () => {
  let unit: UnitRecord;

  it("home: one card per run with its density histogram", async () => {
    await page.goto(url);
    await expect.poll(() => byTestId("run-card").count()).toBe(4);
    const card = page.locator('[data-testid="run-card"][data-run="A/1"]');
    await expect.poll(() => card.textContent()).toMatch(/A\/1/);
    expect(await byTestId("run-dead", card).textContent()).toMatch(/^2\b/);
    // Ultra-low density next to dead: dead units count as below every threshold.
    const low = (await byTestId("run-low-density-1e-4", card).textContent()) ?? "";
    expect(low).toMatch(/^\d+ \(\d+\.\d %\)$/);
    expect(Number(low.split(" ")[0])).toBeGreaterThanOrEqual(2);
    await expectDrawn(byTestId("density-histogram", card));
    // Interpretability: features next to the model's neurons, the medians the store's summary holds.
    const ip = ws.runs().find((r) => r.name === "A/1")!.interpretability!;
    expect(await byTestId("run-interpretability", card).textContent()).toContain(`features ${ip.features!.median.toFixed(2)}, neurons ${ip.neurons!.median.toFixed(2)}`);
    await expectDrawn(byTestId("interpretability-histogram", card));
    await shot("home");
  });

  it("search, then open a result", async () => {
    unit = ws.unit(`A/1/${LIVE}`);
    const ex = unit.top[0]!;
    const word = ex.tokens[ex.position - ex.start]!.text.trim();
    await byTestId("search-input").fill(word);
    await byTestId("search-input").press("Enter");
    await page.waitForURL(/\/search\?q=/);
    const result = byTestId("search-result").filter({ hasText: `A/1/${LIVE}` }).first();
    await result.waitFor();
    await shot("search");
    await result.click();
    await page.waitForURL(new RegExp(`/feature/A/1/${LIVE}$`));
    await expect.poll(() => byTestId("unit-name").textContent()).toContain(`A/1/${LIVE}`);
  });

  it("the feature page's panels show the fixture's data", async () => {
    for (const id of ["panel-activations", "panel-proxy", "panel-logits", "panel-examples", "panel-intervals", "panel-ablation", "panel-neurons", "panel-match", "panel-compare"]) {
      await byTestId(id).waitFor();
    }
    expect(await byTestId("unit-name").textContent()).toContain(unit.label);
    expect(await byTestId("interp-score").textContent()).toContain(unit.interpretability!.score.toFixed(2));
    expect(await byTestId("interp-proxy").textContent()).toContain(unit.interpretability!.proxy.slice(0, 40));
    // Figures: firing count, and the activations of the top example's tokens.
    expect(await byTestId("stat-firing").textContent()).toContain(unit.firing.toLocaleString("en-US"));
    const tokens = byTestId("token", byTestId("panel-examples"));
    expect(await tokens.count()).toBe(unit.top.reduce((n, e) => n + e.tokens.length, 0));
    const shown = await tokens.evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-activation"))));
    expect(Math.max(...shown)).toBe(Math.max(...unit.top.flatMap((e) => e.tokens.map((t) => t.activation))));
    expect(Math.max(...shown)).toBeCloseTo(unit.maxActivation, 3);
    expect(shown.filter((a) => a > 0).length).toBe(unit.top.reduce((n, e) => n + e.tokens.filter((t) => t.activation > 0).length, 0));
    // Logit tokens.
    const logits = await byTestId("panel-logits").textContent();
    for (const t of [unit.logits.top[0]!, unit.logits.bottom[0]!]) expect(logits).toContain(tokenLabel(t.text));
    // Intervals, neurons and the B/1 match.
    expect(await byTestId("interval").count()).toBe(unit.intervals.length);
    expect(await byTestId("panel-neurons").textContent()).toContain(unit.neurons!.correlated[0]!.name);
    expect(await byTestId("match-link").first().textContent()).toBe(unit.matches["B/1"]!.name);
    // Charts: histograms and the comparison scatters (fetched from /api/compare).
    await expectDrawn(byTestId("panel-activations"));
    await expectDrawn(byTestId("panel-logits"));
    await byTestId("compare-activations").first().waitFor();
    expect(await byTestId("compare-activations").count()).toBe(2);
    for (const id of ["compare-activations", "compare-logits"]) await expectDrawn(byTestId(id).first());
    await shot("feature");
  });

  it("follows a neuron link to the neuron page", async () => {
    const link = byTestId("neuron-link", byTestId("panel-neurons")).first();
    const name = (await link.textContent())!.trim();
    expect(name).toMatch(/^A\/neuron\/\d+$/);
    await link.click();
    await page.waitForURL(new RegExp(`/neuron/A/${name.split("/")[2]}$`));
    await expect.poll(() => byTestId("unit-name").textContent()).toContain(name);
    const neuron = ws.unit(name);
    expect(await byTestId("stat-firing").textContent()).toContain(neuron.firing.toLocaleString("en-US"));
    expect(await byTestId("panel-neurons").count()).toBe(0);
    await expectDrawn(byTestId("panel-logits"));
    await shot("neuron");
  });

  it("runs a prompt on the prompt page: tokens and the three rankings", async () => {
    const text = "def append(self, item):";
    await page.goto(`${url}prompt`);
    await byTestId("prompt-input").fill(text);
    await byTestId("prompt-run").selectOption("A/1");
    await byTestId("prompt-submit").click();
    await byTestId("prompt-token").first().waitFor();
    const expected = ws.prompt("A/1", text);
    const shown = await byTestId("prompt-token").allTextContents();
    expect(shown).toHaveLength(expected.tokens.length);
    for (const key of ["maxActivation", "lossEffect", "logitEffect"] as const) {
      const table = byTestId(`ranking-${key}`);
      await table.waitFor();
      const links = byTestId("feature-link", table);
      expect(await links.count()).toBe(expected.rankings[key].length);
      if (expected.rankings[key].length > 0) expect(await links.first().textContent()).toBe(expected.rankings[key][0]!.name);
    }
    await shot("prompt");
    // A ranking's feature link opens that feature.
    const first = byTestId("feature-link", byTestId("ranking-maxActivation")).first();
    const name = (await first.textContent())!.trim();
    await first.click();
    await expect.poll(() => byTestId("unit-name").textContent()).toContain(name);
  });

  it("raised no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
