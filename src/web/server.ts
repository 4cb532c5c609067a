/**
 * The dashboard server: the JSON API of src/vis/api-types.ts over a Workspace, plus the browser app (one HTML shell
 * for every page, and its script and stylesheet).
 *
 *   GET  /api/runs                         RunsResponse
 *   GET  /api/unit/A/1/3450                UnitRecord (also /api/unit/A/neuron/489)
 *   GET  /api/search?q=…[&run=A/1][&ignoreCase=1][&exact=1][&limit=50][&offset=0]   one ranked list, total = every match
 *   GET  /api/features/A/1?sort=density&desc=1[&densityMin=…&densityMax=…&bin=…&domain=code|prose|any&minCodeShare=…&maxCodeShare=…&limit=100&offset=0]   FeaturesResponse
 *   GET  /api/compare?a=A/1/3450&b=A/neuron/489
 *   GET  /api/related/A/1/3450             RelatedUnitsView (also /api/related/A/neuron/489)
 *   GET  /api/atlas/A                      AtlasResponse (the model's feature atlas: every point, columns per point)
 *   POST /api/prompt  {"run": "A/1", "text": "…"}   PromptAnalysis
 *   POST /api/steer   {"run": "A/1", "text": "…", "features": ["617=+8"], "tokens"?: 40, "temperature"?: 0, "seed"?: 0, "position"?: N}   SteerResult
 *   GET  /, /feature/*, /features/*, /neuron/*, /atlas/*, /prompt, /search  the app shell;  GET /app.js, /app.css (html.ts' paths)
 *
 * Every failure is JSON `{error}` with a status that says whose fault it is: 400 malformed name or request (bad
 * JSON, missing or mistyped fields), 404 unknown run, unit or route, 405 wrong method, 409 valid but not servable
 * here (no weights for a prompt), 413 a prompt or body over its limit, 415 a body that is not JSON, 429 (with
 * Retry-After) when the queue of prompt analyses and comparisons is full; 500 only for faults of the server itself,
 * which are logged (logError, default stderr) and leave it serving.
 *
 * Prompts and comparisons run in an AnalysisExecutor (analysis-pool.ts: worker threads under `serve`), so the
 * main thread stays free for the store reads; a queued prompt whose client disconnected is dropped, and
 * comparisons are cached (LRU). Requests must address the server by a name it has (DNS-rebinding protection).
 */
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import os from "node:os";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { FEATURE_TABLE_COLUMNS, FeatureTableError, type FeatureTableColumn, type FeatureTableDomain } from "../analysis/feature-table.js";
import type { Workspace } from "../analysis/workspace.js";
import { SteerSpecError } from "../analysis/steering.js";
import { AbandonedError, InlineExecutor, runTask, QueueFullError, type AnalysisExecutor, type AnalysisTask, type SerializedError } from "./analysis-pool.js";
import { appBundle } from "../vis/bundle.js";
import { APP_CSS_PATH, APP_JS_PATH, appShellHtml } from "../vis/html.js";
import type { ErrorResponse, RunsResponse } from "../vis/api-types.js";
import { dashboardService, NotFoundError, PromptError, TooLargeError, UnavailableError, UnitNameError } from "../vis/service.js";

export interface ServerOptions {
  /** Longest prompt text accepted by POST /api/prompt, in characters (default 2000); longer is 413. */
  maxPromptChars?: number;
  /** fastify's logger option (default off). */
  logger?: FastifyServerOptions["logger"];
  /** Longest time a request may take before the connection is dropped, ms (default 120 s). */
  requestTimeoutMs?: number;
  /**
   * Where prompt analyses and comparisons run (analysis-pool.ts): an AnalysisPool of worker threads (what `serve`
   * uses), or by default an InlineExecutor on this thread. Either bounds its queue (429 beyond it). Closed with the server.
   */
  analysis?: AnalysisExecutor;
  /** Host names accepted besides the loopback names (and, bound beyond loopback, this machine's names and addresses). */
  allowedHosts?: string[];
  /** Where 500s are logged (default: console.error), whatever the fastify logger. */
  logError?: (line: string) => void;
}

/** Comparisons kept (LRU): each is a pure function of the two unit names over one workspace. */
const COMPARE_CACHE_ENTRIES = 512;

