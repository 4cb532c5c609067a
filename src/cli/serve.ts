/** `saekit serve`: the dashboards (home, feature, neuron, prompt and search pages) for a models folder's investigations. */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { openWorkspace, shippedModelsRoot, type Workspace } from "../analysis/workspace.js";
import { createServer, listen } from "../web/server.js";

interface ServeFlags {
  models?: string;
  host: string;
  port: number;
}

/** --port: an integer in [0, 65535] (0 picks a free port). */
export function portFlag(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new InvalidArgumentError(`--port must be an integer in [0, 65535], got "${value}".`);
  return n;
}

/** The analyze command that computes the investigations of an SAE run folder (and its model's neurons). */
export function analyzeHint(root: string): string {
  return `saekit analyze --sae ${root}/A/1 (one run per SAE folder; add --compare ${root}/B/1 to match features across models)`;
}

/**
 * Serves `workspace` until SIGINT / SIGTERM (Ctrl-C): prints the URL (and `hint`), then closes the server and the
 * workspace and returns.
 */
export async function serveUntilStopped(
  workspace: Workspace, options: { host: string; port: number; banner: (url: string) => string },
): Promise<void> {
  const app = createServer(workspace);
  let url: string;
  try {
    url = await listen(app, { host: options.host, port: options.port });
  } catch (e) {
    workspace.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new Error(`port ${options.port} on ${options.host} is in use; pass --port N (or --port 0 for any free port)`);
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") throw new Error(`cannot bind --host ${options.host}: no such local address`);
    if (code === "EACCES") throw new Error(`no permission to listen on port ${options.port}; use a port above 1023`);
    throw e;
  }
  for (const p of workspace.problems) console.error(`warning: ${p}`);
  // Build the app bundle and load the tokenizers now rather than on the first page view.
  await app.inject({ method: "GET", url: "/" });
  workspace.warm();
  console.log(options.banner(url));
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      console.log(`\n${signal}: stopping the server`);
      void app.close().finally(() => {
        workspace.close();
        resolve();
      });
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve the dashboards (runs, feature and neuron pages, live prompts, search) for the investigations under a models folder")
    .option("--models <dir>", "models folder: model folders with their SAE runs and investigations (default: the package's shipped models/)")
    .option("--host <address>", "address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", portFlag, 8080)
    .action(async (f: ServeFlags) => {
      const root = f.models ?? shippedModelsRoot();
      const workspace = openWorkspace(root);
      if (workspace.runs().length === 0) {
        const why = workspace.problems.length > 0 ? `:\n  ${workspace.problems.join("\n  ")}\n` : "; ";
        workspace.close();
        throw new Error(`no investigations under ${root}${why}compute them first with ${analyzeHint(root)}`);
      }
      await serveUntilStopped(workspace, {
        host: f.host,
        port: f.port,
        banner: (url) =>
          `saekit serve: ${workspace.runs().map((r) => r.name).join(", ")} from ${workspace.root}\n` +
          `open ${url}  (Ctrl-C stops the server)`,
      });
    });
}
