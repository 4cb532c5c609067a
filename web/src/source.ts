/** Where the pages get their data: the saekit server (live) or the JSON inlined in a self-contained page (static). */
import type {
  AtlasResponse,
  CompareResponse,
  FeaturesResponse,
  PromptAnalysis,
  RelatedUnitsView,
  RunInfo,
  SearchResponse,
  SteerResult,
  UnitRecord,
} from "./types.js";

export interface DataSource {
  readonly mode: "live" | "static";
  runs(): Promise<RunInfo[]>;
  unit(name: string): Promise<UnitRecord>;
  /** Ranked matches of `query` (exact tokens, leading space kept); `options` pages and folds case (live). */
  search(query: string, run?: string | null, options?: { ignoreCase?: boolean; exact?: boolean; offset?: number; limit?: number }): Promise<SearchResponse>;
  /** Related units of a unit (matches both ways, nearest features, a neuron's features); null when a static page does not carry them. */
  related(name: string): Promise<RelatedUnitsView | null>;
  /** Scatter data for two units; null when a static page does not carry it. */
  compare(a: string, b: string): Promise<CompareResponse | null>;
  prompt(run: string, text: string): Promise<PromptAnalysis>;
  /** Generation with features steered (live only): `features` as "617=+8", "617=*2", "617=8". */
  steer(run: string, text: string, features: string[], options: { tokens?: number; temperature?: number; seed?: number; position?: number }): Promise<SteerResult>;
  /** One page of a run's feature table (live only). `query` is the API's query string. */
  features(run: string, query: URLSearchParams): Promise<FeaturesResponse>;
  /** The feature atlas of a model (live: /api/atlas/A; static: only on an atlas page). */
  atlas(model: string): Promise<AtlasResponse>;
  /** Whether a link to this unit can be followed (always live; static only when the unit is inlined). */
  canOpen(name: string): boolean;
}

export class AppError extends Error {
  override name = "AppError";
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export const OFFLINE_HINT = "This is an offline snapshot: open it with `saekit serve` to follow this link";
