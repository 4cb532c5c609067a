/** `saekit investigate A/1/3450 [--proxy SPEC]`: the whole investigation of one feature (or neuron) as a report and JSON. */
import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { liveProxyReport } from "../analysis/investigate.js";
import type { ProxyReport } from "../analysis/investigation.js";
import { parseProxy } from "../analysis/proxy.js";
import { INVESTIGATION_DIR, openInvestigation } from "../analysis/store.js";
import { openWorkspace, parseUnitName, shippedModelsRoot } from "../analysis/workspace.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { loadGpt2Tokenizer } from "../data/tokenizer.js";
import { loadModelFolder } from "../model/checkpoint.js";
import { HookedTransformer } from "../model/transformer.js";
import { loadSaeRun } from "../sae/run-folder.js";
import { formatUnitReport } from "../vis/text-report.js";
import { integerFlag } from "./flags.js";
import { ProgressLine } from "./progress.js";

interface InvestigateFlags {
  models?: string;
  proxy?: string;
  json?: string;
  examples: number;
}

/** --models, else ./models when it exists, else the package's shipped models. */
export function modelsRoot(flag: string | undefined): string {
  if (flag) return flag;
  return fs.existsSync(path.join("models", "A")) ? "models" : shippedModelsRoot();
}

export function registerInvestigate(program: Command): void {
  program
    .command("investigate")
    .description("print the detailed investigation of one feature (A/1/3450) or neuron (A/neuron/489), optionally against your own proxy")
    .argument("<unit>", "MODEL/RUN/INDEX or MODEL/neuron/INDEX")
    .option("--models <dir>", "models folder with analysed runs (default ./models, else the shipped models)")
    .option(
      "--proxy <spec>",
      "score the unit against a proxy: tokens:A,B | tokens-ci:... | regex:PATTERN | context:PATTERN | script:Arabic | module:./proxy.js (default: the stored top-token proxy)",
    )
    .option("--json <file>", "also write the record (and the proxy report) as JSON")
    .option("--examples <n>", "top examples to print", integerFlag("--examples", 0), 10)
    .action(async (name: string, f: InvestigateFlags) => {
      const root = modelsRoot(f.models);
      const workspace = openWorkspace(root);
      try {
        const record = workspace.unit(name);
        let proxy: ProxyReport | null = record.proxy;
        if (f.proxy) {
          const parsed = parseUnitName(name);
          const tokenizer = loadGpt2Tokenizer();
          const spec = await parseProxy(f.proxy, tokenizer);
          let unit;
          let storeDir;
          if (parsed.run === "neuron") {
            const modelDir = path.join(root, parsed.model);
            const { cfg, weights } = loadModelFolder(modelDir);
            const model = new HookedTransformer(cfg, weights);
            storeDir = path.join(modelDir, INVESTIGATION_DIR);
            unit = { model, sae: null, hook: workspace.runInfoOf(parsed.runName).hook, index: parsed.index };
          } else {
            const run = loadSaeRun(path.join(root, parsed.model, parsed.run));
            storeDir = path.join(run.saeDir, INVESTIGATION_DIR);
            unit = { model: run.model, sae: run.sae, hook: run.hook, index: parsed.index };
          }
          const store = openInvestigation(storeDir, tokenizer);
          let bar: ProgressLine | undefined;
          try {
            proxy = await liveProxyReport(unit, store, spec, {
              onProgress: (done, total) => {
                bar ??= new ProgressLine({ total, unit: "tok" });
                bar.update(done, []);
              },
            });
          } finally {
            bar?.finish();
            store.close();
          }
        }
        console.log(formatUnitReport(record, proxy, f.examples));
        if (f.json) {
          writeFileAtomicSync(f.json, `${JSON.stringify({ unit: record, proxy }, null, 1)}\n`);
          console.log(`\nwrote ${f.json}`);
        }
      } finally {
        workspace.close();
      }
    });
}
