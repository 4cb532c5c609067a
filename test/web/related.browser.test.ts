/**
 * Related units and the ablation's uncertainty in Chromium: on the fixture workspace (stores written by this analyze)
 * the feature page's matches panel shows the service's top-5 matches both ways (mutual / asymmetric flags, the best
 * match back, logit token overlap), the nearest-features panel the decoder-cosine and activation-r neighbours, a
 * neuron page its correlated features, the ablation panel the mean's standard error and n with the per-token effects
 * underlined in the top examples, and the feature table the SE in the loss effect's tooltip; on the shipped stores
 * (written before related units) the page shows what can be computed and says to re-run analyze for the rest.
 * Screenshots go to $SAEKIT_SCREENSHOTS (default test-artifacts/).
 */
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RelatedUnitsView } from "../../src/analysis/related-types.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { dashboardService } from "../../src/vis/service.js";
import { fmt, int } from "../../web/src/format.js";
import { ARTIFACTS, startBrowserSession, type BrowserSession } from "../helpers/browser.js";
import { buildFixture, D_SAE, DEAD, LIVE, type Fixture } from "./fixture.js";
import { densestFeatureWithTopToken } from "../helpers/shipped-features.js";

const SHOTS = process.env.SAEKIT_SCREENSHOTS ?? ARTIFACTS;
let fx: Fixture;
let ws: Workspace;
let session: BrowserSession;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  // Two busy cores: the first page (the app bundle, the tokenizer, the model for decoder neighbours) can take a while.
  session = await startBrowserSession(ws, { pageErrors, timeoutMs: 90_000 });
  page = session.page;
  await page.goto(`${session.url}feature/A/1/${LIVE}`);
  await page.locator("[data-testid=match-row]").first().waitFor();
}, 240_000);
afterAll(async () => {
  await session?.close();
  ws?.close();
  fx?.cleanup();
});

const attrs = (selector: string, name: string) => page.locator(selector).evaluateAll((els, n) => els.map((e) => e.getAttribute(n)), name);
const texts = (selector: string) => page.locator(selector).allTextContents();

async function shot(name: string, testid: string): Promise<void> {
  await page.locator(`[data-testid=${testid}]`).screenshot({ path: path.join(SHOTS, name) });
}

/** The matches panel of the page on show against a view: rows, r, flags, best match back, overlaps. */
async function expectMatches(view: RelatedUnitsView): Promise<void> {
  const run = view.runs[0]!;
  const rows = `[data-testid=related-run][data-run="${run.run}"] [data-testid=match-row]`;
  await page.locator(rows).first().waitFor();
  expect(await attrs(rows, "data-unit")).toEqual(run.matches.map((m) => m.name));
  expect(await attrs(rows, "data-mutual")).toEqual(run.matches.map((m) => (m.mutual === null ? "unknown" : String(m.mutual))));
  expect((await texts(`${rows} [data-testid=match-r]`)).map((t) => t.trim())).toEqual(run.matches.map((m) => fmt(m.r, 3)));
  expect(await texts(`${rows} [data-testid=overlap-top]`)).toEqual(run.matches.map((m) => `${m.logitOverlap!.top.shared}/${m.logitOverlap!.top.k} · J ${fmt(m.logitOverlap!.top.jaccard, 2)}`));
  expect(await texts(`${rows} [data-testid=overlap-bottom]`)).toEqual(run.matches.map((m) => `${m.logitOverlap!.bottom.shared}/${m.logitOverlap!.bottom.k} · J ${fmt(m.logitOverlap!.bottom.jaccard, 2)}`));
  const asym = run.matches.filter((m) => m.mutual === false);
  expect(await texts(`${rows}.asym [data-testid=reverse-link]`)).toEqual(asym.map((m) => m.reverse!.name));
  expect(await page.textContent("[data-testid=match-link]")).toBe(run.matches[0]!.name);
}

