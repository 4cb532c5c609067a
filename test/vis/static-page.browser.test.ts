/**
 * Real-browser check of the self-contained pages: written to a temp dir, opened from file:// in Chromium
 * (playwright-core), panels and data asserted, charts checked for drawn pixels, screenshots in test-artifacts/.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderStaticPage } from "../../src/vis/html.js";
import { syntheticDeadPage, syntheticFeaturePage, syntheticPromptPage } from "./fixtures.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../test-artifacts");

interface Watched {
  page: Page;
  problems: string[];
}

/**
 * Canvases inside `selector` with drawn pixels (more than 200 non-transparent), and the total. Page-side code is a
 * string: the test program has no DOM types.
 */
async function drawnCanvases(page: Page, selector = "body"): Promise<{ drawn: number; total: number }> {
  return page.evaluate(`(() => {
    const canvases = [...document.querySelectorAll(${JSON.stringify(selector + " canvas")})];
    let drawn = 0;
    for (const c of canvases) {
      const ctx = c.getContext("2d");
      if (!ctx || c.width === 0 || c.height === 0) continue;
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
      if (ink > 200) drawn++;
    }
    return { drawn, total: canvases.length };
  })()`);
}

describe.skipIf(!fs.existsSync(CHROMIUM))("static pages in Chromium", () => {
  let browser: Browser;
  let dir: string;
  const feature = syntheticFeaturePage();
  const prompt = syntheticPromptPage();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-static-"));
    fs.writeFileSync(path.join(dir, "feature.html"), renderStaticPage(feature, `${feature.unit.name} · saekit`));
    fs.writeFileSync(path.join(dir, "prompt.html"), renderStaticPage(prompt, "prompt · saekit"));
    fs.writeFileSync(path.join(dir, "dead.html"), renderStaticPage(syntheticDeadPage(), "A/1/7 · saekit"));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function open(file: string, width = 1280): Promise<Watched> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, offline: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on("request", (r) => {
      if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) problems.push(`request: ${r.url()}`);
    });
    await page.goto(pathToFileURL(path.join(dir, file)).href);
    return { page, problems };
  }

  it("renders the feature page with every panel and its data", async () => {
    const { page, problems } = await open("feature.html");
    const u = feature.unit;
    await page.waitForSelector("[data-testid=unit-name]");
    await expect.poll(() => page.locator("[data-testid=compare-pair] canvas").count()).toBe(4);

    expect(await page.textContent("[data-testid=unit-name]")).toContain(u.name);
    expect(await page.textContent("[data-testid=unit-name]")).toContain(u.label);
    for (const id of ["activations", "proxy", "logits", "examples", "intervals", "ablation", "neurons", "match", "compare"]) {
      expect(await page.locator(`section[data-testid=panel-${id}]`).count(), id).toBe(1);
    }

    // Examples: one span per window token, with the activation as data and in the tooltip.
    const examples = page.locator("[data-testid=panel-examples] span[data-testid=token]");
    expect(await examples.count()).toBe(u.top.reduce((n, ex) => n + ex.tokens.length, 0));
    const first = u.top[0]!;
    const centre = first.tokens[first.position - first.start]!;
    const centreSpan = page.locator("[data-testid=panel-examples] [data-testid=example]").first().locator(".tok.centre");
    expect(Number(await centreSpan.getAttribute("data-activation"))).toBeCloseTo(centre.activation, 6);
    // Token details are a floating panel (web/src/tooltip.ts), not a title attribute.
    expect(await centreSpan.getAttribute("title")).toBeNull();
    await centreSpan.hover();
    expect(await page.textContent("[data-testid=token-tooltip]")).toMatch(/activation\s*8\.50/);
    expect(await page.locator("[data-testid=panel-intervals] span[data-testid=token]").count()).toBe(
      u.intervals.reduce((n, iv) => n + iv.examples.reduce((m, ex) => m + ex.tokens.length, 0), 0),
    );
    expect(await page.textContent("[data-testid=panel-intervals]")).toMatch(/INTERVAL 7\.08 – 8\.50 · CONTAINS 3\.0 %/);

    // Numbers.
    const activations = (await page.textContent("[data-testid=panel-activations]"))!;
    expect(activations).toContain("1.91 %"); // density 5000 / 262144
    expect(activations).toContain("8.50");
    const proxy = (await page.textContent("[data-testid=panel-proxy]"))!;
    expect(proxy).toContain("91.0 %");
    expect(proxy).toContain("37.0 %");
    expect(proxy).toContain("11,532");
    const logits = (await page.textContent("[data-testid=panel-logits]"))!;
    expect(logits).toContain("·city");
    expect(logits).toContain("↵");
    expect(await page.textContent("[data-testid=ablation-mean]")).toContain("+0.0412");
    // The ablation's per-token effects underline the top examples in place (no second list in the ablation panel).
    const deltas = page.locator("[data-testid=panel-examples] span[data-logprob-delta]");
    expect(await deltas.count()).toBeGreaterThan(100);
    expect(await page.locator("[data-testid=panel-examples] .tok.helped").count()).toBeGreaterThan(5);
    expect(await page.locator("[data-testid=panel-ablation] [data-testid=example]").count()).toBe(0);
    // A record without a standard error (a store written before it) says to re-run analyze.
    expect(await page.getAttribute("[data-testid=ablation-se]", "title")).toMatch(/re-run `saekit analyze`/);

    // Links: neurons and the compared run's match are not inlined, so they are text with a tooltip.
    expect(await page.locator("[data-testid=neuron-link]").count()).toBe(10);
    expect(await page.locator("[data-testid=neuron-link]").first().getAttribute("title")).toMatch(/saekit serve/);
    expect(await page.textContent("[data-testid=match-link]")).toBe("B/1/1187");
    expect(await page.textContent("[data-testid=panel-compare]")).toMatch(/r = 0\.720/);

    // Charts: activation histogram, proxy bins, logit histogram, 2 × 2 scatter plots — all drawn.
    expect(await drawnCanvases(page)).toEqual({ drawn: 7, total: 7 });
    await page.click("[data-testid=histogram-log]");
    expect(await drawnCanvases(page, "[data-testid=panel-activations]")).toEqual({ drawn: 1, total: 1 });
    await page.click("[data-testid=histogram-linear]");

    // The </script> token stayed text.
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
    expect(await page.locator("[data-testid=panel-examples]").textContent()).toContain("</script>");

    await page.screenshot({ path: path.join(ARTIFACTS, "static-feature.png"), fullPage: true });
    await page.locator("[data-testid=panel-activations]").screenshot({ path: path.join(ARTIFACTS, "static-feature-activations.png") });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("is not broken at 800 px", async () => {
    const { page, problems } = await open("feature.html", 800);
    await page.waitForSelector("[data-testid=panel-compare] canvas");
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, "static-feature-800.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("renders the prompt page: tokens, rankings, feature colouring, inlined unit links", async () => {
    const { page, problems } = await open("prompt.html");
    const p = prompt.prompt;
    await page.waitForSelector("[data-testid=prompt-token]");
    expect(await page.locator("span[data-testid=prompt-token]").count()).toBe(p.tokens.length);
    expect(await page.inputValue("textarea[data-testid=prompt-input]")).toBe(p.text);
    expect(await page.inputValue("select[data-testid=prompt-run]")).toBe("A/1");
    for (const key of ["maxActivation", "lossEffect", "logitEffect"] as const) {
      const rows = page.locator(`[data-testid=ranking-${key}] [data-testid=feature-link]`);
      expect(await rows.count(), key).toBe(p.rankings[key].length);
    }
    // The default colouring is the top max-activation feature; its active tokens carry their activation.
    const top = p.rankings.maxActivation[0]!.name;
    expect(await page.inputValue("select[data-testid=prompt-feature]")).toBe(top);
    const actives = p.tokens.filter((t) => t.features.some((f) => f.name === top)).length;
    expect(await page.locator("span[data-testid=prompt-token].on").count()).toBe(actives);
    await page.locator("span[data-testid=prompt-token]").first().hover();
    expect(await page.textContent("[data-testid=token-tooltip]")).toMatch(/top features|no active features/);

    // Picking another feature from a ranking row recolours and records it in the URL.
    const other = p.rankings.lossEffect.find((s) => s.name !== top)!;
    await page.locator(`[data-testid=ranking-lossEffect] tr[data-feature="${other.name}"] td.num`).last().click();
    expect(await page.inputValue("select[data-testid=prompt-feature]")).toBe(other.name);
    expect(decodeURIComponent(new URL(page.url()).hash)).toContain(`feature=${other.name}`);

    await page.screenshot({ path: path.join(ARTIFACTS, "static-prompt.png"), fullPage: true });

    // A.1/3450 is inlined: its link opens the feature dashboard in the same file; the others are text.
    const inlined = page.locator("[data-testid=ranking-maxActivation] a[data-testid=feature-link]", { hasText: "A/1/3450" });
    expect(await inlined.count()).toBe(1);
    await inlined.click();
    await page.waitForSelector("[data-testid=unit-name]");
    expect(await page.textContent("[data-testid=unit-name]")).toContain("A/1/3450");
    expect(await page.locator("[data-testid=panel-examples] span[data-testid=token]").count()).toBeGreaterThan(100);
    await page.goBack();
    await page.waitForSelector("[data-testid=prompt-token]");
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("renders a dead unit (empty examples, null effects, NaN r) without errors", async () => {
    const { page, problems } = await open("dead.html");
    await page.waitForSelector("[data-testid=unit-name]");
    for (const id of ["activations", "proxy", "logits", "examples", "intervals", "ablation", "neurons", "match", "compare"]) {
      expect(await page.locator(`section[data-testid=panel-${id}]`).count(), id).toBe(1);
    }
    expect(await page.locator("span[data-testid=token]").count()).toBe(0);
    expect(await page.textContent("[data-testid=panel-examples]")).toContain("No examples");
    expect(await page.textContent("[data-testid=ablation-mean]")).toContain("—");
    expect(await page.textContent("[data-testid=panel-compare]")).toContain("saekit serve");
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
