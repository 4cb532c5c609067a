/** The live data source: the saekit server's JSON routes (src/vis/api-types.ts). */
import type {
  AtlasResponse,
  CompareResponse,
  FeaturesResponse,
  PromptAnalysis,
  RelatedUnitsView,
  RunInfo,
  RunsResponse,
  SearchResponse,
  SteerResult,
  UnitRecord,
} from "./types.js";
import { AppError, type DataSource } from "./source.js";

async function request<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json" }, ...init });
  } catch (e) {
    throw new AppError(`could not reach the saekit server (${e instanceof Error ? e.message : String(e)})`);
  }
  const body = await res.text();
  let parsed: unknown = null;
  try {
    parsed = body.length > 0 ? JSON.parse(body) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const msg =
      parsed && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string"
        ? (parsed as { error: string }).error
        : body.trim().slice(0, 300) || res.statusText;
    throw new AppError(`${msg} (HTTP ${res.status})`, res.status);
  }
  if (parsed === null) throw new AppError(`the server sent no JSON for ${url}`, res.status);
  return parsed as T;
}

/** "A/1/3450" → "A/1/3450" with each segment URL-encoded. */
function encodeName(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

export class LiveSource implements DataSource {
  readonly mode = "live" as const;
  private runsCache: Promise<RunInfo[]> | null = null;
  private unitCache = new Map<string, Promise<UnitRecord>>();

  runs(): Promise<RunInfo[]> {
    if (!this.runsCache) {
      this.runsCache = request<RunsResponse>("/api/runs").then((r) => r.runs);
      this.runsCache.catch(() => (this.runsCache = null));
    }
    return this.runsCache;
  }

  unit(name: string): Promise<UnitRecord> {
    let p = this.unitCache.get(name);
    if (!p) {
      p = request<UnitRecord>(`/api/unit/${encodeName(name)}`);
      this.unitCache.set(name, p);
      p.catch(() => this.unitCache.delete(name));
      if (this.unitCache.size > 64) this.unitCache.delete(this.unitCache.keys().next().value as string);
    }
    return p;
  }

  search(query: string, run?: string | null, options: { ignoreCase?: boolean; exact?: boolean; offset?: number; limit?: number } = {}): Promise<SearchResponse> {
    const params = new URLSearchParams({ q: query });
    if (run) params.set("run", run);
    if (options.ignoreCase) params.set("ignoreCase", "1");
    if (options.exact) params.set("exact", "1");
    if (options.offset) params.set("offset", String(options.offset));
    if (options.limit) params.set("limit", String(options.limit));
    return request<SearchResponse>(`/api/search?${params}`);
  }

  related(name: string): Promise<RelatedUnitsView | null> {
    return request<RelatedUnitsView>(`/api/related/${encodeName(name)}`);
  }

  compare(a: string, b: string): Promise<CompareResponse | null> {
    return request<CompareResponse>(`/api/compare?${new URLSearchParams({ a, b })}`);
  }

  prompt(run: string, text: string): Promise<PromptAnalysis> {
    return request<PromptAnalysis>("/api/prompt", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ run, text }),
    });
  }

  steer(run: string, text: string, features: string[], options: { tokens?: number; temperature?: number; seed?: number; position?: number }): Promise<SteerResult> {
    return request<SteerResult>("/api/steer", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ run, text, features, ...options }),
    });
  }

  features(run: string, query: URLSearchParams): Promise<FeaturesResponse> {
    const qs = query.toString();
    return request<FeaturesResponse>(`/api/features/${encodeName(run)}${qs ? `?${qs}` : ""}`);
  }

  atlas(model: string): Promise<AtlasResponse> {
    return request<AtlasResponse>(`/api/atlas/${encodeURIComponent(model)}`);
  }

  canOpen(): boolean {
    return true;
  }
}
