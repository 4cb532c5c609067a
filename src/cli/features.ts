/**
 * `saekit features --run A/1 [--sort COL] [--desc|--asc] [--density-min X] [--density-max Y] [--bin I]
 *   [--domain code|prose|any] [--min-code-share X] [--max-code-share Y] [--limit N] [--offset N] [--json]`:
 * one page of a unit set's feature table (analysis/feature-table.ts), as a text table or JSON.
 */
import { type Command, InvalidArgumentError } from "commander";
import {
  CODE_DOMAIN_SPLIT, FEATURE_TABLE_COLUMNS, FEATURE_TABLE_DOMAINS, type FeatureTable, type FeatureTableColumn, type FeatureTableDomain,
} from "../analysis/feature-table.js";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import { dashboardService } from "../vis/service.js";
import { integerFlag, numberFlag } from "./flags.js";
import { terminalSafe } from "./terminal.js";

interface FeaturesFlags {
  run: string;
  models?: string;
  sort?: FeatureTableColumn;
  desc?: boolean;
  asc?: boolean;
  densityMin?: number;
  densityMax?: number;
  bin?: number;
  domain?: FeatureTableDomain;
  minCodeShare?: number;
  maxCodeShare?: number;
  limit: number;
  offset: number;
  json?: boolean;
}

const f4 = (v: number | null) => (v === null ? "–" : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3));

/** The table as text: one line per unit, columns aligned. */
export function formatFeatureTable(t: FeatureTable): string {
  const head = ["unit", "density", "max", "mean", "spec", "sens", "loss eff", "neuron", "r", "match", "r", "score", "code", "label"];
  const rows = t.rows.map((r) => [
    r.name, f4(r.density), f4(r.max), f4(r.mean), f4(r.specificity), f4(r.sensitivity), f4(r.lossEffect),
    r.neuron ?? "–", f4(r.neuronR), r.match ?? "–", f4(r.matchR), f4(r.score), r.codeShare === null ? "–" : r.codeShare.toFixed(2), r.label,
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((s, c) => (c === cells.length - 1 ? s : s.padEnd(widths[c]!))).join("  ");
  const end = Math.min(t.offset + t.rows.length, t.total);
  return [
    `${t.run}: ${t.total} of ${t.units} units match; rows ${t.total === 0 ? 0 : t.offset + 1}–${end}, sorted by ${t.sort} ${t.desc ? "descending" : "ascending"}`,
    line(head),
    ...rows.map(line),
    ...(t.codeShareAvailable ? [] : ["(code: no per-unit code share in this store; re-run `saekit analyze` to add it)"]),
  ].join("\n");
}

export function registerFeatures(program: Command): void {
  program
    .command("features")
    .description("the feature table of an analysed run: every unit's density, activations, proxy scores, loss effect, best neuron, best match, score and code share, sorted and filtered")
    .requiredOption("--run <set>", "the unit set (A/1, or A/neuron for a model's neurons)")
    .option("--models <dir>", "models folder with analysed runs (default: the shipped models)")
    .option("--sort <column>", `sort column: ${FEATURE_TABLE_COLUMNS.join(", ")} (default index)`, (v: string) => {
      if (!(FEATURE_TABLE_COLUMNS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--sort must be one of ${FEATURE_TABLE_COLUMNS.join(", ")}, got "${v}".`);
      return v as FeatureTableColumn;
    })
    .option("--desc", "descending (the default for every column but index)")
    .option("--asc", "ascending (the default for index)")
    .option("--density-min <x>", "only units with density ≥ x", numberFlag("--density-min", 0, 1, true))
    .option("--density-max <x>", "only units with density ≤ x", numberFlag("--density-max", 0, 1, true))
    .option("--bin <i>", "only units in bin i of the run's log10 density histogram (0 = 1e-7…10^-6.75)", integerFlag("--bin", 0))
    .option("--domain <domain>", `code (code share ≥ ${CODE_DOMAIN_SPLIT}: most of the unit's activation mass on code tokens), prose (below), or any`, (v: string) => {
      if (!(FEATURE_TABLE_DOMAINS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--domain must be one of ${FEATURE_TABLE_DOMAINS.join(", ")}, got "${v}".`);
      return v as FeatureTableDomain;
    })
    .option("--min-code-share <x>", "only units with code share ≥ x (share of activation mass on code tokens)", numberFlag("--min-code-share", 0, 1, true))
    .option("--max-code-share <x>", "only units with code share ≤ x", numberFlag("--max-code-share", 0, 1, true))
    .option("--limit <n>", "rows to show", integerFlag("--limit", 1), 50)
    .option("--offset <n>", "rows to skip", integerFlag("--offset", 0), 0)
    .option("--json", "print the table as JSON (the API's /api/features response)")
    .action((f: FeaturesFlags) => {
      if (f.desc && f.asc) throw new Error("--desc and --asc contradict each other; give one");
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        const table = dashboardService(workspace).featureTable(f.run, {
          ...(f.sort ? { sort: f.sort } : {}),
          ...(f.desc ? { desc: true } : f.asc ? { desc: false } : {}),
          densityMin: f.densityMin, densityMax: f.densityMax, bin: f.bin,
          ...(f.domain !== undefined ? { domain: f.domain } : {}),
          minCodeShare: f.minCodeShare, maxCodeShare: f.maxCodeShare,
          limit: f.limit, offset: f.offset,
        });
        console.log(f.json ? JSON.stringify(table, null, 1) : terminalSafe(formatFeatureTable(table)));
      } finally {
        workspace.close();
      }
    });
}
