/**
 * Where the server runs its heavy requests (a live prompt analysis, a unit comparison): off the main thread, so
 * GET /api/runs and /api/unit/… stay fast while prompts are computed.
 *
 *   AnalysisPool    node:worker_threads workers (default: one per core but one), each with its own Workspace over the
 *                   same models root and a single-threaded numeric core (SAEKIT_THREADS=1: the workers are the
 *                   parallelism);
 *   InlineExecutor  the same contract on the calling thread, one task at a time (tests, --workers 0).
 *
 * Both hold a bounded FIFO queue: beyond `maxQueue` waiting tasks a request fails at once with QueueFullError
 * (the server's 429 with Retry-After, from the observed mean task time). A queued task whose AbortSignal fires
 * (its client disconnected) is dropped without running; a task already running finishes (a prompt is bounded by
 * the model's context) and its result is discarded.
 *
 * Workers are plain ES modules: dist/src/web/analysis-worker.js when built; when running from the TypeScript
 * sources (tests, tsx) the worker entry is bundled once with esbuild into node_modules/.cache/saekit/.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { buildSync } from "esbuild";
import type { SteerOptions } from "../analysis/steering.js";
import type { DashboardService } from "../vis/service.js";

export type AnalysisTask =
  | { kind: "prompt"; run: string; text: string }
  | { kind: "compare"; a: string; b: string }
  | { kind: "steer"; run: string; text: string; features: string[]; options: SteerOptions };

/** What runs a task (the worker side, or inline): returns the API response object, or throws. */
export type AnalysisHandler = (task: AnalysisTask) => unknown;

/** A task answered by the dashboard service (what a worker and the inline executor both do). */
export function runTask(service: DashboardService, task: AnalysisTask): unknown {
  switch (task.kind) {
    case "prompt":
      return service.prompt(task.run, task.text);
    case "compare":
      return service.compare(task.a, task.b);
    case "steer":
      return service.steer(task.run, task.text, task.features, task.options);
  }
}

export interface AnalysisExecutor {
  /** Workers (1 for inline). */
  readonly size: number;
  run(task: AnalysisTask, signal?: AbortSignal): Promise<unknown>;
  stats(): ExecutorStats;
  close(): Promise<void>;
}

export interface ExecutorStats {
  size: number;
  running: number;
  queued: number;
  maxQueue: number;
  completed: number;
  failed: number;
  rejected: number;
  /** Queued tasks dropped because their client went away before they started. */
  abandoned: number;
  meanTaskMs: number;
}

/** The queue is full: retry after `retryAfterSeconds`. */
export class QueueFullError extends Error {
  override name = "QueueFullError";
  constructor(readonly retryAfterSeconds: number, message: string) {
    super(message);
  }
}

/** The task's client went away before it started. */
export class AbandonedError extends Error {
  override name = "AbandonedError";
}

/**
 * Default pool size: one worker per core but one, so the main thread keeps a core for the store reads and I/O
 * (measured on 2 cores: GET p99 134 ms with 1 worker, 218 ms with 2, while 30 prompts are in flight); at least 1.
 */
export function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/** Default queue bound: enough for a burst of page loads, small enough that a waiting client hears back soon. */
export const DEFAULT_MAX_QUEUE = 64;

interface Pending {
  task: AnalysisTask;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The bounded FIFO queue and bookkeeping both executors share; subclasses start tasks on a free slot. */
abstract class QueuedExecutor implements AnalysisExecutor {
  abstract readonly size: number;
  protected readonly queue: Pending[] = [];
  protected running = 0;
  private closed = false;
  private readonly counts = { completed: 0, failed: 0, rejected: 0, abandoned: 0, taskMs: 0 };

  constructor(readonly maxQueue: number) {
    if (!Number.isSafeInteger(maxQueue) || maxQueue < 0) throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);
  }

  run(task: AnalysisTask, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error("the analysis executor is closed"));
    if (signal?.aborted) {
      this.counts.abandoned++;
      return Promise.reject(new AbandonedError("the client went away"));
    }
    if (this.running >= this.size && this.queue.length >= this.maxQueue) {
      this.counts.rejected++;
      const mean = this.meanTaskMs() || 1000;
      const wait = Math.max(1, Math.ceil(((this.queue.length / this.size + 1) * mean) / 1000));
      return Promise.reject(new QueueFullError(wait, `the server is busy (${this.running} analyses running, ${this.queue.length} waiting); retry in ${wait} s`));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { task, resolve, reject, signal };
      if (signal) {
        pending.onAbort = () => {
          const at = this.queue.indexOf(pending);
          if (at < 0) return; // already started: it finishes, its result is dropped by the caller
          this.queue.splice(at, 1);
          this.counts.abandoned++;
          reject(new AbandonedError("the client went away before its analysis started"));
        };
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Starts queued tasks while a slot is free. */
  protected pump(): void {
    while (this.running < this.size && this.queue.length > 0 && this.hasFreeSlot()) {
      const pending = this.queue.shift()!;
      if (pending.onAbort) pending.signal!.removeEventListener("abort", pending.onAbort);
      this.running++;
      const t0 = performance.now();
      this.execute(pending.task).then(
        (value) => {
          this.counts.completed++;
          this.counts.taskMs += performance.now() - t0;
          pending.resolve(value);
        },
        (error: unknown) => {
          this.counts.failed++;
          this.counts.taskMs += performance.now() - t0;
          pending.reject(error);
        },
      ).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  protected hasFreeSlot(): boolean {
    return true;
  }

  protected abstract execute(task: AnalysisTask): Promise<unknown>;

  private meanTaskMs(): number {
    const n = this.counts.completed + this.counts.failed;
    return n > 0 ? this.counts.taskMs / n : 0;
  }

  stats(): ExecutorStats {
    return {
      size: this.size, running: this.running, queued: this.queue.length, maxQueue: this.maxQueue, completed: this.counts.completed,
      failed: this.counts.failed, rejected: this.counts.rejected, abandoned: this.counts.abandoned, meanTaskMs: this.meanTaskMs(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new AbandonedError("the server is closing"));
  }
}

/** Runs tasks on the calling thread, one at a time, each in its own macrotask (so the queue forms and I/O interleaves). */
export class InlineExecutor extends QueuedExecutor {
  readonly size = 1;

  constructor(private readonly handler: AnalysisHandler, maxQueue = DEFAULT_MAX_QUEUE) {
    super(maxQueue);
  }

  protected execute(task: AnalysisTask): Promise<unknown> {
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(this.handler(task));
        } catch (error) {
          reject(error);
        }
      });
    });
  }
}

