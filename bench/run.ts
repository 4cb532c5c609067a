/**
 * `npm run bench`: throughput of the numeric core, native backend next to the TS backend, measured in one run.
 * Prints ratios, asserts nothing. Later stages (model training, SAE training, analysis) add their sections here.
 */
import { benchAnalyze } from "./analyze.js";
import { benchKernels } from "./kernels.js";
import { benchModel } from "./model.js";
import { benchSae } from "./sae.js";

const sections: Record<string, () => Promise<void> | void> = {
  kernels: benchKernels,
  model: benchModel,
  sae: benchSae,
  analyze: benchAnalyze,
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(sections)) {
  if (only.length && !only.includes(name)) continue;
  await run();
}
