/**
 * The server under load and misuse (issue 13): heavy analyses run in a bounded pool (429 + Retry-After beyond it),
 * queued work of a client that went away is dropped, /api/compare is cached, worker threads give the main
 * thread's answers, an empty --host is refused, a non-loopback bind keeps a Host allow-list, and 500s are logged.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { runTask, AnalysisPool, InlineExecutor, type AnalysisTask } from "../../src/web/analysis-pool.js";
import { bindWarning, createServer, listen, serviceError } from "../../src/web/server.js";
import { dashboardService } from "../../src/vis/service.js";
import { buildFixture, LIVE, type Fixture } from "./fixture.js";

let fx: Fixture;
let ws: Workspace;

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
}, 60_000);
afterAll(() => {
  ws?.close();
  fx?.cleanup();
});

const prompt = (text: string) => ({ method: "POST" as const, url: "/api/prompt", headers: { "content-type": "application/json" }, payload: JSON.stringify({ run: "A/1", text }) });

/** An inline executor that records the tasks it starts; while `held`, a started task waits for `release()`. */
function gatedExecutor(maxQueue: number) {
  const service = dashboardService(ws);
  const started: AnalysisTask[] = [];
  let gate: Promise<void> | null = null;
  let open = () => {};
  const executor = new InlineExecutor((task) => {
    started.push(task);
    const answer = () => runTask(service, task);
    return gate ? gate.then(answer) : answer();
  }, maxQueue);
  return {
    executor, started,
    hold: () => { gate = new Promise((r) => (open = r)); },
    release: () => { gate = null; open(); },
  };
}

describe("server: heavy requests", () => {
  it("beyond the queue bound a prompt is 429 with Retry-After; the queued ones are answered", async () => {
    const { executor } = gatedExecutor(2);
    const app = createServer(ws, { analysis: executor });
    await app.ready();
    // 1 running + 2 queued fit; the other 3 are refused at once.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => app.inject(prompt(`the cat ${i}`))));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 200, 200, 429, 429, 429]);
    const busy = results.find((r) => r.statusCode === 429)!;
    expect(Number(busy.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(busy.json().error).toMatch(/busy.*retry in \d+ s/);
    expect(executor.stats()).toMatchObject({ completed: 3, rejected: 3 });
    await app.close();
  });

  it("drops queued work whose client disconnected, and answers the runs list meanwhile", async () => {
    const { executor, started, hold, release } = gatedExecutor(64);
    const app = createServer(ws, { analysis: executor });
    const url = await listen(app, { port: 0 });
    const { port } = new URL(url);
    hold();
    // Ten clients post a prompt (one runs, held; nine wait in the queue), then give up.
    const clients = Array.from({ length: 10 }, (_, i) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/api/prompt", method: "POST", headers: { "content-type": "application/json" } });
      req.on("error", () => {});
      req.end(JSON.stringify({ run: "A/1", text: `abandoned prompt number ${i}` }));
      return req;
    });
    await vi.waitFor(() => expect(executor.stats()).toMatchObject({ running: 1, queued: 9 }), { timeout: 10_000, interval: 5 });
    for (const req of clients) req.destroy();
    await vi.waitFor(() => expect(executor.stats().queued).toBe(0), { timeout: 10_000, interval: 5 });
    // Meanwhile the main thread answers.
    const runs = await fetch(`${url}api/runs`);
    expect(runs.status).toBe(200);
    release();
    const kept = await fetch(`${url}api/prompt`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ run: "A/1", text: "kept" }) });
    expect(kept.status).toBe(200);
    const stats = executor.stats();
    expect(stats.abandoned).toBe(9);
    expect(started).toHaveLength(2); // the one that was running when its client left, and the kept one
    await app.close();
  });

  it("caches /api/compare: the second identical request is not recomputed", async () => {
    const { executor, started } = gatedExecutor(8);
    const app = createServer(ws, { analysis: executor });
    const url = `/api/compare?a=A/1/${LIVE}&b=B/1/${LIVE}`;
    const first = await app.inject({ method: "GET", url });
    expect(first.statusCode, first.body).toBe(200);
    const second = await app.inject({ method: "GET", url });
    expect(second.body).toBe(first.body);
    expect(started.filter((t) => t.kind === "compare")).toHaveLength(1);
    await app.close();
  });

  it("worker threads answer prompts and comparisons exactly as the main thread does, and map errors to statuses", async () => {
    const pool = new AnalysisPool({ root: fx.root, size: 2, errorFactory: serviceError });
    const app = createServer(ws, { analysis: pool });
    const inline = createServer(ws);
    try {
      for (const req of [prompt("France, Germany and the United States"), { method: "GET" as const, url: `/api/compare?a=A/1/${LIVE}&b=A/neuron/3` }]) {
        const [a, b] = await Promise.all([app.inject(req), inline.inject(req)]);
        expect(a.statusCode, a.body).toBe(200);
        expect(a.json()).toEqual(b.json());
      }
      const bad = await app.inject({ ...prompt("x"), payload: JSON.stringify({ run: "A/neuron", text: "x" }) });
      expect(bad.statusCode, bad.body).toBe(400);
      const missing = await app.inject({ method: "GET", url: `/api/compare?a=A/1/${LIVE}&b=Z/1/0` });
      expect(missing.statusCode, missing.body).toBe(404);
    } finally {
      await app.close();
      await inline.close();
    }
  }, 60_000);
});

describe("server: binding and errors", () => {
  it("refuses an empty host; binding beyond loopback warns and keeps a Host allow-list", async () => {
    const app = createServer(ws);
    await expect(listen(app, { host: "", port: 0 })).rejects.toThrow(/--host is empty/);
    await app.close();
    expect(bindWarning("127.0.0.1")).toBeNull();
    expect(bindWarning("0.0.0.0")).toMatch(/every network interface/);

    const open = createServer(ws, { allowedHosts: ["dash.example"] });
    const url = await listen(open, { host: "0.0.0.0", port: 0 });
    const { port } = new URL(url);
    const status = (host: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port, path: "/api/runs", headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on("error", reject);
    });
    expect(await status("evil.example")).toBe(403);
    expect(await status(`dash.example:${port}`)).toBe(200);
    expect(await status(`127.0.0.1:${port}`)).toBe(200);
    await open.close();
  });

  it("logs a 500 with the request and the stack, and keeps serving", async () => {
    const broken = { runs: () => { throw new TypeError("store went away"); } } as unknown as Workspace;
    const lines: string[] = [];
    const app = createServer(broken, { logError: (line) => lines.push(line) });
    const res = await app.inject({ method: "GET", url: "/api/runs" });
    expect(res.statusCode).toBe(500);
    expect(lines.join("\n")).toMatch(/GET \/api\/runs.*500[\s\S]*TypeError: store went away/);
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const defaultLogged = createServer(broken);
    await defaultLogged.inject({ method: "GET", url: "/api/runs" });
    expect(spy.mock.calls.map((c) => c.join(" ")).join("\n")).toMatch(/store went away/);
    spy.mockRestore();
    await app.close();
    await defaultLogged.close();
  });
});
