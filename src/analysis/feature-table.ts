/**
 * The feature table of one unit set: every unit's stored scalars (index.safetensors' columns, no record read), sorted
 * on any column, filtered by density range or density-histogram bin, and paged — what `saekit features`, the API's
 * /api/features/A/1 and the app's /features/A/1 page show. 16,384 rows sort in a few ms, so the table is paged here
 * (server-side) and the browser only ever holds one page.
 *
 * The domain filter reads the store's codeShare column (analysis/domain-share.ts: the share of a unit's activation
 * mass on code evaluation tokens): `domain: "code"` keeps units with codeShare ≥ 0.5 (most of their mass on code),
 * "prose" those below, "any" every unit; minCodeShare / maxCodeShare bound it finely. Dead units have no share and
 * pass only "any". A store written before the column refuses these filters, saying to re-run `saekit analyze`.
 */
import { unitName } from "../names.js";
import type { UnitColumns, UnitSearchEntry } from "./unit-record.js";

/** The sortable columns, by their API / CLI names. */
export const FEATURE_TABLE_COLUMNS = [
  "index", "density", "max", "mean", "specificity", "sensitivity", "lossEffect", "neuronR", "matchR", "matchLogitR", "score", "codeShare",
] as const;
export type FeatureTableColumn = (typeof FEATURE_TABLE_COLUMNS)[number];

export const FEATURE_TABLE_MAX_LIMIT = 1000;

export const FEATURE_TABLE_DOMAINS = ["code", "prose", "any"] as const;
export type FeatureTableDomain = (typeof FEATURE_TABLE_DOMAINS)[number];
/** codeShare at or above which a unit counts as a code unit (the evaluation holds as much code as prose). */
export const CODE_DOMAIN_SPLIT = 0.5;

export interface FeatureTableQuery {
  sort?: FeatureTableColumn;
  /** Descending (default: ascending for index, descending for every other column). */
  desc?: boolean;
  /** Density ≥ densityMin and ≤ densityMax (either may be absent). */
  densityMin?: number;
  densityMax?: number;
  /** Only units in this bin of the set's log10 density histogram (the binning of sae eval's log10Histogram; dead units are in none). */
  bin?: number;
  /** code: codeShare ≥ 0.5; prose: codeShare < 0.5; any: no domain filter. */
  domain?: FeatureTableDomain;
  /** codeShare ≥ minCodeShare and ≤ maxCodeShare (either may be absent). */
  minCodeShare?: number;
  maxCodeShare?: number;
  limit?: number;
  offset?: number;
}

export interface FeatureTableRow {
  name: string;
  index: number;
  label: string;
  density: number;
  max: number;
  mean: number;
  specificity: number | null;
  sensitivity: number | null;
  lossEffect: number | null;
  /** The loss effect's standard error and sample count (null: undefined, or a store written before them). */
  lossEffectSE: number | null;
  lossEffectN: number | null;
  /** Best-correlated neuron (`A/neuron/489`) and its activation r; null for neurons and when absent. */
  neuron: string | null;
  neuronR: number | null;
  /** Best match in the first compared set (`B/1/1187`), its activation r and logit-weight r. */
  match: string | null;
  matchR: number | null;
  matchLogitR: number | null;
  /** Interpretability score (null: dead unit or a store written before it). */
  score: number | null;
  /** Share of the activation mass on code tokens (null: dead unit or a store written before it). */
  codeShare: number | null;
}

export interface FeatureTable {
  run: string;
  /** Units in the set, and those passing the filters. */
  units: number;
  total: number;
  offset: number;
  limit: number;
  sort: FeatureTableColumn;
  desc: boolean;
  filters: {
    densityMin: number | null; densityMax: number | null; bin: number | null;
    domain: FeatureTableDomain | null; minCodeShare: number | null; maxCodeShare: number | null;
  };
  /** Whether the store has the codeShare column (false: written before it; re-run `saekit analyze`). */
  codeShareAvailable: boolean;
  rows: FeatureTableRow[];
}

