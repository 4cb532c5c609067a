/**
 * `npm run bench`: throughput of the numeric core, native backend next to the TS backend, measured in one run.
 * Prints ratios, asserts nothing. Sections: `npm run bench [--only] NAME…` runs only those.
 *
 * analyze131k: selected by name it analyses 1,048,576 tokens (the full measurement, up to ~30 min); in the default
 * run (no names) it analyses 65,536 tokens and prints an extrapolation, labelled as such.
 */
import { benchAnalyze, benchAnalyze131k } from "./analyze.js";
import { benchKernels } from "./kernels.js";
import { benchModel } from "./model.js";
import { benchSae, benchSae131k, benchSaeAuxK } from "./sae.js";

const only = process.argv.slice(2).filter((a) => a !== "--only");
const sections: Record<string, () => Promise<void> | void> = {
  kernels: benchKernels,
  model: benchModel,
  sae: benchSae,
  sae131k: benchSae131k,
  saeAuxK: benchSaeAuxK,
  analyze: benchAnalyze,
  analyze131k: () => benchAnalyze131k(only.includes("analyze131k")),
};

const unknown = only.filter((n) => !(n in sections));
if (unknown.length) {
  console.error(`bench: unknown section ${unknown.join(", ")}; sections: ${Object.keys(sections).join(", ")}`);
  process.exit(2);
}
for (const [name, run] of Object.entries(sections)) {
  if (only.length && !only.includes(name)) continue;
  await run();
}
