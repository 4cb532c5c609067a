/** analyze's text report of the run-level figures and family links (analysis/run-figures.ts, family.ts). */
import type { AnalyzeResult } from "../analysis/analyze.js";
import { formatSizePoint, type RHistogram } from "../analysis/run-figures.js";
import { formatThreshold } from "../sae/density.js";
import { sparkline } from "../vis/text-report.js";

function rLine(label: string, h: RHistogram): string {
  let acc = 0;
  let median = Number.NaN;
  // The median bin of all live units (non-positive ones below the first bin).
  const half = h.units / 2;
  if (h.nonPositive >= half) median = 0;
  else {
    acc = h.nonPositive;
    for (let i = 0; i < h.counts.length; i++) {
      acc += h.counts[i]!;
      if (acc >= half) {
        median = (h.edges[i]! + h.edges[i + 1]!) / 2;
        break;
      }
    }
  }
  return `  ${label.padEnd(22)} 0 ${sparkline(h.counts)} 1   ${h.units} live, ${h.nonPositive} with r ≤ 0 or no match, ${h.counts.slice(Math.round(h.counts.length / 2)).reduce((a, b) => a + b, 0)} with r ≥ 0.5; median bin ≈ ${Number.isNaN(median) ? "–" : median.toFixed(3)}`;
}

export function runFiguresReport(result: AnalyzeResult): string[] {
  const lines: string[] = [];
  for (const s of result.family) {
    lines.push(s.side === "larger"
      ? `family: ${s.run} (${s.units.toLocaleString("en-US")} features, larger): ${s.linked.toLocaleString("en-US")} features have children there`
      : `family: ${s.run} (${s.units.toLocaleString("en-US")} features, smaller): ${s.linked.toLocaleString("en-US")} features have a parent there`);
  }
  const h = result.densityHistogram;
  const cut = Math.max(...result.lowDensity.below.map((b) => b.threshold));
  const marks = h.counts.map((_, i) => (h.edges[i + 1]! <= Math.log10(cut) + 1e-9 ? "^" : " ")).join("");
  lines.push(`log10 density ${h.edges[0]} … ${h.edges[h.edges.length - 1]} (${h.dead} dead not shown; ^ = ultra-low-density cluster < ${formatThreshold(cut)})`);
  lines.push(`  ${sparkline(h.counts)}`, `  ${marks}`);
  for (const u of result.runFigures.universality) {
    lines.push(`universality histogram (best-match r over live units):`);
    lines.push(rLine(`features vs ${u.against}`, u.features));
    if (u.neurons) lines.push(rLine(`neurons vs ${u.neurons.against}`, u.neurons));
  }
  if (result.runFigures.sizes.length > 1) {
    lines.push("dead and ultra-low-density share by dictionary size:");
    for (const p of result.runFigures.sizes) lines.push(`  ${formatSizePoint(p)}`);
  }
  return lines;
}
