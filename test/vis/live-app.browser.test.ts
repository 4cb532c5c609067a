/**
 * The app in live mode against a stub of the server's routes (node:http, fixture data): routing, fetches, links
 * between pages, the prompt form and error display, in Chromium. Screenshots in test-artifacts/live-*.png.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompareResponse, RunsResponse, SearchResponse } from "../../src/vis/api-types.js";
import { appBundle } from "../../src/vis/bundle.js";
import { APP_CSS_PATH, APP_JS_PATH, appShellHtml } from "../../src/vis/html.js";
import { syntheticComparisons, syntheticNeuron, syntheticNeuronRun, syntheticPrompt, syntheticRun, syntheticUnit } from "./fixtures.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../test-artifacts");

const feature = syntheticUnit("A/1/3450");
const neuron = syntheticNeuron("A/neuron/489");
const units = new Map([
  [feature.name, feature],
  [neuron.name, neuron],
  ["B/1/1187", { ...syntheticUnit("B/1/1187", 9), matches: {} }],
]);
const comparisons = syntheticComparisons(feature);

/** A page-side expression (a string: the test program has no DOM types): the unit heading shows `name`. */
function unitNameIs(name: string): string {
  return `document.querySelector("[data-testid=unit-name]")?.textContent?.includes(${JSON.stringify(name)})`;
}

function stubServer(): http.Server {
  const bundle = appBundle();
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    const json = (status: number, body: unknown) => send(status, "application/json", JSON.stringify(body));
    const p = url.pathname;
    if (p === APP_JS_PATH) return send(200, "text/javascript", bundle.js);
    if (p === APP_CSS_PATH) return send(200, "text/css", bundle.css);
    if (p === "/api/runs") {
      const runs: RunsResponse = { runs: [syntheticRun("A/1"), { ...syntheticRun("B/1"), model: "B", promptable: false, compare: [] }, syntheticNeuronRun()] };
      return json(200, runs);
    }
    if (p.startsWith("/api/unit/")) {
      const name = decodeURIComponent(p.slice("/api/unit/".length));
      const u = units.get(name);
      return u ? json(200, u) : json(404, { error: `no unit ${name}` });
    }
    if (p === "/api/search") {
      const q = url.searchParams.get("q") ?? "";
      const hits: SearchResponse["hits"] = [...units.values()]
        .filter((u) => u.label.includes(q) || u.name.includes(q))
        .map((u) => ({ run: u.name.slice(0, u.name.lastIndexOf("/")), name: u.name, index: u.index, label: u.label, density: u.density, score: u.interpretability?.score ?? null, field: "label", text: u.label }));
      return json(200, { query: q, hits } satisfies SearchResponse);
    }
    if (p === "/api/compare") {
      const c = comparisons.find((x) => x.a === url.searchParams.get("a") && x.b === url.searchParams.get("b"));
      return c ? json(200, c satisfies CompareResponse) : json(404, { error: "no such pair" });
    }
    if (p === "/api/prompt" && req.method === "POST") {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const { run, text } = JSON.parse(body) as { run: string; text: string };
        if (text.includes("FAIL")) return json(500, { error: "the model is not loaded" });
        json(200, { ...syntheticPrompt(), run, text });
      });
      return;
    }
    if (p.startsWith("/api/")) return json(404, { error: `no route ${p}` });
    return send(200, "text/html; charset=utf-8", appShellHtml());
  });
}