describe("related units on a store written with them", () => {
  it("feature page: top 5 matches both ways, flags, logit overlap, and the nearest features by decoder cosine and activation r", async () => {
    const service = dashboardService(ws);
    // A feature whose best match points back at another feature (the asymmetric case the panel flags).
    let name = `A/1/${LIVE}`;
    for (let f = 0; f < D_SAE; f++) {
      if (DEAD.includes(f)) continue;
      if (service.related(`A/1/${f}`).runs[0]!.matches[0]!.mutual === false) {
        name = `A/1/${f}`;
        break;
      }
    }
    const view = service.related(name);
    expect(view.runs[0]!.matches[0]!.mutual).toBe(false);
    await page.goto(`${session.url}feature/${name}`);
    await expectMatches(view);
    const first = page.locator("[data-testid=match-row]").first();
    expect(await first.getAttribute("class")).toContain("asym");
    expect(await first.locator(".flag-asym").textContent()).toContain(view.runs[0]!.matches[0]!.reverse!.name);
    expect(await page.locator("[data-testid=panel-match] .muted", { hasText: "top 5 by activation r" }).count()).toBe(1);

    const dec = "[data-testid=nearest-decoder] [data-testid=related-row]";
    expect(await attrs(dec, "data-unit")).toEqual(view.decoder!.map((d) => d.name));
    expect((await texts(`${dec} [data-testid=related-value]`)).map((t) => t.trim())).toEqual(view.decoder!.map((d) => fmt(d.value, 3)));
    const act = "[data-testid=nearest-activation] [data-testid=related-row]";
    expect(await attrs(act, "data-unit")).toEqual(view.coactivation!.map((d) => d.name));
    expect((await texts(`${act} [data-testid=related-value]`)).map((t) => t.trim())).toEqual(view.coactivation!.map((d) => fmt(d.value, 3)));
    expect(await page.locator("[data-testid=related-notes]").count()).toBe(0);
    await shot("related-matches.png", "panel-match");
    await shot("related-nearest.png", "panel-nearest");
    expect(pageErrors).toEqual([]);
  });

  it("neuron page: the features that correlate most with the neuron", async () => {
    const view = dashboardService(ws).related("A/neuron/3");
    await page.goto(`${session.url}neuron/A/3`);
    const rows = "[data-testid=neuron-features] [data-testid=related-row]";
    await page.locator(rows).first().waitFor();
    expect(await attrs(rows, "data-unit")).toEqual(view.features!.map((f) => f.name));
    expect((await texts(`${rows} [data-testid=related-value]`)).map((t) => t.trim())).toEqual(view.features!.map((f) => fmt(f.value, 3)));
    expect(await page.textContent("[data-testid=neuron-features] caption")).toBe("Features by Pearson r over the evaluation tokens");
    await expectMatches(view);
    await shot("related-neuron-features.png", "panel-neuron-features");
    expect(pageErrors).toEqual([]);
  });

  it("ablation: the mean's standard error and n; the per-token effects underlined in the top examples, not repeated", async () => {
    const u = ws.unit(`A/1/${LIVE}`);
    expect(u.ablation.standardError).toBeGreaterThan(0);
    await page.goto(`${session.url}feature/A/1/${LIVE}`);
    await page.locator("[data-testid=ablation-se]").waitFor();
    expect(await page.textContent("[data-testid=ablation-se] .stat-value")).toBe(`± ${fmt(u.ablation.standardError, 2)}`);
    expect(await page.textContent("[data-testid=ablation-sampled] .stat-value")).toBe(int(u.ablation.sampled));
    const note = (await page.textContent("[data-testid=panel-ablation] .note"))!;
    expect(note).toContain(`from ${u.ablation.sampled} sampled firing tokens`);
    expect(note).toContain("underlined in place in the top activations");
    expect(await page.locator("[data-testid=panel-ablation] [data-testid=example]").count()).toBe(0);
    // Every top-example token whose |Δlog-prob| is at least 2 % of the full-underline scale (the 90th percentile of
    // the |Δ| on show: tokens.ts deltaScale) is underlined (helped or hurt) in the top activations.
    const deltas = u.top.flatMap((e) => e.tokens).map((t) => t.logprobDelta).filter((d): d is number => d !== null && d !== 0).map(Math.abs).sort((a, b) => a - b);
    const scale = deltas[Math.floor(0.9 * (deltas.length - 1))]!;
    const underlined = deltas.filter((d) => Math.min(1, d / scale) >= 0.02).length;
    expect(underlined).toBeGreaterThan(3);
    expect(await page.locator("[data-testid=panel-examples] .tok.helped, [data-testid=panel-examples] .tok.hurt").count()).toBe(underlined);
    await shot("ablation-se.png", "panel-ablation");
    await page.locator("[data-testid=panel-examples]").screenshot({ path: path.join(SHOTS, "top-examples-underlined.png") });
    expect(pageErrors).toEqual([]);
  });

  it("feature table: the loss effect's tooltip gives its standard error and n", async () => {
    await page.goto(`${session.url}features/A/1?sort=index`);
    const cell = page.locator(`[data-testid=features-row][data-unit="A/1/${LIVE}"] [data-testid=features-loss-effect]`);
    await cell.waitFor();
    const u = ws.unit(`A/1/${LIVE}`);
    const c = ws.columnsOf("A/1");
    expect(await cell.getAttribute("title")).toBe(`${await cell.textContent()} ± ${fmt(c.meanLossEffectSE![LIVE], 2)} nats (standard error, n = ${u.ablation.sampled} sampled tokens)`);
  });
});

