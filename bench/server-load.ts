/**
 * Load test of the dashboard server (bounded, loopback only): starts `saekit serve` as a child process on
 * 127.0.0.1 with a free port, drives it from this process, prints req/s and p50/p99 per phase, and stops it.
 *
 *   npm run build && node dist/bench/server-load.js [--models DIR] [--workers N] [--seconds S] [--run A/1] [--phases unit,prompt,mixed,give-up]
 *
 * Phases (each at most --seconds, default 10, and at most 100,000 requests):
 *   unit     16 clients: GET /api/unit/RUN/i (random i) and every 8th request GET /api/runs
 *   prompt   8 clients: POST /api/prompt with a ~128-token prompt
 *   mixed    30 clients keep a prompt in flight while 4 clients GET /api/runs and /api/unit/… (the target of
 *            issue 13: those answer with p99 < 200 ms)
 *   give-up  30 clients post prompts and abandon each after 1 s (what used to stall the server), while 4 clients
 *            GET /api/runs; then the server must answer at once
 * Asserts nothing; exits 0 unless the server fails to start. The machine's load (os.loadavg) is printed first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MAX_REQUESTS = 100_000;
const PROMPT =
  "The children who were playing in the garden had not noticed that their mother was watching them from the kitchen window. " +
  "France, Germany and the United States signed the treaty; later Japan and Brazil joined, and the council met again in the spring. " +
  "import os\nfrom collections import defaultdict\n\ndef main():\n    counts = defaultdict(int)\n    for name in os.listdir('.'):\n" +
  "        counts[name[0]] += 1\n    return counts\n";

interface Options {
  models?: string;
  workers?: number;
  seconds: number;
  run: string;
  phases: Set<string>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 10, run: "A/1", phases: new Set(["unit", "prompt", "mixed", "give-up"]) };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--models") o.models = value;
    else if (flag === "--workers") o.workers = Number(value);
    else if (flag === "--seconds") o.seconds = Math.min(60, Number(value));
    else if (flag === "--run") o.run = value;
    else if (flag === "--phases") o.phases = new Set(value.split(","));
    else throw new Error(`unknown flag ${flag} (--models DIR, --workers N, --seconds S, --run A/1, --phases unit,prompt,mixed,give-up)`);
  }
  if (!(o.seconds > 0)) throw new Error("--seconds must be > 0 (at most 60)");
  return o;
}

/** Starts `saekit serve` on 127.0.0.1:0 and resolves with its URL. */
function startServer(o: Options): Promise<{ child: ChildProcess; url: URL }> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  const args = [path.join(root, "bin", "saekit.js"), "serve", "--host", "127.0.0.1", "--port", "0"];
  if (o.models) args.push("--models", o.models);
  if (o.workers !== undefined) args.push("--workers", String(o.workers));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start within 120 s:\n${out}`)), 120_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: new URL(m[1]!) });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${out}`));
    });
  });
}

interface Result {
  status: number;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(url: URL, method: "GET" | "POST", pathname: string, body?: string, abortAfterMs?: number): Promise<Result> {
  if (url.hostname !== "127.0.0.1") throw new Error("loopback only");
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port: url.port, path: pathname, method, agent, headers: body ? { "content-type": "application/json" } : {} }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on("error", () => resolve({ status: 0, ms: performance.now() - t0 }));
    if (abortAfterMs !== undefined) {
      setTimeout(() => req.destroy(), abortAfterMs);
    }
    req.end(body);
  });
}

class Stats {
  readonly times: number[] = [];
  readonly codes = new Map<number, number>();
  add(r: Result): void {
    this.times.push(r.ms);
    this.codes.set(r.status, (this.codes.get(r.status) ?? 0) + 1);
  }
  line(name: string, seconds: number): string {
    const t = [...this.times].sort((a, b) => a - b);
    const q = (p: number) => (t.length ? t[Math.min(t.length - 1, Math.floor(p * t.length))]! : NaN);
    const codes = [...this.codes].map(([c, n]) => `${c === 0 ? "aborted" : c}×${n}`).join(" ");
    return `${name.padEnd(22)} ${String(t.length).padStart(6)} req  ${(t.length / seconds).toFixed(1).padStart(8)} req/s  p50 ${q(0.5).toFixed(1).padStart(8)} ms  p99 ${q(0.99).toFixed(1).padStart(8)} ms  (${codes})`;
  }
}

