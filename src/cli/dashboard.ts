/**
 * `saekit dashboard`: one self-contained HTML file (data, script and styles inlined; opens offline) for a feature or
 * neuron page, or for a prompt analysed live.
 *
 *   saekit dashboard --feature A/1/3450 --out f.html [--models DIR]
 *   saekit dashboard --prompt "…" [--run A/1] --out p.html [--models DIR]
 *   saekit dashboard --atlas A --out atlas.html [--models DIR]      the feature atlas of model A (analyze --atlas)
 */
import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { renderStaticPage } from "../vis/html.js";
import { dashboardService } from "../vis/service.js";

interface DashboardFlags {
  feature?: string;
  prompt?: string;
  atlas?: string;
  run?: string;
  out: string;
  models?: string;
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
    .option("--atlas <model>", "the feature atlas of a model (e.g. A): every mapped feature, hover labels, colourings")
    .option("--run <name>", "SAE run for --prompt (default: A/1, else the first run that can take prompts)")
    .requiredOption("--out <file>", "HTML file to write")
    .option("--models <dir>", "models folder (default: the package's shipped models/)")
    .action((f: DashboardFlags) => {
      const given = [f.feature, f.prompt, f.atlas].filter((v) => v !== undefined).length;
      if (given !== 1) {
        throw new Error(`dashboard: give exactly one of --feature NAME, --prompt TEXT or --atlas MODEL${given > 1 ? ` (got ${given})` : ""}`);
      }
      if (f.run !== undefined && f.prompt === undefined) throw new Error("dashboard: --run goes with --prompt (a feature name already names its run)");
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      const service = dashboardService(workspace);
      try {
        if (f.atlas !== undefined) {
          const data = service.atlasPageData(f.atlas);
          writePage(f.out, renderStaticPage(data, `Atlas of ${data.atlas.model} — saekit`));
          console.log(`atlas of ${data.atlas.model}: ${data.atlas.x.length} points of ${data.atlas.runs.map((r) => r.name).join(", ")} (stored with ${data.atlas.source})`);
        } else if (f.feature !== undefined) {
          const data = service.featurePageData(f.feature, (m) => console.error(`warning: ${m}`));
          const title = `${data.unit.name} ${data.unit.label} — saekit`;
          writePage(f.out, renderStaticPage(data, title));
          console.log(`${data.unit.name}: ${data.comparisons.length} comparison${data.comparisons.length === 1 ? "" : "s"} (${data.comparisons.map((c) => c.b).join(", ") || "none"})`);
        } else {
          const run = f.run ?? service.defaultPromptRun();
          const data = service.promptPageData(run, f.prompt!);
          const shown = f.prompt!.length > 40 ? `${f.prompt!.slice(0, 37)}...` : f.prompt!;
          writePage(f.out, renderStaticPage(data, `${run}: ${shown} — saekit`));
          console.log(`${run}: ${data.prompt.tokens.length} tokens, ${Object.keys(data.units).length} feature records inlined`);
        }
      } finally {
        workspace.close();
      }
    });
}
