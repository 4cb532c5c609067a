/** The library surface (src/index.ts) and the import floors the architecture promises. */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as saekit from "../src/index.js";

describe("library surface", () => {
  it("exports every stage's entry point", () => {
    const entries = [
      "trainModel", "runModelFolderOnText", "loadModelFolder", "trainSae", "evaluateSae", "loadSaeFolder", "loadSaeRun",
      "analyzeRun", "ANALYZE_DEFAULTS", "evaluationTokens", "openInvestigation", "openWorkspace", "parseProxy", "liveProxyReport",
      "analyzePrompt", "dashboardService", "renderStaticPage", "formatUnitReport", "createServer", "listen", "parseUnitName",
      "outputDirections", "unembed",
    ];
    expect(entries.filter((k) => !(k in saekit))).toEqual([]);
    expect(saekit.ANALYZE_DEFAULTS.topK).toBe(20);
  });
});

/** Relative imports of a source file, resolved to repository paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^"';]*?from\s+"(\.[^"]+)"/g)) out.push(path.normalize(path.join(path.dirname(file), m[1]!)));
  return out;
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("import floors", () => {
  const root = path.resolve(import.meta.dirname, "..");
  const rel = (p: string) => path.relative(root, p);
  const violations = (from: string, forbidden: string[]) =>
    filesUnder(path.join(root, from)).flatMap((f) => importsOf(f).filter((i) => forbidden.some((x) => rel(i).startsWith(x))).map((i) => `${rel(f)} → ${rel(i)}`));

  it("the library never imports the CLI, analysis never imports vis or web, and the browser app reaches src/ only through saekit/* aliases", () => {
    const library = ["src/core", "src/io", "src/data", "src/model", "src/sae", "src/analysis", "src/vis", "src/web"];
    expect(library.flatMap((d) => violations(d, ["src/cli/"]))).toEqual([]);
    expect(violations("src/analysis", ["src/vis/", "src/web/"])).toEqual([]);
    expect(violations("src/vis", ["src/web/"])).toEqual([]);
    expect(violations("web/src", ["src/"])).toEqual([]);
    expect(violations("src", ["src/index.ts"]).filter((v) => !v.startsWith("src/index.ts"))).toEqual([]);
  });

  it("no file under src/analysis is over 450 lines and analyze.ts is at most 250", () => {
    const long = filesUnder(path.join(root, "src", "analysis"))
      .map((f) => ({ f: rel(f), n: fs.readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter(({ n }) => n > 450);
    expect(long).toEqual([]);
    expect(fs.readFileSync(path.join(root, "src", "analysis", "analyze.ts"), "utf8").split("\n").length - 1).toBeLessThanOrEqual(250);
  });
});
