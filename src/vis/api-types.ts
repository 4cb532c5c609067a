/**
 * The JSON the web server sends and the browser app (and the self-contained HTML pages) render: one contract
 * between `src/web/` (server) and `web/` (app), which imports it as `saekit/api` (web/tsconfig.json paths; the
 * package exports it too). Unit and prompt payloads are the analysis types unchanged; an r is null where it is
 * undefined (a constant side).
 */
import type { RelatedUnitsView } from "../analysis/related-types.js";
import type {
  Example, ExampleToken, Histogram, NextTokenProb, PredictionFeature, PromptAnalysis, PromptFeatureScore, ProxyBin, RunInfo, TokenPrediction, TokenWeight, UnitRecord,
} from "../analysis/unit-record.js";

export type { Example, ExampleToken, Histogram, NextTokenProb, PredictionFeature, PromptAnalysis, PromptFeatureScore, ProxyBin, RunInfo, TokenPrediction, TokenWeight, UnitRecord };

/** GET /api/features/A/1?sort=…&desc=1&densityMin=…&densityMax=…&bin=…&limit=…&offset=… (analysis/feature-table.ts) */
export type { FeatureTable as FeaturesResponse, FeatureTableColumn, FeatureTableRow } from "../analysis/feature-table.js";

/** POST /api/steer (analysis/steering.ts) */
export type { NextTokenShift, SteerResult } from "../analysis/steering-types.js";

/** GET /api/related/A/1/617 (analysis/related-view.ts) */
export type { RelatedMatch, RelatedRun, RelatedScored, RelatedTokenOverlap, RelatedUnit, RelatedUnitsView } from "../analysis/related-types.js";

/** GET /api/atlas/A (analysis/atlas-view.ts): the model's feature atlas, one entry per point in each column. */
export type { AtlasView as AtlasResponse, AtlasRunView } from "../analysis/atlas-types.js";
import type { AtlasView } from "../analysis/atlas-types.js";

/** GET /api/runs */
export interface RunsResponse {
  runs: RunInfo[];
}

/** GET /api/search?q=…[&run=A/1][&limit=50] */
/** GET /api/search?q=…[&run=A/1][&ignoreCase=1][&exact=1][&limit=50][&offset=0] */
export interface SearchResponse {
  query: string;
  /** Every match (the list is one page of them); absent from a static page's local search (all of them are sent). */
  total?: number;
  offset?: number;
  ignoreCase?: boolean;
  exact?: boolean;
  hits: {
    run: string;
    name: string;
    index: number;
    label: string;
    density: number;
    /** Interpretability score (null: dead unit or a store without it). */
    score: number | null;
    /** "name" | "label" | "top token" | "top logit" | "bottom logit" */
    field: string;
    text: string;
    /** "name" | "exact" | "trimmed" (equal but for surrounding whitespace) | "partial" (store/search.ts). */
    match?: string;
  }[];
}

/** GET /api/compare?a=A/1/3450&b=A/neuron/489 — the side-by-side scatter data of two units of the same model or two models. */
export interface CompareResponse {
  a: string;
  b: string;
  /** Activations of a (x) and b (y) on a sample of evaluation tokens (token positions shared by both). */
  activations: { x: number[]; y: number[]; r: number | null; tokens: number };
  /** Logit weights of a (x) and b (y) over the shared vocabulary (a sample of tokens plus the extremes). */
  logits: { x: number[]; y: number[]; r: number | null };
}

/** Body of every 4xx/5xx response. */
export interface ErrorResponse {
  error: string;
}

/**
 * What a self-contained HTML page carries inline (in `<script type="application/json" id="saekit-data">`), so the
 * same app code renders it offline with no server.
 */
export type StaticPageData =
  | { mode: "static"; page: "feature"; unit: UnitRecord; run: RunInfo | null; comparisons: CompareResponse[]; related?: RelatedUnitsView }
  | { mode: "static"; page: "prompt"; prompt: PromptAnalysis; run: RunInfo | null; units: Record<string, UnitRecord> }
  | { mode: "static"; page: "atlas"; atlas: AtlasView; run: null };
