/**
 * `saekit related UNIT [--models DIR] [--json]`: a unit's related units as its page shows them (analysis/related-view.ts)
 * — its top matches in each compared run both ways (asymmetric pairs flagged), their top-k logit token overlap, the
 * nearest features of the same SAE by decoder cosine and by activation r, or a neuron's correlated features.
 */
import type { Command } from "commander";
import type { RelatedScored, RelatedUnitsView } from "../analysis/related-types.js";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import { dashboardService } from "../vis/service.js";
import { visibleToken } from "./search.js";
import { terminalSafe } from "./terminal.js";

const f3 = (v: number | null) => (v === null ? "–" : v.toFixed(3));

function table(rows: string[][]): string[] {
  const widths = rows.length ? rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length))) : [];
  return rows.map((row) => row.map((s, c) => (c === row.length - 1 ? s : s.padEnd(widths[c]!))).join("  "));
}

function scored(title: string, list: RelatedScored[] | null, what: string): string[] {
  if (list === null) return [];
  return ["", title, ...table([["unit", what, "label"], ...list.map((r) => [r.name, f3(r.value), r.label])])];
}

export function formatRelated(v: RelatedUnitsView): string {
  const lines = [`related units of ${v.unit}`];
  for (const run of v.runs) {
    lines.push("", `matches in ${run.run}${run.source === "analysis" ? "" : " (best match only: older store)"}`);
    lines.push(...table([
      ["#", "match", "r", "logit r", "top ∩", "bottom ∩", "its best match back", "label"],
      ...run.matches.map((m) => [
        String(m.rank), m.name, f3(m.r), f3(m.logitR),
        m.logitOverlap ? `${m.logitOverlap.top.shared}/${m.logitOverlap.top.k}` : "–",
        m.logitOverlap ? `${m.logitOverlap.bottom.shared}/${m.logitOverlap.bottom.k}` : "–",
        m.reverse ? (m.mutual ? "mutual" : `ASYMMETRIC: ${m.reverse.name} r=${f3(m.reverse.r)}`) : "unknown",
        m.label,
      ]),
    ]));
    const shared = run.matches[0]?.logitOverlap?.top.tokens ?? [];
    if (shared.length) lines.push(`  shared top logit tokens with ${run.matches[0]!.name}: ${shared.map(visibleToken).join(" ")}`);
  }
  lines.push(...scored("nearest features by decoder cosine", v.decoder, "cosine"));
  lines.push(...scored("nearest features by activation r", v.coactivation, "r"));
  lines.push(...scored(v.featuresSource === "best neuron" ? "features whose best-correlated neuron this is" : "features correlating most with this neuron", v.features, "r"));
  if (v.notes.length) lines.push("", ...v.notes.map((n) => `note: ${n}`));
  return lines.join("\n");
}

export function registerRelated(program: Command): void {
  program
    .command("related")
    .description("a unit's related units: top matches in compared runs both ways, logit token overlap, nearest features (decoder cosine, activation r), a neuron's features")
    .argument("<unit>", "a feature (A/1/617) or a neuron (A/neuron/489)")
    .option("--models <dir>", "models folder with analysed runs (default: the shipped models)")
    .option("--json", "print the API's RelatedUnitsView as JSON")
    .action((unit: string, f: { models?: string; json?: boolean }) => {
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        const v = dashboardService(workspace).related(unit);
        console.log(f.json ? JSON.stringify(v, null, 1) : terminalSafe(formatRelated(v)));
      } finally {
        workspace.close();
      }
    });
}
