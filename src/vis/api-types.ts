/**
 * The JSON the web server sends and the browser app (and the self-contained HTML pages) render: one contract
 * between `src/web/` (server) and `web/` (app). Unit and prompt payloads are the analysis types unchanged.
 */
import type { Histogram, InvestigationManifest, PromptAnalysis, UniversalitySummary, UnitRecord } from "../analysis/investigation.js";

export type { PromptAnalysis, UnitRecord };

/** A loaded investigation: an SAE run ("A/1", kind feature) or a model's neurons ("A/neuron", kind neuron). */
export interface RunInfo {
  name: string;
  model: string;
  kind: "feature" | "neuron";
  units: number;
  tokens: number;
  hook: string;
  sae: InvestigationManifest["sae"];
  compare: UniversalitySummary[];
  densityHistogram: Histogram & { dead: number };
  /** Dead units (never fired on the evaluation tokens) and dense ones (density > 10%). */
  dead: number;
  dense: number;
  /** True when the model (and SAE) are loaded, so prompts can be analysed live on this run. */
  promptable: boolean;
}

/** GET /api/runs */
export interface RunsResponse {
  runs: RunInfo[];
}

/** GET /api/search?q=…[&run=A/1][&limit=50] */
export interface SearchResponse {
  query: string;
  hits: {
    run: string;
    name: string;
    index: number;
    label: string;
    density: number;
    /** "name" | "label" | "top token" | "top logit" | "bottom logit" */
    field: string;
    text: string;
  }[];
}

/** GET /api/compare?a=A/1/3450&b=A/neuron/489 — the side-by-side scatter data of two units of the same model or two models. */
export interface CompareResponse {
  a: string;
  b: string;
  /** Activations of a (x) and b (y) on a sample of evaluation tokens (token positions shared by both). */
  activations: { x: number[]; y: number[]; r: number; tokens: number };
  /** Logit weights of a (x) and b (y) over the shared vocabulary (a sample of tokens plus the extremes). */
  logits: { x: number[]; y: number[]; r: number };
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
  | { mode: "static"; page: "feature"; unit: UnitRecord; run: RunInfo | null; comparisons: CompareResponse[] }
  | { mode: "static"; page: "prompt"; prompt: PromptAnalysis; run: RunInfo | null; units: Record<string, UnitRecord> };
