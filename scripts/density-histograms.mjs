#!/usr/bin/env node
// Prints the features' log10-density histograms of analysed runs side by side (Markdown, one column per run, a bar
// per bin), from each run's investigation/summary.json (`saekit analyze`), else its eval.json (`saekit sae eval
// --save`), with the dead count and the ultra-low-density shares (issue 18's cluster, below 1e-4 and 1e-5).
// Usage: node scripts/density-histograms.mjs RUN_DIR… [--from eval|summary]
import fs from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const fromAt = args.indexOf("--from");
const from = fromAt >= 0 ? args.splice(fromAt, 2)[1] : null;
if (args.length === 0 || (from !== null && from !== "eval" && from !== "summary")) {
  console.error("usage: node scripts/density-histograms.mjs RUN_DIR… [--from eval|summary]");
  process.exit(2);
}

/** A run's histogram, low-density shares and where they were measured. */
function load(dir) {
  const summaryPath = join(dir, "investigation", "summary.json");
  const evalPath = join(dir, "eval.json");
  if (from !== "eval" && fs.existsSync(summaryPath)) {
    const s = JSON.parse(fs.readFileSync(summaryPath, "utf8"));
    const tokens = s.runFigures?.sizes?.[0]?.tokens;
    return { name: dir, hist: s.densityHistogram, below: s.lowDensity, tokens, source: "analyze" };
  }
  if (from !== "summary" && fs.existsSync(evalPath)) {
    const e = JSON.parse(fs.readFileSync(evalPath, "utf8"));
    // eval.json keeps the never-firing count beside the histogram (lowDensity.dead), not in it.
    return { name: dir, hist: { ...e.densityHistogram, dead: e.lowDensity.dead }, below: e.lowDensity.below, tokens: e.lowDensity.tokens, source: "sae eval" };
  }
  console.error(`${dir}: neither investigation/summary.json nor eval.json${from ? ` (--from ${from})` : ""}`);
  process.exit(1);
}

const runs = args.map(load);
const edges = runs[0].hist.edges;
for (const r of runs) {
  if (JSON.stringify(r.hist.edges) !== JSON.stringify(edges)) {
    console.error(`${r.name}: its histogram bins differ from ${runs[0].name}'s; compare runs analysed the same way`);
    process.exit(1);
  }
}
// Bins from the first one any run fills to the last, so the tables stay short.
const filled = edges.slice(0, -1).map((_, i) => runs.some((r) => r.hist.counts[i] > 0));
const lo = filled.indexOf(true);
const hi = filled.lastIndexOf(true);
const BAR = 24;
const peak = Math.max(...runs.flatMap((r) => r.hist.counts));
const bar = (n) => "█".repeat(Math.round((BAR * n) / peak)) || (n > 0 ? "▏" : "");
// A run's folder name (MODEL/RUN inside a model folder), with as many parent folders as it takes to tell runs apart (sweep-A/l1-3 vs sweep-A-noaux/l1-3).
const partsOf = (r) => r.name.replace(/\/+$/, "").split("/").filter(Boolean);
// Runs inside a model folder (models/A/1) start as MODEL/RUN, as the paper names them.
const inModel = (r) => fs.existsSync(join(r.name, "..", "model.safetensors"));
let depth = runs.some(inModel) ? 2 : 1;
while (depth < Math.max(...runs.map((r) => partsOf(r).length)) && new Set(runs.map((r) => partsOf(r).slice(-depth).join("/"))).size < runs.length) depth++;
const label = (r) => partsOf(r).slice(-depth).join("/") || r.name;

console.log(`| log10 density | ${runs.map(label).join(" | ")} |`);
console.log(`|---|${runs.map(() => "---|").join("")}`);
for (let i = lo; i <= hi; i++) {
  const range = `${edges[i].toFixed(2)} … ${edges[i + 1].toFixed(2)}`;
  console.log(`| ${range} | ${runs.map((r) => `\`${bar(r.hist.counts[i]).padEnd(BAR)}\` ${r.hist.counts[i]}`).join(" | ")} |`);
}
console.log(`| never fire | ${runs.map((r) => r.hist.dead).join(" | ")} |`);
for (const [k, t] of runs[0].below.map((b, k) => [k, b.threshold])) {
  console.log(`| below ${t.toExponential(0)} (dead included) | ${runs.map((r) => `${r.below[k].count} (${(100 * r.below[k].share).toFixed(1)} %)`).join(" | ")} |`);
}
console.log(`| measured by | ${runs.map((r) => `${r.source}, ${r.tokens?.toLocaleString("en-US") ?? "?"} tokens`).join(" | ")} |`);