export const DEFAULT_MAX_PROMPT_CHARS = 2000;
/** Largest request body: a prompt of the default limit as JSON with every character escaped fits many times over. */
export const BODY_LIMIT_BYTES = 64 * 1024;
const MAX_SEARCH_LIMIT = 500;

class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/** The status of an error thrown by a handler or by fastify itself. */
function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof UnitNameError || err instanceof PromptError || err instanceof SteerSpecError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof UnavailableError) return 409;
  if (err instanceof TooLargeError) return 413;
  if (err instanceof QueueFullError) return 429;
  if (err instanceof AbandonedError) return 503;
  const code = (err as FastifyError | undefined)?.statusCode;
  if (typeof code === "number" && code >= 400 && code < 500) return code;
  return 500;
}

/** Readable messages for fastify's own 4xx errors. */
function clientMessage(err: FastifyError, status: number, req: FastifyRequest): string {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return `request body too large (the limit is ${BODY_LIMIT_BYTES} bytes)`;
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return `unsupported content type ${JSON.stringify(req.headers["content-type"] ?? "")}; send JSON (content-type: application/json)`;
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "empty JSON body; send {\"run\": \"A/1\", \"text\": \"…\"}";
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return `bad JSON body: ${err.message}`;
    default:
      if (err instanceof SyntaxError || status === 400) return `bad request: ${err.message}`;
      return err.message;
  }
}

/** A query parameter that must be a single string (repeated parameters are a 400). */
function queryString(req: FastifyRequest, name: string, required: true): string;
function queryString(req: FastifyRequest, name: string, required: false): string | undefined;
function queryString(req: FastifyRequest, name: string, required: boolean): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) {
    if (required) throw new HttpError(400, `missing query parameter "${name}"`);
    return undefined;
  }
  if (typeof v !== "string") throw new HttpError(400, `query parameter "${name}" must be given once`);
  return v;
}

interface Asset {
  body: string;
  type: string;
  etag: string;
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash("sha1").update(body).digest("base64url").slice(0, 20)}"` };
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset, status = 200, immutable = false): FastifyReply {
  // The shell asks for the bundle as /app.js?v=<content hash>: such a URL never changes content.
  reply.header("etag", a.etag).header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache").type(a.type);
  if (status === 200 && req.headers["if-none-match"] === a.etag) return reply.code(304).send();
  return reply.code(status).send(a.body);
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

/** The names a request may address this server by: loopback names, plus this machine's when bound beyond loopback. */
function allowedHostNames(boundAddress: string, extra: readonly string[]): Set<string> {
  const names = new Set([...LOOPBACK_NAMES, ...extra.map((h) => h.toLowerCase())]);
  if (!LOOPBACK.has(boundAddress)) {
    names.add(os.hostname().toLowerCase());
    names.add(boundAddress.toLowerCase());
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) names.add(a.address.toLowerCase());
  }
  return names;
}

/** Rebuilds a worker's error as the class the error handler maps to a status (analysis-pool.ts' ErrorFactory). */
export function serviceError(e: SerializedError): Error {
  const classes: Record<string, new (message: string) => Error> = { UnitNameError, NotFoundError, UnavailableError, TooLargeError, PromptError, SteerSpecError };
  const Class = classes[e.name];
  if (Class) return new Class(e.message);
  return Object.assign(new Error(e.message), { name: e.name, stack: e.stack ?? `${e.name}: ${e.message}` });
}

/** The warning `serve` prints for a bind beyond loopback (null on loopback). */
export function bindWarning(host: string): string | null {
  if (LOOPBACK.has(host) || host === "localhost") return null;
  const where = host === "0.0.0.0" || host === "::" ? "every network interface" : `${host}`;
  return `listening on ${where}: anyone who can reach this machine can read the dashboards and run prompts on it. ` +
    `Requests must name this machine (its host name or an address) or a host given with --allow-host`;
}

