/** `saekit family A/1/N [--json]`: a feature's parent in the next smaller run and children in the next larger one. */
import type { Command } from "commander";
import type { FamilyView } from "../analysis/family-types.js";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import { visibleToken } from "../vis/text-report.js";
import { terminalSafe } from "./terminal.js";

interface FamilyFlags {
  models?: string;
  json?: boolean;
}

const num = (v: number | null, digits = 3) => (v === null ? "–" : v.toFixed(digits));

/** The family as text: one block per side, one row per member. */
export function formatFamily(name: string, label: string, family: FamilyView): string {
  const lines = [`${name}  ${label}`];
  for (const s of family.sides) {
    const head = s.side === "smaller" ? `parent in ${s.run} (${s.units.toLocaleString("en-US")} features, smaller)` : `children in ${s.run} (${s.units.toLocaleString("en-US")} features, larger)`;
    lines.push("", head + (s.available ? "" : ` — ${s.run} has no investigation here: no labels or top tokens`));
    lines.push(`  ${"relation".padEnd(18)} ${"feature".padEnd(12)} ${"cos".padStart(6)} ${"r".padStart(6)} ${"density".padStart(9)}  top tokens`);
    if (s.members.length === 0) lines.push("  (none)");
    for (const m of s.members) {
      lines.push(
        `  ${m.relation.padEnd(18)} ${m.name.padEnd(12)} ${num(m.cos).padStart(6)} ${num(m.r).padStart(6)} ${(m.density === null ? "–" : m.density.toExponential(2)).padStart(9)}  ${m.topTokens.map(visibleToken).join(" ")}`,
      );
    }
    if (s.weakChildren > 0) lines.push(`  (${s.weakChildren} more of ${s.run} have it as nearest at cosine < 0.3)`);
  }
  return lines.join("\n");
}

export function registerFamily(program: Command): void {
  program
    .command("family")
    .description("a feature's family across dictionary sizes: its parent in the next smaller run, its children in the next larger one (stored by analyze --family)")
    .argument("<feature>", "MODEL/RUN/INDEX, e.g. A/1/617")
    .option("--models <dir>", "models folder with analysed runs (default: the shipped models)")
    .option("--json", "print the family as JSON")
    .action((name: string, f: FamilyFlags) => {
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        const record = workspace.unit(name);
        if (record.kind !== "feature") throw new Error(`${record.name} is a neuron; families link SAE features across dictionary sizes (e.g. A/1/617)`);
        if (!record.family) {
          throw new Error(`${record.name}: its investigation has no family links; run saekit analyze --sae <run> --family <smaller run> <larger run> (e.g. --family models/A/0 models/A/2)`);
        }
        if (f.json) console.log(JSON.stringify({ name: record.name, label: record.label, density: record.density, family: record.family }, null, 1));
        else console.log(terminalSafe(formatFamily(record.name, record.label, record.family)));
      } finally {
        workspace.close();
      }
    });
}