/** An error as it crosses the thread boundary. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** Rebuilds a worker's error on the main thread (e.g. as the server's own error classes, which map to statuses). */
export type ErrorFactory = (e: SerializedError) => Error;

export interface AnalysisPoolOptions {
  /** The models root every worker opens its Workspace over. */
  root: string;
  /** Workers (default: defaultWorkers()). */
  size?: number;
  maxQueue?: number;
  errorFactory?: ErrorFactory;
}

interface Slot {
  worker: Worker;
  busy: { id: number; resolve: (v: unknown) => void; reject: (e: unknown) => void } | null;
}

/** A fixed set of worker threads over one models root (see the module comment). */
export class AnalysisPool extends QueuedExecutor {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly root: string;
  private readonly errorFactory: ErrorFactory;
  private nextId = 1;
  private stopping = false;

  constructor(options: AnalysisPoolOptions) {
    super(options.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.size = options.size ?? defaultWorkers();
    if (!Number.isSafeInteger(this.size) || this.size < 1 || this.size > 256) throw new RangeError(`workers must be an integer in [1, 256], got ${this.size}`);
    this.root = options.root;
    this.errorFactory = options.errorFactory ?? ((e) => Object.assign(new Error(e.message), { name: e.name }));
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(workerEntry(), {
      workerData: { root: this.root },
      env: { ...process.env, SAEKIT_THREADS: "1" },
    });
    worker.unref();
    const slot: Slot = { worker, busy: null };
    worker.on("message", (m: { id: number; result?: unknown; error?: SerializedError }) => {
      const busy = slot.busy;
      if (!busy || busy.id !== m.id) return;
      slot.busy = null;
      if (m.error) busy.reject(this.errorFactory(m.error));
      else busy.resolve(m.result);
    });
    let lastError: Error | null = null;
    worker.on("error", (error) => {
      lastError = error;
    });
    // A worker that dies (an uncaught error, out of memory) fails its task and is replaced, so the pool keeps its size.
    worker.on("exit", (code) => {
      const busy = slot.busy;
      slot.busy = null;
      busy?.reject(new Error(`analysis worker stopped (exit code ${code})${lastError ? `: ${lastError.message}` : ""}`));
      if (this.stopping) return;
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots[at] = this.spawn();
      this.pump();
    });
    return slot;
  }

  protected override hasFreeSlot(): boolean {
    return this.slots.some((s) => s.busy === null);
  }

  protected execute(task: AnalysisTask): Promise<unknown> {
    const slot = this.slots.find((s) => s.busy === null)!;
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      slot.busy = { id, resolve, reject };
      slot.worker.postMessage({ id, task });
    });
  }

  override async close(): Promise<void> {
    await super.close();
    this.stopping = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

let bundledEntry: URL | null = null;

/** The worker's ES module: the compiled file beside this one, or the TypeScript source bundled once (see above). */
export function workerEntry(): URL {
  const compiled = new URL("./analysis-worker.js", import.meta.url);
  if (fs.existsSync(fileURLToPath(compiled))) return compiled;
  if (bundledEntry) return bundledEntry;
  const source = fileURLToPath(new URL("./analysis-worker.ts", import.meta.url));
  if (!fs.existsSync(source)) throw new Error(`analysis worker: neither ${fileURLToPath(compiled)} nor ${source} exists (run npm run build)`);
  const built = buildSync({ entryPoints: [source], bundle: true, platform: "node", format: "esm", packages: "external", write: false, logLevel: "silent" });
  const code = built.outputFiles[0]!.contents;
  // Inside the package (node_modules/.cache), so the bundle finds the package root, its dependencies and the addon.
  const dir = path.join(packageRootOf(source), "node_modules", ".cache", "saekit");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `analysis-worker-${createHash("sha1").update(code).digest("hex").slice(0, 16)}.mjs`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, file);
  }
  bundledEntry = new URL(`file://${file}`);
  return bundledEntry;
}

function packageRootOf(from: string): string {
  let dir = path.dirname(from);
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`analysis worker: no package.json above ${from}`);
    dir = up;
  }
  return dir;
}