export class FeatureTableError extends Error {
  override name = "FeatureTableError";
}

/** What the table reads of a store. */
export interface FeatureTableSource {
  name: string;
  kind: "feature" | "neuron";
  /** The model's neuron set (`A/neuron`) and the first compared set (`B/1`), when there is one. */
  neurons: string | null;
  compare: string | null;
  columns: UnitColumns;
  searchTable: readonly UnitSearchEntry[];
  /** The set's log10 density histogram (its edges define `bin`). */
  histogramEdges: readonly number[];
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

function sortValues(c: UnitColumns, col: FeatureTableColumn): ArrayLike<number> | null {
  switch (col) {
    case "index": return null;
    case "density": return c.density;
    case "max": return c.maxActivation;
    case "mean": return c.meanActivation;
    case "specificity": return c.specificity;
    case "sensitivity": return c.sensitivity;
    case "lossEffect": return c.meanLossEffect;
    case "neuronR": return c.bestNeuronR;
    case "matchR": return c.matchR;
    case "matchLogitR": return c.matchLogitR;
    case "score": return c.interpScore;
    case "codeShare": return c.codeShare ?? new Float32Array(c.density.length).fill(Number.NaN);
  }
}

/** The bin of `d` in a log10 histogram with these edges (sae/eval.ts' log10Histogram rule), or −1 for a dead unit. */
export function log10Bin(d: number, edges: readonly number[]): number {
  if (!(d > 0)) return -1;
  const bins = edges.length - 1;
  const lo = edges[0]!;
  const width = edges[1]! - lo;
  return Math.min(bins - 1, Math.max(0, Math.floor((Math.log10(d) - lo) / width + 1e-6)));
}

export function checkFeatureTableQuery(q: FeatureTableQuery): void {
  if (q.domain !== undefined && !(FEATURE_TABLE_DOMAINS as readonly string[]).includes(q.domain)) {
    throw new FeatureTableError(`domain ${JSON.stringify(q.domain)} is not one of ${FEATURE_TABLE_DOMAINS.join(", ")}`);
  }
  for (const [k, v] of [["minCodeShare", q.minCodeShare], ["maxCodeShare", q.maxCodeShare]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 1)) throw new FeatureTableError(`${k} must be a share in [0, 1], got ${v}`);
  }
  if (q.sort !== undefined && !(FEATURE_TABLE_COLUMNS as readonly string[]).includes(q.sort)) {
    throw new FeatureTableError(`sort column ${JSON.stringify(q.sort)} is not one of ${FEATURE_TABLE_COLUMNS.join(", ")}`);
  }
  for (const [k, v] of [["densityMin", q.densityMin], ["densityMax", q.densityMax]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 1)) throw new FeatureTableError(`${k} must be a density in [0, 1], got ${v}`);
  }
  if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 1 && q.limit <= FEATURE_TABLE_MAX_LIMIT)) {
    throw new FeatureTableError(`limit must be an integer in [1, ${FEATURE_TABLE_MAX_LIMIT}], got ${q.limit}`);
  }
  if (q.offset !== undefined && !(Number.isInteger(q.offset) && q.offset >= 0)) throw new FeatureTableError(`offset must be a non-negative integer, got ${q.offset}`);
  if (q.bin !== undefined && !(Number.isInteger(q.bin) && q.bin >= 0)) throw new FeatureTableError(`bin must be a non-negative integer, got ${q.bin}`);
}

