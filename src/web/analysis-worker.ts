/**
 * One analysis worker of the server's pool (analysis-pool.ts): its own Workspace over the models root, answering
 * {id, task} messages with {id, result} or {id, error}. Models, SAEs and stores load on first use, as on the main
 * thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openWorkspace } from "../analysis/workspace.js";
import { dashboardService } from "../vis/service.js";
import { runTask, type AnalysisTask } from "./analysis-pool.js";

const service = dashboardService(openWorkspace((workerData as { root: string }).root));

parentPort!.on("message", ({ id, task }: { id: number; task: AnalysisTask }) => {
  try {
    const result = runTask(service, task);
    parentPort!.postMessage({ id, result });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    parentPort!.postMessage({ id, error: { name: e.name, message: e.message, stack: e.stack } });
  }
});
