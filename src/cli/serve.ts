/** `saekit serve`: the dashboards (home, feature, neuron, prompt and search pages) for a models folder's investigations. */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { openWorkspace, shippedModelsRoot, type Workspace } from "../analysis/workspace.js";
import { AnalysisPool, DEFAULT_MAX_QUEUE, defaultWorkers } from "../web/analysis-pool.js";
import { bindWarning, createServer, listen, serviceError } from "../web/server.js";
import { collect, integerFlag } from "./flags.js";

interface ServeFlags extends ServerFlags {
  models?: string;
}

/** The flags `serve` and `demo` share: where to listen and how heavy requests are run. */
export interface ServerFlags {
  host: string;
  port: number;
  workers: number;
  maxQueue: number;
  allowHost: string[];
}

/** Adds --host, --port, --allow-host, --workers and --max-queue. */
export function serverOptions(command: Command): Command {
  return command
    .option("--host <address>", "address to listen on: 127.0.0.1 (this machine only); another address, or 0.0.0.0 for every interface, only when you mean it", "127.0.0.1")
    .option("--port <n>", "port (0: any free port)", portFlag, 8080)
    .option("--allow-host <name>", "also answer requests addressed to this host name (repeatable; e.g. the name a proxy forwards)", collect, [])
    .option("--workers <n>", "worker threads for live prompts and comparisons (default: one per core but one, at least 1; 0: on the main thread)", integerFlag("--workers", 0), defaultWorkers())
    .option("--max-queue <n>", "prompts and comparisons that may wait for a worker; more get 429 with Retry-After", integerFlag("--max-queue", 0), DEFAULT_MAX_QUEUE);
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
  workspace: Workspace, options: Partial<ServerFlags> & { host: string; port: number; banner: (url: string) => string },
): Promise<void> {
  if (options.host.trim() === "") {
    workspace.close();
    throw new Error('--host is empty (an unset variable?); use 127.0.0.1 for this machine only, or name the interface, e.g. --host 0.0.0.0 for all');
  }
  const workers = options.workers ?? defaultWorkers();
  const analysis = workers > 0 ? new AnalysisPool({ root: workspace.root, size: workers, maxQueue: options.maxQueue, errorFactory: serviceError }) : undefined;
  const app = createServer(workspace, { analysis, allowedHosts: options.allowHost ?? [] });
  let url: string;
  try {
    url = await listen(app, { host: options.host, port: options.port });
  } catch (e) {
    await app.close();
    workspace.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new Error(`port ${options.port} on ${options.host} is in use; pass --port N (or --port 0 for any free port)`);
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") throw new Error(`cannot bind --host ${options.host}: no such local address`);
    if (code === "EACCES") throw new Error(`no permission to listen on port ${options.port}; use a port above 1023`);
    throw e;
  }
  for (const p of workspace.problems) console.error(`warning: ${p}`);
  const warning = bindWarning(options.host);
  if (warning) console.error(`warning: ${warning}`);
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
  serverOptions(program
    .command("serve"))
    .description("serve the dashboards (runs, feature and neuron pages, live prompts, search) for the investigations under a models folder")
    .option("--models <dir>", "models folder: model folders with their SAE runs and investigations (default: the package's shipped models/)")
    .action(async (f: ServeFlags) => {
      const root = f.models ?? shippedModelsRoot();
      const workspace = openWorkspace(root);
      if (workspace.runs().length === 0) {
        const why = workspace.problems.length > 0 ? `:\n  ${workspace.problems.join("\n  ")}\n` : "; ";
        workspace.close();
        throw new Error(`no investigations under ${root}${why}compute them first with ${analyzeHint(root)}`);
      }
      await serveUntilStopped(workspace, {
        ...f,
        banner: (url) =>
          `saekit serve: ${workspace.runs().map((r) => r.name).join(", ")} from ${workspace.root}\n` +
          `open ${url}  (Ctrl-C stops the server)`,
      });
    });
}
