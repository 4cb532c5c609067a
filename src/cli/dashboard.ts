/**
 * `saekit dashboard`: one self-contained HTML file (data, script and styles inlined; opens offline) for a feature or
 * neuron page, or for a prompt analysed live.
 *
 *   saekit dashboard --feature A/1/3450 --out f.html [--models DIR]
 *   saekit dashboard --prompt "…" [--run A/1] --out p.html [--models DIR]
 */
import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { openWorkspace, shippedModelsRoot, type Workspace } from "../analysis/workspace.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import type { CompareResponse, PromptAnalysis, StaticPageData, UnitRecord } from "../vis/api-types.js";
import { renderStaticPage } from "../vis/html.js";

interface DashboardFlags {
  feature?: string;
  prompt?: string;
  run?: string;
  out: string;
  models?: string;
}

/** Features of a prompt page whose records are inlined: the first of each ranking. */
export const PROMPT_PAGE_UNITS_PER_RANKING = 10;

/** The comparisons a feature page carries: with its best-correlated neuron and its best match in each compared run. */
export function featureComparisons(workspace: Workspace, unit: UnitRecord, warn: (message: string) => void = () => {}): CompareResponse[] {
  const others = [unit.neurons?.correlated[0]?.name, ...Object.values(unit.matches).map((m) => m.name)].filter((n): n is string => n !== undefined);
  const out: CompareResponse[] = [];
  for (const other of others) {
    try {
      out.push(workspace.compare(unit.name, other));
    } catch (e) {
      warn(`no comparison of ${unit.name} with ${other}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** The static page of a feature (or neuron). */
export function featurePageData(workspace: Workspace, name: string, warn?: (message: string) => void): StaticPageData & { page: "feature" } {
  const unit = workspace.unit(name);
  const run = workspace.runInfoOf(unit.name.slice(0, unit.name.lastIndexOf("/")));
  return { mode: "static", page: "feature", unit, run, comparisons: featureComparisons(workspace, unit, warn) };
}

/** The static page of a prompt: the analysis plus the records of its top-ranked features. */
export function promptPageData(workspace: Workspace, run: string, text: string): StaticPageData & { page: "prompt" } {
  const prompt: PromptAnalysis = workspace.prompt(run, text);
  const units: Record<string, UnitRecord> = {};
  for (const ranking of Object.values(prompt.rankings)) {
    for (const score of ranking.slice(0, PROMPT_PAGE_UNITS_PER_RANKING)) units[score.name] ??= workspace.unit(score.name);
  }
  return { mode: "static", page: "prompt", prompt, run: workspace.runInfoOf(run), units };
}

/** The run a prompt goes to without --run: A/1 when it can take prompts, else the first run that can. */
export function defaultPromptRun(workspace: Workspace): string {
  const runs = workspace.runs().filter((r) => r.promptable);
  const run = runs.find((r) => r.name === "A/1") ?? runs[0];
  if (!run) {
    const all = workspace.runs().map((r) => r.name);
    throw new Error(
      `no SAE run under ${workspace.root} can analyse prompts (it needs the investigation, the SAE weights and the model weights)` +
        (all.length > 0 ? `; runs: ${all.join(", ")}` : ""),
    );
  }
  return run.name;
}

function writePage(out: string, html: string): void {
  const dir = path.dirname(path.resolve(out));
  if (!fs.existsSync(dir)) throw new Error(`--out ${out}: the folder ${dir} does not exist`);
  writeFileAtomicSync(out, html);
  console.log(`wrote ${out} (${(Buffer.byteLength(html) / 1024).toFixed(0)} KB; opens offline in any browser)`);
}

export function registerDashboard(program: Command): void {
  program
    .command("dashboard")
    .description("write a self-contained HTML dashboard (opens offline) for a feature or neuron, or for a prompt")
    .option("--feature <name>", "the unit: a feature (A/1/3450) or a neuron (A/neuron/489)")
    .option("--prompt <text>", "analyse this prompt live and write the prompt page")
    .option("--run <name>", "SAE run for --prompt (default: A/1, else the first run that can take prompts)")
    .requiredOption("--out <file>", "HTML file to write")
    .option("--models <dir>", "models folder (default: the package's shipped models/)")
    .action((f: DashboardFlags) => {
      if ((f.feature === undefined) === (f.prompt === undefined)) {
        throw new Error("dashboard: give either --feature NAME or --prompt TEXT (exactly one)");
      }
      if (f.run !== undefined && f.prompt === undefined) throw new Error("dashboard: --run goes with --prompt (a feature name already names its run)");
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        if (f.feature !== undefined) {
          const data = featurePageData(workspace, f.feature, (m) => console.error(`warning: ${m}`));
          const title = `${data.unit.name} ${data.unit.label} — saekit`;
          writePage(f.out, renderStaticPage(data, title));
          console.log(`${data.unit.name}: ${data.comparisons.length} comparison${data.comparisons.length === 1 ? "" : "s"} (${data.comparisons.map((c) => c.b).join(", ") || "none"})`);
        } else {
          const run = f.run ?? defaultPromptRun(workspace);
          const data = promptPageData(workspace, run, f.prompt!);
          const shown = f.prompt!.length > 40 ? `${f.prompt!.slice(0, 37)}...` : f.prompt!;
          writePage(f.out, renderStaticPage(data, `${run}: ${shown} — saekit`));
          console.log(`${run}: ${data.prompt.tokens.length} tokens, ${Object.keys(data.units).length} feature records inlined`);
        }
      } finally {
        workspace.close();
      }
    });
}