/** The API and app routes over `workspace` (not listening: see `listen`, or use `inject` in tests). */
export function createServer(workspace: Workspace, options: ServerOptions = {}): FastifyInstance {
  const service = dashboardService(workspace);
  const maxPromptChars = options.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
  const logError = options.logError ?? ((line: string) => console.error(line));
  const analysis = options.analysis ?? new InlineExecutor((task) => runTask(service, task));
  const compareCache = new Map<string, Promise<unknown>>();
  /** A task for the executor, abandoned (while still queued) when the client disconnects. */
  const analyse = (task: AnalysisTask, req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const controller = new AbortController();
    // The response closes early when its client disconnects; it may have gone already while its body was read.
    if (req.raw.socket.destroyed) controller.abort();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    return analysis.run(task, controller.signal);
  };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: options.requestTimeoutMs ?? 120_000,
    // Unit names are paths: /api/unit/A/1/3450 is one route, and a trailing slash is the same page.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // Errors before routing (a malformed percent-encoding in the URL, …): the same JSON shape as every other error.
    frameworkErrors: (err, _req, reply) => {
      const status = typeof err.statusCode === "number" && err.statusCode >= 400 ? err.statusCode : 400;
      const body: ErrorResponse = { error: err.code === "FST_ERR_BAD_URL" ? `malformed URL: ${err.message}` : err.message };
      void (reply as unknown as FastifyReply).code(status).type("application/json; charset=utf-8").send(body);
    },
  });
  // JSON bodies only: a text/plain POST is what a cross-site form can send without a CORS preflight.
  app.removeContentTypeParser("text/plain");

  // The app is built once, on first request (esbuild: a fraction of a second).
  let assets: { shell: Asset; js: Asset; css: Asset; version: string } | null = null;
  const appAssets = () => {
    if (!assets) {
      const bundle = appBundle();
      assets = {
        shell: asset(appShellHtml(), "text/html; charset=utf-8"),
        js: asset(bundle.js, "text/javascript; charset=utf-8"),
        css: asset(bundle.css, "text/css; charset=utf-8"),
        version: bundle.version,
      };
    }
    return assets;
  };

  app.addHook("onClose", async () => analysis.close());

  // DNS-rebinding protection: answer only requests addressed to this machine by a name it has (loopback names on a
  // loopback bind; also its host name and addresses beyond it) or one the allow-list gives (a page on another site
  // cannot make the browser send those).
  let allowed: { address: string; names: Set<string> } | null = null;
  app.addHook("onRequest", async (req, reply) => {
    const bound = app.server.address();
    if (!bound || typeof bound !== "object") return;
    if (allowed?.address !== bound.address) allowed = { address: bound.address, names: allowedHostNames(bound.address, options.allowedHosts ?? []) };
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1").toLowerCase();
    if (!allowed.names.has(host)) {
      const body: ErrorResponse = { error: `Host ${JSON.stringify(req.headers.host ?? "")} is not this local server; open http://127.0.0.1:${bound.port}/` };
      return reply.code(403).type("application/json; charset=utf-8").send(body);
    }
  });

  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-frame-options", "DENY");
    return payload;
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = statusOf(err);
    let message: string;
    if (err instanceof QueueFullError) reply.header("retry-after", String(err.retryAfterSeconds));
    if (status >= 500 && !(err instanceof AbandonedError)) {
      req.log.error({ err }, "request failed");
      logError(`${new Date().toISOString()} ${req.method} ${req.url.length > 300 ? `${req.url.slice(0, 297)}...` : req.url} → ${status}: ${err.stack ?? err.message}`);
      message = `internal error: ${err.message}`;
    } else if (err instanceof HttpError || err instanceof UnitNameError || err instanceof NotFoundError || err instanceof UnavailableError || err instanceof TooLargeError || err instanceof PromptError || err instanceof SteerSpecError) {
      message = err.message;
    } else {
      message = clientMessage(err, status, req);
    }
    const body: ErrorResponse = { error: message };
    void reply.code(status).type("application/json; charset=utf-8").send(body);
  });

  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split("?")[0]!;
    if (!url.startsWith("/api/") && req.method === "GET" && (req.headers.accept ?? "").includes("text/html")) {
      // The app shows its own "not found" page; the status stays 404.
      return sendAsset(req, reply, appAssets().shell, 404);
    }
    const body: ErrorResponse = { error: `no such route: ${req.method} ${url.length > 200 ? `${url.slice(0, 197)}...` : url}` };
    return reply.code(404).send(body);
  });

  // --- API ---------------------------------------------------------------------------------------------------

  app.get("/api/runs", async (): Promise<RunsResponse> => ({ runs: service.runs() }));

  app.get("/api/unit", async () => {
    throw new UnitNameError("missing unit name: /api/unit/MODEL/RUN/INDEX, e.g. /api/unit/A/1/3450 or /api/unit/A/neuron/489");
  });
  app.get("/api/unit/*", async (req) => {
    const name = (req.params as { "*": string })["*"];
    return service.unit(name.replace(/\/+$/, ""));
  });

  app.get("/api/related/*", async (req) => {
    const name = (req.params as { "*": string })["*"];
    return service.related(name.replace(/\/+$/, ""));
  });

  app.get("/api/atlas/*", async (req) => {
    const model = (req.params as { "*": string })["*"].replace(/\/+$/, "");
    if (!/^[A-Za-z0-9_.-]+$/.test(model)) throw new HttpError(400, `expected /api/atlas/MODEL (e.g. /api/atlas/A), got ${JSON.stringify(model.slice(0, 100))}`);
    return service.atlas(model);
  });

  app.get("/api/search", async (req) => {
    const q = queryString(req, "q", true);
    const run = queryString(req, "run", false);
    const intParam = (name: string, fallback: number, min: number, max: number): number => {
      const text = queryString(req, name, false);
      if (text === undefined) return fallback;
      const v = Number(text);
      if (!/^\d+$/.test(text) || v < min || v > max) throw new HttpError(400, `${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
      return v;
    };
    const flag = (name: string): boolean => {
      const text = queryString(req, name, false);
      if (text === undefined || text === "" || text === "0" || text === "false") return false;
      if (text === "1" || text === "true") return true;
      throw new HttpError(400, `${name} must be 1 or 0, got ${JSON.stringify(text)}`);
    };
    const limit = intParam("limit", 50, 1, MAX_SEARCH_LIMIT);
    const offset = intParam("offset", 0, 0, Number.MAX_SAFE_INTEGER);
    if (q.length > 200) throw new HttpError(400, `the query is ${q.length} characters long; at most 200`);
    return service.search(q, run === "" ? undefined : run, limit, { offset, ignoreCase: flag("ignoreCase"), exact: flag("exact") });
  });

  app.get("/api/features/*", async (req) => {
    const run = (req.params as { "*": string })["*"].replace(/\/+$/, "");
    const numberParam = (name: string, integer: boolean): number | undefined => {
      const text = queryString(req, name, false);
      if (text === undefined || text === "") return undefined;
      const v = Number(text);
      if (!Number.isFinite(v) || (integer && !/^\d+$/.test(text))) throw new HttpError(400, `${name} must be ${integer ? "a non-negative integer" : "a number"}, got ${JSON.stringify(text)}`);
      return v;
    };
    const sort = queryString(req, "sort", false);
    if (sort !== undefined && sort !== "" && !(FEATURE_TABLE_COLUMNS as readonly string[]).includes(sort)) {
      throw new HttpError(400, `sort must be one of ${FEATURE_TABLE_COLUMNS.join(", ")}, got ${JSON.stringify(sort)}`);
    }
    const desc = queryString(req, "desc", false);
    const domain = queryString(req, "domain", false);
    try {
      return service.featureTable(run, {
        ...(sort ? { sort: sort as FeatureTableColumn } : {}),
        ...(desc !== undefined && desc !== "" ? { desc: desc === "1" || desc === "true" } : {}),
        densityMin: numberParam("densityMin", false), densityMax: numberParam("densityMax", false), bin: numberParam("bin", true),
        limit: numberParam("limit", true), offset: numberParam("offset", true),
        minCodeShare: numberParam("minCodeShare", false), maxCodeShare: numberParam("maxCodeShare", false),
        // featureTable checks the value and names the allowed ones.
        ...(domain !== undefined && domain !== "" ? { domain: domain as FeatureTableDomain } : {}),
      });
    } catch (e) {
      if (e instanceof FeatureTableError) throw new HttpError(400, e.message);
      throw e;
    }
  });

  app.get("/api/compare", async (req) => {
    const a = queryString(req, "a", true);
    const b = queryString(req, "b", true);
    const key = `${a}\u0000${b}`;
    let result = compareCache.get(key);
    if (result) {
      compareCache.delete(key); // most recently used last
    } else {
      // Shared by every client asking the same while it runs, so no client's disconnect cancels it.
      result = analysis.run({ kind: "compare", a, b });
      result.catch(() => compareCache.delete(key));
      if (compareCache.size >= COMPARE_CACHE_ENTRIES) compareCache.delete(compareCache.keys().next().value!);
    }
    compareCache.set(key, result);
    return result;
  });

  app.post("/api/prompt", async (req, reply) => {
    const body = req.body as unknown;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new HttpError(400, 'the body must be a JSON object {"run": "A/1", "text": "…"}');
    }
    const { run, text } = body as { run?: unknown; text?: unknown };
    if (typeof run !== "string" || run === "") throw new HttpError(400, 'missing or non-string field "run" (an SAE run, e.g. "A/1")');
    if (typeof text !== "string") throw new HttpError(400, 'missing or non-string field "text" (the prompt)');
    if (text.length > maxPromptChars) {
      throw new HttpError(413, `the prompt has ${text.length} characters; the limit is ${maxPromptChars}`);
    }
    return analyse({ kind: "prompt", run, text }, req, reply);
  });

  app.post("/api/steer", async (req, reply) => {
    const body = req.body as unknown;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new HttpError(400, 'the body must be a JSON object {"run": "A/1", "text": "…", "features": ["617=+8"]}');
    }
    const { run, text, features, tokens, temperature, seed, position } = body as Record<string, unknown>;
    if (typeof run !== "string" || run === "") throw new HttpError(400, 'missing or non-string field "run" (an SAE run, e.g. "A/1")');
    if (typeof text !== "string") throw new HttpError(400, 'missing or non-string field "text" (the prompt)');
    if (text.length > maxPromptChars) throw new HttpError(413, `the prompt has ${text.length} characters; the limit is ${maxPromptChars}`);
    if (!Array.isArray(features) || features.length === 0 || features.length > 16 || !features.every((f) => typeof f === "string" && f.length <= 64)) {
      throw new HttpError(400, 'field "features" must be a list of 1–16 strings such as "617=+8", "617=*2" or "617=8"');
    }
    const num = (name: string, v: unknown): number | undefined => {
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) throw new HttpError(400, `field "${name}" must be a number`);
      return v;
    };
    const options = { tokens: num("tokens", tokens), temperature: num("temperature", temperature), seed: num("seed", seed), position: num("position", position) };
    return analyse({ kind: "steer", run, text, features: features as string[], options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) }, req, reply);
  });

  const wrongMethod = (allowed: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    reply.header("allow", allowed);
    const body: ErrorResponse = { error: `use ${allowed} for this route` };
    return reply.code(405).send(body);
  };
  app.get("/api/prompt", wrongMethod("POST"));
  app.get("/api/steer", wrongMethod("POST"));
  for (const route of ["/api/runs", "/api/unit/*", "/api/related/*", "/api/features/*", "/api/atlas/*", "/api/search", "/api/compare"]) {
    app.route({ method: ["POST", "PUT", "DELETE", "PATCH"], url: route, handler: wrongMethod("GET") });
  }

  // --- the app -----------------------------------------------------------------------------------------------

  const shell = async (req: FastifyRequest, reply: FastifyReply) => sendAsset(req, reply, appAssets().shell);
  for (const route of ["/", "/feature/*", "/features/*", "/neuron/*", "/atlas/*", "/prompt", "/search"]) app.get(route, shell);
  const bundleFile = (which: "js" | "css") => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = appAssets();
    return sendAsset(req, reply, a[which], 200, (req.query as { v?: unknown }).v === a.version);
  };
  app.get(APP_JS_PATH, bundleFile("js"));
  app.get(APP_CSS_PATH, bundleFile("css"));

  return app;
}

/** Starts listening (127.0.0.1 by default; port 0 picks a free one) and returns the URL to open. */
export async function listen(app: FastifyInstance, options: { host?: string; port?: number } = {}): Promise<string> {
  const host = options.host ?? "127.0.0.1";
  // An unset $HOST in a script gives --host "": Node would listen on every interface.
  if (host.trim() === "") throw new Error('--host is empty (an unset variable?); use 127.0.0.1 for this machine only, or name the interface, e.g. --host 0.0.0.0 for all');
  await app.listen({ host, port: options.port ?? 8080 });
  const { port } = app.server.address() as AddressInfo;
  const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${port}/`;
}