/** One page of the table: filter, sort (missing values last whichever the direction; ties by index), slice. */
export function featureTable(src: FeatureTableSource, q: FeatureTableQuery = {}): FeatureTable {
  checkFeatureTableQuery(q);
  const c = src.columns;
  const n = c.density.length;
  if (q.bin !== undefined && q.bin >= src.histogramEdges.length - 1) {
    throw new FeatureTableError(`bin must be below ${src.histogramEdges.length - 1} (the density histogram's bins), got ${q.bin}`);
  }
  const codeShare = c.codeShare && c.codeShare.some((v) => !Number.isNaN(v)) ? c.codeShare : null;
  const domain = q.domain === "any" ? undefined : q.domain;
  const byShare = domain !== undefined || q.minCodeShare !== undefined || q.maxCodeShare !== undefined;
  if (byShare && !codeShare) {
    throw new FeatureTableError(`${src.name}: its investigation store has no per-unit code share (written before it), so the table cannot filter by domain; re-run \`saekit analyze\` to add it`);
  }
  const sort = q.sort ?? "index";
  const desc = q.desc ?? sort !== "index";
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = c.density[i]!;
    if (q.densityMin !== undefined && !(d >= q.densityMin)) continue;
    if (q.densityMax !== undefined && !(d <= q.densityMax)) continue;
    if (q.bin !== undefined && log10Bin(d, src.histogramEdges) !== q.bin) continue;
    if (byShare) {
      const share = codeShare![i]!;
      // NaN (a dead unit) fails every comparison, so it is dropped by any domain filter.
      if (domain === "code" && !(share >= CODE_DOMAIN_SPLIT)) continue;
      if (domain === "prose" && !(share < CODE_DOMAIN_SPLIT)) continue;
      if (q.minCodeShare !== undefined && !(share >= q.minCodeShare)) continue;
      if (q.maxCodeShare !== undefined && !(share <= q.maxCodeShare)) continue;
    }
    keep.push(i);
  }
  const v = sortValues(c, sort);
  if (v) {
    const sign = desc ? -1 : 1;
    keep.sort((i, j) => {
      const a = v[i]!;
      const b = v[j]!;
      const an = Number.isNaN(a);
      const bn = Number.isNaN(b);
      if (an || bn) return an === bn ? i - j : an ? 1 : -1;
      return a === b ? i - j : sign * (a - b);
    });
  } else if (desc) {
    keep.reverse();
  }
  const offset = q.offset ?? 0;
  const limit = q.limit ?? 100;
  const rows = keep.slice(offset, offset + limit).map((i): FeatureTableRow => {
    const neuron = c.bestNeuron[i]!;
    const match = c.match[i]!;
    return {
      name: unitName(src.name, i),
      index: i,
      label: src.searchTable[i]?.label ?? "",
      density: c.density[i]!,
      max: c.maxActivation[i]!,
      mean: c.meanActivation[i]!,
      specificity: num(c.specificity[i]!),
      sensitivity: num(c.sensitivity[i]!),
      lossEffect: num(c.meanLossEffect[i]!),
      lossEffectSE: c.meanLossEffectSE ? num(c.meanLossEffectSE[i]!) : null,
      lossEffectN: c.meanLossEffectN ? num(c.meanLossEffectN[i]!) : null,
      neuron: src.neurons !== null && neuron >= 0 ? unitName(src.neurons, neuron) : null,
      neuronR: src.neurons !== null && neuron >= 0 ? num(c.bestNeuronR[i]!) : null,
      match: src.compare !== null && match >= 0 ? unitName(src.compare, match) : null,
      matchR: src.compare !== null && match >= 0 ? num(c.matchR[i]!) : null,
      matchLogitR: src.compare !== null && match >= 0 ? num(c.matchLogitR[i]!) : null,
      score: num(c.interpScore[i]!),
      codeShare: codeShare ? num(codeShare[i]!) : null,
    };
  });
  return {
    run: src.name, units: n, total: keep.length, offset, limit, sort, desc,
    filters: {
      densityMin: q.densityMin ?? null, densityMax: q.densityMax ?? null, bin: q.bin ?? null,
      domain: q.domain ?? null, minCodeShare: q.minCodeShare ?? null, maxCodeShare: q.maxCodeShare ?? null,
    },
    codeShareAvailable: codeShare !== null,
    rows,
  };
}
