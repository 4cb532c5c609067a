/** The `saekit` command: one file per subcommand registers itself here; the CLI stays a thin layer. */
import { Command, CommanderError } from "commander";
import { registerAnalyze } from "./analyze.js";
import { registerCorpus } from "./corpus.js";
import { registerDashboard } from "./dashboard.js";
import { registerDemo } from "./demo.js";
import { registerDoctor } from "./doctor.js";
import { registerFamily } from "./family.js";
import { registerExport } from "./export.js";
import { registerFeatures } from "./features.js";
import { registerInvestigate } from "./investigate.js";
import { terminalSafe } from "./terminal.js";
import { registerPrompt } from "./prompt.js";
import { registerModelRun } from "./model-run.js";
import { registerModelTrain } from "./model-train.js";
import { packageInfo } from "../package-info.js";
import { registerSaeCache } from "./sae-cache.js";
import { registerSaeEval } from "./sae-eval.js";
import { registerSaeTrain } from "./sae-train.js";
import { registerSearch } from "./search.js";
import { registerRelated } from "./related.js";
import { registerServe } from "./serve.js";
import { registerSteer } from "./steer.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("saekit")
    .description("Sparse-autoencoder interpretability for small transformers: train, investigate and visualise features.")
    .version(packageInfo().version, "-V, --version", "print the saekit version")
    .showHelpAfterError("(run `saekit --help` for usage)");
  registerDoctor(program);
  registerCorpus(program);
  registerModelRun(program);
  registerModelTrain(program);
  registerSaeTrain(program);
  registerSaeCache(program);
  registerSaeEval(program);
  registerAnalyze(program);
  registerInvestigate(program);
  registerFamily(program);
  registerFeatures(program);
  registerExport(program);
  registerSearch(program);
  registerRelated(program);
  registerSteer(program);
  registerPrompt(program);
  registerServe(program);
  registerDemo(program);
  registerDashboard(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    // Messages quote user input (unit names, proxy specs, file names): no raw control characters to the terminal.
    console.error(`saekit: ${terminalSafe((e as Error).message)}`);
    process.exitCode = 1;
  }
}
