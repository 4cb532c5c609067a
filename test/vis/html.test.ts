import { describe, expect, it } from "vitest";
import { appBundle } from "../../src/vis/bundle.js";
import { appShellHtml, APP_CSS_PATH, APP_JS_PATH, jsonForScript, renderStaticPage } from "../../src/vis/html.js";
import type { StaticPageData } from "../../src/vis/api-types.js";
import { NASTY_TOKEN, syntheticFeaturePage, syntheticPromptPage } from "./fixtures.js";

function dataOf(html: string): StaticPageData {
  const m = /<script type="application\/json" id="saekit-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as StaticPageData;
}

describe("app bundle", () => {
  it("builds the app with Chart.js into one IIFE and caches it", () => {
    const b = appBundle();
    expect(b.js.length).toBeGreaterThan(100_000); // Chart.js is in it
    expect(b.js).not.toMatch(/^\s*import\s|\bimport\(|require\(["']chart/);
    expect(b.css).toContain(".panel");
    expect(b.version).toMatch(/^[0-9a-f]{12}$/);
    expect(appBundle()).toBe(b);
  });
});

describe("renderStaticPage", () => {
  const feature = syntheticFeaturePage();
  const html = renderStaticPage(feature, "A/1/3450 · ' the' after a preposition");

  it("is self-contained: no external src or href, no external URL in link/script/img tags", () => {
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/<link[^>]+rel=["']?stylesheet/i);
    expect(html).not.toMatch(/<script[^>]+\bsrc=/i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    expect(html).toContain("<style>");
    // Not even in the inlined bundle (Chart.js's license comments are dropped).
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("inlines the data so it parses back unchanged", () => {
    expect(dataOf(html)).toEqual(JSON.parse(JSON.stringify(feature)));
  });

  it("escapes </script> inside token text", () => {
    expect(JSON.stringify(feature)).toContain(NASTY_TOKEN);
    const scripts = html.match(/<script\b/gi) ?? [];
    const closes = html.match(/<\/script>/gi) ?? [];
    expect(scripts.length).toBe(2);
    expect(closes.length).toBe(2);
    expect(html).not.toContain(NASTY_TOKEN);
    expect(jsonForScript({ t: "</script>" })).toBe('{"t":"\\u003c/script>"}');
  });

  it("escapes the title", () => {
    const p = renderStaticPage(syntheticPromptPage(), "<b>prompt</b> & more");
    expect(p).toContain("<title>&lt;b&gt;prompt&lt;/b&gt; &amp; more</title>");
    expect(dataOf(p).page).toBe("prompt");
  });
});

describe("appShellHtml", () => {
  it("references the bundle with a version and has the app root", () => {
    const shell = appShellHtml({ title: "saekit <dev>" });
    const { version } = appBundle();
    expect(shell).toContain(`src="${APP_JS_PATH}?v=${version}"`);
    expect(shell).toContain(`href="${APP_CSS_PATH}?v=${version}"`);
    expect(shell).toContain('<div id="app">');
    expect(shell).toContain("<title>saekit &lt;dev&gt;</title>");
    expect(shell).not.toContain("saekit-data");
  });
});