describe("related units on the shipped stores (written before them)", () => {
  let shipped: Workspace;
  let s2: BrowserSession;
  beforeAll(async () => {
    shipped = openWorkspace();
    s2 = await startBrowserSession(shipped, { pageErrors, timeoutMs: 90_000 });
  }, 60_000);
  afterAll(async () => {
    await s2?.close();
    shipped?.close();
  });

  it("A/1's ' United' feature: the stored best match with its best match back and logit overlap, decoder neighbours from the weights, a re-run note", async () => {
    const { name } = densestFeatureWithTopToken(shipped, "A/1", " United");
    const u = shipped.unit(name);
    const view = dashboardService(shipped).related(name);
    const best = u.matches["B/1"]!;
    const back = shipped.unit(best.name).matches["A/1"];
    const m0 = view.runs[0]!.matches[0]!;
    expect(m0.name).toBe(best.name);
    if (!u.related) {
      // Older store: one match, its best match back from B/1's own store, and notes naming what needs a re-run.
      expect(view.runs[0]!.source).toBe("best match");
      expect(m0.reverse?.name).toBe(back?.name);
      expect(view.coactivation).toBeNull();
      expect(view.notes.join("\n")).toMatch(/re-run `saekit analyze`/);
    }
    const p = s2.page;
    page = p;
    await p.goto(`${s2.url}feature/${name}`);
    await expectMatches(view);
    expect(await attrs("[data-testid=nearest-decoder] [data-testid=related-row]", "data-unit")).toEqual(view.decoder!.map((d) => d.name));
    if (!u.related) {
      expect(await p.textContent("[data-testid=nearest-activation]")).toContain("Re-run `saekit analyze` to see these.");
      expect(await p.textContent("[data-testid=panel-match] [data-testid=related-notes]")).toContain("only the best match is stored");
      expect(await p.getAttribute("[data-testid=ablation-se]", "title")).toMatch(/re-run `saekit analyze`/);
    }
    await p.locator("[data-testid=panel-match]").screenshot({ path: path.join(SHOTS, "related-matches-shipped-A1-united.png") });
    await p.locator("[data-testid=panel-nearest]").screenshot({ path: path.join(SHOTS, "related-nearest-shipped-A1-united.png") });
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