/** `clients` closed-loop clients issuing `next()` until the deadline or the request cap. */
async function closedLoop(clients: number, deadline: number, stats: Stats, next: () => Promise<Result>, budget = { left: MAX_REQUESTS }): Promise<void> {
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < deadline && budget.left-- > 0) stats.add(await next());
  }));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min), ${os.availableParallelism()} cores; workers ${o.workers ?? "default (one per core but one)"}`);
  const { child, url } = await startServer(o);
  try {
    const runs = JSON.parse(await fetchText(url, "/api/runs")) as { runs: Array<{ name: string; units: number }> };
    const run = runs.runs.find((r) => r.name === o.run) ?? runs.runs[0]!;
    const units = run.units ?? 512;
    const unitPath = () => `/api/unit/${run.name}/${Math.floor(Math.random() * units)}`;
    const get = () => request(url, "GET", Math.random() < 1 / 8 ? "/api/runs" : unitPath());
    const prompt = (i: number) => request(url, "POST", "/api/prompt", JSON.stringify({ run: o.run, text: `${i} ${PROMPT}` }));
    const ms = o.seconds * 1000;
    // Warm-up: models and stores load on first use in every worker.
    await Promise.all(Array.from({ length: Math.max(1, o.workers ?? os.availableParallelism()) }, (_, i) => prompt(i)));

    let t0 = performance.now();
    let i = 0;
    if (o.phases.has("unit")) {
      const unit = new Stats();
      await closedLoop(16, t0 + ms, unit, get);
      console.log(unit.line("unit JSON (16 clients)", (performance.now() - t0) / 1000));
    }
    if (o.phases.has("prompt")) {
      t0 = performance.now();
      const prompts = new Stats();
      await closedLoop(8, t0 + ms, prompts, () => prompt(i++));
      console.log(prompts.line("prompts (8 clients)", (performance.now() - t0) / 1000));
    }
    if (!o.phases.has("mixed") && !o.phases.has("give-up")) return;

    t0 = performance.now();
    const mixedPrompts = new Stats();
    const mixedGets = new Stats();
    await Promise.all([closedLoop(30, t0 + ms, mixedPrompts, () => prompt(i++)), closedLoop(4, t0 + ms, mixedGets, get)]);
    const mixedSeconds = (performance.now() - t0) / 1000;
    console.log(mixedPrompts.line("mixed: prompts (30)", mixedSeconds));
    console.log(mixedGets.line("mixed: runs+unit (4)", mixedSeconds));

    t0 = performance.now();
    const gaveUp = new Stats();
    const during = new Stats();
    await Promise.all([
      closedLoop(30, t0 + ms, gaveUp, () => request(url, "POST", "/api/prompt", JSON.stringify({ run: o.run, text: `${i++} ${PROMPT}` }), 1000)),
      closedLoop(4, t0 + ms, during, get),
    ]);
    const after = await request(url, "GET", "/api/runs");
    const gaveUpSeconds = (performance.now() - t0) / 1000;
    console.log(gaveUp.line("give-up: prompts (30)", gaveUpSeconds));
    console.log(during.line("give-up: runs+unit (4)", gaveUpSeconds));
    console.log(`give-up: GET /api/runs right after: ${after.status} in ${after.ms.toFixed(1)} ms`);
  } finally {
    child.kill("SIGINT");
    agent.destroy();
  }
}

async function fetchText(url: URL, pathname: string): Promise<string> {
  const res = await fetch(new URL(pathname, url));
  return res.text();
}

await main();
