/** The dashboard server's API through fastify.inject: every route, every 4xx case, and serving on after errors. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { FastifyInstance } from "fastify";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import type { CompareResponse, PromptAnalysis, RunsResponse, SearchResponse, UnitRecord } from "../../src/vis/api-types.js";
import { APP_CSS_PATH, APP_JS_PATH } from "../../src/vis/html.js";
import http from "node:http";
import { createServer, listen } from "../../src/web/server.js";
import { buildFixture, D_SAE, LIVE, type Fixture } from "./fixture.js";

let fx: Fixture;
let ws: Workspace;
let app: FastifyInstance;

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  app = createServer(ws, { maxPromptChars: 300 });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  ws?.close();
  fx?.cleanup();
});

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: "GET", url, headers });
const postPrompt = (payload: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
  app.inject({ method: "POST", url: "/api/prompt", headers, payload: typeof payload === "string" ? payload : JSON.stringify(payload) });

/** A 4xx with a JSON {error} matching `message`. */
function expectError(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, message: RegExp): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(String(res.headers["content-type"])).toMatch(/application\/json/);
  const body = JSON.parse(res.body) as { error: string };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error).toMatch(message);
}

describe("server API", () => {
  it("GET /api/runs", async () => {
    const res = await get("/api/runs");
    expect(res.statusCode).toBe(200);
    const body = res.json() as RunsResponse;
    expect(body.runs.map((r) => r.name)).toEqual(["A/1", "A/neuron", "B/1", "B/neuron"]);
    expect(body.runs[0]!.promptable).toBe(true);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("GET /api/unit/* for features and neurons, URL-encoded or not", async () => {
    const res = await get(`/api/unit/A/1/${LIVE}`);
    expect(res.statusCode).toBe(200);
    const unit = res.json() as UnitRecord;
    expect(unit).toEqual(JSON.parse(JSON.stringify(ws.unit(`A/1/${LIVE}`))));
    expect((await get("/api/unit/A/neuron/3")).json()).toMatchObject({ name: "A/neuron/3", kind: "neuron" });
    expect((await get(`/api/unit/A%2F1%2F${LIVE}`)).statusCode).toBe(200);
    expect((await get(`/api/unit/A/1/${LIVE}/`)).statusCode).toBe(200);
  });

  it("unit errors: malformed 400, unknown 404, with messages that name the problem", async () => {
    expectError(await get("/api/unit/A/1/abc"), 400, /index must be a non-negative integer, got "abc"/);
    expectError(await get("/api/unit/A/1"), 400, /expected MODEL\/RUN\/INDEX/);
    expectError(await get("/api/unit/"), 400, /missing unit name|expected MODEL\/RUN\/INDEX/);
    // One name grammar (names.ts): any SAE folder name is a well-formed run (404 when absent), a space is not.
    expectError(await get("/api/unit/A/x/1"), 404, /no run "A\/x"/);
    expectError(await get("/api/unit/A/x%20y/1"), 400, /"x y" is not a valid SAE run \(or neuron\) name/);
    expectError(await get(`/api/unit/A/1/${D_SAE}`), 404, /A\/1 has 64 features \(0–63\); 64 is out of range/);
    expectError(await get("/api/unit/Z/1/0"), 404, /no run "Z\/1"/);
    expectError(await get("/api/unit/A/neuron/32"), 404, /A\/neuron has 32 neurons/);
    expectError(await get("/api/unit/%E0%A4%A"), 400, /./);
  });

  it("GET /api/search", async () => {
    const res = await get(`/api/search?q=${encodeURIComponent(`A/1/${LIVE}`)}`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as SearchResponse;
    expect(body.query).toBe(`A/1/${LIVE}`);
    expect(body.hits[0]).toMatchObject({ run: "A/1", name: `A/1/${LIVE}`, field: "name" });
    const rec = ws.unit(`A/1/${LIVE}`);
    const word = rec.top[0]!.tokens[rec.top[0]!.position - rec.top[0]!.start]!.text.trim();
    const inRun = (await get(`/api/search?q=${encodeURIComponent(word)}&run=A/1&limit=2`)).json() as SearchResponse;
    expect(inRun.hits.length).toBeGreaterThan(0);
    expect(inRun.hits.length).toBeLessThanOrEqual(2);
    expect(inRun.hits.every((h) => h.run === "A/1")).toBe(true);
    expect(((await get("/api/search?q=")).json() as SearchResponse).hits).toEqual([]);
    expectError(await get("/api/search"), 400, /missing query parameter "q"/);
    expectError(await get("/api/search?q=a&q=b"), 400, /"q" must be given once/);
    expectError(await get("/api/search?q=a&limit=0"), 400, /limit must be an integer in \[1, 500\]/);
    expectError(await get("/api/search?q=a&limit=x"), 400, /limit/);
    expectError(await get("/api/search?q=a&run=Q/4"), 404, /no run "Q\/4"/);
  });

  it("GET /api/compare", async () => {
    const rec = ws.unit(`A/1/${LIVE}`);
    const b = rec.neurons!.correlated[0]!.name;
    const res = await get(`/api/compare?a=A/1/${LIVE}&b=${b}`);
    expect(res.statusCode).toBe(200);
    const c = res.json() as CompareResponse;
    expect(c).toMatchObject({ a: `A/1/${LIVE}`, b });
    expect(c.activations.x).toHaveLength(c.activations.tokens);
    expect(c.activations.r).toBeCloseTo(rec.neurons!.correlated[0]!.r, 3);
    expect(c.logits.x.length).toBe(c.logits.y.length);
    const cross = (await get(`/api/compare?a=A/1/${LIVE}&b=${rec.matches["B/1"]!.name}`)).json() as CompareResponse;
    expect(cross.activations.r).toBeCloseTo(rec.matches["B/1"]!.r, 3);
    expectError(await get(`/api/compare?a=A/1/${LIVE}`), 400, /missing query parameter "b"/);
    expectError(await get(`/api/compare?a=A/1/${LIVE}&b=A/1/zz`), 400, /malformed unit name "A\/1\/zz"/);
    expectError(await get(`/api/compare?a=A/1/${LIVE}&b=A/5/1`), 404, /no run "A\/5"/);
  });

  it("POST /api/prompt and its 4xx cases", async () => {
    const res = await postPrompt({ run: "A/1", text: "The whale was white." });
    expect(res.statusCode, res.body).toBe(200);
    const p = res.json() as PromptAnalysis;
    expect(p.run).toBe("A/1");
    expect(p.tokens.map((t) => t.text).join("")).toBe("The whale was white.");
    expect(p.rankings.maxActivation.length).toBeGreaterThan(0);

    expectError(await postPrompt("{not json"), 400, /bad JSON body/);
    expectError(await postPrompt(""), 400, /empty JSON body/);
    expectError(await postPrompt([1, 2]), 400, /must be a JSON object/);
    expectError(await postPrompt({ text: "hello" }), 400, /field "run"/);
    expectError(await postPrompt({ run: "A/1" }), 400, /field "text"/);
    expectError(await postPrompt({ run: "A/1", text: 5 }), 400, /field "text"/);
    expectError(await postPrompt({ run: "A/1", text: "   " }), 400, /the prompt is empty/);
    expectError(await postPrompt({ run: "A/1", text: "x".repeat(301) }), 413, /301 characters; the limit is 300/);
    // Under the character limit but longer than the model's 16-token context.
    expectError(await postPrompt({ run: "A/1", text: "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen" }), 413, /at most 16 fit/);
    expectError(await postPrompt({ run: "A/neuron", text: "hello" }), 400, /neurons; prompts are analysed on an SAE run/);
    expectError(await postPrompt({ run: "C/1", text: "hello" }), 404, /no run "C\/1"/);
    expectError(await postPrompt({ run: "A/1", text: "x" }, { "content-type": "text/plain" }), 415, /unsupported content type "text\/plain"/);
    expectError(await postPrompt(JSON.stringify({ run: "A/1", text: "y".repeat(70_000) })), 413, /request body too large/);
    expectError(await get("/api/prompt"), 405, /use POST/);
  });

  it("unknown routes are 404 JSON; pages get the app shell; assets are served with ETags", async () => {
    expectError(await get("/api/nope"), 404, /no such route: GET \/api\/nope/);
    expectError(await app.inject({ method: "DELETE", url: "/api/runs" }), 405, /use GET/);
    expectError(await get("/nope"), 404, /no such route/);
    const missingPage = await get("/nope", { accept: "text/html" });
    expect(missingPage.statusCode).toBe(404);
    expect(missingPage.headers["content-type"]).toMatch(/text\/html/);
    for (const page of ["/", `/feature/A/1/${LIVE}`, "/neuron/A/3", "/prompt?run=A/1&text=hi", "/search?q=the"]) {
      const res = await get(page);
      expect(res.statusCode, page).toBe(200);
      expect(res.headers["content-type"]).toMatch(/text\/html/);
      expect(res.body).toMatch(/<html/i);
    }
    // The shell's script and stylesheet URLs (with their ?v= content hash) are served, cacheable for good.
    const shell = (await get("/")).body;
    const jsUrl = new RegExp(`src="(${APP_JS_PATH}[^"]*)"`).exec(shell)![1]!;
    const cssUrl = new RegExp(`href="(${APP_CSS_PATH}[^"]*)"`).exec(shell)![1]!;
    const js = await get(jsUrl);
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect(js.headers["cache-control"]).toMatch(/immutable/);
    expect(js.body.length).toBeGreaterThan(1000);
    expect((await get(APP_JS_PATH)).headers["cache-control"]).toBe("no-cache");
    expect((await get(APP_JS_PATH, { "if-none-match": String(js.headers.etag) })).statusCode).toBe(304);
    const css = await get(cssUrl);
    expect(css.statusCode).toBe(200);
    expect(css.headers["content-type"]).toMatch(/text\/css/);
  });

  it("a fault is a 500 JSON error and the server keeps serving", async () => {
    const spy = vi.spyOn(ws, "unit").mockImplementationOnce(() => {
      throw new Error("disk on fire");
    });
    expectError(await get(`/api/unit/A/1/${LIVE}`), 500, /internal error: disk on fire/);
    spy.mockRestore();
    expect((await get(`/api/unit/A/1/${LIVE}`)).statusCode).toBe(200);
    // A burst of bad requests changes nothing either.
    for (let i = 0; i < 20; i++) await postPrompt("{");
    expect((await get("/api/runs")).statusCode).toBe(200);
  });

  it("listens on 127.0.0.1 and answers over HTTP", async () => {
    const server = createServer(ws);
    try {
      const url = await listen(server, { port: 0 });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const t0 = performance.now();
      const res = await fetch(`${url}api/unit/A/1/${LIVE}`);
      const ms = performance.now() - t0;
      expect(res.status).toBe(200);
      expect(((await res.json()) as UnitRecord).name).toBe(`A/1/${LIVE}`);
      expect(ms).toBeLessThan(1000);
      // A request naming another host (DNS rebinding) is refused; loopback names are served.
      const port = Number(new URL(url).port);
      const withHost = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.get({ host: "127.0.0.1", port, path: "/api/runs", headers: { host } }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on("error", reject);
        });
      const evil = await withHost(`evil.example:${port}`);
      expect(evil.status).toBe(403);
      expect(JSON.parse(evil.body).error).toMatch(/"evil.example:\d+" is not this local server/);
      expect((await withHost(`localhost:${port}`)).status).toBe(200);
      expect((await withHost(`[::1]:${port}`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