describe.skipIf(!fs.existsSync(CHROMIUM))("live app against a stub server", () => {
  let browser: Browser;
  let server: http.Server;
  let base: string;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = stubServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      // The error tests get 404 and 500 answers on purpose; the browser logs those failed requests.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console.error: ${m.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("home: run cards with density histograms; search from the header", async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector("[data-testid=run-card]");
    expect(await page.locator("[data-testid=run-card]").count()).toBe(3);
    const a1 = page.locator("[data-testid=run-card][data-run='A/1']");
    expect(await a1.textContent()).toContain("95.9 %");
    expect(await a1.textContent()).toContain("15.46");
    expect(await a1.locator("[data-testid=run-universality]").textContent()).toContain("B/1");
    expect(await page.locator("[data-testid=density-histogram] canvas").count()).toBe(3);
    await page.screenshot({ path: path.join(ARTIFACTS, "live-home.png"), fullPage: true });

    await page.fill("input[data-testid=search-input]", "preposition");
    await page.press("input[data-testid=search-input]", "Enter");
    await page.waitForSelector("a[data-testid=search-result]");
    expect(new URL(page.url()).pathname).toBe("/search");
    expect(new URL(page.url()).searchParams.get("q")).toBe("preposition");
    expect(await page.locator("a[data-testid=search-result]").count()).toBe(3);
    await page.screenshot({ path: path.join(ARTIFACTS, "live-search.png") });
    await page.locator("a[data-testid=search-result]", { hasText: "A/1/3450" }).click();
    await page.waitForSelector("[data-testid=unit-name]");
    expect(new URL(page.url()).pathname).toBe("/feature/A/1/3450");
  });

  it("feature page: panels, compare scatters from /api/compare, links to the neuron and the match", async () => {
    await page.goto(`${base}/feature/A/1/3450`);
    await page.waitForSelector("[data-testid=unit-name]");
    await expect.poll(() => page.locator("[data-testid=panel-compare] canvas").count()).toBe(4);
    expect(await page.textContent("[data-testid=panel-compare]")).toContain("r = 0.720");
    const neuronLink = page.locator("a[data-testid=neuron-link]").first();
    expect(await neuronLink.getAttribute("href")).toBe("/neuron/A/489");
    expect(await page.locator("a[data-testid=match-link]").getAttribute("href")).toBe("/feature/B/1/1187");
    await page.screenshot({ path: path.join(ARTIFACTS, "live-feature.png"), fullPage: true });

    await neuronLink.click();
    await page.waitForFunction(unitNameIs("A/neuron/489"));
    expect(new URL(page.url()).pathname).toBe("/neuron/A/489");
    expect(await page.locator("[data-testid=panel-neurons]").count()).toBe(0);
    expect(await page.textContent("[data-testid=panel-match]")).toContain("No compared run");
    expect(await page.locator("[data-testid=panel-examples] span[data-testid=token]").count()).toBeGreaterThan(100);
    await page.screenshot({ path: path.join(ARTIFACTS, "live-neuron.png"), fullPage: true });

    await page.goBack();
    await page.waitForFunction(unitNameIs("A/1/3450"));
  });

  it("shows the server's error instead of a blank page", async () => {
    await page.goto(`${base}/feature/A/1/99999`);
    await page.waitForSelector("[data-testid=error]");
    expect(await page.textContent("[data-testid=error]")).toContain("no unit A/1/99999");
    expect(await page.locator("header.topbar").count()).toBe(1);
    await page.goto(`${base}/no/such/page`);
    expect(await page.textContent("main")).toContain("Page not found");
  });

  it("prompt page: analyse, colour by a feature, rankings link to feature pages; errors shown", async () => {
    await page.goto(`${base}/prompt`);
    await page.waitForSelector("textarea[data-testid=prompt-input]");
    expect(await page.locator("select[data-testid=prompt-run] option").allTextContents()).toEqual(["A/1"]);
    await page.fill("textarea[data-testid=prompt-input]", "The cat sat on the mat.");
    await page.click("[data-testid=prompt-submit]");
    await page.waitForSelector("span[data-testid=prompt-token]");
    const url = new URL(page.url());
    expect(url.pathname).toBe("/prompt");
    expect(url.searchParams.get("text")).toBe("The cat sat on the mat.");
    expect(url.searchParams.get("run")).toBe("A/1");
    expect(await page.locator("span[data-testid=prompt-token]").count()).toBe(syntheticPrompt().tokens.length);

    // ?feature= picks the colouring feature on load.
    await page.goto(`${base}/prompt?run=A/1&text=${encodeURIComponent("The cat")}&feature=A/1/12`);
    await page.waitForSelector("span[data-testid=prompt-token]");
    expect(await page.inputValue("select[data-testid=prompt-feature]")).toBe("A/1/12");
    await page.screenshot({ path: path.join(ARTIFACTS, "live-prompt.png"), fullPage: true });

    const link = page.locator("[data-testid=ranking-lossEffect] a[data-testid=feature-link]").first();
    const href = await link.getAttribute("href");
    expect(href).toMatch(/^\/feature\/A\/1\/\d+$/);

    await page.fill("textarea[data-testid=prompt-input]", "please FAIL");
    await page.click("[data-testid=prompt-submit]");
    await page.waitForSelector("[data-testid=error]");
    expect(await page.textContent("[data-testid=error]")).toContain("the model is not loaded");
  });

  it("had no page errors", () => {
    expect(problems).toEqual([]);
  });
});
