/**
 * The dashboard service: what the server's API, the self-contained pages and the CLI's dashboard command serve
 * from a Workspace — unit records, search across unit sets, unit comparisons as scatter data, and the data of a
 * static feature or prompt page — in the API contract's shapes (api-types.ts). It computes nothing itself: records
 * come from the stores, comparisons from analysis/unit-compare.ts.
 *
 * Its error classes (the server maps each to an HTTP status): UnitNameError 400, NotFoundError 404,
 * UnavailableError 409, TooLargeError 413, and prompt.ts' PromptError 400.
 */
import { NotFoundError, TooLargeError, UnavailableError } from "../analysis/errors.js";
import { PromptError } from "../analysis/prompt.js";
import { featureTable, type FeatureTable, type FeatureTableQuery } from "../analysis/feature-table.js";
import { round4 } from "../analysis/store.js";
import { compareHits } from "../analysis/store/search.js";
import { relatedUnits, type RelatedUnitsView } from "../analysis/related-view.js";
import { parseSteerFeature, steer, type SteerOptions, type SteerResult } from "../analysis/steering.js";
import type { Workspace } from "../analysis/workspace.js";
import { atlasView, type AtlasView } from "../analysis/atlas-view.js";
import { neuronSetName, unitSetOf, UnitNameError } from "../names.js";
import type { CompareResponse, PromptAnalysis, RunInfo, SearchResponse, StaticPageData, UnitRecord } from "./api-types.js";

export { NotFoundError, PromptError, TooLargeError, UnavailableError, UnitNameError };

/** Vocabulary points a comparison sends for its logit-weight scatter (r is over the whole vocabulary). */
export const COMPARE_VOCAB_POINTS = 2000;
/** Of those, the most extreme tokens of each unit at each end. */
const COMPARE_VOCAB_EXTREMES = 50;
/** Feature records a prompt page inlines: the first of each ranking. */
export const PROMPT_PAGE_UNITS_PER_RANKING = 10;

/** Token ids for a scatter: the `COMPARE_VOCAB_EXTREMES` highest and lowest of each side, then evenly spaced ids. */
export function vocabSample(x: Float32Array, y: Float32Array, points: number): number[] {
  const n = x.length;
  if (n <= points) return Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  const k = Math.min(COMPARE_VOCAB_EXTREMES, Math.floor(points / 8));
  for (const v of [x, y]) {
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => v[j]! - v[i]!);
    for (let i = 0; i < k; i++) {
      chosen.add(order[i]!);
      chosen.add(order[n - 1 - i]!);
    }
  }
  const rest = points - chosen.size;
  for (let i = 0; i < rest * 2 && chosen.size < points; i++) chosen.add(Math.floor((i * n) / (rest * 2)));
  return [...chosen].sort((i, j) => i - j);
}

/** r as the API sends it: null where it is undefined (a constant side). */
const rOrNull = (r: number): number | null => (Number.isNaN(r) ? null : r);

export class DashboardService {
  constructor(readonly workspace: Workspace) {}

  runs(): RunInfo[] {
    return this.workspace.runs();
  }

  unit(name: string): UnitRecord {
    return this.workspace.unit(name);
  }

  prompt(run: string, text: string): PromptAnalysis {
    return this.workspace.prompt(run, text);
  }

  /**
   * Generation with chosen features of an SAE run steered (`617=+8`, `A/1/617=*2`, `617=8`; analysis/steering.ts),
   * beside the unsteered text, and the next-token distribution shift at a prompt position.
   */
  steer(run: string, text: string, features: readonly string[], options: SteerOptions = {}): SteerResult {
    const info = this.workspace.runInfoOf(run);
    if (info.kind !== "feature") throw new UnitNameError(`${info.name} is a model's neurons; steering needs an SAE run (e.g. ${info.model}/1)`);
    const { unit, tokenizer } = this.workspace.liveUnit(`${info.name}/0`);
    const parsed = features.map((f) => parseSteerFeature(f, info.name, info.units));
    return steer({ model: unit.model, sae: unit.sae!, hook: unit.hook, tokenizer, run: info.name }, text, parsed, options);
  }

  /** One page of a unit set's feature table (analysis/feature-table.ts): stored columns only, no record read. */
  featureTable(run: string, query: FeatureTableQuery = {}): FeatureTable {
    const info = this.workspace.runInfoOf(run);
    const store = this.workspace.store(info.name);
    return featureTable(
      {
        name: info.name, kind: info.kind, columns: store.columns, searchTable: store.searchTable,
        neurons: info.kind === "feature" ? neuronSetName(info.model) : null,
        compare: info.compare[0]?.name ?? null,
        histogramEdges: info.densityHistogram.edges,
      },
      query,
    );
  }

