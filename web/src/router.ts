/**
 * Page URLs and client-side routing. Live pages use real paths (`/feature/A/1/3450`, history API); a static page
 * is a file:// URL, so it routes on the hash instead (`#/feature/A/1/3450`), with an empty hash meaning the page's
 * own content.
 */
export type Route =
  | { page: "home" }
  | { page: "unit"; kind: "feature" | "neuron"; name: string }
  | { page: "prompt"; run: string | null; text: string | null; feature: string | null }
  | { page: "search"; q: string; run: string | null; options: SearchOptions }
  | { page: "features"; run: string; query: FeaturesQuery }
  | { page: "atlas"; model: string }
  | { page: "notfound"; path: string };

import { unitFromPath, unitPath } from "saekit/names";

/** The feature table's state in its URL (`/features/A/1?sort=density&desc=1&bin=20&offset=100`). */
export interface FeaturesQuery {
  sort: string | null;
  desc: boolean | null;
  densityMin: number | null;
  densityMax: number | null;
  bin: number | null;
  /** Domain filter (code / prose by the store's codeShare; null: any) and a lower bound on the code share. */
  domain?: "code" | "prose" | null;
  minCodeShare?: number | null;
  offset: number;
}

export function featuresPath(run: string, q: Partial<FeaturesQuery> = {}): string {
  const params = new URLSearchParams();
  if (q.sort) params.set("sort", q.sort);
  if (q.desc !== null && q.desc !== undefined) params.set("desc", q.desc ? "1" : "0");
  if (q.densityMin !== null && q.densityMin !== undefined) params.set("densityMin", String(q.densityMin));
  if (q.densityMax !== null && q.densityMax !== undefined) params.set("densityMax", String(q.densityMax));
  if (q.bin !== null && q.bin !== undefined) params.set("bin", String(q.bin));
  if (q.domain) params.set("domain", q.domain);
  if (q.minCodeShare !== null && q.minCodeShare !== undefined) params.set("minCodeShare", String(q.minCodeShare));
  if (q.offset) params.set("offset", String(q.offset));
  const qs = params.toString();
  return `/features/${run.split("/").map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`;
}

function numberParam(params: URLSearchParams, name: string): number | null {
  const v = params.get(name);
  if (v === null || v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function domainParam(v: string | null): "code" | "prose" | null {
  return v === "code" || v === "prose" ? v : null;
}

/** The feature atlas of a model: "A" → "/atlas/A". */
export function atlasPath(model: string): string {
  return `/atlas/${encodeURIComponent(model)}`;
}

/** The page of a unit: "A/1/3450" → "/feature/A/1/3450", "A/neuron/489" → "/neuron/A/489" (names.ts). */
export { unitPath };

export function promptPath(run: string | null, text: string | null, feature: string | null = null): string {
  const params = new URLSearchParams();
  if (run) params.set("run", run);
  if (text) params.set("text", text);
  if (feature) params.set("feature", feature);
  const qs = params.toString();
  return qs ? `/prompt?${qs}` : "/prompt";
}

/** Search options in the URL (`ignoreCase=1`, `exact=1`, `offset=50`). */
export interface SearchOptions {
  ignoreCase: boolean;
  exact: boolean;
  offset: number;
}

export function searchPath(q: string, run: string | null = null, options: Partial<SearchOptions> = {}): string {
  const params = new URLSearchParams({ q });
  if (run) params.set("run", run);
  if (options.ignoreCase) params.set("ignoreCase", "1");
  if (options.exact) params.set("exact", "1");
  if (options.offset) params.set("offset", String(options.offset));
  return `/search?${params}`;
}

export function parseRoute(pathname: string, search: string): Route {
  const segs = pathname
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  const params = new URLSearchParams(search);
  if (segs.length === 0) return { page: "home" };
  const [head, ...rest] = segs;
  const unit = unitFromPath(head!, rest);
  if (unit) return { page: "unit", ...unit };
  if (head === "prompt" && rest.length === 0) {
    return { page: "prompt", run: params.get("run"), text: params.get("text"), feature: params.get("feature") };
  }
  if (head === "features" && rest.length === 2) {
    const desc = params.get("desc");
    return {
      page: "features",
      run: rest.join("/"),
      query: {
        sort: params.get("sort"), desc: desc === null ? null : desc === "1", densityMin: numberParam(params, "densityMin"),
        densityMax: numberParam(params, "densityMax"), bin: numberParam(params, "bin"), offset: numberParam(params, "offset") ?? 0,
        domain: domainParam(params.get("domain")), minCodeShare: numberParam(params, "minCodeShare"),
      },
    };
  }
  if (head === "atlas" && rest.length === 1) return { page: "atlas", model: rest[0]! };
  if (head === "search" && rest.length === 0) {
    const options = { ignoreCase: params.get("ignoreCase") === "1", exact: params.get("exact") === "1", offset: numberParam(params, "offset") ?? 0 };
    return { page: "search", q: params.get("q") ?? "", run: params.get("run"), options };
  }
  return { page: "notfound", path: pathname };
}

/** Split "/prompt?run=A/1" into its path and query. */
export function splitPath(path: string): { pathname: string; search: string } {
  const q = path.indexOf("?");
  return q < 0 ? { pathname: path, search: "" } : { pathname: path.slice(0, q), search: path.slice(q) };
}
