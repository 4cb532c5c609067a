/** `saekit investigate A/1/3450 [--proxy SPEC]`: the whole investigation of one feature (or neuron) as a report and JSON. */
import type { Command } from "commander";
import { liveProxyReport } from "../analysis/live-proxy.js";
import type { ProxyReport } from "../analysis/unit-record.js";
import { parseProxy } from "../analysis/proxy.js";
import { openWorkspace, shippedModelsRoot } from "../analysis/workspace.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { formatUnitReport } from "../vis/text-report.js";
import { integerFlag } from "./flags.js";
import { terminalSafe } from "./terminal.js";
import { ProgressLine } from "./progress.js";

interface InvestigateFlags {
  models?: string;
  proxy?: string;
  json?: string;
  examples: number;
}

export function registerInvestigate(program: Command): void {
  program
    .command("investigate")
    .description("print the detailed investigation of one feature (A/1/3450) or neuron (A/neuron/489), optionally against your own proxy")
    .argument("<unit>", "MODEL/RUN/INDEX or MODEL/neuron/INDEX")
    .option("--models <dir>", "models folder with analysed runs (default: the shipped models)")
    .option(
      "--proxy <spec>",
      "score the unit against a proxy: tokens:A,B | tokens-ci:... | regex:PATTERN | context:PATTERN | script:Arabic | module:./proxy.js (default: the stored top-token proxy)",
    )
    .option("--json <file>", "also write the record (and the proxy report) as JSON")
    .option("--examples <n>", "top examples to print", integerFlag("--examples", 0), 10)
    .action(async (name: string, f: InvestigateFlags) => {
      const workspace = openWorkspace(f.models ?? shippedModelsRoot());
      try {
        const record = workspace.unit(name);
        let proxy: ProxyReport | null = record.proxy;
        if (f.proxy !== undefined) {
          if (f.proxy.trim() === "") throw new Error('--proxy is empty (an unset variable?); give a spec such as tokens:" United", or leave --proxy out for the stored proxy');
          const { unit, store, tokenizer } = workspace.liveUnit(name);
          const spec = await parseProxy(f.proxy, tokenizer);
          // A token-level proxy that holds nowhere in the vocabulary would stream the whole corpus to report 0 tokens.
          if (spec.tokenLevel && !spec.tokenScores().some((s) => s > 0)) {
            throw new Error(`--proxy ${JSON.stringify(f.proxy)} matches no token of the vocabulary (${tokenizer.vocabSize} tokens): ${spec.description}`);
          }
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
          }
        }
        console.log(terminalSafe(formatUnitReport(record, proxy, f.examples)));
        if (f.json) {
          writeFileAtomicSync(f.json, `${JSON.stringify({ unit: record, proxy }, null, 1)}\n`);
          console.log(`\nwrote ${f.json}`);
        }
      } finally {
        workspace.close();
      }
    });
}