  /**
   * Units matching `q` (store/search.ts: exact tokens, leading space kept, case-sensitive unless `ignoreCase`) in
   * one unit set or all of them, as one ranked list (the ranks compare across sets); `total` counts every match,
   * `offset`/`limit` page through them.
   */
  search(q: string, run?: string, limit = 50, options: { offset?: number; ignoreCase?: boolean; exact?: boolean } = {}): SearchResponse {
    const ws = this.workspace;
    const runs = run === undefined || run === "" ? ws.runs().map((r) => r.name) : [ws.runInfoOf(run).name];
    const order = new Map(runs.map((r, i) => [r, i]));
    const all = runs.flatMap((r) => ws.store(r).search(q, { ignoreCase: options.ignoreCase, exact: options.exact }).map((h) => ({ run: r, ...h })));
    all.sort((a, b) => compareHits(a, b) || order.get(a.run)! - order.get(b.run)!);
    const offset = options.offset ?? 0;
    return {
      query: q, ignoreCase: options.ignoreCase ?? false, exact: options.exact ?? false, total: all.length, offset,
      hits: all.slice(offset, offset + limit).map(({ rank: _r, place: _p, ...h }) => h),
    };
  }

  /**
   * Side-by-side data of two units (same model or two models with the same tokenizer): activations on a sample of
   * `a`'s evaluation tokens with Pearson r, and logit weights over the vocabulary (a sample of ≤ 2000 points that
   * keeps both units' extremes; r over the whole vocabulary).
   */
  compare(a: string, b: string): CompareResponse {
    const c = this.workspace.compareUnits(a, b);
    const { a: la, b: lb } = c.logits;
    const vocab = vocabSample(la, lb, COMPARE_VOCAB_POINTS);
    return {
      a: c.a,
      b: c.b,
      activations: { x: Array.from(c.activations.a, round4), y: Array.from(c.activations.b, round4), r: rOrNull(c.activations.r), tokens: c.activations.a.length },
      logits: { x: vocab.map((t) => round4(la[t]!)), y: vocab.map((t) => round4(lb[t]!)), r: rOrNull(c.logits.r) },
    };
  }

  /** Related units of a unit (analysis/related-view.ts): matches both ways, nearest features, a neuron's features. */
  related(name: string): RelatedUnitsView {
    return relatedUnits(this.workspace, name);
  }

  /** The comparisons a feature page carries: with its best-correlated neuron and its best match in each compared set. */
  featureComparisons(unit: UnitRecord, warn: (message: string) => void = () => {}): CompareResponse[] {
    const others = [unit.neurons?.correlated[0]?.name, ...Object.values(unit.matches).map((m) => m.name)].filter((n): n is string => n !== undefined);
    const out: CompareResponse[] = [];
    for (const other of others) {
      try {
        out.push(this.compare(unit.name, other));
      } catch (e) {
        warn(`no comparison of ${unit.name} with ${other}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /** The static page of a feature (or neuron). */
  featurePageData(name: string, warn?: (message: string) => void): StaticPageData & { page: "feature" } {
    const unit = this.workspace.unit(name);
    const run = this.workspace.runInfoOf(unitSetOf(unit.name));
    let related: RelatedUnitsView | undefined;
    try {
      related = this.related(unit.name);
    } catch (e) {
      warn?.(`no related units of ${unit.name}: ${(e as Error).message}`);
    }
    return { mode: "static", page: "feature", unit, run, comparisons: this.featureComparisons(unit, warn), ...(related ? { related } : {}) };
  }

  private readonly atlases = new Map<string, AtlasView>();

  /** The feature atlas of a model (analysis/atlas-view.ts), joined with its runs' stores once and kept. */
  atlas(model: string): AtlasView {
    let view = this.atlases.get(model);
    if (!view) {
      const ws = this.workspace;
      view = atlasView(model, { runs: ws.runs(), storeOf: (run) => ws.storeIfAny(run) });
      this.atlases.set(model, view);
    }
    return view;
  }

  /** The self-contained page of a model's atlas (points, hover labels; feature pages need `saekit serve`). */
  atlasPageData(model: string): StaticPageData & { page: "atlas" } {
    return { mode: "static", page: "atlas", atlas: this.atlas(model), run: null };
  }

  /** The static page of a prompt: the analysis plus the records of its top-ranked features. */
  promptPageData(run: string, text: string): StaticPageData & { page: "prompt" } {
    const prompt = this.workspace.prompt(run, text);
    const units: Record<string, UnitRecord> = {};
    for (const ranking of Object.values(prompt.rankings)) {
      for (const score of ranking.slice(0, PROMPT_PAGE_UNITS_PER_RANKING)) units[score.name] ??= this.workspace.unit(score.name);
    }
    return { mode: "static", page: "prompt", prompt, run: this.workspace.runInfoOf(run), units };
  }

  /** The set a prompt goes to without --run: A/1 when it can take prompts, else the first one that can. */
  defaultPromptRun(): string {
    const runs = this.workspace.runs().filter((r) => r.promptable);
    const run = runs.find((r) => r.name === "A/1") ?? runs[0];
    if (!run) {
      const all = this.workspace.runs().map((r) => r.name);
      throw new Error(
        `no SAE run under ${this.workspace.root} can analyse prompts (it needs the investigation, the SAE weights and the model weights)` +
          (all.length > 0 ? `; runs: ${all.join(", ")}` : ""),
      );
    }
    return run.name;
  }
}

/** The dashboard service over a workspace. */
export function dashboardService(workspace: Workspace): DashboardService {
  return new DashboardService(workspace);
}
