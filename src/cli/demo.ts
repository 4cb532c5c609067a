/** `saekit demo`: the dashboards of the package's shipped models and SAE runs, with a three-step tour. */
import type { Command } from "commander";
import path from "node:path";
import { openWorkspace, shippedModelsRoot, type Workspace } from "../analysis/workspace.js";
import { serveUntilStopped, serverOptions, type ServerFlags } from "./serve.js";

type DemoFlags = ServerFlags;

/** The command that computes the shipped investigations (features of A/1 matched against B/1, and A's neurons). */
export const SHIPPED_ANALYZE_COMMAND = "saekit analyze --sae A/1 --compare B/1";

/**
 * The run the tour starts from: the first feature run matched against another model's run (the shipped A/1, against
 * B/1: its pages show universality too), else the first feature run. Runs list in name order, so A/0 comes first.
 */
export function demoRun<R extends { kind: string; compare: readonly unknown[] }>(runs: readonly R[]): R | undefined {
  const features = runs.filter((r) => r.kind === "feature");
  return features.find((r) => r.compare.length > 0) ?? features[0];
}

/** A feature worth opening first: fires now and then (0.1–5 % of tokens) and matters most for the loss. */
export function exampleFeature(workspace: Workspace, run: string): string | null {
  const c = workspace.columnsOf(run);
  let best = -1;
  let bestScore = -Infinity;
  for (let i = 0; i < c.density.length; i++) {
    const d = c.density[i]!;
    if (!(d >= 1e-3 && d <= 0.05)) continue;
    const effect = c.meanLossEffect[i]!;
    const score = Number.isFinite(effect) ? effect : c.maxActivation[i]! * 1e-6;
    if (score > bestScore) [best, bestScore] = [i, score];
  }
  return best >= 0 ? `${run}/${best}` : null;
}

export function registerDemo(program: Command): void {
  serverOptions(program
    .command("demo")
    .description("serve the dashboards of the shipped models (A, B) and SAE runs, and print where to start"))
    .action(async (f: DemoFlags) => {
      const root = shippedModelsRoot();
      const missing = () =>
        new Error(
          // from inside the models root, so the command holds for the saekit-models package and for a checkout alike
          `the shipped investigations are missing (${path.join(root, "A", "1", "investigation")}); compute them with:\n` +
            `  cd ${root} && ${SHIPPED_ANALYZE_COMMAND}`,
        );
      let workspace: Workspace;
      try {
        workspace = openWorkspace(root);
      } catch {
        throw missing();
      }
      const featureRun = demoRun(workspace.runs());
      if (!featureRun) {
        const problems = workspace.problems;
        workspace.close();
        const e = missing();
        if (problems.length > 0) e.message += `\n(${problems.join("; ")})`;
        throw e;
      }
      const example = exampleFeature(workspace, featureRun.name);
      await serveUntilStopped(workspace, {
        ...f,
        banner: (url) =>
          [
            `saekit demo: ${workspace.runs().map((r) => r.name).join(", ")} — dashboards at ${url}`,
            "",
            `  1. Open ${url} — one card per run (feature density histogram, dead and dense features); click a run or search for a token, e.g. "def".`,
            `  2. Open a feature page${example ? `, e.g. ${url}feature/${example}` : ""}: its max-activating examples, activation intervals, logit weights, ablation effect and the neurons behind it; follow a neuron or a ${featureRun.compare[0]?.name ?? "B/1"} match to compare them.`,
            `  3. Open ${url}prompt${featureRun.promptable ? "" : " (needs the model and SAE weights)"}, type a sentence or a line of code, and see which features fire on each token and which matter most for the prediction.`,
            "",
            "Ctrl-C stops the server.",
          ].join("\n"),
      });
    });
}
